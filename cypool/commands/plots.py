"""Plots of cypool's asv history: `cypool plots history ...` (`python -m cypool plots ...`).

Reads the JSON that `asv run` writes (by default under .asv/results) and draws chosen benchmarks
across commits with matplotlib, one panel per benchmark and one line per parameter combination,
for a README or a pull request. Times and the counts of benchmarks/benchmark_counts.py
(instructions, simulated cache misses, estimated cycles; `--counts` adds their panels) are drawn
alike. Only the result files are read; asv itself is not needed, and matplotlib is imported only
when a plot is drawn (it is in the `bench` extra, not a dependency).

    cypool plots list                       # benchmarks present in the results
    cypool plots history --bench 'ForwardSuite.time_forward' \\
        --where data_format=channels_first --where dtype=float32 --out docs/history.png
    cypool plots history --bench GateSuite.time_forward --counts \\
        --where case=max-fwd-cl-small-2x2s2 --where layer=small-2x2s2 --out history.png
"""
from __future__ import annotations

import argparse
import ast
import itertools
import json
import math
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field

# Time values are seconds, memory values bytes and counts plain numbers in asv's results; all get
# a readable scale.
_TIME_SCALES = [(1.0, "s"), (1e-3, "ms"), (1e-6, "µs"), (1e-9, "ns")]
_BYTE_SCALES = [(2.0 ** 30, "GiB"), (2.0 ** 20, "MiB"), (2.0 ** 10, "KiB"), (1.0, "bytes")]
_COUNT_SCALES = [(1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, "")]
# The count benchmarks `--counts` adds (benchmarks/benchmark_counts.py).
COUNT_BENCHES = [r"CountSuite\.track_instructions$", r"CountSuite\.track_d1_misses$",
                 r"CountSuite\.track_ll_misses$"]


@dataclass
class Run:
    """One results file: one commit measured in one environment on one machine."""
    commit: str
    date: int
    env: str
    machine: str
    results: dict = field(default_factory=dict)  # name -> {param tuple: (value, q25, q75)}


def _load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def load_benchmarks(results_dir: str) -> dict:
    """asv's benchmarks.json: name -> metadata (unit, param_names, params, type)."""
    path = os.path.join(results_dir, "benchmarks.json")
    if not os.path.exists(path):
        raise FileNotFoundError(f"no benchmarks.json in {results_dir!r}: run `asv run` first")
    meta = _load_json(path)
    meta.pop("version", None)
    return meta


def _rows(values, params):
    """Pair the flat list of asv values with their parameter combinations (itertools.product
    order, as asv stores them); a benchmark without parameters has the one combination ()."""
    combos = list(itertools.product(*params)) if params else [()]
    if values is None:
        return {}
    return {c: v for c, v in zip(combos, values)}


def load_runs(results_dir: str, machine: str | None = None) -> list[Run]:
    """Every results file under results_dir/<machine>/, ordered by commit date."""
    runs = []
    if not os.path.isdir(results_dir):
        raise FileNotFoundError(f"results directory {results_dir!r} does not exist")
    machines = [m for m in sorted(os.listdir(results_dir))
                if os.path.isdir(os.path.join(results_dir, m))]
    if machine is not None:
        if machine not in machines:
            raise ValueError(f"machine {machine!r} has no results in {results_dir!r}; "
                             f"found {machines}")
        machines = [machine]
    for m in machines:
        folder = os.path.join(results_dir, m)
        for name in sorted(os.listdir(folder)):
            if not name.endswith(".json") or name == "machine.json":
                continue
            d = _load_json(os.path.join(folder, name))
            if "commit_hash" not in d:
                continue
            cols = d["result_columns"]
            run = Run(d["commit_hash"], int(d.get("date") or 0), d.get("env_name", ""), m)
            for bench, row in d["results"].items():
                row = dict(zip(cols, row))
                values = row.get("result")
                params = row.get("params") or []
                q25 = row.get("stats_q_25") or [None] * len(values or [])
                q75 = row.get("stats_q_75") or [None] * len(values or [])
                value_rows = _rows(values, params)
                lows, highs = _rows(q25, params), _rows(q75, params)
                run.results[bench] = {c: (v, lows.get(c), highs.get(c))
                                      for c, v in value_rows.items()}
            runs.append(run)
    runs.sort(key=lambda r: (r.date, r.commit))
    return runs


def _pick_machine(runs: list[Run]) -> list[Run]:
    """The runs of the machine with the most result files (when no machine was named)."""
    counts = {}
    for r in runs:
        counts[r.machine] = counts.get(r.machine, 0) + 1
    if len(counts) <= 1:
        return runs
    best = max(counts, key=counts.get)
    return [r for r in runs if r.machine == best]


def commit_labels(commits: list[str], repo: str = ".") -> dict:
    """Short hash, with the tag pointing at the commit when git knows one."""
    labels = {}
    for c in commits:
        label = c[:8]
        try:
            tags = subprocess.run(["git", "-C", repo, "tag", "--points-at", c], check=True,
                                  capture_output=True, text=True).stdout.split()
            if tags:
                label = f"{tags[0]}\n{c[:8]}"
        except (OSError, subprocess.CalledProcessError):
            pass
        labels[c] = label
    return labels


def _parse_where(items) -> dict:
    where = {}
    for item in items or []:
        if "=" not in item:
            raise ValueError(f"--where expects name=value, got {item!r}")
        key, value = item.split("=", 1)
        where.setdefault(key.strip(), set()).add(value.strip())
    return where


def _param_text(value: str) -> str:
    """asv stores parameter values as repr() strings; show strings without their quotes."""
    try:
        v = ast.literal_eval(value)
        return str(v)
    except (ValueError, SyntaxError):
        return value


def _scale(unit: str, values) -> tuple[float, str]:
    finite = [abs(v) for v in values if v is not None and math.isfinite(v) and v != 0]
    if not finite:
        return 1.0, unit
    typical = sorted(finite)[len(finite) // 2]
    if unit == "seconds":
        table = _TIME_SCALES
    elif unit == "bytes":
        table = _BYTE_SCALES
    elif unit in ("instructions", "misses", "cycles"):
        table = [(f, f"{prefix} {unit}".strip()) for f, prefix in _COUNT_SCALES]
    else:
        return 1.0, unit
    for factor, name in table:
        if typical >= factor:
            return factor, name
    return table[-1]


def series_for(runs, name, meta, where) -> dict:
    """{legend label: [(commit, value, q25, q75), ...]} for one benchmark, filtered by `where`."""
    param_names = meta.get("param_names") or []
    where = {k: v for k, v in where.items() if k in param_names}  # filters apply where they can
    envs = {r.env for r in runs if name in r.results}
    out = {}
    for r in runs:
        for combo, (v, lo, hi) in r.results.get(name, {}).items():
            shown = [_param_text(x) for x in combo]
            if any(k in param_names and shown[param_names.index(k)] not in vals
                   for k, vals in where.items()):
                continue
            if v is None or (isinstance(v, float) and math.isnan(v)):
                continue
            parts = [f"{k}={s}" for k, s in zip(param_names, shown)
                     if not (k in where and len(where[k]) == 1)]
            if len(envs) > 1:
                parts.append(r.env)
            label = ", ".join(parts) or name.rsplit(".", 1)[-1]
            out.setdefault(label, []).append((r.commit, v, lo, hi))
    return out


def plot_history(results_dir=".asv/results", benches=(), where=(), out="asv-history.png",
                 machine=None, max_lines=8, repo=".", title=None) -> str:
    """Draw the chosen benchmarks (regexes over full names) across commits into one PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    meta = load_benchmarks(results_dir)
    runs = load_runs(results_dir, machine)
    if machine is None:
        runs = _pick_machine(runs)
    if not runs:
        raise ValueError(f"no result files under {results_dir!r}")
    names = sorted(n for n in meta if not benches or any(re.search(b, n) for b in benches))
    names = [n for n in names if any(n in r.results for r in runs)]
    if not names:
        raise ValueError(f"no benchmark in the results matches {list(benches)}")
    where = _parse_where(where)
    known = {p for n in names for p in (meta[n].get("param_names") or [])}
    if set(where) - known:
        raise ValueError(f"--where names {sorted(set(where) - known)}, which none of the chosen "
                         f"benchmarks has (their parameters: {sorted(known)})")
    commits = []
    for r in runs:
        if r.commit not in commits:
            commits.append(r.commit)
    labels = commit_labels(commits, repo)
    xpos = {c: i for i, c in enumerate(commits)}

    cols = 1 if len(names) == 1 else 2
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6.4 * cols, 3.9 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        info = meta[name]
        unit = info.get("unit", "")
        series = series_for(runs, name, info, where)
        if len(series) > max_lines:
            series = dict(sorted(series.items())[:max_lines])
        factor, shown_unit = _scale(unit, [p[1] for s in series.values() for p in s])
        for label, points in sorted(series.items()):
            points.sort(key=lambda p: xpos[p[0]])
            x = [xpos[p[0]] for p in points]
            y = [p[1] / factor for p in points]
            line, = ax.plot(x, y, marker="o", label=label)
            if all(p[2] is not None and p[3] is not None for p in points):
                ax.fill_between(x, [p[2] / factor for p in points],
                                [p[3] / factor for p in points], alpha=0.2,
                                color=line.get_color(), linewidth=0)
        short = name.split(".", 1)[-1]
        ax.set_title(short, fontsize=10)
        ax.set_ylabel(shown_unit)
        ax.set_xticks(range(len(commits)))
        ax.set_xticklabels([labels[c] for c in commits], fontsize=8)
        ax.set_xlim(-0.3, len(commits) - 0.7)
        ax.grid(alpha=0.3)
        if series:
            top = max(max(p[1], p[3] or p[1]) for s in series.values() for p in s) / factor
            ax.set_ylim(0, top * 1.25 if top > 0 else 1)
            ax.legend(fontsize=7, loc="lower left")
        else:
            ax.text(0.5, 0.5, "no results for this selection", transform=ax.transAxes,
                    ha="center", va="center", color="gray")
    for ax in list(axes.flat)[len(names):]:
        ax.set_visible(False)
    machine_name = runs[0].machine
    fig.suptitle(title or f"cypool asv history on {machine_name} "
                          f"(lines: median; bands: interquartile range)", fontsize=11)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="cypool plots",
                                     description="Plot cypool's asv results across commits.")
    sub = parser.add_subparsers(dest="command", required=True)
    for cmd in ("history", "list"):
        p = sub.add_parser(cmd)
        p.add_argument("--results", default=".asv/results",
                       help="asv results directory (asv.conf.json's results_dir)")
        p.add_argument("--machine", help="machine name (default: the one with most results)")
    h = sub.choices["history"]
    h.add_argument("--bench", action="append", default=[],
                   help="regex over full benchmark names; repeat for several panels")
    h.add_argument("--where", action="append", default=[],
                   help="keep parameter values, e.g. --where op=max (repeatable)")
    h.add_argument("--out", default="asv-history.png", help="PNG file to write")
    h.add_argument("--counts", action="store_true",
                   help="add panels for the counts (instructions, D1 and last-level misses)")
    h.add_argument("--max-lines", type=int, default=8, help="lines per panel at most")
    h.add_argument("--title")
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            meta = load_benchmarks(args.results)
            runs = load_runs(args.results, args.machine)
            present = {n for r in runs for n in r.results}
            for name in sorted(present):
                info = meta.get(name, {})
                print(f"{name}  [{info.get('unit', '?')}]  params: "
                      f"{', '.join(info.get('param_names') or []) or '-'}")
            print(f"{len(present)} benchmarks, {len(runs)} result files "
                  f"({len({r.commit for r in runs})} commits)")
            return 0
        benches = args.bench + (COUNT_BENCHES if args.counts else [])
        out = plot_history(args.results, benches, args.where, args.out, args.machine,
                           args.max_lines, title=args.title)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
