#!/usr/bin/env python3
"""plot_precision.py — images/s per engine and batch from compare.sh's compare.tsv as an SVG bar chart
(no plotting library needed). Usage: plot_precision.py build/bench/compare.tsv out.svg"""
import csv
import sys

ENGINES = [("f32_ms", "ours f32", "#1f77b4"), ("bf16_ms", "ours bf16", "#2ca02c"), ("int8_ms", "ours int8", "#d62728"),
           ("ort_f32_ms", "ORT f32", "#aec7e8"), ("ort_int8_ms", "ORT int8", "#ff9896")]


def main():
    rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
    vals = [1e3 / float(r[k]) if r[k] not in ("", "-") else 0.0 for r in rows for k, _, _ in ENGINES]
    top = max(vals + [1.0]) * 1.1
    bw, gap, left, h, base = 22, 30, 60, 300, 340
    width = left + len(rows) * (len(ENGINES) * bw + gap) + 170
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="400" font-family="sans-serif" font-size="12">',
           f'<text x="{left}" y="20">images/s, 2 threads (higher is better)</text>',
           f'<line x1="{left}" y1="{base}" x2="{width - 170}" y2="{base}" stroke="black"/>']
    for t in range(5):
        v = top * t / 4
        y = base - h * t / 4
        out.append(f'<text x="{left - 5}" y="{y + 4:.0f}" text-anchor="end">{v:.0f}</text>')
        out.append(f'<line x1="{left}" y1="{y:.0f}" x2="{width - 170}" y2="{y:.0f}" stroke="#ddd"/>')
    x = left + gap / 2
    for r in rows:
        for k, _, color in ENGINES:
            v = 1e3 / float(r[k]) if r[k] not in ("", "-") else 0.0
            bh = h * v / top
            out.append(f'<rect x="{x:.0f}" y="{base - bh:.1f}" width="{bw - 2}" height="{bh:.1f}" fill="{color}"/>')
            x += bw
        out.append(f'<text x="{x - len(ENGINES) * bw / 2:.0f}" y="{base + 16}" text-anchor="middle">'
                   f'{r["model"].replace("timm-deit-", "")} b{r["batch"]}</text>')
        x += gap
    for i, (_, name, color) in enumerate(ENGINES):
        out.append(f'<rect x="{width - 160}" y="{40 + 20 * i}" width="12" height="12" fill="{color}"/>')
        out.append(f'<text x="{width - 142}" y="{51 + 20 * i}">{name}</text>')
    out.append("</svg>")
    open(sys.argv[2], "w").write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
