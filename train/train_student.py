"""Train a ViT/DeiT student on Fashion-MNIST, one of the paper's four settings (--mode):

  baseline  one class token, loss CE_ls(head(cls), y)
  twocls    two class tokens (the second in timm's dist_token slot, initialised independently),
            loss 0.5*CE_ls(head(tok0), y) + 0.5*CE_ls(head_dist(tok1), y): the paper's control
  hard      DeiT, hard-label distillation: 0.5*CE_ls(head(cls), y) + 0.5*CE(head_dist(dist), teacher_argmax)
  soft      DeiT, soft distillation: 0.9*CE_ls(head(cls), y) + 0.1*tau^2*KL(teacher/tau || dist/tau), tau 3

Every mode sees the same augmentation: random crop from the image padded by 2 px, horizontal flip,
and random erasing with DeiT's probability 0.25. As in the paper, the teacher labels the augmented
view the student sees (online), not the clean image: where erasing hides what decides the class, the
teacher's decision and the true label part, and that is what the distillation token has to learn
that a second class token does not (labels precomputed on clean images, the previous recipe, gave
a distillation head that learned the true label again: +0.08 points over the baseline).

--mixup 0.8 --cutmix 1.0 adds DeiT's label-mixing augmentation (experiment 2, run_mix.sh): each
batch, after erasing, is mixed with itself in reverse order by Mixup or CutMix (half each); every
loss term on the true label then takes the mixed label-smoothed targets instead (cross-entropy
against class probabilities), and the teacher labels the mixed view, as in DeiT's DistillationLoss:
where a view is 60% shirt and 40% trouser the true target says so, the teacher's hard label decides.

--init FINAL.pt --res 56 fine-tunes a trained student at a higher resolution: the images upsampled
as the server does, the position embedding's patch grid resized bicubically (timm's
resample_abs_pos_embed), teacher labels from a teacher at that resolution (--teacher).
Resumable: per-epoch checkpoints in runs/<name>/.
"""
import argparse
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

import common
import models

ARCH = dict(img_size=28, patch_size=4, in_chans=1, embed_dim=128, depth=4, num_heads=4, mlp_ratio=2.0, num_classes=10)
TWO_TOKENS = ("twocls", "hard", "soft")


def resample_pos_embed(pe, n_prefix, new_grid):
    """[1, n_prefix + g*g, D] -> [1, n_prefix + new_grid^2, D]: prefix rows kept, the patch grid
    resized bicubically (align_corners=False), as timm does when the input size changes."""
    prefix, grid = pe[:, :n_prefix], pe[:, n_prefix:]
    g = int(round(grid.shape[1] ** 0.5))
    grid = grid.reshape(1, g, g, -1).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=(new_grid, new_grid), mode="bicubic", align_corners=False)
    return torch.cat([prefix, grid.permute(0, 2, 3, 1).reshape(1, new_grid * new_grid, -1)], dim=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=("baseline",) + TWO_TOKENS, required=True)
    ap.add_argument("--name", default=None, help="run folder under runs/ (default: the mode)")
    ap.add_argument("--teacher", default="teacher", help="teacher run folder under runs/ (a teacher, or an ensemble.py ensemble)")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--bs", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--min-lr", type=float, default=1e-5)
    ap.add_argument("--wd", type=float, default=0.05)
    ap.add_argument("--warmup-epochs", type=float, default=1.0)
    ap.add_argument("--smoothing", type=float, default=0.1)
    ap.add_argument("--erase", type=float, default=0.25, help="random-erasing probability (DeiT's 0.25)")
    ap.add_argument("--mixup", type=float, default=0.0, help="Mixup alpha (DeiT: 0.8; 0 = off)")
    ap.add_argument("--cutmix", type=float, default=0.0, help="CutMix alpha (DeiT: 1.0; 0 = off)")
    ap.add_argument("--switch-prob", type=float, default=0.5, help="with both on, the share of batches that CutMix")
    ap.add_argument("--teacher-tta", choices=("auto", "on", "off"), default="auto",
                    help="on: the teacher labels each view by its logits averaged with the mirrored view's "
                         "(twice its cost); auto (default): as the teacher's reported accuracy was measured "
                         "(its summary's tta), so the teacher that teaches is the one the table shows")
    ap.add_argument("--res", type=int, default=28)
    ap.add_argument("--init", default=None, help="fine-tune from this final.pt")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--precision", choices=("bf16", "f32"), default="f32", help="training-step precision (autocast)")
    ap.add_argument("--embed-dim", type=int, default=ARCH["embed_dim"])
    ap.add_argument("--depth", type=int, default=ARCH["depth"])
    ap.add_argument("--heads", type=int, default=ARCH["num_heads"])
    ap.add_argument("--mlp-ratio", type=float, default=ARCH["mlp_ratio"])
    ap.add_argument("--patch", type=int, default=ARCH["patch_size"])
    ap.add_argument("--eval-every", type=int, default=None,
                    help="test-set pass every N epochs, 0 = only the final one (default: every epoch at 28x28; "
                         "above, only the final pass: one takes minutes at 56x56 on a CPU core)")
    ap.add_argument("--bench", type=int, default=0, help="time N training steps and exit")
    a = ap.parse_args()
    eval_every = a.eval_every if a.eval_every is not None else (1 if a.res == 28 else 0)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    name = a.name or a.mode
    out = os.path.join(common.RUNS, name)
    two = a.mode in TWO_TOKENS

    arch = dict(ARCH, img_size=a.res, embed_dim=a.embed_dim, depth=a.depth, num_heads=a.heads,
                mlp_ratio=a.mlp_ratio, patch_size=a.patch)
    xtr, ytr, xte, yte = common.load_data(a.res)
    teacher, teacher_tta = None, a.teacher_tta == "on"
    if a.mode in ("hard", "soft"):
        if a.bench and not os.path.exists(os.path.join(common.RUNS, a.teacher, "summary.json")):
            # timing only: an untrained teacher costs the same
            teacher = models.ResNetTeacher((48, 96, 192), 1).to(memory_format=torch.channels_last).eval()
        else:
            teacher, ts = common.load_teacher(a.teacher)
            teacher_tta = a.teacher_tta == "on" or (a.teacher_tta == "auto" and bool(ts.get("tta")))
            print("teacher %s: test %s; labels %s" % (a.teacher, ts.get("test", ts["test_acc"]),
                  "image + mirror" if teacher_tta else "image only"), flush=True)

    model = models.DeiT(distilled=two, **arch)
    if a.init:
        src = torch.load(a.init)["model"]
        src["pos_embed"] = resample_pos_embed(src["pos_embed"], model.num_prefix, a.res // a.patch)
        model.load_state_dict(src)
        print("initialised from", a.init, flush=True)
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

    print("%s (%s) params %d arch %s, %d epochs x %d steps" % (name, a.mode, models.count_params(model), arch,
          a.epochs, steps_per_epoch), flush=True)
    mixing = a.mixup > 0 or a.cutmix > 0
    for epoch in range(start, a.epochs):
        model.train()
        g = torch.Generator().manual_seed(a.seed * 1000 + epoch + 7)
        perm = torch.randperm(len(xtr), generator=g)
        mix_rng = np.random.RandomState(a.seed * 1000 + epoch + 11)
        t = common.Timer()
        tot_loss, disagree = 0.0, 0
        for i in range(steps_per_epoch):
            step = epoch * steps_per_epoch + i
            for pg in opt.param_groups:
                pg["lr"] = common.lr_at(step, total, warmup, a.lr, a.min_lr)
            idx = perm[i * a.bs:(i + 1) * a.bs]
            y = ytr[idx]
            xa = common.augment(xtr[idx], g, pad=2 * a.res // 28)
            if a.erase:
                xa = common.random_erase(xa, g, a.erase)
            x = common.to_input(xa)
            # what every true-label loss term is taken against: the label, or with mixing the mixed
            # distribution (cross_entropy takes class probabilities too), which already holds the smoothing
            target, smoothing = y, a.smoothing
            if mixing:
                x, target = common.mix_batch(x, y, mix_rng, arch["num_classes"], a.smoothing,
                                             a.mixup, a.cutmix, a.switch_prob)
                smoothing = 0.0
            # the teacher in its own autocast region, before the student: run inside the student's
            # region, after its forward, the same pass measured 3x slower (0.39 s vs 0.13 s a batch)
            if teacher is not None:
                with torch.no_grad(), common.autocast(a.precision):
                    t_logits = teacher(x.contiguous(memory_format=torch.channels_last)).float()
                    if teacher_tta:
                        xm = x.flip(-1).contiguous(memory_format=torch.channels_last)
                        t_logits = (t_logits + teacher(xm).float()) / 2
            with common.autocast(a.precision):
                logits = model(x)
            if a.mode == "baseline":
                loss = F.cross_entropy(logits.float(), target, label_smoothing=smoothing)
            else:
                cls, dist = (o.float() for o in logits)
                loss_cls = F.cross_entropy(cls, target, label_smoothing=smoothing)
                if a.mode == "twocls":
                    loss = 0.5 * loss_cls + 0.5 * F.cross_entropy(dist, target, label_smoothing=smoothing)
                elif a.mode == "hard":
                    t_label = t_logits.argmax(1)
                    # with mixing: against the label the mixed target weighs most
                    disagree += (t_label != (target.argmax(1) if mixing else y)).sum().item()
                    loss = 0.5 * loss_cls + 0.5 * F.cross_entropy(dist, t_label)
                else:
                    tau = 3.0
                    kl = F.kl_div(F.log_softmax(dist / tau, 1), F.log_softmax(t_logits / tau, 1),
                                  reduction="batchmean", log_target=True)
                    loss = 0.9 * loss_cls + 0.1 * tau * tau * kl
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
        rec = {"epoch": epoch + 1, "loss": tot_loss / steps_per_epoch, "train_s": train_s}
        if a.mode == "hard":  # how often the teacher's label on the augmented view is not y (mixed: its major label)
            rec["teacher_disagree"] = disagree / (steps_per_epoch * a.bs)
        if eval_every > 0 and (epoch + 1) % eval_every == 0:
            rec["test"] = common.accuracies(common.predict_logits(model, xte), yte)
            if two:
                rec["cos"] = common.token_cosines(model, xte)
        rec["total_s"] = t()
        log.append(rec)
        print("epoch %d loss %.4f test %s %s%s %.1f min" % (epoch + 1, rec["loss"],
              {k: round(v, 4) for k, v in rec.get("test", {}).items()},
              {k: round(v, 4) for k, v in rec.get("cos", {}).items()},
              " teacher!=y %.4f" % rec["teacher_disagree"] if "teacher_disagree" in rec else "",
              rec["total_s"] / 60), flush=True)
        common.save_ckpt(out, epoch + 1, model, opt, log)

    acc = common.accuracies(common.predict_logits(model, xte), yte)
    torch.save({"model": model.state_dict(), "arch": arch, "distilled": two, "mode": a.mode},
               os.path.join(out, "final.pt"))
    summary = {"name": name, "mode": a.mode, "arch": arch, "distilled": two, "test": acc, "epochs": a.epochs,
               "minutes": sum(e["total_s"] for e in log) / 60, "params": models.count_params(model),
               "args": vars(a), "log": log}
    if two:
        summary["cos"] = common.token_cosines(model, xte)
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print("%s FINAL test %s %s  %.1f min" % (name.upper(), acc, summary.get("cos", ""), summary["minutes"]), flush=True)


if __name__ == "__main__":
    main()
