#!/usr/bin/env python3
"""Plots Benchmarks/run's ratios against their targets.

    plot.py PLOT_TXT OUT_PNG TITLE_SUFFIX

PLOT_TXT has one line per metric: label|ratio|target|op (op is <= or >=).
Each bar is ratio / target: at most 1 meets a "<=" target, at least 1 meets a ">=" one.
"""
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    rows = []
    for line in open(sys.argv[1]):
        parts = line.rstrip("\n").split("|")
        if len(parts) != 4:
            continue
        label, ratio, target, op = parts
        if not ratio:
            continue
        rows.append((label, float(ratio), float(target), op))
    fig, ax = plt.subplots(figsize=(9, 0.6 * len(rows) + 1.6))
    labels, values, colors = [], [], []
    for label, ratio, target, op in rows:
        value = ratio / target
        ok = value <= 1 if op == "<=" else value >= 1
        labels.append(f"{label}\n{ratio:.2f} (target {op} {target:g})")
        values.append(value)
        colors.append("#4a9a4a" if ok else "#c44e52")
    y = range(len(rows))
    ax.barh(list(y), values, color=colors)
    ax.axvline(1.0, color="black", linestyle="--", linewidth=1)
    ax.set_yticks(list(y))
    ax.set_yticklabels(labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("measured ratio / target ratio (dashed line: the target; green met, red missed)")
    ax.set_title(f"ukp Benchmarks/run, {sys.argv[3]}", fontsize=10)
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=100)


if __name__ == "__main__":
    main()
