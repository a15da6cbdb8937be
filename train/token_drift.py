"""How far, and in which directions, a two-token student's prefix tokens moved from their initial
values, epoch by epoch.

The cosine of the two learned tokens mixes what training put there with the random values they
started from (trunc-normal, std 0.02: norm ~0.23 at dim 128). The initial values are reproducible
(train_student.py seeds torch, loads the teacher, then builds the student), so this rebuilds them
and reports, per checkpoint, the cosine of the two tokens' displacements from them: near 1 where
training pushes both tokens the same way (the paper's two class tokens, "converging to the same
vector"), near 0 where they wander independently, negative where training pushes them apart; and
the same cosine for each epoch's own steps, which shows when the pushes change direction.
(Each token's row of pos_embed gets the same gradient as the token, so it moves identically; the
displacement of the parameter alone says it all.)

    /usr/bin/python3 train/token_drift.py twocls hard       # runs/<run>/token_drift.json + a table
"""
import argparse
import glob
import json
import os
import re

import torch

import common
import models


def initial_state(mode, teacher, seed, arch):
    """The student's state_dict before its first step, rebuilt the way train_student.py builds it."""
    torch.manual_seed(seed)
    if mode in ("hard", "soft"):
        common.load_teacher(teacher)  # its construction draws from the same generator first
    return models.DeiT(distilled=True, **arch).state_dict()


def displacement_table(run, mode, teacher, seed, arch):
    rd = os.path.join(common.RUNS, run)
    ckpts = [(int(re.search(r"epoch_(\d+)", p).group(1)), p)
             for p in sorted(glob.glob(os.path.join(rd, "epoch_*.pt")))]
    if not ckpts:
        # a finished run restored from state/ keeps only its final weights (state.py): the last row
        final, summary = os.path.join(rd, "final.pt"), os.path.join(rd, "summary.json")
        if not (os.path.exists(final) and os.path.exists(summary)):
            raise SystemExit("token_drift: %s has neither epoch checkpoints nor final.pt + summary.json" % rd)
        with open(summary) as f:
            ckpts = [(json.load(f)["epochs"], final)]
    init = initial_state(mode, teacher, seed, arch)
    t0, d0 = init["cls_token"].flatten(), init["dist_token"].flatten()
    cos = torch.nn.functional.cosine_similarity
    rows = []
    prev = (t0, d0)
    for epoch, p in ckpts:
        sd = torch.load(p, map_location="cpu")["model"]
        t, d = sd["cls_token"].flatten(), sd["dist_token"].flatten()
        a, b = t - t0, d - d0
        rows.append({"epoch": epoch,
                     "displacement_cos": cos(a, b, dim=0).item(),
                     "displacement_norm": [a.norm().item(), b.norm().item()],
                     # this epoch's own steps (from the previous checkpoint): the direction training
                     # pushes the two tokens now, without what earlier epochs left behind
                     "epoch_step_cos": cos(t - prev[0], d - prev[1], dim=0).item(),
                     "learned_cos": cos(t, d, dim=0).item()})
        prev = (t, d)
    # the rebuilt start must be the real one: one epoch moves a token far less than its initial norm,
    # while a wrong start would be as far away as two independent draws (~1.4x that norm)
    if rows[0]["epoch"] == 1 and max(rows[0]["displacement_norm"]) > 0.5 * t0.norm().item():
        raise SystemExit("token_drift: %s: epoch 1 is %.3f from the rebuilt start (initial norm %.3f): "
                         "the start was not rebuilt as training built it"
                         % (run, max(rows[0]["displacement_norm"]), t0.norm().item()))
    return {"run": run, "mode": mode, "initial_norm": [t0.norm().item(), d0.norm().item()], "epochs": rows}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", help="run folders under train/runs/ (twocls, hard, soft)")
    ap.add_argument("--teacher", default=None, help="the teacher run, for a run without summary.json "
                    "(default: from the summary, else run_all.log's 'teacher of the students')")
    a = ap.parse_args()
    torch.set_num_threads(1)
    for run in a.runs:
        sp = os.path.join(common.RUNS, run, "summary.json")
        if os.path.exists(sp):
            with open(sp) as f:
                args = json.load(f)["args"]
            mode, teacher, seed = args["mode"], args["teacher"], args["seed"]
            if args.get("init") or mode == "baseline":
                print("%s: not a two-token student trained from a random start; skipped" % run)
                continue
        else:  # still training: what run_all.sh passes
            mode, seed = ("twocls" if run.startswith("twocls") else "soft" if run.startswith("soft") else "hard"), 0
            teacher = a.teacher or teacher_of_students()
        from train_student import ARCH
        out = displacement_table(run, mode, teacher, seed, ARCH)
        with open(os.path.join(common.RUNS, run, "token_drift.json"), "w") as f:
            json.dump(out, f, indent=1)
        print("%s (%s): epoch, cos of the two tokens' displacements from their start, their norms, cos of "
              "that epoch's own steps, cos of the tokens themselves" % (run, mode))
        for r in out["epochs"]:
            print("  %3d  %+.3f  %.3f %.3f  %+.3f  %+.3f" % (r["epoch"], r["displacement_cos"], *r["displacement_norm"],
                                                           r["epoch_step_cos"], r["learned_cos"]))


def teacher_of_students():
    with open(os.path.join(common.RUNS, "run_all.log")) as f:
        found = re.findall(r"teacher of the students: (\S+)", f.read())
    if not found:
        raise SystemExit("token_drift: no teacher named in runs/run_all.log; pass --teacher")
    return found[-1]


if __name__ == "__main__":
    main()
