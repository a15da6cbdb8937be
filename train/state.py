"""Keeps the training runs across machines: train/runs/ is git-ignored scratch space, and a session
that starts on a fresh checkout starts with none of it (session 13 lost ~27 core-hours that way).
state/ is tracked and holds, per stage, only what is needed to go on:

  finished stage (summary.json present): summary.json and final.pt (the weights, no optimizer)
  stage in progress: its latest epoch_NNN.pt (weights, optimizer, log), so it resumes where it was
  logs/: each stage's log and run_all.log, for the README's timings

    python3 state.py save      # runs/ -> state/ (then commit state/)
    python3 state.py restore   # state/ -> runs/, never replacing newer progress (run_all.sh does it)

Plain file copies, no torch: a checkpoint is restored byte for byte and the run goes on as if it had
never stopped (the seeds make a resumed run the same run)."""
import filecmp
import glob
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RUNS = os.path.join(HERE, "runs")
STATE = os.path.join(HERE, "state")
LOGS = os.path.join(STATE, "logs")
FINISHED_FILES = ("summary.json", "final.pt")
# the per-epoch checkpoint's name (common.save_ckpt writes it; zero-padded, so names sort by epoch)
CKPT_NAME = "epoch_%03d.pt"


def latest_epoch(d):
    """(epoch, path) of the newest per-epoch checkpoint in d, or (0, None)."""
    c = sorted(glob.glob(os.path.join(d, "epoch_*.pt")))
    if not c:
        return 0, None
    return int(os.path.basename(c[-1])[6:-3]), c[-1]


def copy(src, dst):
    """Copies src to dst atomically; returns whether dst changed."""
    if os.path.exists(dst) and filecmp.cmp(src, dst, shallow=False):
        return False
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    shutil.copyfile(src, dst + ".tmp")
    os.replace(dst + ".tmp", dst)
    return True


def keep_only(d, names):
    """Removes every file of d not in names (an older epoch, a checkpoint a finished stage no
    longer needs)."""
    for p in glob.glob(os.path.join(d, "*")):
        if os.path.basename(p) not in names and os.path.isfile(p):
            os.remove(p)


def stages(root):
    return sorted(n for n in os.listdir(root) if n != "logs" and os.path.isdir(os.path.join(root, n))) \
        if os.path.isdir(root) else []


def save():
    for name in stages(RUNS):
        src, dst = os.path.join(RUNS, name), os.path.join(STATE, name)
        if os.path.exists(os.path.join(src, "summary.json")):
            keep = [f for f in FINISHED_FILES if os.path.exists(os.path.join(src, f))]
            what = "finished"
        else:
            epoch, path = latest_epoch(src)
            if path is None:
                continue
            keep = [os.path.basename(path)]
            what = "epoch %d" % epoch
        changed = [copy(os.path.join(src, f), os.path.join(dst, f)) for f in keep]
        keep_only(dst, keep)
        print("%-12s %s%s" % (name, what, "" if any(changed) else " (unchanged)"))
    for log in glob.glob(os.path.join(RUNS, "*.log")):
        copy(log, os.path.join(LOGS, os.path.basename(log)))


def restore():
    for name in stages(STATE):
        src, dst = os.path.join(STATE, name), os.path.join(RUNS, name)
        if os.path.exists(os.path.join(dst, "summary.json")):
            continue
        if os.path.exists(os.path.join(src, "summary.json")):
            for f in FINISHED_FILES:
                if os.path.exists(os.path.join(src, f)):
                    copy(os.path.join(src, f), os.path.join(dst, f))
            print("%-12s restored: finished" % name)
            continue
        saved, path = latest_epoch(src)
        have, _ = latest_epoch(dst)
        if path is not None and saved > have:
            copy(path, os.path.join(dst, os.path.basename(path)))
            print("%-12s restored: epoch %d (runs/ had %d)" % (name, saved, have))
    # a log is restored only where runs/ has a shorter one: runs/ may have gone further
    for log in glob.glob(os.path.join(LOGS, "*.log")):
        dst = os.path.join(RUNS, os.path.basename(log))
        if not os.path.exists(dst) or os.path.getsize(dst) < os.path.getsize(log):
            copy(log, dst)


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in ("save", "restore"):
        sys.exit("usage: state.py save|restore")
    save() if sys.argv[1] == "save" else restore()


if __name__ == "__main__":
    main()
