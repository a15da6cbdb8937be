"""Shared training helpers: batched augmentation, schedule, checkpoints, evaluation."""
import glob
import math
import os
import time

import numpy as np
import torch

import data

HERE = os.path.dirname(os.path.abspath(__file__))
RUNS = os.path.join(HERE, "runs")


def to_input(x_u8):
    """uint8 [B,28,28] tensor -> normalised float [B,1,28,28], exactly ToTensor + Normalize."""
    return ((x_u8.float() / 255.0 - data.MEAN) / data.STD).unsqueeze(1)


def augment(x_u8, gen, pad=2, flip=True):
    """Random crop 28 from zero-padded (pad px) image + random horizontal flip, batched on uint8."""
    B, H, W = x_u8.shape
    xp = torch.nn.functional.pad(x_u8, (pad, pad, pad, pad))
    oy = torch.randint(0, 2 * pad + 1, (B,), generator=gen)
    ox = torch.randint(0, 2 * pad + 1, (B,), generator=gen)
    rows = oy[:, None] + torch.arange(H)[None]
    cols = ox[:, None] + torch.arange(W)[None]
    if flip:
        f = torch.rand(B, generator=gen) < 0.5
        cols = torch.where(f[:, None], cols.flip(1), cols)
    return xp[torch.arange(B)[:, None, None], rows[:, :, None], cols[:, None, :]]


def lr_at(step, total, warmup, base, min_lr=1e-5):
    if step < warmup:
        return base * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return min_lr + 0.5 * (base - min_lr) * (1 + math.cos(math.pi * t))


def latest_ckpt(run_dir):
    c = sorted(glob.glob(os.path.join(run_dir, "epoch_*.pt")))
    return c[-1] if c else None


def save_ckpt(run_dir, epoch, model, opt, log):
    os.makedirs(run_dir, exist_ok=True)
    p = os.path.join(run_dir, "epoch_%03d.pt" % epoch)
    torch.save({"epoch": epoch, "model": model.state_dict(), "opt": opt.state_dict(), "log": log}, p + ".tmp")
    os.replace(p + ".tmp", p)
    return p


@torch.no_grad()
def predict_logits(model, x_u8, bs=500):
    """Returns list of logits tensors (one per head) for all images, model in eval mode."""
    model.eval()
    outs = None
    for i in range(0, len(x_u8), bs):
        o = model(to_input(x_u8[i:i + bs]))
        o = o if isinstance(o, tuple) else (o,)
        if outs is None:
            outs = [[] for _ in o]
        for k, t in enumerate(o):
            outs[k].append(t)
    return [torch.cat(t) for t in outs]


def accuracies(logits, y):
    """For 1 head: {'head'}; for 2 heads: class/dist/fused(softmax mean)/fused_logits (timm eval)."""
    if len(logits) == 1:
        return {"head": (logits[0].argmax(1) == y).float().mean().item()}
    a, b = logits
    fused = (a.softmax(1) + b.softmax(1)) / 2
    return {
        "class_head": (a.argmax(1) == y).float().mean().item(),
        "dist_head": (b.argmax(1) == y).float().mean().item(),
        "fused": (fused.argmax(1) == y).float().mean().item(),
        "fused_logits": (((a + b) / 2).argmax(1) == y).float().mean().item(),
    }


def autocast(precision):
    """Mixed precision for the training step only. bf16 autocast runs the matrix products in bfloat16
    (about 1.7x faster per step on a CPU with AVX512_BF16) while weights, optimiser state and every
    evaluation stay float32, and the exported model is float32."""
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")


class Timer:
    def __init__(self):
        self.t0 = time.time()

    def __call__(self):
        return time.time() - self.t0
