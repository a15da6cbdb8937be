#!/usr/bin/python3
"""test_logits.py — the engine's logits against timm's on every file of a folder (default
../shared/fixtures/pillow-dev), for one model: deit-predict --logits on every file, and for each
file Pillow opens, tools/pillow_ref.py's crop through tools/deit_torch.py (float64). Files Pillow
refuses must be refused by the engine with a message.

  test_logits.py --predict build/deit-predict --model DIR [--tol 1e-4] [FOLDER]

Prints "<model>: N passed, N failed"; exit status 1 on any failure.
"""
import argparse
import json
import os
import subprocess
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
import deit_torch  # noqa: E402
import pillow_ref  # noqa: E402
from compare import files_in  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--predict", default="build/deit-predict")
    ap.add_argument("--model", required=True)
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("folder", nargs="?", default=os.path.join(HERE, "..", "..", "..", "shared",
                                                              "fixtures", "pillow-dev"))
    a = ap.parse_args()
    warnings.simplefilter("ignore")
    files = files_in(a.folder)
    channels, size, crop_pct, interp, mean, std, crop_mode = pillow_ref.model_preproc(a.model)
    net = deit_torch.load(a.model)
    p = subprocess.run([a.predict, "--model", a.model, "--logits", "--threads", "1"] + files,
                       capture_output=True, text=True)
    if p.returncode not in (0, 1):
        sys.exit(f"{a.predict} failed ({p.returncode}): {p.stderr[-2000:]}")
    got = {}
    for line in p.stdout.splitlines():
        rec = json.loads(line)
        got[rec["image"]] = rec
    name = os.path.basename(os.path.normpath(a.model))
    passed = failed = 0
    worst = 0.0
    for f in files:
        rel = os.path.relpath(f, a.folder)
        g = got.get(f)
        try:
            im = pillow_ref.timm_crop(pillow_ref.load(f, channels), size, crop_pct, interp, crop_mode)
        except Exception as e:  # Pillow refuses the file
            ok = g is not None and isinstance(g.get("error"), str) and g["error"].strip() != ""
            if not ok:
                print(f"{name}\t{rel}\tPillow refuses ({type(e).__name__}: {e}); engine: {g}")
            passed += ok
            failed += not ok
            continue
        if g is None or "class_logits" not in g:
            print(f"{name}\t{rel}\tPillow opens it; engine: {g and g.get('error')}")
            failed += 1
            continue
        cls, dist = deit_torch.logits(net, im.tobytes(), channels, size, mean, std)
        want = cls + (dist or [])
        have = g["class_logits"] + (g.get("distill_logits") or [])
        # zip stops at the shorter list: a missing head must fail on length, not pass unseen
        d = max(abs(x - y) for x, y in zip(want, have))
        worst = max(worst, d)
        if d <= a.tol and len(want) == len(have) and len(cls) == len(g["class_logits"]):
            passed += 1
        else:
            print(f"{name}\t{rel}\tlogits differ by {d:.3g} (tolerance {a.tol})")
            failed += 1
    print(f"{name}: largest logit difference {worst:.3g} over {passed + failed} files")
    print(f"{name}: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
