#!/usr/bin/env python3
"""pooled_gain.py — the distillation token's gain over its own baseline, per experiment and pooled.

Each DIR is one experiment's EVAL_PREDICTIONS folder from tools/eval_models.sh (one "prediction label"
line per test image, in test-set order, for each model served). Per experiment it prints the paired
difference of top-1 accuracy (DeiT fused minus baseline) with its 95% interval, as eval_models.sh
does; then the pooled gain: the mean of the experiments' differences, with its interval taken from
the per-image mean difference d_i = mean_k (right_k,i - base_k,i). Because every experiment is
measured on the same 10,000 images, their differences are correlated (an image that is hard for one
pair is hard for the next); the per-image form counts that correlation, which an inverse-variance
pooling of four independent intervals would not.

Usage: python3 train/pooled_gain.py [--model fashion-deit] [--baseline fashion-vit-nodist] DIR...
"""
import argparse
import math
import os
import sys


def read_predictions(path):
    rows = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            if len(parts) != 2:
                sys.exit("pooled_gain: %s:%d: expected 'prediction label', got %r" % (path, n, line.strip()))
            rows.append((parts[1], parts[0]))  # (label, prediction)
    return rows


def mean_and_se(values):
    n = len(values)
    m = sum(values) / n
    var = sum((v - m) ** 2 for v in values) / (n - 1)
    return m, math.sqrt(var / n)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="fashion-deit")
    ap.add_argument("--baseline", default="fashion-vit-nodist")
    ap.add_argument("--bar", type=float, default=0.5, help="the gain the issue asks for, in points")
    ap.add_argument("dirs", nargs="+")
    a = ap.parse_args()

    per_image = None
    labels = None
    print("| experiment | DeiT fused | baseline | difference | 95% CI | only DeiT right | only baseline right |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for d in a.dirs:
        model = read_predictions(os.path.join(d, a.model))
        base = read_predictions(os.path.join(d, a.baseline))
        if len(model) != len(base) or not model:
            sys.exit("pooled_gain: %s: %d model lines against %d baseline lines" % (d, len(model), len(base)))
        these = [m[0] for m in model]
        if [b[0] for b in base] != these or (labels is not None and labels != these):
            sys.exit("pooled_gain: %s: the labels differ between files: not the same images in the same order" % d)
        labels = these
        diff = [(m[0] == m[1]) - (b[0] == b[1]) for m, b in zip(model, base)]
        mean, se = mean_and_se(diff)
        acc_m = sum(m[0] == m[1] for m in model) / len(model)
        acc_b = sum(b[0] == b[1] for b in base) / len(base)
        print("| %s | %.2f%% | %.2f%% | %+.2f | [%+.2f, %+.2f] | %d | %d |" % (
            os.path.basename(os.path.normpath(d)), 100 * acc_m, 100 * acc_b, 100 * mean,
            100 * (mean - 1.96 * se), 100 * (mean + 1.96 * se), diff.count(1), diff.count(-1)))
        per_image = diff if per_image is None else [p + x for p, x in zip(per_image, diff)]

    k = len(a.dirs)
    mean, se = mean_and_se([p / k for p in per_image])
    print()
    print("pooled over %d experiment(s), %d images: %+.2f points, 95%% CI [%+.2f, %+.2f]; "
          "one-sided 95%% upper bound %+.2f (the bar: %+.2f)" % (
              k, len(per_image), 100 * mean, 100 * (mean - 1.96 * se), 100 * (mean + 1.96 * se),
              100 * (mean + 1.645 * se), a.bar))


if __name__ == "__main__":
    main()
