"""Shared training helpers: batched augmentation, schedule, checkpoints, evaluation."""
import json
import math
import os
import time

import numpy as np
import torch

import data
import models
import state

HERE = state.HERE
RUNS = state.RUNS


def load_data(res=28):
    """(x_train, y_train, x_test, y_test) as tensors, images uint8 [N, res, res]. Above 28 the
    images are upsampled with Pillow's bilinear filter, the resize the server applies to a 28x28
    upload for a model whose config says input_size 56 and interpolation bilinear."""
    xtr, ytr = data.load("train")
    xte, yte = data.load("test")
    if res != 28:
        xtr, xte = upsample(xtr, res), upsample(xte, res)
    return tuple(map(torch.from_numpy, (xtr, ytr, xte, yte)))


def upsample(x_u8, res):
    from PIL import Image
    return np.stack([np.asarray(Image.fromarray(im).resize((res, res), Image.BILINEAR)) for im in x_u8])


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


def random_erase(x_u8, gen, p=0.5, area=(0.02, 0.4), ratio=(0.3, 3.3)):
    """Random erasing (Zhong et al. 2017, their Fashion-MNIST setting), batched on uint8: with
    probability p an image gets one rectangle of `area` x its size and aspect `ratio` filled with
    random grey levels. A rectangle that does not fit is clipped to the image."""
    B, H, W = x_u8.shape
    a = torch.empty(B).uniform_(*area, generator=gen) * H * W
    r = torch.exp(torch.empty(B).uniform_(math.log(ratio[0]), math.log(ratio[1]), generator=gen))
    h = torch.sqrt(a * r).round().clamp(1, H).long()
    w = torch.sqrt(a / r).round().clamp(1, W).long()
    y0 = (torch.rand(B, generator=gen) * (H - h + 1).float()).long()
    x0 = (torch.rand(B, generator=gen) * (W - w + 1).float()).long()
    on = torch.rand(B, generator=gen) < p
    ys = torch.arange(H)[None, :, None]
    xs = torch.arange(W)[None, None, :]
    m = (on[:, None, None] & (ys >= y0[:, None, None]) & (ys < (y0 + h)[:, None, None])
         & (xs >= x0[:, None, None]) & (xs < (x0 + w)[:, None, None]))
    noise = torch.randint(0, 256, x_u8.shape, generator=gen, dtype=torch.uint8)
    return torch.where(m, noise, x_u8)


def mix_batch(x, y, rng, num_classes, smoothing=0.1, mixup_alpha=0.8, cutmix_alpha=1.0, switch_prob=0.5):
    """Mixup or CutMix on a normalised batch [B,C,H,W], as DeiT's recipe does it (timm's Mixup, mode
    "batch", prob 1): with probability switch_prob CutMix (lam ~ Beta(cutmix_alpha, cutmix_alpha), a
    box of (1 - lam) of the area pasted from the batch in reverse order, lam then set to the share of
    the image left), otherwise Mixup (lam ~ Beta(mixup_alpha, mixup_alpha), pixel blend with the
    reversed batch). Returns (mixed x, soft targets [B, num_classes]): the label-smoothed one-hot
    labels mixed in the same proportion. rng is a numpy RandomState: lam and the box come from it,
    so an epoch seeded the same way mixes the same way."""
    use_cutmix = cutmix_alpha > 0 and (mixup_alpha <= 0 or rng.rand() < switch_prob)
    off = smoothing / num_classes
    onehot = torch.full((len(y), num_classes), off).scatter_(1, y[:, None], 1.0 - smoothing + off)
    if use_cutmix:
        lam = float(rng.beta(cutmix_alpha, cutmix_alpha))
        H, W = x.shape[-2:]
        cut = math.sqrt(1.0 - lam)
        ch, cw = int(H * cut), int(W * cut)
        cy, cx = int(rng.randint(0, H)), int(rng.randint(0, W))
        y0, y1 = max(cy - ch // 2, 0), min(cy + ch // 2, H)
        x0, x1 = max(cx - cw // 2, 0), min(cx + cw // 2, W)
        x = x.clone()
        x[:, :, y0:y1, x0:x1] = x.flip(0)[:, :, y0:y1, x0:x1]
        lam = 1.0 - (y1 - y0) * (x1 - x0) / float(H * W)
    else:
        lam = float(rng.beta(mixup_alpha, mixup_alpha))
        x = x * lam + x.flip(0) * (1.0 - lam)
    return x, onehot * lam + onehot.flip(0) * (1.0 - lam)


def load_teacher(run):
    """(eval-mode channels_last teacher, its summary) from runs/<run>/. A run whose summary lists
    "members" (ensemble.py) is the ensemble of those teacher runs."""
    with open(os.path.join(RUNS, run, "summary.json")) as f:
        summary = json.load(f)
    if "members" in summary:
        net = models.TeacherEnsemble([load_teacher(m)[0] for m in summary["members"]])
    else:
        net = models.ResNetTeacher(tuple(summary["widths"]), summary["blocks"])
        net.load_state_dict(torch.load(os.path.join(RUNS, run, "final.pt")))
    return net.to(memory_format=torch.channels_last).eval(), summary


def lr_at(step, total, warmup, base, min_lr=1e-5):
    if step < warmup:
        return base * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return min_lr + 0.5 * (base - min_lr) * (1 + math.cos(math.pi * t))


def latest_ckpt(run_dir):
    return state.latest_epoch(run_dir)[1]


def save_ckpt(run_dir, epoch, model, opt, log):
    os.makedirs(run_dir, exist_ok=True)
    p = os.path.join(run_dir, state.CKPT_NAME % epoch)
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


@torch.no_grad()
def predict_flip_tta(model, x_u8, bs=500):
    """Logits averaged over the image and its horizontal mirror (test-time augmentation; the
    training augmentation flips, so the network is meant to be mirror-invariant)."""
    a = predict_logits(model, x_u8, bs)
    b = predict_logits(model, x_u8.flip(-1), bs)
    return [(u + v) / 2 for u, v in zip(a, b)]


@torch.no_grad()
def token_cosines(model, x_u8, bs=500):
    """For a two-prefix-token DeiT: cosine of the two learned token parameters, and the mean over
    the images of the cosine of the two tokens' final (post-norm) embeddings, as the paper reports."""
    model.eval()
    cf = torch.nn.functional.cosine_similarity
    learned = cf(model.cls_token.flatten(), model.dist_token.flatten(), dim=0).item()
    tot = 0.0
    for i in range(0, len(x_u8), bs):
        _, tok = model(to_input(x_u8[i:i + bs]), with_tokens=True)
        tot += cf(tok[:, 0], tok[:, 1], dim=1).sum().item()
    return {"learned_cos": learned, "output_cos": tot / len(x_u8)}


@torch.no_grad()
def token_cosines_by_depth(model, x_u8, bs=500):
    """Where along the network two prefix tokens agree. The learned parameters alone are not what
    the first block sees: each prefix token enters as its parameter plus its row of pos_embed (the
    two get the same gradient, so only their sum is identified). Returns the cosine of those two
    input vectors, then the mean over the images of the two tokens' cosine after each block and
    after the final norm."""
    model.eval()
    cf = torch.nn.functional.cosine_similarity
    pe = model.pos_embed[0]
    sums = None
    for i in range(0, len(x_u8), bs):
        h = model.patch_embed(to_input(x_u8[i:i + bs]))
        b = h.shape[0]
        h = torch.cat([model.cls_token.expand(b, -1, -1), model.dist_token.expand(b, -1, -1), h], 1) + model.pos_embed
        per = []
        for blk in model.blocks:
            h = blk(h)
            per.append(cf(h[:, 0], h[:, 1], dim=1).sum().item())
        h = model.norm(h)
        per.append(cf(h[:, 0], h[:, 1], dim=1).sum().item())
        sums = per if sums is None else [u + v for u, v in zip(sums, per)]
    inputs = cf(model.cls_token.flatten() + pe[0], model.dist_token.flatten() + pe[1], dim=0).item()
    return {"input_cos": inputs, "after_block_cos": [s / len(x_u8) for s in sums[:-1]],
            "output_cos": sums[-1] / len(x_u8)}


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
    """Mixed precision for the training step and for the teacher as the students see it (its online
    labels, and the passes that measure those labels: train_teacher, ensemble, compare_errors). bf16
    autocast runs the matrix products in bfloat16 (about 1.7x faster per step on a CPU with
    AVX512_BF16) while weights and optimiser state stay float32; the students' own evaluation and the
    exported model are float32."""
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")


class Timer:
    def __init__(self):
        self.t0 = time.time()

    def __call__(self):
        return time.time() - self.t0
