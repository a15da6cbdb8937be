#!/usr/bin/python3
"""make_wide_model.py — a non-square timm model for `make test-pillow`: tests/fixtures/models/
timm-deit-reduced with a 160x256 input (10x16 patches; its 14x14 position embedding resampled
bicubically, as timm's resample_abs_pos_embed does, the prefix rows kept) and the given crop_mode.
timm preprocesses such a model differently from a square one (ResizeKeepRatio, always bilinear, for
'center'; each side on its own for 'squash'), which tools/pillow_ref.py reproduces.

  make_wide_model.py [--crop-mode center|squash] OUT_DIR
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(ROOT, "tools"))
from make_random_deit import st_read, st_write  # noqa: E402

SRC = os.path.join(ROOT, "tests", "fixtures", "models", "timm-deit-reduced")
HEIGHT, WIDTH, PATCH, PREFIX = 160, 256, 16, 2


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--crop-mode", choices=("center", "squash"), default="center")
    ap.add_argument("out")
    a = ap.parse_args()
    w = {k: np.array(v) for k, v in st_read(os.path.join(SRC, "model.safetensors")).items()}
    pos = torch.from_numpy(w["pos_embed"].astype(np.float32))
    side = int(round((pos.shape[1] - PREFIX) ** 0.5))
    grid = pos[:, PREFIX:].reshape(1, side, side, -1).permute(0, 3, 1, 2)
    grid = torch.nn.functional.interpolate(grid, size=(HEIGHT // PATCH, WIDTH // PATCH), mode="bicubic",
                                           align_corners=False)
    w["pos_embed"] = torch.cat([pos[:, :PREFIX], grid.permute(0, 2, 3, 1).flatten(1, 2)], dim=1).numpy()
    with open(os.path.join(SRC, "config.json")) as f:
        cfg = json.load(f)
    cfg["model_args"]["img_size"] = [HEIGHT, WIDTH]
    cfg["pretrained_cfg"].update(input_size=[3, HEIGHT, WIDTH], crop_mode=a.crop_mode, crop_pct=0.9,
                                 interpolation="bicubic")
    os.makedirs(a.out, exist_ok=True)
    st_write(os.path.join(a.out, "model.safetensors"), w)
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)


if __name__ == "__main__":
    main()
