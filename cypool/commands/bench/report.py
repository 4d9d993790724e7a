"""The bench's output: the Markdown table (markdown, its columns and cells), the machine line and
the cypool/torch bar chart (plot)."""
from __future__ import annotations

import datetime
import os
import platform

import numpy as np

from .cases import CF, CL, Row


BASE_COLUMNS = ["case", "dir", "format", "shape", "window", "MB moved", "thr", "cypool ms",
                "torch ms", "numpy ms", "roofline ms", "cypool/torch", "cypool/roofline", "GB/s",
                "check"]

COLUMNS = BASE_COLUMNS
PEER_COLUMNS = ["tensorflow ms", "jax ms", "cypool/best peer"]


def _columns(rows) -> list:
    """The base columns, plus TensorFlow's and JAX's when a row has them."""
    if any(p in r.times for r in rows for p in ("tensorflow", "jax")):
        i = BASE_COLUMNS.index("numpy ms")
        return BASE_COLUMNS[:i] + PEER_COLUMNS[:2] + BASE_COLUMNS[i:-1] + PEER_COLUMNS[2:] + [
            "check"]
    return BASE_COLUMNS


def _ms(t) -> str:
    if t is None:
        return ""
    ms = t * 1e3
    return f"{ms:.4f}" if ms < 0.1 else f"{ms:.3f}" if ms < 10 else f"{ms:.1f}"


def _num(v, fmt="{:.2f}") -> str:
    return "" if v is None else fmt.format(v)


def _cell_map(row: Row) -> dict:
    c = row.case
    dt = "" if c.dtype == "float32" else f" {c.dtype}"
    return {
        "case": c.name + ("*" if c.headline else "") + dt, "dir": row.direction,
        "format": "CF" if row.fmt == CF else "CL", "shape": "x".join(map(str, _shape_of(row))),
        "window": c.window() + (" +idx" if c.return_indices and row.direction == "fwd" else ""),
        "MB moved": f"{row.nbytes / 1e6:.2f}", "thr": str(row.threads),
        "cypool ms": _ms(row.times.get("cypool")), "torch ms": _ms(row.times.get("torch")),
        "tensorflow ms": _ms(row.times.get("tensorflow")), "jax ms": _ms(row.times.get("jax")),
        "numpy ms": _ms(row.times.get("numpy")), "roofline ms": _ms(row.times.get("roofline")),
        "cypool/torch": _num(row.ratio("torch")), "cypool/roofline": _num(row.ratio("roofline")),
        "cypool/best peer": _num(row.best_peer()), "GB/s": _num(row.gbs, "{:.1f}"),
        "check": row.check}


def _cells(row: Row, columns=BASE_COLUMNS) -> list[str]:
    cells = _cell_map(row)
    return [cells[c] for c in columns]


def _shape_of(row: Row) -> tuple:
    return row.shape or row.case.shape


def _format_row(row: Row) -> str:
    return " | ".join(f"{h}={v}" for h, v in _cell_map(row).items() if v)


def markdown(result: dict) -> str:
    rows = result["rows"]
    columns = _columns(rows)
    peers = result.get("peers") or {}
    lines = [
        "# cypool vs PyTorch, NumPy and a streaming roofline",
        "",
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; {_machine()}; "
        f"{result['threads']} threads; median of {result['repeat']} interleaved samples; "
        f"numpy {np.__version__}; torch {result['torch'] or 'not installed'}"
        + "".join(f"; {name} {v}" for name, v in peers.items())
        + ("; SMOKE RUN (tiny shapes)" if result["smoke"] else "") + "."
        + (" 1-minute load average {} at the start, {} at the end (other jobs share the CPUs: "
           "compare ratios, not absolute times).".format(*result["load"])
           if None not in result.get("load", (None,)) else ""),
        "",
        "Times per call in ms. `cypool/torch` < 1: cypool is faster. `cypool/roofline`: cypool's "
        "time over the streaming kernel's for the same bytes (1 = the machine's bandwidth). "
        "`GB/s`: (bytes read + written) / cypool's time. `thr`: threads cypool's policy uses for "
        "the call. `check`: cypool's result equals the peers'. `*`: a headline case (a layer of a "
        "common network).",
        "",
        "| " + " | ".join(columns) + " |",
        "|" + "|".join("---" for _ in columns) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(_cells(row, columns)) + " |")
    lines.append("")
    g = result["geomean"]
    n = sum(1 for r in rows if r.case.headline and r.ratio("torch"))
    lines.append(f"Geometric mean of cypool/torch over the {n} rows of the headline cases: "
                 + (f"**{g:.3f}**" if g is not None
                    else "n/a (no headline case ran)" if not any(r.case.headline for r in rows)
                    else "n/a (torch not installed)") + ".")
    if result["big"]:
        lines += ["", "Bandwidth: 2x2/s2 max and average, forward and backward, of a float32 "
                  "input against cypool's streaming kernel moving the same bytes, interleaved in "
                  "this process, in like-for-like pairs: `out=` (cypool writing into a reused "
                  "array) against the stream into a reused buffer; a new array per call (the "
                  "default) against the stream into a new buffer per call (both pay the "
                  "first-touch page faults of the output). The last column sets the new-array "
                  "call against the reused-buffer stream.", "",
                  "| op | dir | format | shape | MB moved | out= ms | stream ms | out= / stream "
                  "| new array ms | fresh stream ms | new / fresh | new / stream |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for b in result["big"]:
            lines.append(f"| {b['op']} | {b['direction']} | {'CF' if b['fmt'] == CF else 'CL'} "
                         f"| {'x'.join(map(str, b['shape']))} | {b['moved_mb']:.0f} | "
                         f"{b['out_ms']:.1f} | {b['stream_ms']:.1f} | "
                         f"**{b['out_fraction']:.2f}** | {b['cypool_ms']:.1f} | "
                         f"{b['fresh_ms']:.1f} | **{b['fresh_fraction']:.2f}** | "
                         f"{b['fraction']:.2f} |")
    return "\n".join(lines) + "\n"


def _loadavg():
    try:
        return round(os.getloadavg()[0], 1)
    except (AttributeError, OSError):
        return None


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} CPUs"


def plot(result: dict, path: str) -> str | None:
    """Bar chart of cypool/torch per row (log scale, a line at 1); None without matplotlib or
    torch."""
    rows = [r for r in result["rows"] if r.ratio("torch")]
    if not rows:
        return None
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    labels = []
    for r in rows:
        label = f"{r.case.name}{'*' if r.case.headline else ''} {r.direction}"
        if label not in labels:
            labels.append(label)
    fig, ax = plt.subplots(figsize=(max(8, 0.55 * len(labels) + 2), 5))
    width = 0.4
    for j, (fmt, color) in enumerate(((CF, "tab:blue"), (CL, "tab:orange"))):
        xs, hs = [], []
        for r in rows:
            if r.fmt == fmt:
                xs.append(labels.index(f"{r.case.name}{'*' if r.case.headline else ''} "
                                       f"{r.direction}") + (j - 0.5) * width)
                hs.append(r.ratio("torch"))
        ax.bar(xs, hs, width, color=color, label=fmt)
    ax.axhline(1.0, color="black", linewidth=1)
    ax.set_yscale("log")
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("cypool time / torch time (log; < 1: cypool faster)")
    g = result["geomean"]
    ax.set_title(f"cypool vs PyTorch {result['torch']}, {result['threads']} threads"
                 + (f"; geometric mean over the headline cases (*) {g:.2f}" if g else ""),
                 fontsize=10)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
