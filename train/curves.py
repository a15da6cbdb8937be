"""The students' test accuracy along training, side by side, and each one's gap to a baseline: how a
distillation gain grows or shrinks as the runs converge (issue 17's experiments compare it at the
last epoch only; this is the diagnostic the README quotes beside that verdict).

    python3 curves.py                                   # experiment 3: baseline_mix200 hard_mix200 twocls_mix200
    python3 curves.py baseline_mix hard_mix twocls_mix  # any runs; the first is the baseline

Reads each run's per-epoch log from its summary.json (finished) or its newest checkpoint (in
progress), so it works while the runs train. Epochs without a test pass (--eval-every) are skipped;
a run that has not reached an epoch shows "-"."""
import json
import os
import sys

import torch

import common

DEFAULT = ["baseline_mix200", "hard_mix200", "twocls_mix200"]


def epoch_log(run):
    """{epoch: record} of a run, finished or in progress; {} if it has not saved an epoch yet."""
    d = os.path.join(common.RUNS, run)
    summary = os.path.join(d, "summary.json")
    if os.path.exists(summary):
        with open(summary) as f:
            log = json.load(f)["log"]
    else:
        path = common.latest_ckpt(d)
        log = torch.load(path, map_location="cpu")["log"] if path else []
    return {r["epoch"]: r for r in log if "test" in r}


def top1(rec):
    """The model's prediction accuracy: the fusion for two-token models, the one head otherwise."""
    t = rec["test"]
    return t.get("fused", t.get("head"))


def main():
    runs = sys.argv[1:] or DEFAULT
    logs = [epoch_log(r) for r in runs]
    if not logs[0]:
        sys.exit("curves: %s has no epoch with a test pass yet" % runs[0])
    print("| epoch | " + " | ".join(runs) + " | " + " | ".join("%s − %s" % (r, runs[0]) for r in runs[1:]) + " |")
    print("|---:|" + "---:|" * (2 * len(runs) - 1))
    for e in sorted(set().union(*logs)):
        accs = [top1(log[e]) if e in log else None for log in logs]
        cells = ["%.2f%%" % (100 * a) if a is not None else "-" for a in accs]
        gaps = ["%+.2f" % (100 * (a - accs[0])) if a is not None and accs[0] is not None else "-" for a in accs[1:]]
        print("| %d | %s | %s |" % (e, " | ".join(cells), " | ".join(gaps)))


if __name__ == "__main__":
    main()
