#!/usr/bin/python3
"""pillow_ref.py — the reference for the engine's image pipeline: what timm sees for any image file.

Pillow (Debian 12's python3-pil 9.4, on the system libjpeg-turbo, libwebp and libtiff) opens the file
and converts it as timm does (Image.open(f).convert('RGB'), or 'L' for a 1-channel model, no EXIF
transpose unless asked), then timm's eval transform: Resize(shorter side -> size / crop_pct,
bicubic or the model's interpolation; timm's ResizeKeepRatio for a non-square input, or each side
for crop_mode 'squash'), CenterCrop with torchvision's rounding. With --model the timm
logits of that crop (python3-torch, float64, no timm needed: tools/deit_torch.py).

  pillow_ref.py [--model DIR] [--mode rgb|l|crop] [--exif-transpose] [--out FILE.raw] IMAGE...

Prints one JSON line per image: {"image", "width", "height", "sha256"} of the requested pixels
(plus "cls_logits"/"dist_logits" with --model), or {"image", "error"} when Pillow refuses the file.
"""
import argparse
import hashlib
import json
import math
import os
import sys
import warnings

from PIL import Image, ImageOps

INTERP = {"bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR, "nearest": Image.NEAREST}


def load(path, channels=3, exif_transpose=False):
    """Image.open + convert as timm does; raises whatever Pillow raises for a file it refuses."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Image.open(path) as im:
            if exif_transpose:
                im = ImageOps.exif_transpose(im)
            return im.convert("RGB" if channels == 3 else "L")


def timm_crop(im, size, crop_pct, interpolation, crop_mode="center"):
    """timm's transforms_imagenet_eval for an input of size (h, w) (an int: square): the scale size
    is each side / crop_pct, floored; 'squash' resizes to it exactly with the interpolation;
    'center' resizes the shorter side to it (torchvision Resize(int)) when both scale sides are
    equal, else with ResizeKeepRatio (aspect kept, each side round(side / min(ih / sh, iw / sw)),
    bilinear: timm gives it no interpolation); then CenterCrop((h, w))."""
    if crop_mode not in ("center", "squash"):
        raise ValueError(f"crop_mode {crop_mode!r} is not reproduced here")
    h, w = (size, size) if isinstance(size, int) else size
    sh, sw = math.floor(h / crop_pct), math.floor(w / crop_pct)
    iw, ih = im.size
    interp = INTERP[interpolation]
    if crop_mode == "squash":
        nw, nh = sw, sh
    elif sh == sw:
        nw, nh = (sh, int(sh * ih / iw)) if iw <= ih else (int(sh * iw / ih), sh)
    else:
        ratio = min(ih / sh, iw / sw)
        nw, nh, interp = round(iw / ratio), round(ih / ratio), Image.BILINEAR
    if (nw, nh) != (iw, ih):
        im = im.resize((nw, nh), interp)
    left = int(round((nw - w) / 2.0))
    top = int(round((nh - h) / 2.0))
    if nw < w or nh < h:  # torchvision pads with zeros first; never the case for these models
        raise ValueError("image smaller than the crop after resizing")
    return im.crop((left, top, left + w, top + h))


def model_preproc(model_dir):
    """(channels, (h, w), crop_pct, interpolation, mean, std, crop_mode) from a timm config.json."""
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    pc = cfg.get("pretrained_cfg", cfg)
    c, h, w = pc.get("input_size", [3, 224, 224])
    return (c, (h, w), pc.get("crop_pct", 0.875), pc.get("interpolation", "bicubic"),
            pc.get("mean", [0.485, 0.456, 0.406]), pc.get("std", [0.229, 0.224, 0.225]),
            pc.get("crop_mode", "center"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", help="timm model directory: its preprocessing, and logits")
    ap.add_argument("--mode", choices=["rgb", "l", "crop"], default="crop")
    ap.add_argument("--exif-transpose", action="store_true")
    ap.add_argument("--out", help="append the raw pixels of each image to this file")
    ap.add_argument("images", nargs="+")
    a = ap.parse_args()
    channels, size, crop_pct, interp, mean, std, crop_mode = (
        model_preproc(a.model) if a.model else (3, 224, 0.9, "bicubic", None, None, "center"))
    if a.mode == "l":
        channels = 1
    elif a.mode == "rgb":
        channels = 3
    net = None
    if a.model:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import deit_torch
        net = deit_torch.load(a.model)
    out = open(a.out, "wb") if a.out else None
    for path in a.images:
        rec = {"image": path}
        try:
            im = load(path, channels, a.exif_transpose)
            if a.mode == "crop":
                im = timm_crop(im, size, crop_pct, interp, crop_mode)
        except Exception as e:  # Pillow's refusal, whatever its type
            rec["error"] = f"{type(e).__name__}: {e}"
            print(json.dumps(rec), flush=True)
            continue
        raw = im.tobytes()
        rec.update(width=im.size[0], height=im.size[1], sha256=hashlib.sha256(raw).hexdigest())
        if out:
            out.write(raw)
        if net is not None:
            cls, dist = deit_torch.logits(net, raw, channels, size, mean, std)
            rec.update(cls_logits=cls, dist_logits=dist)
        print(json.dumps(rec), flush=True)


if __name__ == "__main__":
    main()
