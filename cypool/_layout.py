"""Arrays in and out: rank, data format, dtype and memory order.

Every input is viewed, without copying, as a logical 5-D (N, C, D, H, W) array (size-1 axes for the
missing spatial axes and the batch of an unbatched input). A kernel then runs on whichever memory
order that view already has: "cf" when (N, C, D, H, W) is C-contiguous, "cl" when (N, D, H, W, C) is.
Only an input contiguous in neither order (a slice, negative strides, Fortran order) is copied, once,
into the order its data_format names. Outputs are allocated in the kernel's memory order and handed
back as views in the caller's rank and data_format, so channels-last data is never transposed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import _convert, _memory, _threads

DATA_FORMATS = ("channels_first", "channels_last")
_MAX_KERNEL_DTYPES = {np.dtype(t) for t in
                      (np.float32, np.float64, np.int8, np.uint8, np.int16, np.int32, np.int64)}
# dtypes computed in a wider kernel type and returned in their own type.
_MAX_WIDENED = {np.dtype(np.float16): np.dtype(np.float32), np.dtype(np.uint16): np.dtype(np.int32),
                np.dtype(np.uint32): np.dtype(np.int64), np.dtype(np.bool_): np.dtype(np.uint8)}
_FLOAT_KERNEL_DTYPES = {np.dtype(np.float32), np.dtype(np.float64)}
_FLOAT_WIDENED = {np.dtype(np.float16): np.dtype(np.float32)}


def is_bfloat16(dt: np.dtype) -> bool:
    """ml_dtypes' bfloat16 (NumPy has none), known by its name so that cypool never imports
    ml_dtypes: an array of it can only have been made with ml_dtypes installed."""
    return dt.kind == "V" and dt.itemsize == 2 and dt.name == "bfloat16"


def is_half(dt: np.dtype) -> bool:
    """float16 or bfloat16: the dtypes the max and average fast paths read and write natively."""
    return dt == np.float16 or is_bfloat16(dt)


# Casts of this many values or more between float16 / bfloat16 and float32 take cypool._convert's
# parallel vectorised loops (NumPy's float16 cast is serial and about five times a float32 copy);
# smaller ones NumPy's, which costs less to call than a parallel region.
_CONVERT_FROM = 1 << 15


def cast(a: np.ndarray, dtype) -> np.ndarray:
    """a as a new array of dtype with a's shape and memory order, as ``a.astype(dtype,
    order="K")`` gives it; widening float16 / bfloat16 to float32 and rounding float32 back (to
    nearest even) run in parallel, into the cache of big results (cypool._memory) when big."""
    dtype = np.dtype(dtype)
    widen = is_half(a.dtype) and dtype == np.float32
    if a.size < _CONVERT_FROM or not (widen or (a.dtype == np.float32 and is_half(dtype))):
        return a.astype(dtype, order="K")
    order = sorted(range(a.ndim), key=lambda k: -abs(a.strides[k]))  # outermost axis first
    dense = a.transpose(order)
    if not dense.flags.c_contiguous:  # gaps or negative strides
        return a.astype(dtype, order="K")
    nbytes = a.size * dtype.itemsize
    r = _memory.allocator(nbytes)(dense.shape, dtype)
    n_threads = _threads.threads_for(a.nbytes + nbytes, -(-a.size // 32768))
    _convert.convert(dense.reshape(-1), r.reshape(-1), widen,
                     is_bfloat16(a.dtype if widen else dtype), n_threads)
    return r.transpose(np.argsort(order))


def check_data_format(data_format) -> str:
    if not isinstance(data_format, str):
        raise TypeError(
            f"data_format must be 'channels_first' or 'channels_last', got {data_format!r}")
    if data_format not in DATA_FORMATS:
        raise ValueError(
            f"data_format must be 'channels_first' or 'channels_last', got {data_format!r}")
    return data_format


def check_array(x, name: str, rank: int) -> np.ndarray:
    """x must be an ndarray with rank + 1 (unbatched) or rank + 2 dims and a numeric real dtype."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(x).__name__}")
    if x.ndim not in (rank + 1, rank + 2):
        raise ValueError(
            f"{name} must have {rank + 1} (unbatched) or {rank + 2} (batched) dimensions for "
            f"{rank}-d pooling, got {name}.shape={x.shape}")
    if x.dtype.kind not in "biuf" and not is_bfloat16(x.dtype):
        raise TypeError(f"{name} has unsupported dtype {x.dtype}; expected a real numeric dtype")
    if not x.dtype.isnative:
        x = x.astype(x.dtype.newbyteorder("="))
    return x


def kernel_dtype(x: np.ndarray, name: str, family: str, half: bool = False) -> np.dtype:
    """The dtype the kernel computes in: 'max' families take integers and bool, 'float' families
    take floating types only. half: the operator's kernel reads float16 and bfloat16 as they are;
    otherwise both are computed in float32 (and the result rounded back)."""
    dt = x.dtype
    if is_half(dt):
        return dt if half else np.dtype(np.float32)
    if family == "max":
        if dt in _MAX_KERNEL_DTYPES:
            return dt
        if dt in _MAX_WIDENED:
            return _MAX_WIDENED[dt]
        raise TypeError(f"{name} has unsupported dtype {dt} for max pooling")
    if dt in _FLOAT_KERNEL_DTYPES:
        return dt
    if dt in _FLOAT_WIDENED:
        return _FLOAT_WIDENED[dt]
    raise TypeError(f"{name} has unsupported dtype {dt}; expected float16, bfloat16, float32 or "
                    f"float64")


@dataclass
class Canonical:
    """A logical (N, C, D, H, W) view of a caller's array and how to give results back (view
    None: the layout alone, what a plan keeps of a call; see _steps.layout)."""
    view: np.ndarray | None  # logical (N, C, D, H, W), memory order given by `order`
    order: str              # "cf" or "cl"
    rank: int
    data_format: str
    batched: bool

    @property
    def n(self) -> int:
        return self.view.shape[0]

    @property
    def c(self) -> int:
        return self.view.shape[1]

    @property
    def spatial(self) -> tuple:
        return self.view.shape[2:]

    def flat(self, a: np.ndarray | None = None) -> np.ndarray:
        """The C-contiguous 1-D buffer of a logical 5-D array in this call's memory order."""
        a = self.view if a is None else a
        if self.order == "cl":
            a = a.transpose(0, 2, 3, 4, 1)
        return a.reshape(-1)

    def conform(self, a: np.ndarray) -> np.ndarray:
        """Another logical 5-D array (indices, gradients) in this call's memory order."""
        if self.order == "cl":
            return np.ascontiguousarray(a.transpose(0, 2, 3, 4, 1)).transpose(0, 4, 1, 2, 3)
        return np.ascontiguousarray(a)

    def result_shape(self, spatial: tuple) -> tuple:
        """The shape give_back gives a logical (N, C, *spatial) result."""
        sp = tuple(spatial)[3 - self.rank:]
        shape = (self.c, *sp) if self.data_format != "channels_last" else (*sp, self.c)
        return (self.n, *shape) if self.batched else shape

    def give_back(self, a: np.ndarray) -> np.ndarray:
        """A logical 5-D result in the caller's rank, batching and data_format (a view)."""
        if self.data_format == "channels_last":
            a = a.transpose(0, 2, 3, 4, 1)
            a = a[:, 0, 0] if self.rank == 1 else a[:, 0] if self.rank == 2 else a
        else:
            a = a[:, :, 0, 0] if self.rank == 1 else a[:, :, 0] if self.rank == 2 else a
        return a if self.batched else a[0]


def memory_order(v: np.ndarray, preferred: str) -> str | None:
    """The kernel order v is already contiguous in: `preferred` when both are, None when neither."""
    cf = v.flags.c_contiguous
    if cf and preferred == "cf":
        return "cf"
    if v.transpose(0, 2, 3, 4, 1).flags.c_contiguous:
        return "cl"
    return "cf" if cf else None


# channels-last (N, *spatial, C) -> logical (N, C, *spatial), per ndim (np.moveaxis without its
# argument normalisation, which cost more than the rest of a small call's layout work).
_CL_TO_CF = {nd: (0, nd - 1, *range(1, nd - 1)) for nd in (3, 4, 5)}


def to_canonical(x: np.ndarray, rank: int, data_format: str) -> Canonical:
    """View x as logical (N, C, D, H, W) without copying when its memory order allows."""
    batched = x.ndim == rank + 2
    if not batched:
        x = x[None]
    if data_format == "channels_last":
        x = x.transpose(_CL_TO_CF[x.ndim])
    v = x[:, :, None, None] if rank == 1 else x[:, :, None] if rank == 2 else x
    preferred = "cl" if data_format == "channels_last" else "cf"
    order = memory_order(v, preferred)
    if order is None:
        order = preferred
        if order == "cl":
            v = np.ascontiguousarray(v.transpose(0, 2, 3, 4, 1)).transpose(0, 4, 1, 2, 3)
        else:
            v = np.ascontiguousarray(v)
    return Canonical(v, order, rank, data_format, batched)


def shape_to_canonical(shape, rank: int, data_format: str, name: str = "input_shape") -> tuple:
    """(N, C, spatial...) of an input shape given in the caller's rank and data format."""
    if not isinstance(shape, (tuple, list)) or not all(
            isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in shape):
        raise TypeError(f"{name} must be a tuple of ints, got {shape!r}")
    shape = tuple(int(s) for s in shape)
    if len(shape) not in (rank + 1, rank + 2):
        raise ValueError(
            f"{name} must have {rank + 1} or {rank + 2} entries for {rank}-d pooling, got {shape!r}")
    if any(s < 0 for s in shape):
        raise ValueError(f"{name} must not have negative entries, got {shape!r}")
    if any(s >= 2**62 for s in shape) or math.prod(shape) >= 2**62:
        raise ValueError(f"{name}={shape!r} has more elements than 64-bit indexing allows")
    full = shape if len(shape) == rank + 2 else (1, *shape)
    if data_format == "channels_last":
        n, *spatial, c = full
    else:
        n, c, *spatial = full
    if any(s < 1 for s in spatial):
        raise ValueError(f"{name} must have positive spatial sizes, got {shape!r}")
    return n, c, tuple(spatial), len(shape) == rank + 2


def check_out(out, shape: tuple, dtype: np.dtype, inputs: dict) -> np.ndarray:
    """The out= argument: a writeable ndarray of the result's shape and dtype whose memory does
    not overlap any input's (a kernel would read cells it had already overwritten). inputs:
    {parameter name: array}."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy.ndarray, got {type(out).__name__}")
    if out.shape != tuple(shape) or out.dtype != dtype:
        raise ValueError(f"out has shape {out.shape} and dtype {out.dtype}; the result has shape "
                         f"{tuple(shape)} and dtype {dtype}")
    if not out.flags.writeable:
        raise ValueError("out is read-only")
    for name, a in inputs.items():
        if np.may_share_memory(out, a):
            raise ValueError(f"out must not share memory with the input {name}")
    return out
