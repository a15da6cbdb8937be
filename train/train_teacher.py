"""Train the convnet teacher, then precompute its hard labels over the (un-augmented) training set.

Resumable: per-epoch checkpoints in runs/teacher/. Output: runs/teacher/final.pt, runs/teacher_labels.pt
"""
import argparse
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

import common
import data
import models


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--bs", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--wd", type=float, default=5e-4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--precision", choices=("bf16", "f32"), default="f32", help="training-step precision (autocast)")
    ap.add_argument("--bench", type=int, default=0, help="time N training steps and exit")
    ap.add_argument("--out", default=os.path.join(common.RUNS, "teacher"))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    xtr, ytr = data.load("train")
    xte, yte = data.load("test")
    xtr, ytr, xte, yte = map(torch.from_numpy, (xtr, ytr, xte, yte))
    # channels_last: oneDNN's convolutions are ~25% faster on it (state_dict keys and values unchanged)
    model = models.ResNetTeacher().to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=0.9, nesterov=True, weight_decay=a.wd)
    steps_per_epoch = len(xtr) // a.bs
    total = steps_per_epoch * a.epochs
    warmup = steps_per_epoch // 4

    start, log = 0, []
    ck = common.latest_ckpt(a.out)
    if ck and not a.bench:
        s = torch.load(ck)
        model.load_state_dict(s["model"]); opt.load_state_dict(s["opt"])
        start, log = s["epoch"], s["log"]
        print("resumed from", ck, flush=True)

    print("teacher params %d, %d epochs x %d steps" % (models.count_params(model), a.epochs, steps_per_epoch), flush=True)
    for epoch in range(start, a.epochs):
        model.train()
        g = torch.Generator().manual_seed(a.seed * 1000 + epoch)
        perm = torch.randperm(len(xtr), generator=g)
        t = common.Timer()
        tot_loss = 0.0
        for i in range(steps_per_epoch):
            step = epoch * steps_per_epoch + i
            for pg in opt.param_groups:
                pg["lr"] = common.lr_at(step, total, warmup, a.lr, 0.0)
            idx = perm[i * a.bs:(i + 1) * a.bs]
            x = common.to_input(common.augment(xtr[idx], g))
            with common.autocast(a.precision):
                out = model(x.contiguous(memory_format=torch.channels_last))
            loss = F.cross_entropy(out.float(), ytr[idx], label_smoothing=0.1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            tot_loss += loss.item()
            if a.bench and i + 1 == a.bench:
                dt = t()
                print("BENCH teacher: %.3f s/step, est %.1f min/epoch" % (dt / a.bench, dt / a.bench * steps_per_epoch / 60))
                return
            if i % 100 == 0:
                print("  ep %d step %d/%d loss %.4f %.0fs" % (epoch, i, steps_per_epoch, loss.item(), t()), flush=True)
        train_s = t()
        acc = common.accuracies(common.predict_logits(model, xte), yte)["head"]
        log.append({"epoch": epoch + 1, "loss": tot_loss / steps_per_epoch, "test_acc": acc, "train_s": train_s, "total_s": t()})
        print("epoch %d loss %.4f test_acc %.4f  %.1f min" % (epoch + 1, tot_loss / steps_per_epoch, acc, t() / 60), flush=True)
        common.save_ckpt(a.out, epoch + 1, model, opt, log)

    # hard teacher labels on the un-augmented training images, computed once
    logits = common.predict_logits(model, xtr)[0]
    labels = logits.argmax(1)
    agree = (labels == ytr).float().mean().item()
    test_acc = common.accuracies(common.predict_logits(model, xte), yte)["head"]
    torch.save({"labels": labels, "train_agree": agree}, os.path.join(common.RUNS, "teacher_labels.pt"))
    torch.save(model.state_dict(), os.path.join(a.out, "final.pt"))
    summary = {"test_acc": test_acc, "train_label_agreement": agree, "epochs": a.epochs,
               "minutes": sum(e["total_s"] for e in log) / 60, "params": models.count_params(model), "log": log}
    with open(os.path.join(a.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print("TEACHER test_acc %.4f  train agreement %.4f  %.1f min" % (test_acc, agree, summary["minutes"]), flush=True)


if __name__ == "__main__":
    main()
