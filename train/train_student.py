"""Train the DeiT student with hard-label distillation (--distill) or the class-token-only baseline (--no-distill).

loss (distill) = 0.5*CE_ls(head(cls), y) + 0.5*CE(head_dist(dist), teacher_argmax)
loss (baseline) = CE_ls(head(cls), y)
Resumable: per-epoch checkpoints in runs/<name>/.
"""
import argparse
import json
import os

import torch
import torch.nn.functional as F

import common
import data
import models

ARCH = dict(img_size=28, patch_size=4, in_chans=1, embed_dim=128, depth=4, num_heads=4, mlp_ratio=2.0, num_classes=10)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--distill", dest="distill", action="store_true", default=True)
    ap.add_argument("--no-distill", dest="distill", action="store_false")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--bs", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--wd", type=float, default=0.05)
    ap.add_argument("--warmup-epochs", type=float, default=1.0)
    ap.add_argument("--smoothing", type=float, default=0.1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--precision", choices=("bf16", "f32"), default="f32", help="training-step precision (autocast)")
    ap.add_argument("--embed-dim", type=int, default=ARCH["embed_dim"])
    ap.add_argument("--depth", type=int, default=ARCH["depth"])
    ap.add_argument("--heads", type=int, default=ARCH["num_heads"])
    ap.add_argument("--mlp-ratio", type=float, default=ARCH["mlp_ratio"])
    ap.add_argument("--patch", type=int, default=ARCH["patch_size"])
    ap.add_argument("--bench", type=int, default=0, help="time N training steps and exit")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    name = "student" if a.distill else "baseline"
    out = a.out or os.path.join(common.RUNS, name)

    arch = dict(ARCH, embed_dim=a.embed_dim, depth=a.depth, num_heads=a.heads, mlp_ratio=a.mlp_ratio, patch_size=a.patch)
    xtr, ytr = data.load("train")
    xte, yte = data.load("test")
    xtr, ytr, xte, yte = map(torch.from_numpy, (xtr, ytr, xte, yte))
    if a.distill:
        if a.bench:
            tlab = ytr.clone()
        else:
            tl = torch.load(os.path.join(common.RUNS, "teacher_labels.pt"))
            tlab = tl["labels"]
            print("teacher labels: agreement with y on train %.4f" % tl["train_agree"], flush=True)

    model = models.DeiT(distilled=a.distill, **arch)
    decay = [p for n, p in model.named_parameters() if p.ndim > 1 and "token" not in n and "pos_embed" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim > 1 and "token" not in n and "pos_embed" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.wd}, {"params": no_decay, "weight_decay": 0.0}], lr=a.lr)
    steps_per_epoch = len(xtr) // a.bs
    total = steps_per_epoch * a.epochs
    warmup = int(steps_per_epoch * a.warmup_epochs)

    start, log = 0, []
    ck = common.latest_ckpt(out)
    if ck and not a.bench:
        s = torch.load(ck)
        model.load_state_dict(s["model"]); opt.load_state_dict(s["opt"])
        start, log = s["epoch"], s["log"]
        print("resumed from", ck, flush=True)

    print("%s params %d arch %s, %d epochs x %d steps" % (name, models.count_params(model), arch, a.epochs, steps_per_epoch), flush=True)
    for epoch in range(start, a.epochs):
        model.train()
        g = torch.Generator().manual_seed(a.seed * 1000 + epoch + 7)
        perm = torch.randperm(len(xtr), generator=g)
        t = common.Timer()
        tot_loss = 0.0
        for i in range(steps_per_epoch):
            step = epoch * steps_per_epoch + i
            for pg in opt.param_groups:
                pg["lr"] = common.lr_at(step, total, warmup, a.lr)
            idx = perm[i * a.bs:(i + 1) * a.bs]
            x = common.to_input(common.augment(xtr[idx], g))
            with common.autocast(a.precision):
                logits = model(x)
            if a.distill:
                cls, dist = (o.float() for o in logits)
                loss = 0.5 * F.cross_entropy(cls, ytr[idx], label_smoothing=a.smoothing) \
                    + 0.5 * F.cross_entropy(dist, tlab[idx])
            else:
                loss = F.cross_entropy(logits.float(), ytr[idx], label_smoothing=a.smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            tot_loss += loss.item()
            if a.bench and i + 1 == a.bench:
                dt = t()
                print("BENCH %s: %.3f s/step, est %.1f min/epoch" % (name, dt / a.bench, dt / a.bench * steps_per_epoch / 60))
                return
            if i % 100 == 0:
                print("  ep %d step %d/%d loss %.4f %.0fs" % (epoch, i, steps_per_epoch, loss.item(), t()), flush=True)
        train_s = t()
        acc = common.accuracies(common.predict_logits(model, xte), yte)
        log.append({"epoch": epoch + 1, "loss": tot_loss / steps_per_epoch, "test": acc, "train_s": train_s, "total_s": t()})
        print("epoch %d loss %.4f test %s  %.1f min" % (epoch + 1, tot_loss / steps_per_epoch,
              {k: round(v, 4) for k, v in acc.items()}, t() / 60), flush=True)
        common.save_ckpt(out, epoch + 1, model, opt, log)

    acc = common.accuracies(common.predict_logits(model, xte), yte)
    torch.save({"model": model.state_dict(), "arch": arch, "distilled": a.distill}, os.path.join(out, "final.pt"))
    summary = {"name": name, "arch": arch, "distilled": a.distill, "test": acc, "epochs": a.epochs,
               "minutes": sum(e["total_s"] for e in log) / 60, "params": models.count_params(model),
               "args": vars(a), "log": log}
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print("%s FINAL test %s  %.1f min" % (name.upper(), acc, summary["minutes"]), flush=True)


if __name__ == "__main__":
    main()
