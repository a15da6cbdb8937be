#!/usr/bin/python3
"""compare.py — the engine against Pillow on a folder of images (default ../shared/fixtures/pillow-dev).

For every file, Pillow (tools/pillow_ref.py) and the engine (build/image-dump) each produce the
converted image ('rgb', 'l') or the model crop ('timm': 224 RGB, bicubic; 'grey': the 1-channel
default model's 28x28 crop); the files must be byte-identical where Pillow opens the file, and
refused with a message where Pillow refuses it.

  compare.py [--dump BIN] [--modes timm,grey] [--runs N] [--verbose] [FOLDER]

Prints a scoreboard per mode and "pillow: N passed, N failed"; exit status 1 on any failure.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
import pillow_ref  # noqa: E402

SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".ppm", ".pgm", ".pbm", ".pnm", ".tga",
            ".webp", ".tif", ".tiff", ".apng", ".tiff_gray_2_4_bpp", ".blp", ".eps", ".avif",
            ".imagedraw", ".ico", ".dib")
MODES = {"rgb": (3, None), "l": (1, None), "timm": (3, (224, 0.9, "bicubic")),
         "grey": (1, (28, 1.0, "bilinear"))}


def files_in(folder):
    out = []
    for root, _, names in os.walk(folder):
        for n in names:
            if n.lower().endswith(SUFFIXES):
                out.append(os.path.join(root, n))
    return sorted(out)


def pillow(path, mode):
    channels, crop = MODES[mode.split("+")[0]]
    try:
        im = pillow_ref.load(path, channels, exif_transpose=mode.endswith("+exif"))
        if crop:
            im = pillow_ref.timm_crop(im, *crop)
        return im.tobytes(), None
    except Exception as e:  # any refusal
        return None, f"{type(e).__name__}: {e}"


def engine(dump, mode, files, tmp):
    res = {}
    p = subprocess.run([dump, mode, tmp] + files, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"{dump} failed ({p.returncode}): {p.stderr[-2000:]}")
    for line in p.stdout.splitlines():
        f = line.split("\t")
        i = int(f[0])
        if f[1] == "OK":
            with open(os.path.join(tmp, f"{i}.raw"), "rb") as fh:
                res[files[i]] = (fh.read(), None)
        else:
            res[files[i]] = (None, f[2] if len(f) > 2 else "")
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dump", default="build/image-dump")
    ap.add_argument("--modes", default="timm,grey")
    ap.add_argument("--runs", type=int, default=1, help="engine runs per mode (run-to-run check)")
    ap.add_argument("--verbose", "-v", action="store_true")
    ap.add_argument("folder", nargs="?", default=os.path.join(HERE, "..", "..", "..", "shared",
                                                              "fixtures", "pillow-dev"))
    a = ap.parse_args()
    files = files_in(a.folder)
    if not files:
        sys.exit(f"no images under {a.folder}")
    warnings.simplefilter("ignore")
    passed = failed = 0
    for mode in a.modes.split(","):
        ref = {f: pillow(f, mode) for f in files}
        runs = []
        for _ in range(a.runs):
            with tempfile.TemporaryDirectory() as tmp:
                runs.append(engine(a.dump, mode, files, tmp))
        got = runs[0]
        score = {"matched": 0, "refused-as-pillow": 0, "mismatched": 0, "engine-refused": 0,
                 "pillow-refused": 0, "unstable": 0}
        for f in files:
            rb, rerr = ref[f]
            gb, gerr = got[f]
            name = os.path.relpath(f, a.folder)
            if any(r[f] != got[f] for r in runs[1:]):
                kind, why = "unstable", "engine output differs between runs"
            elif rb is not None and gb is not None:
                if rb == gb:
                    kind, why = "matched", ""
                else:
                    nd = sum(x != y for x, y in zip(rb, gb)) if len(rb) == len(gb) else -1
                    kind, why = "mismatched", f"{nd} of {len(rb)} bytes differ"
            elif rb is None and gb is None:
                kind, why = ("refused-as-pillow", "") if gerr.strip() else ("mismatched", "empty message")
            elif gb is None:
                kind, why = "engine-refused", f"engine: {gerr}"
            else:
                kind, why = "pillow-refused", f"pillow: {rerr}"
            score[kind] += 1
            ok = kind in ("matched", "refused-as-pillow")
            passed += ok
            failed += not ok
            if not ok or a.verbose:
                print(f"{mode}\t{kind}\t{name}\t{why}" + (f"\t[pillow: {rerr}; engine: {gerr}]"
                                                          if a.verbose and kind == "refused-as-pillow" else ""))
        print(f"{mode}: " + ", ".join(f"{k} {v}" for k, v in score.items()) + f" (of {len(files)})")
    print(f"pillow: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
