"""PNG figures of `cypool compare` (matplotlib, Agg backend: no display needed)."""
from __future__ import annotations

import math

import numpy as np


def _plt():
    import matplotlib
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    return plt


def _colors(names):
    plt = _plt()
    cmap = plt.get_cmap("tab20")
    return {n: cmap(i % 20) for i, n in enumerate(names)}


def speed(rows: list, names: list, path: str, threads: int) -> None:
    """Log-log median time per call vs input size, forward and backward, one line per strategy."""
    plt = _plt()
    colors = _colors(names)
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.2), sharey=True)
    for ax, direction in zip(axes, ("forward", "backward")):
        for name in names:
            pts = sorted((r["input_MB"], r["median_ms"]) for r in rows
                         if r["strategy"] == name and r["direction"] == direction)
            if pts:
                style = "--" if name.startswith("torch-") else "-"
                ax.plot(*zip(*pts), style, marker="o", ms=4, color=colors[name], label=name)
        ax.set_xscale("log")
        ax.set_yscale("log")
        from matplotlib.ticker import NullFormatter
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("input size (MB, float32 (8, 16, S, S), log scale)")
        ax.set_title(f"{direction}: median time per call (threads={threads})")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("time per call (ms, log scale)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center right", fontsize=9, title="strategy")
    fig.tight_layout(rect=(0, 0, 0.86, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def photos(images: dict, outputs: dict, path: str) -> None:
    """Rows: photographs; columns: the original and each strategy's 2x-downsampled output
    (each panel min-max scaled for display)."""
    plt = _plt()
    names = [n for n in outputs if any(o is not None for o in outputs[n].values())]
    ncol, nrow = len(names) + 1, len(images)
    fig, axes = plt.subplots(nrow, ncol, figsize=(1.9 * ncol, 2.0 * nrow + 0.6), squeeze=False)
    for r, (pname, img) in enumerate(images.items()):
        panels = [("original", img)] + [(n, outputs[n][pname]) for n in names]
        for c, (title, a) in enumerate(panels):
            ax = axes[r, c]
            ax.axis("off")
            if a is None:
                continue
            lo, hi = float(np.min(a)), float(np.max(a))
            ax.imshow(a, cmap="gray", vmin=lo, vmax=hi if hi > lo else lo + 1,
                      interpolation="nearest")
            if r == 0:
                ax.set_title(f"{title}\n{a.shape[0]}x{a.shape[1]}", fontsize=8)
    fig.suptitle("What each strategy keeps: scikit-image photos (crops), downsampled 2x "
                 "(spatial pyramid omitted: its output is a vector)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def bars(summary: list, columns: list, titles: list, ylabels: list, path: str, suptitle: str,
         log: tuple = ()) -> None:
    """One bar chart per column; strategies on the x axis; NaN bars are left out."""
    plt = _plt()
    names = [r["strategy"] for r in summary]
    colors = _colors(names)
    ncol = min(3, len(columns))
    nrow = -(-len(columns) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(6.2 * ncol, 4.6 * nrow), squeeze=False)
    for ax in axes.ravel()[len(columns):]:
        ax.axis("off")
    for ax, col, title, ylabel in zip(axes.ravel(), columns, titles, ylabels):
        vals = [r.get(col, math.nan) for r in summary]
        xs = np.arange(len(names))
        ok = [not (v is None or (isinstance(v, float) and math.isnan(v))) for v in vals]
        ax.bar(xs[ok], [v for v, k in zip(vals, ok) if k],
               color=[colors[n] for n, k in zip(names, ok) if k])
        for x, v, k in zip(xs, vals, ok):
            if not k:
                ax.text(x, 0, "n/a", ha="center", va="bottom", fontsize=7, rotation=90)
        ax.set_xticks(xs)
        ax.set_xticklabels(names, rotation=60, ha="right", fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel(ylabel)
        if col in log:
            ax.set_yscale("log")
        if col.endswith("_acc") and any(ok):  # accuracies sit near 1: zoom in
            ax.set_ylim(max(0.0, min(v for v, k in zip(vals, ok) if k) - 0.05), 1.0)
        ax.grid(True, axis="y", alpha=0.3)
    fig.suptitle(suptitle, fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _trained_panels(rows: list):
    """(dataset, head) pairs present in the trained rows, in order."""
    return list(dict.fromkeys((r["dataset"], r["head"]) for r in rows))


def accuracy_consistency(rows: list, names: list, path: str) -> None:
    """Test accuracy vs shift consistency of the trained networks, one panel per dataset and
    head, error bars one standard deviation over seeds each way."""
    plt = _plt()
    colors = _colors(names)
    panels = _trained_panels(rows)
    ncol = min(2, len(panels))
    nrow = -(-len(panels) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(6.4 * ncol, 5.0 * nrow), squeeze=False)
    for ax in axes.ravel()[len(panels):]:
        ax.axis("off")
    for ax, (dname, head) in zip(axes.ravel(), panels):
        for r in rows:
            if (r["dataset"], r["head"]) != (dname, head):
                continue
            ax.errorbar(r["consistency"], r["test_acc"], xerr=_sd(r, "consistency"),
                        yerr=_sd(r, "test_acc"), fmt="o", ms=5, capsize=3,
                        color=colors.get(r["strategy"]), label=r["strategy"])
        ax.set_xlabel("shift consistency (P[two random shifts get the same class])")
        ax.set_ylabel("test accuracy")
        ax.set_title(f"{dname}, {head} head", fontsize=10)
        ax.grid(True, alpha=0.3)
    handles, labels = axes.ravel()[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center right", fontsize=8, title="strategy")
    fig.suptitle("Trained networks: accuracy vs shift consistency (mean ± sd over seeds)",
                 fontsize=11)
    fig.tight_layout(rect=(0, 0, 0.85, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def accuracy_vs_shift(rows: list, names: list, path: str) -> None:
    """Test accuracy of the trained networks vs the diagonal shift of the test images (0..8 px),
    one panel per dataset and head; the band is one standard deviation over seeds."""
    plt = _plt()
    colors = _colors(names)
    panels = _trained_panels(rows)
    ncol = min(2, len(panels))
    nrow = -(-len(panels) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(6.4 * ncol, 4.6 * nrow), squeeze=False)
    for ax in axes.ravel()[len(panels):]:
        ax.axis("off")
    for ax, (dname, head) in zip(axes.ravel(), panels):
        for r in rows:
            if (r["dataset"], r["head"]) != (dname, head):
                continue
            shifts = sorted(int(k[9:]) for k in r if k.startswith("acc_shift")
                            and not k.endswith("_sd"))
            mean = np.array([r[f"acc_shift{s}"] for s in shifts])
            sd = np.array([r.get(f"acc_shift{s}_sd", math.nan) for s in shifts])
            style = "--" if r["strategy"].startswith("torch-") else "-"
            ax.plot(shifts, mean, style, marker="o", ms=3, color=colors.get(r["strategy"]),
                    label=r["strategy"])
            if np.all(np.isfinite(sd)):
                ax.fill_between(shifts, mean - sd, mean + sd, color=colors.get(r["strategy"]),
                                alpha=0.12)
        ax.set_xlabel("shift of the test image (px, down and right)")
        ax.set_ylabel("test accuracy")
        ax.set_title(f"{dname}, {head} head", fontsize=10)
        ax.grid(True, alpha=0.3)
    handles, labels = axes.ravel()[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center right", fontsize=8, title="strategy")
    fig.suptitle("Trained networks: accuracy vs shift (mean ± sd over seeds)", fontsize=11)
    fig.tight_layout(rect=(0, 0, 0.85, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _sd(row: dict, key: str):
    v = row.get(key + "_sd", math.nan)
    return None if v is None or not np.isfinite(v) else v


def dataset_samples(data: list, path: str, per_row: int = 8) -> None:
    """For each dataset: one row of training images (one per class, cycling) and one row of a
    test image moved by 0, 2, 4, 6, 8 pixels diagonally (its views)."""
    plt = _plt()
    fig, axes = plt.subplots(2 * len(data), per_row, figsize=(1.4 * per_row, 3.0 * len(data)),
                             squeeze=False)
    for i, d in enumerate(data):
        first = [int(np.flatnonzero(d.y_train == c)[0]) for c in range(len(d.classes))]
        picks = [first[k % len(first)] if k < len(first) else
                 int(np.flatnonzero(d.y_train == k % len(first))[k // len(first)])
                 for k in range(per_row)]
        for ax, j in zip(axes[2 * i], picks):
            ax.imshow(d.x_train[j, 0], cmap="gray", interpolation="nearest")
            ax.set_title(f"train: {d.classes[d.y_train[j]]}", fontsize=7)
        shifts = [0, 2, 4, 6, 8]
        for k, ax in enumerate(axes[2 * i + 1]):
            if k < len(shifts):
                ax.imshow(d.view(shifts[k], shifts[k], [0])[0, 0], cmap="gray",
                          interpolation="nearest")
                ax.set_title(f"test {d.classes[d.y_test[0]]}, shift {shifts[k]}", fontsize=7)
            elif k == len(shifts):
                ax.imshow(d.x_test[0, 0], cmap="gray", interpolation="nearest")
                ax.set_title("its 40x40 canvas", fontsize=7)
        for ax in np.concatenate([axes[2 * i], axes[2 * i + 1]]):
            ax.axis("off")
    fig.suptitle("The trained networks' datasets (32x32 inputs; bundled data only)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
