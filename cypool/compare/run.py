"""The `cypool compare` command: its arguments, the measurement loop over the chosen strategies,
and the report folder it writes."""
from __future__ import annotations

import argparse
import contextlib
import importlib.util
import math
import os
import sys
import time
import warnings

import numpy as np

from .datasets import NAMES

QUICK_SIZES = (16, 32, 64)
FULL_SIZES = (16, 32, 64, 128, 256)

SPEED_FIELDS = ["strategy", "direction", "size", "shape", "input_MB", "median_ms", "GBps"]
SUMMARY_FIELDS = ["strategy", "description", "trainable", "differentiable", "params", "mflops",
                  "cost_MB", "fwd_ms", "fwd_GBps", "bwd_ms", "bwd_GBps", "peak_MB", "psnr_dB",
                  "shift_features_pct", "shift_photos_pct", "noise_gain"] + [
                  f"{d}_{m}{sd}" for d in ("digits", "textures") for m in ("acc", "consistency")
                  for sd in ("", "_sd")] + ["epoch_s", "not_trained"]
TRAINED_FIELDS = (["strategy", "dataset", "head", "seeds"] +
                  [f"{m}{sd}" for m in ("test_acc", "train_acc", "gap", "consistency",
                                        "acc_train_mode", "epoch_s") for sd in ("", "_sd")] +
                  [f"acc_shift{s}" for s in range(9)] + [f"acc_shift{s}_sd" for s in range(9)])
RUN_FIELDS = ["strategy", "dataset", "head", "seed", "test_acc", "train_acc", "gap",
              "consistency", "acc_train_mode", "final_loss", "epoch_s"] + [
              f"acc_shift{s}" for s in range(9)]
DEFAULT_SEEDS, DEFAULT_EPOCHS = 3, 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--strategies", default=None,
                        help="comma-separated strategy names (default: all registered; see "
                             "--list)")
    parser.add_argument("--out", default="cypool-report", help="report folder (created)")
    parser.add_argument("--sizes", default=None,
                        help="comma-separated spatial sizes S of the (8, 16, S, S) speed inputs "
                             f"(default {','.join(map(str, FULL_SIZES))}; --quick "
                             f"{','.join(map(str, QUICK_SIZES))})")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for cypool, BLAS and torch in the measurements of single "
                             "strategies (default: cypool's default); networks train on one "
                             "thread")
    parser.add_argument("--quick", action="store_true",
                        help="fewer sizes and repeats, no network training (about a minute)")
    parser.add_argument("--seeds", type=int, default=DEFAULT_SEEDS,
                        help=f"trained networks per strategy, dataset and head (default "
                             f"{DEFAULT_SEEDS}; seeds 0..N-1; needs torch)")
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS,
                        help=f"training epochs per network (default {DEFAULT_EPOCHS})")
    parser.add_argument("--datasets", default=",".join(NAMES),
                        help=f"comma-separated datasets to train on (default {','.join(NAMES)})")
    parser.add_argument("--train-images", type=int, default=None,
                        help="use only the first N training images of each dataset (smaller, "
                             "faster runs; default all)")
    parser.add_argument("--list", action="store_true", help="list the strategies and exit")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _parse_sizes(text, default):
    if text is None:
        return tuple(default)
    try:
        sizes = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise SystemExit(f"cypool compare: --sizes must be comma-separated ints, got {text!r}")
    if not sizes or any(s < 8 for s in sizes):
        raise SystemExit(f"cypool compare: --sizes must be ints >= 8, got {text!r}")
    return sizes


def _parse_training(args):
    """(seeds, epochs, datasets, train_images) from the arguments, checked."""
    for opt, v in (("--seeds", args.seeds), ("--epochs", args.epochs)):
        if v < 1:
            raise SystemExit(f"cypool compare: {opt} must be >= 1, got {v}")
    if args.train_images is not None and args.train_images < 1:
        raise SystemExit(f"cypool compare: --train-images must be >= 1, got {args.train_images}")
    names = [n.strip() for n in args.datasets.split(",") if n.strip()]
    if not names or any(n not in NAMES for n in names):
        raise SystemExit(f"cypool compare: --datasets must name some of {', '.join(NAMES)}, "
                         f"got {args.datasets!r}")
    return args.seeds, args.epochs, names, args.train_images


def _select(names_arg, registry):
    if names_arg is None:
        return dict(registry)
    wanted = [n.strip() for n in names_arg.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in registry]
    if unknown:
        raise SystemExit(f"cypool compare: unknown strategies {unknown}; available: "
                         f"{', '.join(registry)}")
    return {n: registry[n] for n in wanted}


@contextlib.contextmanager
def _thread_limits(n):
    """Apply --threads to cypool, to BLAS (threadpoolctl, if installed) and to torch."""
    import cypool
    if n is None:
        yield cypool.get_num_threads()
        return
    if n < 1:
        raise SystemExit(f"cypool compare: --threads must be positive, got {n}")
    stack = contextlib.ExitStack()
    with stack:
        stack.enter_context(cypool.threads(n))
        try:
            from threadpoolctl import threadpool_limits
            stack.enter_context(threadpool_limits(n))
        except ImportError:
            pass
        if "torch" in sys.modules:
            torch = sys.modules["torch"]
            old = torch.get_num_threads()
            torch.set_num_threads(n)
            stack.callback(torch.set_num_threads, old)
        yield n


def _progress(total, disable):
    try:
        from tqdm import tqdm
        return tqdm(total=total, desc="cypool compare", unit="step", disable=disable,
                    file=sys.stderr)
    except ImportError:  # tqdm is a dependency; keep running without it anyway
        class _Null:
            def update(self, n=1): pass
            def set_postfix_str(self, s): pass
            def close(self): pass
        return _Null()


def _safe(fn, notes, what, default=math.nan):
    """Run one measurement; a failing (plugin) strategy gets n/a and a note, not a crash."""
    try:
        return fn()
    except Exception as exc:
        notes.append(f"{what}: {type(exc).__name__}: {exc}")
        return default


def _require_compare_extra():
    """The compare extra's libraries (not needed to pool arrays) are checked before any work."""
    missing = [mod for mod in ("skimage", "sklearn", "matplotlib")
               if importlib.util.find_spec(mod) is None]
    if missing:
        raise SystemExit(f"cypool compare needs {', '.join(missing)}: "
                         f"pip install 'cypool[compare]' (or pip install \".[compare]\" in the "
                         f"source tree)")


def run(args) -> int:
    import cypool
    from .. import strategies as registry_mod
    from . import figures, metrics, report, trained, workloads

    quick = args.quick
    sizes = _parse_sizes(args.sizes, QUICK_SIZES if quick else FULL_SIZES)
    registry = registry_mod.available()
    if args.list:
        for name, s in registry.items():
            print(f"{name:>18}  {s.description}")
        return 0
    chosen = _select(args.strategies, registry)
    seeds, epochs, dataset_names, train_images = _parse_training(args)
    _require_compare_extra()
    train = not quick and registry_mod.torch_available()
    if train or any(getattr(s, "memory_traced", True) is False for s in chosen.values()):
        import torch  # noqa: F401  (so --threads reaches it)
    out = args.out
    os.makedirs(out, exist_ok=True)
    repeats = 7 if quick else 9
    target_s = 0.002 if quick else 0.01
    notes = []
    t_start = time.perf_counter()
    train_steps = len(chosen) * len(dataset_names) * len(trained.HEADS) * seeds if train else 0

    n_steps = len(sizes) * repeats + 4 * len(chosen) + train_steps + 1
    bar = _progress(n_steps, args.no_progress)
    with _thread_limits(args.threads) as n_threads, warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        # speed
        speed_rows = []
        for size in sizes:
            x = workloads.speed_input(size)
            bar.set_postfix_str(f"speed {x.shape}")
            failures = {}
            times = metrics.time_strategies(chosen, x, repeats, target_s, bar, failures)
            notes += [f"{n} speed at size {size}: {e}" for n, e in failures.items()]
            for (name, direction), t in times.items():
                y_bytes = _out_bytes(chosen[name], x)
                moved = x.nbytes + y_bytes
                speed_rows.append({"strategy": name, "direction": direction, "size": size,
                                   "shape": "x".join(map(str, x.shape)),
                                   "input_MB": x.nbytes / 1e6, "median_ms": t * 1e3,
                                   "GBps": moved / t / 1e9})
        big = workloads.speed_input(max(sizes))
        mem_x = workloads.speed_input(min(max(sizes), 128))
        images = workloads.photos(256)
        fmaps = workloads.feature_maps(64)
        photo_batch = np.stack([img[None] for img in images.values()])
        summary, photo_outputs = [], {}
        for name, s in chosen.items():
            bar.set_postfix_str(name)
            row = {"strategy": name, "description": s.description,
                   "trainable": bool(getattr(s, "trainable", False)),
                   "differentiable": bool(getattr(s, "differentiable", True)),
                   "params": _safe(lambda: s.n_params(workloads.SPEED_CHANNELS), notes,
                                   f"{name} n_params")}
            cost = _safe(lambda: s.cost(big.shape), notes, f"{name} cost", {})
            row["mflops"] = _num(cost.get("flops")) / 1e6
            row["cost_MB"] = _num(cost.get("bytes")) / 1e6
            for direction in ("forward", "backward"):
                r = [v for v in speed_rows if v["strategy"] == name and
                     v["direction"] == direction and v["size"] == max(sizes)]
                key = "fwd" if direction == "forward" else "bwd"
                row[f"{key}_ms"] = r[0]["median_ms"] if r else math.nan
                row[f"{key}_GBps"] = r[0]["GBps"] if r else math.nan
            row["peak_MB"] = _safe(lambda: metrics.peak_memory(s, mem_x), notes,
                                   f"{name} memory") / 1e6
            bar.update(1)
            photo_outputs[name] = {p: _safe(lambda: metrics.downsample_photo(s, img), notes,
                                            f"{name} photo", None)
                                   for p, img in images.items()}
            row["psnr_dB"] = _safe(lambda: metrics.reconstruction_psnr(s, images), notes,
                                   f"{name} reconstruction")
            bar.update(1)
            row["shift_features_pct"] = _safe(lambda: metrics.shift_change(s, fmaps), notes,
                                              f"{name} shift (maps)")
            row["shift_photos_pct"] = _safe(lambda: metrics.shift_change(s, photo_batch), notes,
                                            f"{name} shift (photos)")
            bar.update(1)
            row["noise_gain"] = _safe(lambda: metrics.noise_gain(s, fmaps), notes,
                                      f"{name} noise")
            bar.update(1)
            summary.append(row)
        trained_rows, run_rows = [], []
        if train:
            trained_rows, run_rows = _train_networks(
                chosen, summary, dataset_names, seeds, epochs, train_images, bar, notes)
        # outputs
        bar.set_postfix_str("figures")
        names = list(chosen)
        figs = []
        figures.speed(speed_rows, names, os.path.join(out, "speed.png"), n_threads)
        figs.append(("Speed: time per call vs input size", "speed.png"))
        figures.bars(summary, ["shift_features_pct", "shift_photos_pct"],
                     ["ReLU feature maps of photos (4 x 16 x 64 x 64)",
                      "grayscale photos (4 x 1 x 256 x 256)"],
                     ["output change (% of norm), lower = more consistent"] * 2,
                     os.path.join(out, "shift.png"),
                     "Shift consistency: output change when the input moves by 1-4 pixels")
        figs.append(("Shift consistency", "shift.png"))
        figures.photos(images, photo_outputs, os.path.join(out, "photos.png"))
        figs.append(("What it keeps: photos downsampled 2x", "photos.png"))
        cols = ["psnr_dB", "noise_gain", "peak_MB"]
        titles = ["photo reconstruction (upsampled back)", "noise gain (sigma = 0.1 std)",
                  "peak extra memory, fwd + bwd"]
        ylabels = ["PSNR (dB), higher keeps more", "rel. output change / rel. input change",
                   "MB"]
        figures.bars(summary, cols, titles, ylabels, os.path.join(out, "quality.png"),
                     "Quality, robustness, memory")
        figs.append(("Quality, robustness, memory", "quality.png"))
        if trained_rows:
            figures.accuracy_consistency(trained_rows, names,
                                         os.path.join(out, "trained_accuracy.png"))
            figs.append(("Trained networks: test accuracy vs shift consistency (mean +- sd "
                         "over seeds)", "trained_accuracy.png"))
            figures.accuracy_vs_shift(trained_rows, names,
                                      os.path.join(out, "trained_shift.png"))
            figs.append(("Trained networks: test accuracy vs diagonal shift",
                         "trained_shift.png"))
            from . import datasets
            figures.dataset_samples([datasets.load(n) for n in dataset_names],
                                    os.path.join(out, "datasets.png"))
            figs.append(("The datasets the networks learn", "datasets.png"))
        bar.update(1)
        bar.close()

    report.write_csv(os.path.join(out, "speed.csv"), speed_rows, SPEED_FIELDS)
    report.write_csv(os.path.join(out, "results.csv"), summary, SUMMARY_FIELDS)
    if trained_rows:
        report.write_csv(os.path.join(out, "trained.csv"), trained_rows, TRAINED_FIELDS)
        report.write_csv(os.path.join(out, "trained_runs.csv"), run_rows, RUN_FIELDS)
    if quick:
        notes.append("--quick: no networks trained.")
    elif not train:
        notes.append("PyTorch is not installed: no networks trained, the trained columns are "
                     "left out (pip install torch to get them).")
    cfg = {k: v for k, v in cypool._config.config().items() if k in (
        "cypool", "numpy", "platform", "openmp", "threads", "cpu_budget")}
    cfg["threads"] = n_threads
    command = "cypool compare " + " ".join(getattr(args, "argv", []) or [])
    report.write_markdown(
        os.path.join(out, "report.md"), command=command.strip(), config=cfg, summary=summary,
        descriptions={n: s.description for n, s in chosen.items()}, figures=figs,
        settings={"speed_shape": f"(8, 16, {max(sizes)}, {max(sizes)})", "repeats": repeats,
                  "memory_shape": f"(8, 16, {mem_x.shape[-1]}, {mem_x.shape[-1]})",
                  "max_shift": 4, "epochs": epochs, "seeds": seeds,
                  "train_images": train_images},
        notes=notes, trained_rows=trained_rows)
    elapsed = time.perf_counter() - t_start
    print(f"cypool compare: {len(chosen)} strategies, {elapsed:.0f} s -> "
          f"{os.path.join(out, 'report.md')}")
    print(report.markdown_table(summary))
    return 0


def _train_networks(chosen, summary, dataset_names, seeds, epochs, train_images, bar, notes):
    """Train every strategy's network on every dataset, head and seed (trained.py); fill the
    summary's trained columns (GAP head) and return (per-configuration rows, per-run rows)."""
    from . import datasets, trained
    data = {n: datasets.load(n).subset(train_images) for n in dataset_names}
    rows, runs = [], []
    per_config = len(dataset_names) * len(trained.HEADS) * seeds
    for row in summary:
        name = row["strategy"]
        s = chosen[name]
        reason = _safe(lambda: trained.not_trainable_reason(s), notes, f"{name} torch module",
                       "its torch module failed")
        if reason:
            row["not_trained"] = reason
            notes.append(f"{name}: not trained: {reason}")
            bar.update(per_config)
            continue
        epoch_s = []
        for dname, d in data.items():
            for head in trained.HEADS:
                bar.set_postfix_str(f"train {name} {dname} {head}")
                done = []
                for seed in range(seeds):
                    res = _safe(lambda: trained.train_one(s, d, head, seed, epochs), notes,
                                f"{name} training ({dname}, {head}, seed {seed})", None)
                    bar.update(1)
                    if res is None:
                        continue
                    done.append(res)
                    runs.append({"strategy": name, "dataset": dname, "head": head,
                                 "seed": seed, **_flat_shift(res, "acc_by_shift"), **res})
                if not done:
                    continue
                agg = trained.summarise(done)
                rows.append({"strategy": name, "dataset": dname, "head": head,
                             **_flat_shift(agg, "acc_by_shift"),
                             **_flat_shift(agg, "acc_by_shift_sd", "_sd"), **agg})
                epoch_s.append(agg["epoch_s"])
                if head == "gap":
                    row[f"{dname}_acc"], row[f"{dname}_acc_sd"] = agg["test_acc"], \
                        agg["test_acc_sd"]
                    row[f"{dname}_consistency"] = agg["consistency"]
                    row[f"{dname}_consistency_sd"] = agg["consistency_sd"]
        row["epoch_s"] = float(np.mean(epoch_s)) if epoch_s else math.nan
    return rows, runs


def _flat_shift(res, key, suffix=""):
    return {f"acc_shift{i}{suffix}": v for i, v in enumerate(res[key])}


def _num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def _out_bytes(strategy, x):
    strategy.train(True)
    y = strategy.forward(x)
    return int(getattr(y, "nbytes", 0))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="cypool compare",
        description="compare downsampling strategies and write a report folder")
    add_arguments(parser)
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    return run(args)
