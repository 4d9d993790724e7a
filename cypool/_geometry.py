"""Window geometry: argument checking and output sizes, in pure Python.

Every argument error of cypool is raised here (or in _layout.py for arrays), naming the parameter
and its value. The kernels receive a `Window` (a dict matching pyx/_window.pxd) that they trust.
Rules follow PyTorch 2.x (aten/src/ATen/native/Pool.h); "same"/"valid" follow Keras/TensorFlow.
"""
from __future__ import annotations

import functools
import numbers
from dataclasses import dataclass

import numpy as np

AXES = ("d", "h", "w")

# Window arguments (kernel_size, stride, padding, dilation) are C ints in PyTorch, which refuses
# larger values; the same bound here keeps every product the kernels form (window extents, divisor
# kernel_h * kernel_w, o * stride) far inside int64.
MAX_WINDOW_ARG = 2**31 - 1
# Sizes and offsets the kernels compute in Py_ssize_t stay below this (int64 with headroom).
MAX_INDEX = 2**62


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))


def int_tuple(value, rank: int, name: str, minimum: int = 1) -> tuple[int, ...]:
    """An int or a sequence of `rank` ints, each >= minimum, as a tuple of Python ints."""
    if _is_int(value):
        values = (int(value),) * rank
    elif isinstance(value, (tuple, list)):
        if len(value) == 1:
            value = tuple(value) * rank
        if len(value) != rank or not all(_is_int(v) for v in value):
            raise TypeError(
                f"{name} must be an int or a tuple of {rank} ints, got {value!r}")
        values = tuple(int(v) for v in value)
    else:
        raise TypeError(f"{name} must be an int or a tuple of {rank} ints, got {value!r}")
    for v in values:
        if v < minimum:
            kind = "positive" if minimum == 1 else "non-negative"
            raise ValueError(f"{name} must be {kind}, got {name}={value!r}")
        if v > MAX_WINDOW_ARG:
            raise ValueError(f"{name} must be at most 2**31 - 1 (as in PyTorch), got "
                             f"{name}={value!r}")
    return values


def check_bool(value, name: str) -> bool:
    """A Python or NumPy bool (a 0-d bool array too), or the ints 0 and 1."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, np.ndarray) and value.dtype == np.bool_ and value.ndim == 0:
        return bool(value)
    if _is_int(value) and value in (0, 1):
        return bool(value)
    raise TypeError(f"{name} must be a bool, got {value!r}")


def check_divisor_override(value) -> int:
    """None (divide by the window's count) or a non-zero int64; returns 0 for None."""
    if value is None:
        return 0
    if not _is_int(value):
        raise TypeError(f"divisor_override must be an int or None, got {value!r}")
    if value == 0:
        raise ValueError("divisor_override must be non-zero, got divisor_override=0")
    if not -2**63 <= value < 2**63:
        raise ValueError(f"divisor_override must fit in int64, got divisor_override={value!r}")
    return int(value)


def pooled_size(size: int, k: int, s: int, pad_lo: int, pad_hi: int, dil: int, ceil_mode: bool) -> int:
    """PyTorch's pooling_output_shape_pad_lr: floor or ceil division, and in ceil mode the last
    window must start inside the input or the left padding."""
    numerator = size + pad_lo + pad_hi - dil * (k - 1) - 1 + (s - 1 if ceil_mode else 0)
    out = numerator // s + 1  # floor division rounds toward -inf, as div_rtn
    if ceil_mode and (out - 1) * s >= size + pad_lo:
        out -= 1
    return out


@dataclass(frozen=True)
class Pool:
    """Geometry of one pooling call over three spatial axes (d, h, w); missing axes have size 1."""
    in_size: tuple
    out_size: tuple
    kernel: tuple
    stride: tuple
    pad_begin: tuple
    pad_end: tuple
    dilation: tuple
    string_padding: bool = False

    def window(self) -> dict:
        """The kernels' Window as a new dict (built once per Pool; Pools are shared by the
        geometry cache, so callers get a copy they may change)."""
        cached = self.__dict__.get("_window")
        if cached is None:
            cached = self._build_window()
            object.__setattr__(self, "_window", cached)
        return dict(cached)

    def _build_window(self) -> dict:
        w = {}
        for i, a in enumerate(AXES):
            w[f"in_{a}"] = self.in_size[i]
            w[f"out_{a}"] = self.out_size[i]
            w[f"k_{a}"] = self.kernel[i]
            w[f"s_{a}"] = self.stride[i]
            w[f"pad_{a}"] = self.pad_begin[i]
            w[f"padend_{a}"] = self.pad_end[i]
            w[f"dil_{a}"] = self.dilation[i]
        return w


def lift(t: tuple, fill: int = 1) -> tuple:
    """Sizes of any rank as the kernels' three spatial axes (d, h, w), `fill` for the missing."""
    return (fill,) * (3 - len(t)) + tuple(t)


def _plain(v) -> bool:
    """An argument whose hash and equality identify its meaning: None, a str, an exact int or a
    tuple of exact ints. (2.0 == 2 and True == 1 hash alike but must still be refused, so floats,
    bools, NumPy scalars and lists never reach the cache.)"""
    t = type(v)
    if t is int or t is str or v is None:
        return True
    return t is tuple and all(type(e) is int for e in v)


def pool_geometry(spatial: tuple, rank: int, kernel_size, stride, padding, dilation=1,
                  ceil_mode=False) -> Pool:
    """Validate the window arguments of max/avg/lp pooling and compute the output size.

    Memoised for repeated calls with plain arguments (ints, tuples of ints, str, None and a bool
    ceil_mode): a Pool is a pure function of them and immutable. Errors are never cached, so every
    call with bad arguments raises afresh; other argument types take the uncached path."""
    if (type(ceil_mode) is bool and _plain(kernel_size) and _plain(stride) and _plain(padding)
            and _plain(dilation) and type(rank) is int):
        return _pool_geometry_cached(tuple(spatial), rank, kernel_size, stride, padding,
                                     dilation, ceil_mode)
    return _pool_geometry(spatial, rank, kernel_size, stride, padding, dilation, ceil_mode)


@functools.lru_cache(maxsize=1024)
def _pool_geometry_cached(spatial, rank, kernel_size, stride, padding, dilation, ceil_mode):
    return _pool_geometry(spatial, rank, kernel_size, stride, padding, dilation, ceil_mode)


def _pool_geometry(spatial: tuple, rank: int, kernel_size, stride, padding, dilation=1,
                   ceil_mode=False) -> Pool:
    kernel = int_tuple(kernel_size, rank, "kernel_size")
    if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0):
        stride_t = kernel
    else:
        stride_t = int_tuple(stride, rank, "stride")
    dil = int_tuple(dilation, rank, "dilation")
    ceil_mode = check_bool(ceil_mode, "ceil_mode")
    string_padding = isinstance(padding, str)
    if string_padding:
        mode = padding.lower()
        if mode not in ("same", "valid"):
            raise ValueError(f"padding must be an int, a tuple, 'same' or 'valid', got {padding!r}")
        if ceil_mode:
            raise ValueError(f"ceil_mode=True cannot be combined with padding={padding!r}")
        lo, hi = [], []
        for size, k, s, d in zip(spatial, kernel, stride_t, dil):
            if mode == "valid":
                lo.append(0)
                hi.append(0)
            else:
                # Keras/TensorFlow SAME: out = ceil(L / s); the odd padding cell goes at the end.
                out = -(-size // s)
                total = max(0, (out - 1) * s + d * (k - 1) + 1 - size)
                lo.append(total // 2)
                hi.append(total - total // 2)
        pad_lo, pad_hi = tuple(lo), tuple(hi)
    else:
        pad_lo = int_tuple(padding, rank, "padding", minimum=0)
        for p, k in zip(pad_lo, kernel):
            if 2 * p > k:
                raise ValueError(
                    f"padding should be at most half of kernel_size, got padding={padding!r} "
                    f"and kernel_size={kernel_size!r}")
        pad_hi = pad_lo
    # Python ints cannot overflow, the kernels' int64 can: the padded extent and one stride past it
    # must stay far below 2**63 (guaranteed by MAX_WINDOW_ARG for real array sizes; checked anyway).
    for L, k, s, lo_, hi_, d in zip(spatial, kernel, stride_t, pad_lo, pad_hi, dil):
        if L + lo_ + hi_ + s + d * (k - 1) + 1 >= MAX_INDEX:
            raise ValueError(f"input spatial size {tuple(spatial)} with kernel_size={kernel_size!r},"
                             f" stride={stride!r}, dilation={dilation!r} exceeds 64-bit indexing")
    out = tuple(pooled_size(L, k, s, lo_, hi_, d, ceil_mode)
                for L, k, s, lo_, hi_, d in zip(spatial, kernel, stride_t, pad_lo, pad_hi, dil))
    if any(o < 1 for o in out):
        raise ValueError(
            f"output size is too small: input spatial size {tuple(spatial)} with "
            f"kernel_size={kernel_size!r}, stride={stride!r}, padding={padding!r}, "
            f"dilation={dilation!r} gives output size {out}")
    return Pool(lift(spatial, 1), lift(out, 1), lift(kernel, 1), lift(stride_t, 1),
                lift(pad_lo, 0), lift(pad_hi, 0), lift(dil, 1), string_padding)


def adaptive_geometry(spatial: tuple, rank: int, output_size, minimum: int = 0) -> Pool:
    """Adaptive pooling: output_size is an int or a tuple whose None entries keep the input size.
    A size of 0 gives an empty output, as in PyTorch's forward (its backward refuses it: the
    gradient functions pass minimum=1)."""
    if _is_int(output_size):
        out = (int(output_size),) * rank
    elif isinstance(output_size, (tuple, list)) and len(output_size) in (1, rank):
        entries = tuple(output_size) * (rank if len(output_size) == 1 else 1)
        if not all(e is None or _is_int(e) for e in entries):
            raise TypeError(
                f"output_size must be an int or a tuple of {rank} ints or None, got {output_size!r}")
        out = tuple(L if e is None else int(e) for e, L in zip(entries, spatial))
    else:
        raise TypeError(
            f"output_size must be an int or a tuple of {rank} ints or None, got {output_size!r}")
    if any(o < minimum for o in out):
        raise ValueError(f"output_size must be >= {minimum}, got output_size={output_size!r}")
    # Bin edges are computed as o * L // O in int64 by the kernels.
    if any(o * L >= MAX_INDEX for o, L in zip(out, spatial)):
        raise ValueError(f"output_size={output_size!r} is too large for input spatial size "
                         f"{tuple(spatial)}: output_size * input size must stay below 2**62")
    ones = (1, 1, 1)
    return Pool(lift(spatial, 1), lift(out, 1), ones, ones, (0, 0, 0), (0, 0, 0), ones)


def unpool_size(spatial: tuple, rank: int, kernel_size, stride, padding, output_size) -> tuple:
    """MaxUnpool's output spatial size: (L - 1) * s - 2p + k, or output_size when given (which must
    lie within one stride of that default, as PyTorch requires)."""
    kernel = int_tuple(kernel_size, rank, "kernel_size")
    stride_t = kernel if stride is None else int_tuple(stride, rank, "stride")
    pad = int_tuple(padding, rank, "padding", minimum=0)
    default = tuple((L - 1) * s - 2 * p + k for L, s, p, k in zip(spatial, stride_t, pad, kernel))
    if output_size is None:
        out = default
    else:
        if not isinstance(output_size, (tuple, list)) or not all(_is_int(v) for v in output_size):
            raise TypeError(f"output_size must be a tuple of ints, got {output_size!r}")
        # PyTorch: the spatial sizes, or the full (N, C, *spatial) shape.
        if len(output_size) not in (rank, rank + 2):
            raise ValueError(f"output_size must have {rank} (spatial) or {rank + 2} entries, got "
                             f"output_size={output_size!r}")
        out = tuple(int(v) for v in output_size)[-rank:]
        for o, d, s in zip(out, default, stride_t):
            if not (d - s < o < d + s):
                raise ValueError(
                    f"output_size={output_size!r} must be within one stride of the default "
                    f"size {default}")
    if any(o < 0 for o in out):
        raise ValueError(f"unpooled output size must not be negative, got {out}")
    return out
