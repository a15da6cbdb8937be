"""Fashion-MNIST idx reader (gzipped idx files from Debian's dataset-fashion-mnist)."""
import gzip
import os
import struct

import numpy as np

DATA_DIR = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")

LABEL_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

# mean/std of x/255 over all training pixels (computed by `python3 data.py`,
# rounded; these exact values are used for training and written to config.json)
MEAN = 0.2860
STD = 0.3530


def _open(path):
    if os.path.exists(path):
        return open(path, "rb")
    if os.path.exists(path + ".gz"):
        return gzip.open(path + ".gz", "rb")
    raise FileNotFoundError(path)


def read_idx(path):
    with _open(path) as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    assert zero == 0 and dtype == 0x08, "expected unsigned-byte idx file"
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    assert arr.size == int(np.prod(dims))
    return arr.reshape(dims)


def missing():
    """The idx files load() reads that DATA_DIR lacks (neither plain nor gzipped), for a check
    before training starts (lanes.sh)."""
    gone = []
    for prefix in ("train", "t10k"):
        for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
            try:
                _open(os.path.join(DATA_DIR, f"{prefix}-{kind}")).close()
            except FileNotFoundError:
                gone.append(f"{prefix}-{kind}")
    return gone


def load(split):
    """Returns (images uint8 [N,28,28], labels int64 [N]) for split 'train' or 'test'."""
    prefix = "train" if split == "train" else "t10k"
    x = read_idx(os.path.join(DATA_DIR, f"{prefix}-images-idx3-ubyte"))
    y = read_idx(os.path.join(DATA_DIR, f"{prefix}-labels-idx1-ubyte")).astype(np.int64)
    assert x.shape[0] == y.shape[0]
    return np.ascontiguousarray(x).copy(), y


if __name__ == "__main__":
    x, y = load("train")
    xt, yt = load("test")
    f = x.astype(np.float64) / 255.0
    print("train", x.shape, "test", xt.shape)
    print("mean %.6f std %.6f" % (f.mean(), f.std()))
    print("train class counts", np.bincount(y), "test", np.bincount(yt))
