"""report.md and the CSV files of `cypool compare`."""
from __future__ import annotations

import csv
import math

SUMMARY_COLUMNS = [
    ("strategy", "strategy", None),
    ("params", "learnable params", "d"),
    ("mflops", "MFLOP / fwd", ".1f"),
    ("cost_MB", "MB moved / fwd (est.)", ".1f"),
    ("fwd_ms", "fwd ms", ".3g"),
    ("fwd_GBps", "fwd GB/s", ".2f"),
    ("bwd_ms", "bwd ms", ".3g"),
    ("bwd_GBps", "bwd GB/s", ".2f"),
    ("peak_MB", "peak extra MB (fwd+bwd)", ".1f"),
    ("psnr_dB", "photo PSNR dB", ".2f"),
    ("shift_features_pct", "shift change % (maps)", ".1f"),
    ("shift_photos_pct", "shift change % (photos)", ".1f"),
    ("noise_gain", "noise gain", ".3f"),
    ("digits_acc", "digits acc (trained, GAP)", "+-.3f"),
    ("digits_consistency", "digits shift consistency", "+-.3f"),
    ("textures_acc", "textures acc (trained, GAP)", "+-.3f"),
    ("textures_consistency", "textures shift consistency", "+-.3f"),
    ("epoch_s", "s / epoch", ".2f"),
]

TRAINED_COLUMNS = [
    ("strategy", "strategy", None),
    ("head", "head", None),
    ("test_acc", "test acc", "+-.3f"),
    ("consistency", "shift consistency", "+-.3f"),
    ("train_acc", "train acc", "+-.3f"),
    ("gap", "train - test", "+-.3f"),
    ("acc_shift8", "acc at 8 px shift", "+-.3f"),
    ("acc_train_mode", "test acc, strategy in training mode", "+-.3f"),
    ("epoch_s", "s / epoch", ".2f"),
]


def _fmt(v, spec, sd=None):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    if spec is None:
        return str(v)
    if spec == "d":
        return f"{int(v):,}"
    if spec.startswith("+-"):  # mean +- standard deviation (over seeds)
        spec = spec[2:]
        if sd is None or (isinstance(sd, float) and math.isnan(sd)):
            return format(v, spec)
        return f"{format(v, spec)} ± {format(sd, spec)}"
    return format(v, spec)


def markdown_table(summary: list, columns=SUMMARY_COLUMNS) -> str:
    """A Markdown table of `summary`'s rows; columns no row has are left out. A '+-' format
    shows the value with its '<column>_sd' companion."""
    cols = [c for c in columns if any(r.get(c[0]) is not None for r in summary)]
    lines = ["| " + " | ".join(c[1] for c in cols) + " |",
             "|" + "|".join("---" if c[2] is None else "---:" for c in cols) + "|"]
    for r in summary:
        lines.append("| " + " | ".join(_fmt(r.get(c[0]), c[2], r.get(c[0] + "_sd"))
                                       for c in cols) + " |")
    return "\n".join(lines)


def write_csv(path: str, rows: list, fields: list) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: _csv_value(r.get(k)) for k in fields})


def _csv_value(v):
    """Empty cell for "does not apply" (None or NaN)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return v


def write_markdown(path: str, *, command: str, config: dict, summary: list, descriptions: dict,
                   figures: list, settings: dict, notes: list, trained_rows=()) -> None:
    out = ["# cypool compare: downsampling strategies", "",
           f"Produced by `{command}`.", "",
           "Machine and build: " + ", ".join(f"{k}={v}" for k, v in config.items()), "",
           "## Results", "", markdown_table(summary), ""]
    best = leaders(summary)
    if best:
        out += ["Best per column: " + "; ".join(best) + ".", ""]
    out += ["Column meanings:", ""]
    out += [
        f"- speed: input float32 {settings['speed_shape']}; median of {settings['repeats']} "
        "interleaved rounds (every strategy once per round); GB/s = (input + output bytes) / "
        "time. Backward times the gradient wrt the input (and weights, for convolutions).",
        "- MFLOP / MB moved: the strategy's own cost estimate (`Strategy.cost`) at that shape.",
        f"- peak extra MB: most memory allocated at once during one forward + backward on "
        f"{settings['memory_shape']}, output included (tracemalloc; n/a for torch, whose "
        "allocator it cannot see).",
        "- photo PSNR: each photo downsampled 2x, upsampled back (bilinear) after a "
        "least-squares gain and offset, compared with the original; higher keeps more.",
        f"- shift change: output change (% of its norm) when the input moves by "
        f"1..{settings['max_shift']} pixels, compared where both see the same content (first "
        "output resampled at d/2); on ReLU feature maps of photos and on the photos themselves. "
        "Lower is more shift-consistent. Spatial pyramid (a vector) is compared directly.",
        "- noise gain: relative output change / relative input change under Gaussian noise "
        "(sigma = 0.1 std); below 1 damps noise.",
        "- trained columns (when PyTorch is installed, not with --quick): a CNN of three stages "
        "conv3x3 -> batch norm -> ReLU -> the strategy (8, 16, 32 channels), then a global-"
        f"average-pooling (GAP) head or a flatten + dense head, trained {settings['epochs']} "
        f"epochs with Adam on 32x32 images, {settings['seeds']} seeds (mean ± standard "
        "deviation over seeds); see \"Trained networks\" below. Shift consistency: the "
        "probability that two random shifts (0..8 px on each axis) of a test image get the same "
        "class (Zhang 2019). s / epoch: training time per epoch (one thread; other load "
        "on the machine included).",
        "- Stochastic pooling is measured in evaluation mode (deterministic) for photos, shift "
        "and noise, in training mode (sampling) for speed.",
        "- Strided convolutions have seeded random, untrained weights in the photo, shift and "
        "noise columns, which describe an untrained layer; the trained columns train them.",
        "",
    ]
    if trained_rows:
        out += _trained_section(trained_rows, summary, settings)
    out += ["## Strategies", ""]
    out += [f"- `{k}`: {v}" for k, v in descriptions.items()]
    out += [""]
    if notes:
        out += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    out += ["## Figures", ""]
    for title, fname in figures:
        out += [f"### {title}", "", f"![{title}]({fname})", ""]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(out))


def _trained_section(rows: list, summary: list, settings: dict) -> list:
    from .datasets import TEXTURES
    out = ["## Trained networks", "",
           "Datasets (built from data bundled with scikit-learn and scikit-image, nothing "
           "downloaded; `cypool.compare.datasets`): `digits`, scikit-learn's digits enlarged to "
           "16x16 at random positions on 32x32 canvases (1,257 train / 540 test); `textures`, "
           f"standardised 32x32 crops of {', '.join(TEXTURES)} (training crops from the top 70 % "
           "of each image, test crops from the bottom 30 %; 1,600 train / 500 test). Test images "
           "are 40x40 canvases: a shift is a 32x32 window moved inside them.", ""]
    if settings.get("train_images"):
        out += [f"Only the first {settings['train_images']} training images of each dataset "
                "were used.", ""]
    for dname in dict.fromkeys(r["dataset"] for r in rows):
        sub = [r for r in rows if r["dataset"] == dname]
        out += [f"### {dname}", "", markdown_table(sub, TRAINED_COLUMNS), ""]
    skipped = [r for r in summary if r.get("not_trained")]
    if skipped:
        out += ["Not trained: " + "; ".join(f"`{r['strategy']}` ({r['not_trained']})"
                                           for r in skipped) + ".", ""]
    return out


LEADER_COLUMNS = [  # (column, label, True if higher is better)
    ("fwd_ms", "fastest forward", False),
    ("bwd_ms", "fastest backward", False),
    ("psnr_dB", "keeps most of the photos", True),
    ("shift_features_pct", "most shift-consistent on feature maps", False),
    ("shift_photos_pct", "most shift-consistent on photos", False),
    ("noise_gain", "most noise-robust", False),
    ("digits_acc", "best trained digits accuracy", True),
    ("digits_consistency", "most shift-consistent trained digits network", True),
    ("textures_acc", "best trained textures accuracy", True),
]


def leaders(summary: list) -> list:
    """'label: strategy (value)' for each column where some strategy has a number."""
    out = []
    for col, label, higher in LEADER_COLUMNS:
        vals = [(r[col], r["strategy"]) for r in summary
                if isinstance(r.get(col), (int, float)) and not math.isnan(r[col])]
        if vals:
            v, name = max(vals) if higher else min(vals)
            out.append(f"{label}: {name} ({v:.3g})")
    return out
