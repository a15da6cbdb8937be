"""deit_torch.py — timm's distilled DeiT forward pass in float64 with plain torch (no timm needed),
reading a timm checkpoint directory (config.json + model.safetensors). Used by tools/pillow_ref.py
to give timm's logits for any image, and by tools/make_random_deit3.py for the DeiT III fixture.

The forward is timm's VisionTransformer/VisionTransformerDistilled at eval: patch embedding
(conv), [cls, dist] tokens + position embedding, pre-norm blocks (LayerNorm eps 1e-6, MHSA with
scaled dot product, exact GELU MLP), final norm, head on token 0 and head_dist on token 1.
DeiT III (timm's VisionTransformer with no_embed_class=True, init_values set) differs in two places,
both taken from the checkpoint: with no_embed_class the position embedding has one row per patch
and is added to the patch tokens before the prefix tokens are put in front (they get none); with
layer scale ('blocks.N.ls1.gamma', 'ls2.gamma') each residual branch is multiplied by its gamma
before it is added. Here the branch is computed first and then scaled, as timm does, so the
reference does not share the engine's load-time folding.
"""
import json
import os
import struct

import numpy as np
import torch

torch.set_num_threads(1)  # tiny models: threads only contend with everything else

DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64}


def _read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        if v["dtype"] == "BF16":
            u16 = np.frombuffer(raw[8 + n + a:8 + n + b], dtype=np.uint16).astype(np.uint32) << 16
            arr = u16.view(np.float32)
        else:
            arr = np.frombuffer(raw[8 + n + a:8 + n + b], dtype=DTYPES[v["dtype"]])
        out[k] = torch.from_numpy(arr.astype(np.float64).reshape(v["shape"]))
    return out


def load(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    w = _read_safetensors(os.path.join(model_dir, "model.safetensors"))
    args = cfg.get("model_args", {})
    dim = w["cls_token"].shape[-1]
    heads = args.get("num_heads") or {192: 3, 384: 6, 768: 12}.get(dim, 3)
    depth = 1 + max(int(k.split(".")[1]) for k in w if k.startswith("blocks."))
    prefix = 1 + ("dist_token" in w)
    nec = args.get("no_embed_class")
    if nec is None:  # timm's default (False) unless the architecture is DeiT III
        nec = cfg.get("architecture", "").startswith("deit3_")
    return {"w": w, "heads": heads, "depth": depth, "patch": w["patch_embed.proj.weight"].shape[-1],
            "no_embed_class": bool(nec), "prefix": prefix}


def _ln(x, w, b):
    return torch.nn.functional.layer_norm(x, (x.shape[-1],), w, b, eps=1e-6)


def logits(net, raw, channels, size, mean, std, attn_out=None):
    """Logits of one crop (raw uint8 bytes, HWC; size: its side, or (height, width)) as timm computes
    them: ToTensor + Normalize in float32 (as torchvision), then the forward in float64. Returns
    (cls, dist) lists. A list given as attn_out receives each block's softmax attention,
    [heads, tokens, tokens]."""
    w = net["w"]
    ih, iw = (size, size) if isinstance(size, int) else size
    x = torch.frombuffer(bytearray(raw), dtype=torch.uint8).reshape(ih, iw, channels)
    x = x.permute(2, 0, 1).float().div(255.0)
    x = ((x - torch.tensor(mean, dtype=torch.float32)[:, None, None])
         / torch.tensor(std, dtype=torch.float32)[:, None, None]).double()[None]
    x = torch.nn.functional.conv2d(x, w["patch_embed.proj.weight"], w["patch_embed.proj.bias"],
                                   stride=net["patch"])
    x = x.flatten(2).transpose(1, 2)
    toks = [w["cls_token"]] + ([w["dist_token"]] if "dist_token" in w else [])
    if net.get("no_embed_class"):  # DeiT III: positions for the patches only, prefix tokens after
        assert w["pos_embed"].shape[1] == x.shape[1], "no_embed_class: pos_embed rows != patches"
        x = torch.cat(toks + [x + w["pos_embed"]], dim=1)
    else:
        x = torch.cat(toks + [x], dim=1) + w["pos_embed"]
    heads = net["heads"]
    for i in range(net["depth"]):
        p = f"blocks.{i}."
        h = _ln(x, w[p + "norm1.weight"], w[p + "norm1.bias"])
        B, N, C = h.shape
        qkv = (h @ w[p + "attn.qkv.weight"].T + w[p + "attn.qkv.bias"]).reshape(B, N, 3, heads, C // heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        a = ((q @ k.transpose(-2, -1)) * (C // heads) ** -0.5).softmax(-1)
        if attn_out is not None:
            attn_out.append(a[0])
        h = (a @ v).transpose(1, 2).reshape(B, N, C)
        h = h @ w[p + "attn.proj.weight"].T + w[p + "attn.proj.bias"]
        x = x + (h * w[p + "ls1.gamma"] if p + "ls1.gamma" in w else h)
        h = _ln(x, w[p + "norm2.weight"], w[p + "norm2.bias"])
        h = torch.nn.functional.gelu(h @ w[p + "mlp.fc1.weight"].T + w[p + "mlp.fc1.bias"])
        h = h @ w[p + "mlp.fc2.weight"].T + w[p + "mlp.fc2.bias"]
        x = x + (h * w[p + "ls2.gamma"] if p + "ls2.gamma" in w else h)
    x = _ln(x, w["norm.weight"], w["norm.bias"])
    cls = (x[0, 0] @ w["head.weight"].T + w["head.bias"]).tolist()
    dist = ((x[0, 1] @ w["head_dist.weight"].T + w["head_dist.bias"]).tolist()
            if "head_dist.weight" in w else None)
    return cls, dist
