"""What `cypool compare` measures for each strategy on its own (the trained networks are in
trained.py). Each function takes Strategy objects and returns plain numbers; NaN means "does not
apply" (the report says why)."""
from __future__ import annotations

import gc
import math
import tracemalloc

import numpy as np

from ..commands import timing


def _is_map(y) -> bool:
    return isinstance(y, np.ndarray) and y.ndim == 4


# ----------------------------------------------------------------------------- speed

def time_strategies(strategies: dict, x: np.ndarray, repeats: int, target_s: float,
                    progress=None, failures=None) -> dict:
    """Median seconds per forward and per backward call of every strategy on x.

    Strategies are timed interleaved (round r runs A, B, C, ... once each), so all of them see
    the same machine state; the median over `repeats` rounds is reported (cypool's timing loop,
    cypool/commands/timing.py)."""
    jobs, prepare = {}, {}
    for name, s in strategies.items():
        try:
            s.reset()
            s.train(True)
            g = np.ones_like(s.forward(x))
        except Exception as exc:  # a broken plugin loses its speed row, not the run
            if failures is not None:
                failures[name] = f"{type(exc).__name__}: {exc}"
            continue
        jobs[(name, "forward")] = (lambda s=s: s.forward(x))
        try:
            s.backward(g)
        except NotImplementedError:
            continue

        def bwd(s=s, g=g):
            return s.backward(g)
        jobs[(name, "backward")] = bwd
        prepare[(name, "backward")] = jobs[(name, "forward")]  # backward needs the saved state

    def dropped(key, exc):  # drop the job, keep the run
        if failures is not None:
            failures[key[0]] = f"{key[1]}: {type(exc).__name__}: {exc}"

    return timing.time_interleaved(jobs, repeats, warmup=0, sample_seconds=target_s,
                                   max_calls=1000, prepare=prepare, on_error=dropped,
                                   on_round=(lambda: progress.update(1))
                                   if progress is not None else None)


# ----------------------------------------------------------------------------- memory

def peak_memory(strategy, x: np.ndarray) -> float:
    """Peak bytes allocated (traced by tracemalloc: NumPy and Python allocations) during one
    forward plus backward call, beyond what was allocated before it. The output counts.
    NaN for strategies whose memory tracemalloc cannot see (torch's allocator)."""
    if not getattr(strategy, "memory_traced", True):
        return math.nan
    strategy.reset()
    strategy.train(True)
    y = strategy.forward(x)  # warm-up: lazily created weights are not per-call memory
    grad = np.ones_like(y)
    del y
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        y = strategy.forward(x)
        try:
            strategy.backward(grad)
        except NotImplementedError:
            pass
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    del y
    return float(peak - base)


# ----------------------------------------------------------------------------- what it keeps

def _upsample(y: np.ndarray, shape) -> np.ndarray:
    from skimage.transform import resize
    return resize(y.astype(np.float64), shape, order=1, mode="edge", anti_aliasing=False)


def _affine_fit(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """pred * a + b with the least-squares a, b (strategies differ in scale, e.g. L2 pooling)."""
    A = np.stack([pred.ravel(), np.ones(pred.size)], axis=1)
    coef, *_ = np.linalg.lstsq(A, target.ravel(), rcond=None)
    return pred * coef[0] + coef[1]


def downsample_photo(strategy, img: np.ndarray):
    """One application to a grayscale photo, as (h, w), or None when the output is no image."""
    strategy.train(False)
    y = strategy.forward(img[None, None].astype(np.float32))
    if not _is_map(y) or y.shape[:2] != (1, 1):
        return None
    return y[0, 0]


def reconstruction_psnr(strategy, images: dict) -> float:
    """Mean PSNR (dB) of each photo against its downsampled version upsampled back (bilinear)
    after a least-squares gain and offset. NaN when the output is not an image."""
    values = []
    for img in images.values():
        y = downsample_photo(strategy, img)
        if y is None:
            return math.nan
        rec = _affine_fit(_upsample(y, img.shape), img.astype(np.float64))
        mse = float(np.mean((rec - img) ** 2))
        values.append(10 * math.log10(1.0 / max(mse, 1e-12)))
    return float(np.mean(values))


# ----------------------------------------------------------------------------- shift consistency

def _shift_interp(y: np.ndarray, offset: float, axis: int, length: int) -> np.ndarray:
    """y sampled at output positions i + offset (linear interpolation), i < length."""
    lo = int(math.floor(offset))
    frac = offset - lo
    a = np.take(y, range(lo, lo + length), axis=axis)
    if frac == 0:
        return a
    b = np.take(y, range(lo + 1, lo + 1 + length), axis=axis)
    return (1 - frac) * a + frac * b


def shift_change(strategy, x: np.ndarray, max_shift: int = 4, stride: int = 2) -> float:
    """How much the output changes when the input moves by 1..max_shift pixels (down, then
    right), in % of the output's norm, averaged over shifts and both axes.

    Two crops of x, the second moved by d pixels, are downsampled. A map output is compared
    where both crops see the same content: the first output is resampled at offset d / stride
    (exact for even d, linear interpolation for odd d), so a perfectly shift-equivariant
    downsampler of smooth content scores near 0 and aliasing shows up as change (Zhang 2019's
    idea, measured on the maps instead of class labels). A vector output (spatial pyramid) is
    compared directly: shift invariance."""
    strategy.train(False)
    H, W = x.shape[-2:]
    L_h, L_w = H - max_shift, W - max_shift
    base = strategy.forward(x[..., :L_h, :L_w])
    changes = []
    for d in range(1, max_shift + 1):
        for axis in (2, 3):
            if axis == 2:
                moved = strategy.forward(x[..., d:d + L_h, :L_w])
            else:
                moved = strategy.forward(x[..., :L_h, d:d + L_w])
            if not _is_map(base):
                ref, cur = base, moved
            else:
                keep = moved.shape[axis] - int(math.ceil(d / stride)) - 1
                if keep < 1:
                    continue
                ref = _shift_interp(base, d / stride, axis, keep)
                cur = np.take(moved, range(keep), axis=axis)
            norm = float(np.linalg.norm(ref))
            if norm > 0:
                changes.append(float(np.linalg.norm(cur - ref)) / norm)
    return 100.0 * float(np.mean(changes)) if changes else math.nan


# ----------------------------------------------------------------------------- noise

def noise_gain(strategy, x: np.ndarray, rel_sigma: float = 0.1, seed: int = 0) -> float:
    """Relative output change per relative input change under additive Gaussian noise of
    standard deviation rel_sigma * std(x): (|f(x+n) - f(x)| / |f(x)|) / (|n| / |x|).
    Below 1: the strategy damps noise relative to the signal."""
    strategy.train(False)
    rng = np.random.default_rng(seed)
    noise = (rng.standard_normal(x.shape) * rel_sigma * float(x.std())).astype(np.float32)
    y0 = strategy.forward(x)
    y1 = strategy.forward(x + noise)
    rel_out = np.linalg.norm(y1 - y0) / max(np.linalg.norm(y0), 1e-30)
    rel_in = np.linalg.norm(noise) / max(np.linalg.norm(x), 1e-30)
    return float(rel_out / rel_in)
