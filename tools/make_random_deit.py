#!/usr/bin/python3
"""make_random_deit.py — random-weight timm-layout DeiT checkpoints (+ ONNX) for peer benchmarks.

A small pure-PyTorch reference of timm's distilled VisionTransformer (eval mode): patch-embed conv,
cls + dist tokens, position embedding, pre-norm blocks with fused qkv and exact GELU, final norm,
`head` on token 0 and `head_dist` on token 1. Its state_dict keys are timm's, so the same tensors
feed our engine (model.safetensors + config.json) and ONNX Runtime (model.onnx, exported from this
very module): both peers run the same computation on the same weights.

  make_random_deit.py --check FIXTURE_DIR REFS     reproduce the fixture references first
  make_random_deit.py --arch small --out DIR       deit_small_distilled_patch16_224, random weights

Needs Debian's PyTorch (/usr/bin/python3) and numpy only: safetensors are read and written here.
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

ARCHS = {  # name: (dim, depth, heads)
    "tiny": ("deit_tiny_distilled_patch16_224", 192, 12, 3),
    "small": ("deit_small_distilled_patch16_224", 384, 12, 6),
    "base": ("deit_base_distilled_patch16_224", 768, 12, 12),
}
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class Block(nn.Module):
    """timm Block: x + attn(norm1(x)), then x + mlp(norm2(x)); fused qkv, exact (erf) GELU."""

    def __init__(self, dim, heads, eps):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = nn.Module()
        self.attn.qkv = nn.Linear(dim, 3 * dim)
        self.attn.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = nn.Module()
        self.mlp.fc1 = nn.Linear(dim, 4 * dim)
        self.mlp.fc2 = nn.Linear(4 * dim, dim)

    def forward(self, x):
        b, t, d = x.shape
        h, hd = self.heads, d // self.heads
        qkv = self.attn.qkv(self.norm1(x)).reshape(b, t, 3, h, hd).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        a = torch.softmax((q * hd ** -0.5) @ k.transpose(-2, -1), dim=-1)
        x = x + self.attn.proj((a @ v).transpose(1, 2).reshape(b, t, d))
        return x + self.mlp.fc2(F.gelu(self.mlp.fc1(self.norm2(x))))


class DistilledViT(nn.Module):
    """timm DistilledVisionTransformer (eval): returns (cls_logits, dist_logits)."""

    def __init__(self, dim, depth, heads, classes=1000, img=224, patch=16, eps=1e-6):
        super().__init__()
        n = (img // patch) ** 2
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(3, dim, patch, patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.dist_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, n + 2, dim))
        self.blocks = nn.ModuleList(Block(dim, heads, eps) for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=eps)
        self.head = nn.Linear(dim, classes)
        self.head_dist = nn.Linear(dim, classes)

    def forward(self, pixel_values):
        x = self.patch_embed.proj(pixel_values).flatten(2).transpose(1, 2)
        b = x.shape[0]
        x = torch.cat((self.cls_token.expand(b, -1, -1), self.dist_token.expand(b, -1, -1), x), 1)
        x = x + self.pos_embed
        for blk in self.blocks:
            x = blk(x)
        x = self.norm(x)
        return self.head(x[:, 0]), self.head_dist(x[:, 1])


# ---- safetensors, by hand (header length, JSON header, raw little-endian data) ----------------
DTYPES = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "U8": np.uint8}


def st_read(path):
    with open(path, "rb") as f:
        raw = f.read()
    (hlen,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + hlen])
    base, out = 8 + hlen, {}
    for key, meta in header.items():
        if key == "__metadata__":
            continue
        if meta["dtype"] not in DTYPES:
            continue
        a, b = meta["data_offsets"]
        out[key] = np.frombuffer(raw[base + a:base + b], dtype=DTYPES[meta["dtype"]]).reshape(meta["shape"])
    return out


def st_write(path, tensors, dtype="F32"):
    """Writes tensors (name -> array) as a safetensors file, each converted to dtype (F32, F64, U8)."""
    np_dtype = {"F32": np.float32, "F64": np.float64, "U8": np.uint8}[dtype]
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for key in sorted(tensors):
        a = np.ascontiguousarray(np.asarray(tensors[key]).astype(np_dtype))
        header[key] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [off, off + a.nbytes]}
        blobs.append(a.tobytes())
        off += a.nbytes
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for blob in blobs:
            f.write(blob)


def load_state(model, tensors):
    state = {k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in tensors.items()}
    model.load_state_dict(state, strict=True)


def check(fixture, refs_path):
    """Runs the fixture's tiny checkpoint on the reference crop of astronaut.png; returns max diff."""
    model = DistilledViT(*ARCHS["tiny"][1:]).eval()
    load_state(model, st_read(os.path.join(fixture, "model.safetensors")))
    refs = st_read(refs_path)
    crop = refs["crop/timm224_crop0.9_bicubic_center/astronaut.png"].astype(np.float32)
    x = (torch.from_numpy(crop).permute(2, 0, 1) / 255.0 - torch.tensor(MEAN).view(3, 1, 1)) / torch.tensor(STD).view(3, 1, 1)
    worst = {}
    for dtype in (torch.float64, torch.float32):
        m = model.to(dtype)
        with torch.no_grad():
            cls, dist = m(x.float().to(dtype)[None])
        for name, got in (("cls_logits", cls), ("dist_logits", dist)):
            ref = refs["timm-deit-tiny-distilled/astronaut.png/" + name]
            worst[(str(dtype), name)] = float(np.abs(got[0].double().numpy() - ref).max())
    for k, v in worst.items():
        print("check %-14s %-12s max |diff| vs refs = %.3g" % (k[0], k[1], v))
    return worst


def make(arch, out, seed):
    name, dim, depth, heads = ARCHS[arch]
    torch.manual_seed(seed)
    model = DistilledViT(dim, depth, heads).eval()
    with torch.no_grad():  # timm-like init scales, plus non-trivial norms so nothing is an identity
        for p_name, p in model.named_parameters():
            if p.dim() == 1 and "norm" in p_name and p_name.endswith("weight"):
                p.copy_(1 + 0.1 * torch.randn_like(p))
            elif p.dim() == 1:
                p.copy_(0.02 * torch.randn_like(p))
            else:
                p.copy_(torch.randn_like(p) * 0.02)
    os.makedirs(out, exist_ok=True)
    st_write(os.path.join(out, "model.safetensors"), {k: v.numpy() for k, v in model.state_dict().items()})
    cfg = {"architecture": name, "num_classes": 1000, "num_features": dim, "global_pool": "token",
           "pretrained_cfg": {"input_size": [3, 224, 224], "interpolation": "bicubic", "crop_pct": 0.9,
                              "crop_mode": "center", "mean": list(MEAN), "std": list(STD), "num_classes": 1000,
                              "classifier": ["head", "head_dist"]}}
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    torch.onnx.export(model, (torch.zeros(1, 3, 224, 224),), os.path.join(out, "model.onnx"), opset_version=17,
                      input_names=["pixel_values"], output_names=["cls_logits", "dist_logits"],
                      dynamic_axes={"pixel_values": {0: "batch"}, "cls_logits": {0: "batch"},
                                    "dist_logits": {0: "batch"}})
    print("wrote %s: %s, %.1f M parameters" % (out, name, sum(p.numel() for p in model.parameters()) / 1e6))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", nargs=2, metavar=("FIXTURE_DIR", "REFS"))
    ap.add_argument("--arch", choices=sorted(ARCHS))
    ap.add_argument("--out")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tol", type=float, default=1e-4, help="float32 tolerance for --check")
    a = ap.parse_args()
    torch.set_num_threads(2)
    if a.check:
        worst = check(*a.check)
        bad = [k for k, v in worst.items() if v > (1e-9 if k[0] == "torch.float64" else a.tol)]
        if bad:
            print("check FAILED: %s" % bad, file=sys.stderr)
            return 1
        print("check ok: the reference module reproduces the fixture references")
    if a.arch:
        if not a.out:
            ap.error("--arch needs --out")
        make(a.arch, a.out, a.seed)
    if not a.check and not a.arch:
        ap.error("nothing to do: give --check and/or --arch")
    return 0


if __name__ == "__main__":
    sys.exit(main())
