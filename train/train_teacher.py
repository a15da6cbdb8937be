"""Train the convnet teacher. The students run it on their own augmented batches (online labels);
--labels also stores its hard labels for the clean training images (runs/<name>/labels.pt) and their
agreement with the true labels.

Resumable: per-epoch checkpoints in runs/<name>/. Output: runs/<name>/final.pt and
runs/<name>/summary.json: test accuracy in float32 (plain and with flip TTA) and under bf16 autocast,
the arithmetic the students' online labels use.

--res 56 with --init runs/teacher/final.pt fine-tunes a 28x28 teacher on the images upsampled to
56x56 (global pooling lets the same network run there): the teacher at the student's fine-tuning
resolution that the paper's recipe asks for.
"""
import argparse
import json
import os

import torch
import torch.nn.functional as F

import common
import models


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", default="teacher", help="run folder under runs/")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--bs", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--wd", type=float, default=5e-4)
    ap.add_argument("--widths", default="32,64,128", help="channels per stage")
    ap.add_argument("--blocks", type=int, default=1, help="BasicBlocks per stage")
    ap.add_argument("--erase", type=float, default=0.0, help="random-erasing probability")
    ap.add_argument("--tta", action="store_true", help="predict (test and labels) on image + mirror")
    ap.add_argument("--eval-every", type=int, default=1,
                    help="test-set pass every N epochs, 0 = only the final one (float32 on one core: minutes)")
    ap.add_argument("--labels", action="store_true",
                    help="also label the 60,000 clean training images (float32: ~20 min on one core with --tta)")
    ap.add_argument("--res", type=int, default=28, help="input size (images upsampled as the server does)")
    ap.add_argument("--init", default=None, help="start from this final.pt (fine-tuning)")
    ap.add_argument("--warmup-epochs", type=float, default=0.25)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--precision", choices=("bf16", "f32"), default="f32", help="training-step precision (autocast)")
    ap.add_argument("--bench", type=int, default=0, help="time N training steps and exit")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    out = os.path.join(common.RUNS, a.name)

    xtr, ytr, xte, yte = common.load_data(a.res)
    widths = tuple(int(w) for w in a.widths.split(","))
    # channels_last: oneDNN's convolutions are ~25% faster on it (state_dict keys and values unchanged)
    model = models.ResNetTeacher(widths, a.blocks).to(memory_format=torch.channels_last)
    if a.init:
        model.load_state_dict(torch.load(a.init))
    opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=0.9, nesterov=True, weight_decay=a.wd)
    steps_per_epoch = len(xtr) // a.bs
    total = steps_per_epoch * a.epochs
    warmup = int(steps_per_epoch * a.warmup_epochs)
    predict = common.predict_flip_tta if a.tta else common.predict_logits

    start, log = 0, []
    ck = common.latest_ckpt(out)
    if ck and not a.bench:
        s = torch.load(ck)
        model.load_state_dict(s["model"]); opt.load_state_dict(s["opt"])
        start, log = s["epoch"], s["log"]
        print("resumed from", ck, flush=True)

    print("teacher %s params %d widths %s blocks %d res %d, %d epochs x %d steps" % (
        a.name, models.count_params(model), widths, a.blocks, a.res, a.epochs, steps_per_epoch), flush=True)
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
            xa = common.augment(xtr[idx], g, pad=2 * a.res // 28)
            if a.erase:
                xa = common.random_erase(xa, g, a.erase)
            x = common.to_input(xa)
            with common.autocast(a.precision):
                out_ = model(x.contiguous(memory_format=torch.channels_last))
            loss = F.cross_entropy(out_.float(), ytr[idx], label_smoothing=0.1)
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
        acc = None
        if a.eval_every > 0 and (epoch + 1) % a.eval_every == 0:
            acc = common.accuracies(predict(model, xte), yte)["head"]
        log.append({"epoch": epoch + 1, "loss": tot_loss / steps_per_epoch, "test_acc": acc, "train_s": train_s, "total_s": t()})
        print("epoch %d loss %.4f test_acc %s  %.1f min" % (epoch + 1, tot_loss / steps_per_epoch,
              "-" if acc is None else "%.4f" % acc, t() / 60), flush=True)
        common.save_ckpt(out, epoch + 1, model, opt, log)

    agree = None
    if a.labels:  # hard teacher labels on the un-augmented training images
        labels = predict(model, xtr)[0].argmax(1)
        agree = (labels == ytr).float().mean().item()
        torch.save({"labels": labels, "train_agree": agree}, os.path.join(out, "labels.pt"))
    # float32 passes are slow (~12 ms per image at 28x28 on one core, 4x that at 56): the mirror pass
    # only for a teacher that reports it
    test = {"plain": common.accuracies(common.predict_logits(model, xte), yte)["head"]}
    if a.tta:
        test["flip_tta"] = common.accuracies(common.predict_flip_tta(model, xte), yte)["head"]
    with common.autocast(a.precision):  # as the students' online labels see it
        test["plain_autocast"] = common.accuracies(common.predict_logits(model, xte), yte)["head"]
        test["flip_tta_autocast"] = common.accuracies(common.predict_flip_tta(model, xte), yte)["head"]
    test_acc = test["flip_tta" if a.tta else "plain"]
    torch.save(model.state_dict(), os.path.join(out, "final.pt"))
    summary = {"name": a.name, "test_acc": test_acc, "test": test, "train_label_agreement": agree,
               "epochs": a.epochs, "res": a.res, "widths": widths, "blocks": a.blocks, "tta": a.tta,
               "minutes": sum(e["total_s"] for e in log) / 60, "params": models.count_params(model),
               "args": vars(a), "log": log}
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print("TEACHER %s test_acc %.4f (%s)  train agreement %s  %.1f min" % (
        a.name, test_acc, ", ".join("%s %.4f" % kv for kv in test.items()), agree, summary["minutes"]), flush=True)


if __name__ == "__main__":
    main()
