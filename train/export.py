"""Export the trained student (and baseline) in timm layout, verify the export, write reference
numbers, example images and the results table.

Writes:
  models/fashion-deit/{model.safetensors,config.json,reference.json}   distilled student
  models/fashion-vit-nodist/{model.safetensors,config.json,reference.json}  baseline, class token only
  examples/<c>_<name>.png (one test image per class) + examples/README.md
  train/results.json

    python3 export.py                              # experiment 1 -> models/ (run_all.sh does this)
    python3 export.py --experiment 2 --out DIR     # experiment 2's three models into DIR, to judge them:
    EVAL_BASELINE=fashion-vit-nodist sh tools/eval_models.sh 10000 DIR/*/    # (from the repository root)
    python3 export.py --experiment 3 --out DIR     # experiment 3's, the same way
    python3 export.py --experiment 4 --out DIR     # experiment 4's (EVAL_Z=2.576 for its 99% interval)

--experiment 2 ships hard_mix, baseline_mix and twocls_mix (--experiment 3: hard_mix200, baseline_mix200,
twocls_mix200; --experiment 4: hard_t4 with experiment 3's baseline_mix200 and twocls_mix200, which never
saw a teacher) under the same three names as experiment 1's (train/README.md, "Experiment 2" to
"Experiment 4", say when they replace them); fashion-deit-soft is left as it is.
Examples and results.json are written only when the output is models/.
"""
import argparse
import json
import os
import shutil
import struct

import numpy as np
import torch
from PIL import Image

import common
import data
import models
import token_drift

ROOT = os.path.dirname(common.HERE)
SLUGS = ["tshirt-top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot"]


def write_safetensors(path, state_dict, metadata=None):
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name in sorted(state_dict):
        t = state_dict[name].detach().to(torch.float32).contiguous().cpu()
        b = t.numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)  # pad header so tensor data is 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    with open(path, "rb") as f:
        buf = f.read()
    n = struct.unpack("<Q", buf[:8])[0]
    header = json.loads(buf[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32"
        s, e = info["data_offsets"]
        arr = np.frombuffer(buf[base + s:base + e], dtype="<f4").reshape(info["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return out


def config_for(arch, distilled, second_class=False):
    """timm hub-style config.json. The images stay 28x28 uploads: a model trained at a higher
    resolution says input_size [1, R, R], crop_pct 1.0 and bilinear, so the server upsamples them
    exactly as training did (Pillow's bilinear, common.upsample)."""
    D, R, P = arch["embed_dim"], arch["img_size"], arch["patch_size"]
    name = ("vit_tiny_2cls_patch%d_%d" if second_class else "deit_tiny_distilled_patch%d_%d" if distilled
            else "vit_tiny_patch%d_%d") % (P, R)
    cfg = {
        "architecture": name,
        "num_classes": 10,
        "num_features": D,
        "global_pool": "token",
        "model_args": {"img_size": R, "patch_size": P, "in_chans": 1, "embed_dim": D,
                       "depth": arch["depth"], "num_heads": arch["num_heads"], "mlp_ratio": arch["mlp_ratio"],
                       "num_classes": 10},
        "pretrained_cfg": {"input_size": [1, R, R], "interpolation": "bilinear", "crop_pct": 1.0,
                           "crop_mode": "center", "mean": [data.MEAN], "std": [data.STD], "num_classes": 10,
                           "classifier": ["head", "head_dist"] if distilled else "head"},
        "label_names": data.LABEL_NAMES,
    }
    if second_class:
        # the paper's control: the same network as DeiT's distilled one, its second prefix token a
        # second class token (README, "Two class tokens")
        cfg["second_token"] = "class"
    return cfg


def export(run, outdir):
    ck = torch.load(os.path.join(common.RUNS, run, "final.pt"))
    with open(os.path.join(common.RUNS, run, "summary.json")) as f:
        summary = json.load(f)
    arch, distilled = ck["arch"], ck["distilled"]
    second_class = ck.get("mode") == "twocls"
    _, _, xte, yte = common.load_data(arch["img_size"])
    os.makedirs(outdir, exist_ok=True)
    st = os.path.join(outdir, "model.safetensors")
    write_safetensors(st, ck["model"], {"format": "pt"})
    with open(os.path.join(outdir, "config.json"), "w") as f:
        json.dump(config_for(arch, distilled, second_class), f, indent=2)
        f.write("\n")

    # verify: fresh model from the safetensors file only
    m = models.DeiT(distilled=distilled, **arch)
    sd = read_safetensors(st)
    assert set(sd) == set(m.state_dict()), "key mismatch"
    m.load_state_dict(sd)
    logits = common.predict_logits(m, xte)
    acc = common.accuracies(logits, yte)
    for k, v in summary["test"].items():
        assert abs(acc[k] - v) < 1e-9, (k, acc[k], v)
    print("%s: reloaded %s, test accuracy equals training-time numbers: %s (%.2f MB)"
          % (run, st, acc, os.path.getsize(st) / 2 ** 20))

    # reference numbers on the first 1,000 test images
    first = [l[:1000] for l in logits]
    ref = {"model": os.path.relpath(outdir, ROOT), "images": "Fashion-MNIST test set t10k, indices 0..999",
           "preprocess": "x/255, (x-%.4f)/%.4f, float32, PyTorch eval mode" % (data.MEAN, data.STD),
           "n": 1000, "accuracy": common.accuracies(first, yte[:1000]),
           "accuracy_full_test_10000": acc}
    if distilled:
        ref["note"] = ("fused = argmax of the mean of the two softmaxes; fused_logits = argmax of the mean of "
                       "the two logit vectors (timm's eval-mode output); they may differ on a few images")
        ref["pred_class_head"] = first[0].argmax(1).tolist()
        ref["pred_dist_head"] = first[1].argmax(1).tolist()
        ref["pred_fused"] = ((first[0].softmax(1) + first[1].softmax(1)) / 2).argmax(1).tolist()
        ref["logits_first4"] = {"head": first[0][:4].tolist(), "head_dist": first[1][:4].tolist()}
    else:
        ref["pred_head"] = first[0].argmax(1).tolist()
        ref["logits_first4"] = {"head": first[0][:4].tolist()}
    with open(os.path.join(outdir, "reference.json"), "w") as f:
        json.dump(ref, f)
        f.write("\n")
    depth = common.token_cosines_by_depth(m, xte) if distilled else None
    return m, logits, summary, depth


def summary_of(run):
    with open(os.path.join(common.RUNS, run, "summary.json")) as f:
        return json.load(f)


# The runs of experiments 2-4 (DeiT, baseline, two class tokens): 2 at 100 epochs, 3 the same at 200,
# 4 experiment 3's DeiT with the stronger teacher beside experiment 3's two arms that see no teacher.
MIXED_EXPERIMENTS = {"2": ("hard_mix", "baseline_mix", "twocls_mix"),
                     "3": ("hard_mix200", "baseline_mix200", "twocls_mix200"),
                     "4": ("hard_t4", "baseline_mix200", "twocls_mix200")}


def main():
    """Exports what the runs produced: hard -> fashion-deit, baseline -> fashion-vit-nodist,
    twocls -> fashion-vit-2cls, soft -> fashion-deit-soft (the optional soft-distillation arm, so that
    `make eval` measures it through the server like the others), hard56 -> fashion-deit-56 (each only
    if its run finished; hard56 only if its fused accuracy beats hard's), then the examples,
    results.json and the table."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--experiment", choices=("1",) + tuple(MIXED_EXPERIMENTS), default="1")
    ap.add_argument("--out", default=os.path.join(ROOT, "models"), help="where the model folders go")
    a = ap.parse_args()
    torch.set_num_threads(1)
    if a.experiment == "1":
        ship = [("hard", "fashion-deit"), ("baseline", "fashion-vit-nodist"), ("twocls", "fashion-vit-2cls"),
                ("soft", "fashion-deit-soft"), ("hard56", "fashion-deit-56")]
        hard, baseline = "hard", "baseline"
    else:
        hard, baseline, twocls = MIXED_EXPERIMENTS[a.experiment]
        ship = [(hard, "fashion-deit"), (baseline, "fashion-vit-nodist"), (twocls, "fashion-vit-2cls")]
    done = {}
    for run, name in ship:
        if not os.path.exists(os.path.join(common.RUNS, run, "final.pt")):
            continue
        outdir = os.path.join(a.out, name)
        if run == "hard56" and "hard" in done:
            # the issue: the higher-resolution model ships only if it improves on the 28x28 one
            hi, lo = summary_of("hard56")["test"]["fused"], done["hard"][2]["test"]["fused"]
            if hi <= lo:
                print("hard56: not shipped: fused %.2f%% at 56x56 does not improve on hard's %.2f%%"
                      % (100 * hi, 100 * lo))
                if os.path.isdir(outdir):
                    shutil.rmtree(outdir)
                continue
        done[run] = export(run, outdir)
    if hard not in done or baseline not in done:
        raise SystemExit("export: runs/%s and runs/%s must both have finished" % (hard, baseline))
    if os.path.realpath(a.out) != os.path.realpath(os.path.join(ROOT, "models")):
        print("exported to %s; examples/ and results.json left as they are" % a.out)
        return
    slog, blog = done[hard][1], done[baseline][1]
    xte, yte = data.load("test")
    yte_t = torch.from_numpy(yte)

    # examples: first test image of each class that the student gets right with every head
    ok = (slog[0].argmax(1) == yte_t) & (slog[1].argmax(1) == yte_t) & (blog[0].argmax(1) == yte_t)
    exdir = os.path.join(ROOT, "examples")
    os.makedirs(exdir, exist_ok=True)
    lines = ["# Example images", "",
             "One 28×28 greyscale PNG per class, taken unchanged from the Fashion-MNIST **test** set",
             "(`/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz`, Debian package `dataset-fashion-mnist`).",
             "For each class: the first test image of that class that the shipped model classifies correctly",
             "with its class head, its distillation head and the baseline's head (written by `train/export.py`).", "",
             "| file | class | test-set index |", "|---|---|---|"]
    for c in range(10):
        idx = int(torch.nonzero((yte_t == c) & ok)[0])
        fn = "%d_%s.png" % (c, SLUGS[c])
        p = os.path.join(exdir, fn)
        Image.fromarray(xte[idx], mode="L").save(p)
        assert np.array_equal(np.array(Image.open(p)), xte[idx])
        lines.append("| `%s` | %s | %d |" % (fn, data.LABEL_NAMES[c], idx))
    with open(os.path.join(exdir, "README.md"), "w") as f:
        f.write("\n".join(lines) + "\n")

    res = {}
    for t in ("teacher", "teacher2", "teacher3", "teacher4", "teachers2", "teachers3", "teachers4", "teacher56",
              "teacher56b"):
        if os.path.exists(os.path.join(common.RUNS, t, "summary.json")):
            ts = summary_of(t)
            res[t] = {k: ts.get(k) for k in ("test_acc", "test", "train_label_agreement", "minutes", "epochs",
                                             "params", "widths", "blocks", "res", "members", "tta")}
    for run in ("baseline", "twocls", "hard", "soft", "hard56", "true56",
                "baseline_mix", "twocls_mix", "hard_mix", "baseline_mix200", "twocls_mix200", "hard_mix200",
                "hard_t4"):
        if os.path.exists(os.path.join(common.RUNS, run, "summary.json")):
            ss = summary_of(run)
            res[run] = dict(ss["test"], cos=ss.get("cos"), minutes=ss["minutes"], epochs=ss["epochs"],
                            params=ss["params"], arch=ss["arch"], mode=ss["mode"])
            if run in done and done[run][3]:
                res[run]["cos_by_depth"] = done[run][3]
            if ss["mode"] != "baseline" and not ss["args"].get("init"):
                last = token_drift.displacement_table(run, ss["mode"], ss["args"]["teacher"], ss["args"]["seed"],
                                                      ss["arch"])["epochs"][-1]
                res[run]["displacement_cos"] = last["displacement_cos"]
    with open(os.path.join(common.HERE, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")
    print("\n| run | class head | second head | fused | learned cos | output cos | epochs | minutes |")
    print("|---|---|---|---|---|---|---|---|")
    for run, r in res.items():
        if run.startswith("teacher"):
            what = "ensemble of " + " + ".join(r["members"]) if r.get("members") else "ResNet %s" % "/".join(
                map(str, r["widths"]))
            epochs = r["epochs"] if not isinstance(r["epochs"], list) else " + ".join(map(str, r["epochs"]))
            print("| %s (%s, %dx%d) | %.2f%% | | | | | %s | %.1f |" % (
                run, what, r["res"], r["res"], 100 * r["test_acc"], epochs, r["minutes"]))
            continue
        cos = r.get("cos") or {}
        two = "class_head" in r
        print("| %s | %.2f%% | %s | %s | %s | %s | %d | %.1f |" % (
            run, 100 * (r["class_head"] if two else r["head"]), "%.2f%%" % (100 * r["dist_head"]) if two else "",
            "%.2f%%" % (100 * r["fused"]) if two else "", "%.3f" % cos["learned_cos"] if cos else "",
            "%.3f" % cos["output_cos"] if cos else "", r["epochs"], r["minutes"]))
    print("\n| run | two tokens' cosine: learned displacement from the start | at the input (parameter + position) "
          "| after each block | after the norm |")
    print("|---|---|---|---|---|")
    for run, r in res.items():
        d = r.get("cos_by_depth")
        if d and "displacement_cos" in r:
            d = dict(d, displacement_cos=r["displacement_cos"])
        if d:
            print("| %s | %s | %.3f | %s | %.3f |" % (
                run, "%.3f" % d["displacement_cos"] if "displacement_cos" in d else "", d["input_cos"],
                " / ".join("%.3f" % c for c in d["after_block_cos"]), d["output_cos"]))


if __name__ == "__main__":
    main()
