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
    ("test_acc", "digits test acc", ".3f"),
    ("train_s", "train s", ".1f"),
]


def _fmt(v, spec):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    if spec is None:
        return str(v)
    if spec == "d":
        return f"{int(v):,}"
    return format(v, spec)


def markdown_table(summary: list, columns=SUMMARY_COLUMNS) -> str:
    cols = [c for c in columns if any(r.get(c[0]) is not None for r in summary)]
    lines = ["| " + " | ".join(c[1] for c in cols) + " |",
             "|" + "|".join("---" if c[2] is None else "---:" for c in cols) + "|"]
    for r in summary:
        lines.append("| " + " | ".join(_fmt(r.get(c[0]), c[2]) for c in cols) + " |")
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
                   figures: list, settings: dict, notes: list) -> None:
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
        "- digits test acc: conv3x3(16) -> ReLU -> strategy -> dense(10), trained "
        f"{settings['epochs']} epochs with SGD in NumPy on scikit-learn's digits (1,257 train / "
        "540 test images), seeded; stochastic pooling evaluates with its expectation rule.",
        "- Stochastic pooling is measured in evaluation mode (deterministic) for photos, shift "
        "and noise, in training mode (sampling) for speed.",
        "- Strided convolutions have seeded random, untrained weights everywhere except in the "
        "digits column, so their photo, shift and noise columns describe an untrained layer.",
        "",
    ]
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


LEADER_COLUMNS = [  # (column, label, True if higher is better)
    ("fwd_ms", "fastest forward", False),
    ("bwd_ms", "fastest backward", False),
    ("psnr_dB", "keeps most of the photos", True),
    ("shift_features_pct", "most shift-consistent on feature maps", False),
    ("shift_photos_pct", "most shift-consistent on photos", False),
    ("noise_gain", "most noise-robust", False),
    ("test_acc", "best digits accuracy", True),
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
