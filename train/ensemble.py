"""Make an ensemble teacher: the mean of several trained teachers' logits, measured on the test set
and recorded as a run (runs/<name>/summary.json, "members"), which train_student.py --teacher <name>
then uses like a single teacher.

  python3 ensemble.py --name teachers --members teacher,teacher2

Accuracy in float32 (the reported number), plain and with flip TTA, and plain under bf16 autocast
(what the students' online labels compute), for each member and for the ensemble. The ensemble
labels plain (tta false): a mirror pass would double the cost of every student step again.
"""
import argparse
import json
import os

import torch

import common


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", default="teachers")
    ap.add_argument("--members", required=True, help="comma-separated teacher runs")
    ap.add_argument("--res", type=int, default=28)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--precision", choices=("bf16", "f32"), default="bf16", help="the students' autocast")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    members = a.members.split(",")
    _, _, xte, yte = common.load_data(a.res)
    logits, summaries = {}, {}
    for m in members:
        net, summaries[m] = common.load_teacher(m)
        logits[m] = {"plain": common.predict_logits(net, xte)[0].float(),
                     "mirror": common.predict_logits(net, xte.flip(-1))[0].float()}
        with common.autocast(a.precision):
            logits[m]["plain_autocast"] = common.predict_logits(net, xte)[0].float()

    def acc(L):
        return (L.argmax(1) == yte).float().mean().item()

    def mean(key):
        return torch.stack([logits[m][key] for m in members]).mean(0)

    test = {m: {"plain": acc(l["plain"]), "flip_tta": acc(l["plain"] + l["mirror"]),
                "plain_autocast": acc(l["plain_autocast"])} for m, l in logits.items()}
    test["ensemble"] = {"plain": acc(mean("plain")), "flip_tta": acc(mean("plain") + mean("mirror")),
                        "plain_autocast": acc(mean("plain_autocast"))}
    summary = {"name": a.name, "members": members, "res": a.res, "tta": False,
               "test_acc": test["ensemble"]["plain"], "test": test,
               "params": sum(s["params"] for s in summaries.values()),
               "minutes": sum(s["minutes"] for s in summaries.values()),
               "epochs": [s["epochs"] for s in summaries.values()],
               "widths": [s["widths"] for s in summaries.values()]}
    out = os.path.join(common.RUNS, a.name)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print("ENSEMBLE %s of %s: test %s" % (a.name, members, json.dumps(test)), flush=True)


if __name__ == "__main__":
    main()
