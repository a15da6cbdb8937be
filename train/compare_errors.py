"""Where the served DeiT's errors lie against its teacher's: how many of the images the server gets
wrong the teacher also gets wrong, how many the teacher gets right, and how many of either model's
errors confuse the four upper-body classes (T-shirt/top, Pullover, Coat, Shirt).

    build/deit-eval --url http://127.0.0.1:8080/v1/predict?top_k=1 --predictions /tmp/deit.txt
    /usr/bin/python3 train/compare_errors.py /tmp/deit.txt [--teacher teachers3]

The predictions file has one line per test image, in order: the fused top-1, then the true label.
The teacher runs as the students saw it (bf16 autocast where run_all.sh used it, plain view).
"""
import argparse

import torch

import common
import data

UPPER_BODY = (0, 2, 4, 6)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("predictions", help="deit-eval --predictions output")
    ap.add_argument("--teacher", default="teachers3", help="teacher run under train/runs/")
    ap.add_argument("--precision", choices=("bf16", "f32"), default="bf16")
    a = ap.parse_args()
    torch.set_num_threads(1)
    xte, yte = map(torch.from_numpy, data.load("test"))
    with open(a.predictions) as f:
        rows = [line.split() for line in f if line.strip()]
    if len(rows) != len(yte):
        raise SystemExit("compare_errors: %d predictions for %d test images" % (len(rows), len(yte)))
    pred, truth = (torch.tensor([int(r[k]) for r in rows]) for k in (0, 1))
    if not torch.equal(truth, yte):
        raise SystemExit("compare_errors: the predictions file's labels are not the test set's, in order")
    teacher, _ = common.load_teacher(a.teacher)
    with common.autocast(a.precision):
        tpred = common.predict_logits(teacher, xte)[0].float().argmax(1)
    upper = torch.tensor(UPPER_BODY)

    def in_upper(v):
        return (v[:, None] == upper).any(1)

    s_err, t_err = pred != truth, tpred != truth
    confused = in_upper(truth)
    print("served model: %d errors, %d among upper-body classes; teacher %s: %d errors, %d among them"
          % (s_err.sum(), (s_err & confused & in_upper(pred)).sum(), a.teacher, t_err.sum(),
             (t_err & confused & in_upper(tpred)).sum()))
    print("both wrong %d; only the served model wrong %d; only the teacher wrong %d"
          % ((s_err & t_err).sum(), (s_err & ~t_err).sum(), (t_err & ~s_err).sum()))


if __name__ == "__main__":
    main()
