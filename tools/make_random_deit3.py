#!/usr/bin/python3
"""make_random_deit3.py — the DeiT III test fixture: a tiny random timm-layout checkpoint and its
float64 reference logits.

  /usr/bin/python3 tools/make_random_deit3.py            (from the repository root)

writes tests/fixtures/models/timm-deit3-reduced/{model.safetensors,config.json} and
tests/fixtures/refs-deit3.safetensors. Deterministic: numpy's seeded generator makes every weight,
so running it again gives the same model bytes and the same references to float64 rounding (~1e-15:
torch's float64 matrix products go through whichever BLAS the machine has).

The model is timm's VisionTransformer as deit3_* builds it (no_embed_class=True, init_values set:
layer scale), shrunk: 224x224 input, patch 16, dim 64, depth 2, 2 heads, 10 classes. 224/16 keeps
the existing preprocessing references usable: the input of every image is the crop
`crop/timm224_crop0.9_bicubic_center/<image>` already in tests/fixtures/refs-small.safetensors
(Pillow's resize, made with the reference stack), so the new references test the network alone.
The layer-scale gammas are drawn in [0.1, 1] (not timm's 1e-6 init, which would make every block
nearly an identity and hide a missing or wrong scale) and the position rows are random, so an
engine that ignores either gives other logits.

References: `timm-deit3-reduced/<image>/cls_logits` (F64 [10]), computed by tools/deit_torch.py in
float64 from the float32 normalised crop, exactly as the other fixtures' references; and
`.../rollout_class` (F64 [196]) for test_explain: attention rollout of the class token as
tools/explain_ref.py defines it (mean over heads A, R = prod over blocks of (A + I) / 2, the last
block on the left; row 0 over the patch columns, normalised to sum 1, as [14, 14]).
"""
import json
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deit_torch  # noqa: E402
from make_random_deit import st_write  # noqa: E402

NAME = "timm-deit3-reduced"
IMG, PATCH, DIM, DEPTH, HEADS, CLASSES, MLP = 224, 16, 64, 2, 2, 10, 256
CROP = "timm224_crop0.9_bicubic_center"
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def weights(seed=3):
    rng = np.random.default_rng(seed)
    n = (IMG // PATCH) ** 2
    w = {}

    def rnd(name, *shape, scale=0.02):
        w[name] = (rng.standard_normal(shape) * scale).astype(np.float32)

    rnd("patch_embed.proj.weight", DIM, 3, PATCH, PATCH)
    rnd("patch_embed.proj.bias", DIM)
    rnd("cls_token", 1, 1, DIM, scale=0.5)
    rnd("pos_embed", 1, n, DIM, scale=0.5)  # no_embed_class: one row per patch, none for the class token
    for b in range(DEPTH):
        p = "blocks.%d." % b
        for norm in ("norm1", "norm2"):
            w[p + norm + ".weight"] = (1 + 0.1 * rng.standard_normal(DIM)).astype(np.float32)
            rnd(p + norm + ".bias", DIM, scale=0.1)
        rnd(p + "attn.qkv.weight", 3 * DIM, DIM, scale=0.1)
        rnd(p + "attn.qkv.bias", 3 * DIM)
        rnd(p + "attn.proj.weight", DIM, DIM, scale=0.1)
        rnd(p + "attn.proj.bias", DIM, scale=0.1)
        rnd(p + "mlp.fc1.weight", MLP, DIM, scale=0.1)
        rnd(p + "mlp.fc1.bias", MLP)
        rnd(p + "mlp.fc2.weight", DIM, MLP, scale=0.1)
        rnd(p + "mlp.fc2.bias", DIM, scale=0.1)
        for ls in ("ls1", "ls2"):
            w[p + ls + ".gamma"] = rng.uniform(0.1, 1.0, DIM).astype(np.float32)
    w["norm.weight"] = (1 + 0.1 * rng.standard_normal(DIM)).astype(np.float32)
    rnd("norm.bias", DIM, scale=0.1)
    rnd("head.weight", CLASSES, DIM, scale=0.2)
    rnd("head.bias", CLASSES, scale=0.1)
    return w


def st_crops(path):
    """The U8 crop tensors of a safetensors file: {image: (bytes, H, W, C)}."""
    with open(path, "rb") as f:
        raw = f.read()
    (hlen,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + hlen])
    out, pre = {}, "crop/%s/" % CROP
    for key, meta in header.items():
        if key.startswith(pre) and meta["dtype"] == "U8":
            a, b = meta["data_offsets"]
            out[key[len(pre):]] = (raw[8 + hlen + a:8 + hlen + b], *meta["shape"])
    return out


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    out = os.path.join(root, "tests", "fixtures", "models", NAME)
    os.makedirs(out, exist_ok=True)
    st_write(os.path.join(out, "model.safetensors"), weights(), "F32")
    cfg = {"architecture": "deit3_small_patch16_224", "num_classes": CLASSES, "num_features": DIM,
           "global_pool": "token",
           "model_args": {"patch_size": PATCH, "embed_dim": DIM, "depth": DEPTH, "num_heads": HEADS,
                          "num_classes": CLASSES},
           "pretrained_cfg": {"input_size": [3, IMG, IMG], "fixed_input_size": True, "interpolation": "bicubic",
                              "crop_pct": 0.9, "crop_mode": "center", "mean": list(MEAN), "std": list(STD),
                              "num_classes": 1000, "first_conv": "patch_embed.proj", "classifier": "head"}}
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    net = deit_torch.load(out)
    assert net["no_embed_class"] and net["heads"] == HEADS and net["depth"] == DEPTH
    refs = {}
    crops = st_crops(os.path.join(root, "tests", "fixtures", "refs-small.safetensors"))
    for image, (raw, h, w_, c) in sorted(crops.items()):
        assert (h, w_, c) == (IMG, IMG, 3)
        attn = []
        cls, dist = deit_torch.logits(net, raw, c, IMG, MEAN, STD, attn_out=attn)
        assert dist is None
        refs["%s/%s/cls_logits" % (NAME, image)] = np.array(cls, dtype=np.float64)
        t = attn[0].shape[-1]
        r = np.eye(t)
        for a in attn:
            r = ((a.mean(0).numpy() + np.eye(t)) / 2) @ r
        row = r[0, 1:]
        g = IMG // PATCH
        refs["%s/%s/rollout_class" % (NAME, image)] = (row / row.sum()).reshape(g, g)
    st_write(os.path.join(root, "tests", "fixtures", "refs-deit3.safetensors"), refs, "F64")
    print("wrote %s and refs-deit3.safetensors: %d images" % (out, len(crops)))


if __name__ == "__main__":
    sys.exit(main())
