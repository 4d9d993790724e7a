"""Pooling operators on NumPy arrays: forward and backward, 1-d, 2-d and 3-d.

Each public function is a thin, rank-specific entry point; the shared steps live once in the
private `_max_pool`, `_avg_pool`, ... helpers: check arrays (_layout) -> window geometry (_geometry)
-> pick the kernel by memory order -> allocate -> call with the thread count of _threads.
Semantics are PyTorch 2.x's; see the README's "Semantics" section.
"""
from __future__ import annotations

import math
import threading
from collections import OrderedDict

import numpy as np

from . import _adaptive, _avg, _max, _unpool
from ._geometry import (_plain, adaptive_geometry, check_bool, check_divisor_override, int_tuple,
                        pool_geometry, unpool_size)
from ._layout import (Canonical, check_array, check_data_format, check_out, kernel_dtype,
                      shape_to_canonical, to_canonical)
from ._threads import threads_for

_NO_INDICES = np.zeros(1, np.int64)
CF = "channels_first"


# ----------------------------------------------------------------------------- shared steps

def _prepare(x, rank: int, data_format, family: str, name: str = "x"):
    """Check x and view it as logical (N, C, D, H, W) in the kernel's dtype."""
    data_format = check_data_format(data_format)
    x = check_array(x, name, rank)
    spatial = x.shape[-rank - 1:-1] if data_format == "channels_last" else x.shape[-rank:]
    if 0 in spatial:
        raise ValueError(f"{name} must have non-zero spatial sizes, got {name}.shape={x.shape}")
    dtype = kernel_dtype(x, name, family)
    if x.dtype == np.bool_:
        x = x.view(np.uint8)
    elif x.dtype != dtype:
        x = x.astype(dtype, order="K")
    return to_canonical(x, rank, data_format)


def _result_dtype(dtype) -> np.dtype:
    """The dtype of a result computed for an input of `dtype`: the same, native-endian (as
    NumPy's ufuncs give)."""
    dtype = np.dtype(dtype)
    return dtype if dtype.isnative else dtype.newbyteorder("=")


def _finish(can: Canonical, y5: np.ndarray, dtype) -> np.ndarray:
    dtype = _result_dtype(dtype)
    y = can.give_back(y5)
    if y.dtype != dtype:
        y = y.view(np.bool_) if dtype == np.bool_ else y.astype(dtype)
    return y


def _spatial(can: Canonical, rank: int) -> tuple:
    return can.spatial[3 - rank:]


def _channel_block(n: int, c: int, n_threads: int) -> int:
    """Channels per work item of a channels-last backward: enough items for every thread, blocks
    wide enough for the channel loop to vectorise."""
    wanted = max(1, -(-2 * n_threads // max(n, 1)))
    blocks = max(1, min(wanted, -(-c // 16)))
    return max(1, -(-c // blocks))


def _check_grad(grad_output, rank: int, data_format: str, name: str = "grad_output"):
    grad_output = check_array(grad_output, name, rank)
    kernel_dtype(grad_output, name, "float")
    return grad_output


def _check_indices(indices, like: np.ndarray, rank: int, name: str = "indices") -> np.ndarray:
    indices = check_array(indices, name, rank)
    if indices.dtype != np.int64:
        raise TypeError(f"{name} must have dtype int64, got {indices.dtype}")
    if indices.shape != like.shape:
        raise ValueError(f"{name}.shape={indices.shape} must equal the shape {like.shape} of the "
                         f"values it indexes")
    return indices


def _check_input_shape(input_shape, grad: np.ndarray, rank: int, data_format: str):
    n, c, spatial, batched = shape_to_canonical(input_shape, rank, data_format)
    g_batched = grad.ndim == rank + 2
    gn = grad.shape[0] if g_batched else 1
    gc = grad.shape[-1] if data_format == "channels_last" else grad.shape[1 if g_batched else 0]
    if batched != g_batched or (n, c) != (gn, gc):
        raise ValueError(f"input_shape={tuple(input_shape)} is inconsistent with "
                         f"grad_output.shape={grad.shape} ({data_format})")
    return spatial


def _lift(spatial: tuple) -> tuple:
    return (1,) * (3 - len(spatial)) + tuple(spatial)


def _raise_bad_indices(bad: int, name: str, limit: int):
    if bad:
        raise ValueError(f"{name} has {bad} entries outside [0, {limit}), the flat positions "
                         f"of one plane")


# ----------------------------------------------------------------------------- max pooling

# Call plans. A small call spends most of its time in argument checks, geometry and layout, not in
# the kernel. A repeated call with the same array layout and plain arguments gets everything
# derived from them from a plan (output shape, thread-policy inputs, the kernel prepared with its
# Window): key, dict look-up, np.empty, one kernel call. Plans are made only after the ordinary
# path succeeded (errors are never cached) and only for what needs no conversion: an exact
# ndarray in a kernel dtype, C-contiguous in its data_format, with a non-empty output. The key
# holds exact-type arguments only (see _geometry._plain): 2.0 == 2 and True == 1 hash alike, so
# floats, bools-for-ints, NumPy scalars and lists take the ordinary path every time. The thread
# count is asked of threads_for on every call: it depends on set_num_threads/threads()/fork.
# Max, average and adaptive pooling keep such caches (one per operator and direction, each
# bounded by PLAN_CACHE_SIZE). Max and average plans hold typed kernel objects (_max.MaxForward,
# _max.MaxBackward, _avg.AvgCall, _adaptive.AdaptiveCall).
PLAN_CACHE_SIZE = 256
_max_plans: OrderedDict = OrderedDict()
_max_backward_plans: OrderedDict = OrderedDict()
_avg_plans: OrderedDict = OrderedDict()
_avg_backward_plans: OrderedDict = OrderedDict()
_adaptive_avg_plans: OrderedDict = OrderedDict()
_adaptive_avg_backward_plans: OrderedDict = OrderedDict()
_adaptive_max_plans: OrderedDict = OrderedDict()
_ALL_PLANS = (_max_plans, _max_backward_plans, _avg_plans, _avg_backward_plans,
              _adaptive_avg_plans, _adaptive_avg_backward_plans, _adaptive_max_plans)
_plans_lock = threading.Lock()
_PLAN_DTYPES = frozenset(np.dtype(t) for t in (np.float32, np.float64, np.int8, np.uint8,
                                                np.int16, np.int32, np.int64))
_FLOAT_PLAN_DTYPES = frozenset((np.dtype(np.float32), np.dtype(np.float64)))


class _Plan:
    """A prepared kernel and what a call needs besides it: the result's shape and dtype, and the
    inputs of the thread policy (bytes touched, independent work items)."""
    __slots__ = ("kernel", "out_shape", "dtype", "nbytes", "rows")

    def __init__(self, kernel, out_shape, dtype, nbytes, rows):
        self.kernel, self.out_shape, self.dtype = kernel, out_shape, dtype
        self.nbytes, self.rows = nbytes, rows


def _use_plan(cache: OrderedDict, key):
    plan = cache.get(key)
    if plan is not None:
        try:
            cache.move_to_end(key)
        except KeyError:  # evicted by another Python thread meanwhile
            pass
    return plan


def _run_plan(plan: _Plan, src: np.ndarray) -> np.ndarray:
    """A one-input plan's call: a new result array filled by the plan's kernel."""
    out = np.empty(plan.out_shape, plan.dtype)
    plan.kernel(src, out, threads_for(plan.nbytes, plan.rows))
    return out


def _plannable(given: np.ndarray, result: np.ndarray, can: Canonical, data_format: str,
               dtypes) -> bool:
    """Whether a forward call's plan may run its kernel on `given`'s own buffer and write a new
    C-contiguous array of the result's shape: a kernel dtype, C-contiguous, in the memory order
    its data_format names, with a C-contiguous result of the same dtype."""
    return (given.dtype in dtypes and given.flags.c_contiguous and result.flags.c_contiguous
            and result.dtype == given.dtype
            and can.order == ("cl" if data_format == "channels_last" else "cf"))


def _plain_shape(shape) -> bool:
    return type(shape) is tuple and all(type(v) is int for v in shape)


def _remember(cache: OrderedDict, key, plan) -> None:
    with _plans_lock:
        cache[key] = plan
        while len(cache) > PLAN_CACHE_SIZE:
            cache.popitem(last=False)  # least recently used


def _clear_plans() -> None:
    """Forget every call plan (tests; memory)."""
    with _plans_lock:
        for cache in _ALL_PLANS:
            cache.clear()


def _output(can: Canonical, spatial: tuple, dtype, inputs: dict, out):
    """(y5, out, direct): the logical 5-D array the kernel writes, the checked out= array, and
    whether y5 is a view of out (same dtype and memory order: the kernel writes there directly;
    otherwise the caller copies the result into out)."""
    if out is None:
        return can.empty(spatial, can.view.dtype), None, False
    out = check_out(out, can.result_shape(spatial), _result_dtype(dtype), inputs)
    # a subclass (np.memmap: pooling straight into a file) is written through a plain view
    plain = out if type(out) is np.ndarray else out.view(np.ndarray)
    direct = can.view_of(plain, spatial) if out.dtype == can.view.dtype else None
    if direct is None:
        return can.empty(spatial, can.view.dtype), out, False
    return direct, out, True


def _give(can: Canonical, y5, dtype, out, direct):
    """The result: out (filled) when given, else y5 in the caller's layout and dtype."""
    if out is None:
        return _finish(can, y5, dtype)
    if not direct:
        np.copyto(out.view(np.ndarray), _finish(can, y5, dtype))
    return out


def _max_pool(x, rank, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
              data_format, out=None):
    key = None
    # `type(v) is int or _plain(v)`: _plain's own first test, inline (halves the key's cost)
    if (out is None and type(x) is np.ndarray and type(ceil_mode) is bool and type(return_indices) is bool
            and type(data_format) is str and (type(kernel_size) is int or _plain(kernel_size))
            and (type(stride) is int or _plain(stride)) and (type(padding) is int or _plain(padding))
            and (type(dilation) is int or _plain(dilation))):
        key = (x.shape, x.strides, x.dtype, rank, kernel_size, stride, padding, dilation,
               ceil_mode, return_indices, data_format)
        plan = _use_plan(_max_plans, key)
        if plan is not None:
            y = np.empty(plan.out_shape, plan.dtype)
            # return_indices (an exact bool) is part of the key
            idx = np.empty(plan.out_shape, np.int64) if return_indices else None
            plan.kernel(x, y, idx, threads_for(plan.nbytes, plan.rows))
            return (y, idx) if return_indices else y
    dtype = getattr(x, "dtype", None)
    can = _prepare(x, rank, data_format, "max")
    geo = pool_geometry(_spatial(can, rank), rank, kernel_size, stride, padding, dilation,
                        ceil_mode)
    return_indices = check_bool(return_indices, "return_indices")
    y5, out, direct = _output(can, geo.out_size, dtype, {"x": x}, out)
    idx5 = can.empty(geo.out_size, np.int64) if return_indices else None
    if y5.size:
        flat_idx = can.flat(idx5) if return_indices else _NO_INDICES
        rows = can.n * geo.out_size[0] * geo.out_size[1] * (can.c if can.order == "cf" else 1)
        nbytes = can.view.nbytes + y5.nbytes
        nt = threads_for(nbytes, rows)
        if can.order == "cf":
            _max.max_pool_forward_cf(can.flat(), can.flat(y5), flat_idx, geo.window(),
                                     can.n * can.c, return_indices, nt)
        else:
            _max.max_pool_forward_cl(can.flat(), can.flat(y5), flat_idx, geo.window(), can.n,
                                     can.c, return_indices, nt)
    y = _give(can, y5, dtype, out, direct)
    if key is not None and y5.size and _plannable(x, y, can, data_format, _PLAN_DTYPES):
        # x's own buffer is the kernel's input and y's the kernel's output, no view in between
        cl = can.order == "cl"
        kernel = _max.MaxForward(geo.window(), can.n if cl else can.n * can.c, can.c, cl,
                                 x.dtype.name)
        _remember(_max_plans, key, _Plan(kernel, y.shape, y.dtype, nbytes, rows))
    return (y, can.give_back(idx5)) if return_indices else y


def _max_backward(grad_output, indices, input_shape, rank, data_format, name="indices",
                  out=None):
    """Route gradients by plane-flat indices (max, adaptive max and global max pooling)."""
    key = None
    if (out is None and type(grad_output) is np.ndarray and type(indices) is np.ndarray
            and _plain_shape(input_shape) and type(data_format) is str):
        key = (grad_output.shape, grad_output.strides, grad_output.dtype, indices.shape,
               indices.strides, indices.dtype, input_shape, rank, data_format, name)
        plan = _use_plan(_max_backward_plans, key)
        if plan is not None:
            gx = np.empty(plan.out_shape, plan.dtype)
            _raise_bad_indices(plan.kernel(grad_output, indices, gx,
                                           threads_for(plan.nbytes, plan.rows)), name,
                               plan.kernel.in_plane)
            return gx
    # a plan covers the arrays as given, not their checked conversions
    given, given_idx = grad_output, indices
    data_format = check_data_format(data_format)
    grad_output = _check_grad(grad_output, rank, data_format)
    indices = _check_indices(indices, grad_output, rank, name)
    spatial = _check_input_shape(input_shape, grad_output, rank, data_format)
    dtype = grad_output.dtype
    can = to_canonical(grad_output.astype(kernel_dtype(grad_output, "grad_output", "float"),
                                          copy=False), rank, data_format)
    idx5 = can.conform(to_canonical(indices, rank, data_format).view)
    in_plane, out_plane = math.prod(spatial), math.prod(can.spatial)
    gx5, out, direct = _output(can, _lift(spatial), dtype,
                               {"grad_output": grad_output, name: indices}, out)
    if gx5.size and can.view.size:
        nt = threads_for(gx5.nbytes + idx5.nbytes, can.n * can.c)
        if can.order == "cf":
            bad = _max.max_backward_cf(can.flat(), can.flat(idx5), can.flat(gx5), can.n * can.c,
                                       in_plane, out_plane, nt)
        else:
            bad = _max.max_backward_cl(can.flat(), can.flat(idx5), can.flat(gx5), can.n, can.c,
                                       _channel_block(can.n, can.c, nt), in_plane, out_plane, nt)
        _raise_bad_indices(bad, name, in_plane)
    elif gx5.size:
        gx5[...] = 0
    gx = _give(can, gx5, dtype, out, direct)
    if (key is not None and gx5.size and can.view.size
            and _plannable(given, gx, can, data_format, _FLOAT_PLAN_DTYPES)
            and given_idx.dtype == np.int64 and given_idx.flags.c_contiguous):
        # grad_output's, indices' and gx's own buffers are the kernel's, no view in between
        cl = can.order == "cl"
        kernel = _max.MaxBackward(can.n if cl else can.n * can.c, can.c,
                                  _channel_block(can.n, can.c, nt), in_plane, out_plane, cl,
                                  dtype.name)
        _remember(_max_backward_plans, key, _Plan(kernel, gx.shape, dtype,
                                                  gx5.nbytes + idx5.nbytes, can.n * can.c))
    return gx


def max_pool1d(x: np.ndarray, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None,
               padding: Padding = 0, dilation: IntOrTuple = 1, ceil_mode: bool = False,
               return_indices: bool = False, data_format: DataFormat = CF, *,
               out: Optional[np.ndarray] = None) -> PoolResult:
    return _max_pool(x, 1, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                     data_format, out)


def max_pool2d(x: np.ndarray, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None,
               padding: Padding = 0, dilation: IntOrTuple = 1, ceil_mode: bool = False,
               return_indices: bool = False, data_format: DataFormat = CF, *,
               out: Optional[np.ndarray] = None) -> PoolResult:
    return _max_pool(x, 2, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                     data_format, out)


def max_pool3d(x: np.ndarray, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None,
               padding: Padding = 0, dilation: IntOrTuple = 1, ceil_mode: bool = False,
               return_indices: bool = False, data_format: DataFormat = CF, *,
               out: Optional[np.ndarray] = None) -> PoolResult:
    return _max_pool(x, 3, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                     data_format, out)


def max_pool1d_backward(grad_output: np.ndarray, indices: np.ndarray, input_shape: Shape,
                        data_format: DataFormat = CF, *,
                        out: Optional[np.ndarray] = None) -> np.ndarray:
    return _max_backward(grad_output, indices, input_shape, 1, data_format, out=out)


def max_pool2d_backward(grad_output: np.ndarray, indices: np.ndarray, input_shape: Shape,
                        data_format: DataFormat = CF, *,
                        out: Optional[np.ndarray] = None) -> np.ndarray:
    return _max_backward(grad_output, indices, input_shape, 2, data_format, out=out)


def max_pool3d_backward(grad_output: np.ndarray, indices: np.ndarray, input_shape: Shape,
                        data_format: DataFormat = CF, *,
                        out: Optional[np.ndarray] = None) -> np.ndarray:
    return _max_backward(grad_output, indices, input_shape, 3, data_format, out=out)


# ----------------------------------------------------------------------------- average pooling

def _check_avg3d_input(spatial, rank, kernel_size):
    """PyTorch's avg_pool3d (only it) refuses inputs smaller than the kernel, padding or not."""
    if rank == 3:
        kernel = int_tuple(kernel_size, rank, "kernel_size")
        if any(L < k for L, k in zip(spatial, kernel)):
            raise ValueError(f"input spatial size {tuple(spatial)} is smaller than "
                             f"kernel_size={kernel_size!r} (avg_pool3d)")


def _avg_args(count_include_pad, divisor_override, geo):
    count_include_pad = check_bool(count_include_pad, "count_include_pad")
    divisor = check_divisor_override(divisor_override)
    # With "same"/"valid" padding, padded cells never enter an average (Keras/TensorFlow).
    return (count_include_pad and not geo.string_padding), divisor


def _avg_pool(x, rank, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override, data_format, out=None):
    key = None
    if (out is None and type(x) is np.ndarray and type(ceil_mode) is bool and type(count_include_pad) is bool
            and (divisor_override is None or type(divisor_override) is int)
            and type(data_format) is str and (type(kernel_size) is int or _plain(kernel_size))
            and (type(stride) is int or _plain(stride)) and (type(padding) is int or _plain(padding))):
        key = (x.shape, x.strides, x.dtype, rank, kernel_size, stride, padding, ceil_mode,
               count_include_pad, divisor_override, data_format)
        plan = _use_plan(_avg_plans, key)
        if plan is not None:
            return _run_plan(plan, x)
    dtype = getattr(x, "dtype", None)
    can = _prepare(x, rank, data_format, "float")
    geo = pool_geometry(_spatial(can, rank), rank, kernel_size, stride, padding, 1, ceil_mode)
    _check_avg3d_input(_spatial(can, rank), rank, kernel_size)
    cip, divisor = _avg_args(count_include_pad, divisor_override, geo)
    y5, out, direct = _output(can, geo.out_size, dtype, {"x": x}, out)
    if y5.size:
        rows = can.n * geo.out_size[0] * geo.out_size[1] * (can.c if can.order == "cf" else 1)
        nbytes = can.view.nbytes + y5.nbytes
        nt = threads_for(nbytes, rows)
        if can.order == "cf":
            _avg.avg_pool_forward_cf(can.flat(), can.flat(y5), geo.window(), can.n * can.c, cip,
                                     divisor, nt)
        else:
            _avg.avg_pool_forward_cl(can.flat(), can.flat(y5), geo.window(), can.n, can.c, cip,
                                     divisor, nt)
    y = _give(can, y5, dtype, out, direct)
    if key is not None and y5.size and _plannable(x, y, can, data_format, _FLOAT_PLAN_DTYPES):
        # x's own buffer is the kernel's input and y's the kernel's output, no view in between
        cl = can.order == "cl"
        kernel = _avg.AvgCall(geo.window(), False, can.n if cl else can.n * can.c, can.c, 0, cl,
                              cip, divisor, x.dtype.name)
        _remember(_avg_plans, key, _Plan(kernel, y.shape, y.dtype, nbytes, rows))
    return y


def _avg_backward(grad_output, input_shape, rank, kernel_size, stride, padding, ceil_mode,
                  count_include_pad, divisor_override, data_format, out=None):
    key = None
    if (out is None and type(grad_output) is np.ndarray and _plain_shape(input_shape) and type(ceil_mode) is bool
            and type(count_include_pad) is bool
            and (divisor_override is None or type(divisor_override) is int)
            and type(data_format) is str and (type(kernel_size) is int or _plain(kernel_size))
            and (type(stride) is int or _plain(stride)) and (type(padding) is int or _plain(padding))):
        key = (grad_output.shape, grad_output.strides, grad_output.dtype, input_shape, rank,
               kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override,
               data_format)
        plan = _use_plan(_avg_backward_plans, key)
        if plan is not None:
            return _run_plan(plan, grad_output)
    given = grad_output  # a plan covers the array as given, not its checked conversion
    data_format = check_data_format(data_format)
    grad_output = _check_grad(grad_output, rank, data_format)
    spatial = _check_input_shape(input_shape, grad_output, rank, data_format)
    geo = pool_geometry(spatial, rank, kernel_size, stride, padding, 1, ceil_mode)
    _check_avg3d_input(spatial, rank, kernel_size)
    cip, divisor = _avg_args(count_include_pad, divisor_override, geo)
    dtype = grad_output.dtype
    can = to_canonical(grad_output.astype(kernel_dtype(grad_output, "grad_output", "float"),
                                          copy=False), rank, data_format)
    if tuple(can.spatial) != geo.out_size:
        raise ValueError(f"grad_output.shape={grad_output.shape} does not match the pooled size "
                         f"{geo.out_size[3 - rank:]} of input_shape={tuple(input_shape)}")
    gx5, out, direct = _output(can, geo.in_size, dtype, {"grad_output": grad_output}, out)
    if gx5.size:
        nbytes = gx5.nbytes + can.view.nbytes
        nt = threads_for(nbytes, can.n * can.c)
        c_block = _channel_block(can.n, can.c, nt)
        if can.order == "cf":
            _avg.avg_pool_backward_cf(can.flat(), can.flat(gx5), geo.window(), can.n * can.c,
                                      cip, divisor, nt)
        else:
            _avg.avg_pool_backward_cl(can.flat(), can.flat(gx5), geo.window(), can.n, can.c,
                                      c_block, cip, divisor, nt)
    gx = _give(can, gx5, dtype, out, direct)
    if (key is not None and gx5.size
            and _plannable(given, gx, can, data_format, _FLOAT_PLAN_DTYPES)):
        # grad_output's and gx's own buffers are the kernel's (c_block only splits the work of
        # the general kernel into disjoint parts: any value gives the same result)
        cl = can.order == "cl"
        kernel = _avg.AvgCall(geo.window(), True, can.n if cl else can.n * can.c, can.c, c_block,
                              cl, cip, divisor, dtype.name)
        _remember(_avg_backward_plans, key, _Plan(kernel, gx.shape, dtype, nbytes,
                                                  can.n * can.c))
    return gx


def avg_pool1d(x: np.ndarray, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None,
               padding: Padding = 0, ceil_mode: bool = False, count_include_pad: bool = True,
               data_format: DataFormat = CF, *, out: Optional[np.ndarray] = None) -> np.ndarray:
    return _avg_pool(x, 1, kernel_size, stride, padding, ceil_mode, count_include_pad, None,
                     data_format, out)


def avg_pool2d(x: np.ndarray, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None,
               padding: Padding = 0, ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: Optional[int] = None, data_format: DataFormat = CF, *,
               out: Optional[np.ndarray] = None) -> np.ndarray:
    return _avg_pool(x, 2, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override, data_format, out)


def avg_pool3d(x: np.ndarray, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None,
               padding: Padding = 0, ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: Optional[int] = None, data_format: DataFormat = CF, *,
               out: Optional[np.ndarray] = None) -> np.ndarray:
    return _avg_pool(x, 3, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override, data_format, out)


def avg_pool1d_backward(grad_output: np.ndarray, input_shape: Shape, kernel_size: IntOrTuple,
                        stride: Optional[IntOrTuple] = None, padding: Padding = 0,
                        ceil_mode: bool = False, count_include_pad: bool = True,
                        data_format: DataFormat = CF, *,
                        out: Optional[np.ndarray] = None) -> np.ndarray:
    return _avg_backward(grad_output, input_shape, 1, kernel_size, stride, padding, ceil_mode,
                         count_include_pad, None, data_format, out)


def avg_pool2d_backward(grad_output: np.ndarray, input_shape: Shape, kernel_size: IntOrTuple,
                        stride: Optional[IntOrTuple] = None, padding: Padding = 0,
                        ceil_mode: bool = False, count_include_pad: bool = True,
                        divisor_override: Optional[int] = None,
                        data_format: DataFormat = CF, *,
                        out: Optional[np.ndarray] = None) -> np.ndarray:
    return _avg_backward(grad_output, input_shape, 2, kernel_size, stride, padding, ceil_mode,
                         count_include_pad, divisor_override, data_format, out)


def avg_pool3d_backward(grad_output: np.ndarray, input_shape: Shape, kernel_size: IntOrTuple,
                        stride: Optional[IntOrTuple] = None, padding: Padding = 0,
                        ceil_mode: bool = False, count_include_pad: bool = True,
                        divisor_override: Optional[int] = None,
                        data_format: DataFormat = CF, *,
                        out: Optional[np.ndarray] = None) -> np.ndarray:
    return _avg_backward(grad_output, input_shape, 3, kernel_size, stride, padding, ceil_mode,
                         count_include_pad, divisor_override, data_format, out)


# ----------------------------------------------------------------------------- adaptive pooling

def _adaptive_avg(x, rank, output_size, data_format):
    # an output of 1 everywhere is global pooling (a CNN head), computed by the same kernel: its
    # short path (exact ints only, so 1.0 and True still meet adaptive_geometry's checks)
    if (type(output_size) is int and output_size == 1) or (
            type(output_size) is tuple and len(output_size) in (1, rank)
            and all(type(v) is int and v == 1 for v in output_size)):
        y = _global_avg_common(x, rank, data_format)
        if y is not None:
            return _keep_spatial(y, rank, data_format)
    key = None
    if type(x) is np.ndarray and type(data_format) is str and _plain(output_size):
        key = (x.shape, x.strides, x.dtype, rank, output_size, data_format)
        plan = _use_plan(_adaptive_avg_plans, key)
        if plan is not None:
            return _run_plan(plan, x)
    dtype = getattr(x, "dtype", None)
    can = _prepare(x, rank, data_format, "float")
    geo = adaptive_geometry(_spatial(can, rank), rank, output_size)
    y5 = can.empty(geo.out_size, can.view.dtype)
    if y5.size:
        rows = can.n * geo.out_size[0] * geo.out_size[1] * (can.c if can.order == "cf" else 1)
        nbytes = can.view.nbytes + y5.nbytes
        nt = threads_for(nbytes, rows)
        if can.order == "cf":
            _adaptive.adaptive_avg_forward_cf(can.flat(), can.flat(y5), geo.window(),
                                              can.n * can.c, nt)
        else:
            _adaptive.adaptive_avg_forward_cl(can.flat(), can.flat(y5), geo.window(), can.n,
                                              can.c, nt)
    y = _finish(can, y5, dtype)
    if key is not None and y5.size and _plannable(x, y, can, data_format, _FLOAT_PLAN_DTYPES):
        cl = can.order == "cl"
        call = _adaptive.AdaptiveCall("avg", geo.window(), can.n if cl else can.n * can.c, can.c,
                                      0, cl, x.dtype.name)
        _remember(_adaptive_avg_plans, key, _Plan(lambda x_, y_, nt_: call(x_, y_, None, nt_),
                                                  y.shape, y.dtype, nbytes, rows))
    return y



def _adaptive_avg_backward(grad_output, input_shape, rank, data_format):
    key = None
    if type(grad_output) is np.ndarray and _plain_shape(input_shape) and type(data_format) is str:
        key = (grad_output.shape, grad_output.strides, grad_output.dtype, input_shape, rank,
               data_format)
        plan = _use_plan(_adaptive_avg_backward_plans, key)
        if plan is not None:
            return _run_plan(plan, grad_output)
    given = grad_output  # a plan covers the array as given, not its checked conversion
    data_format = check_data_format(data_format)
    grad_output = _check_grad(grad_output, rank, data_format)
    spatial = _check_input_shape(input_shape, grad_output, rank, data_format)
    dtype = grad_output.dtype
    can = to_canonical(grad_output.astype(kernel_dtype(grad_output, "grad_output", "float"),
                                          copy=False), rank, data_format)
    if min(can.spatial[3 - rank:]) < 1:  # PyTorch refuses an empty gradient plane here
        raise ValueError(f"grad_output.shape={grad_output.shape} has an empty spatial axis")
    geo = adaptive_geometry(spatial, rank, tuple(can.spatial[3 - rank:]), minimum=1)
    gx5 = can.empty(geo.in_size, can.view.dtype)
    if gx5.size:
        nbytes = gx5.nbytes + can.view.nbytes
        nt = threads_for(nbytes, can.n * can.c)
        if can.order == "cf":
            _adaptive.adaptive_avg_backward_cf(can.flat(), can.flat(gx5), geo.window(),
                                               can.n * can.c, nt)
        else:
            _adaptive.adaptive_avg_backward_cl(can.flat(), can.flat(gx5), geo.window(), can.n,
                                               can.c, _channel_block(can.n, can.c, nt), nt)
    gx = _finish(can, gx5, dtype)
    if (key is not None and gx5.size
            and _plannable(given, gx, can, data_format, _FLOAT_PLAN_DTYPES)):
        cl = can.order == "cl"
        call = _adaptive.AdaptiveCall("avg_backward", geo.window(), can.n if cl else can.n * can.c,
                                      can.c, _channel_block(can.n, can.c, nt), cl, dtype.name)
        _remember(_adaptive_avg_backward_plans, key, _Plan(
            lambda g_, gx_, nt_: call(g_, gx_, None, nt_), gx.shape, dtype, nbytes,
            can.n * can.c))
    return gx



def _adaptive_max(x, rank, output_size, return_indices, data_format):
    key = None
    if (type(x) is np.ndarray and type(data_format) is str and _plain(output_size)
            and type(return_indices) is bool):
        key = (x.shape, x.strides, x.dtype, rank, output_size, return_indices, data_format)
        plan = _use_plan(_adaptive_max_plans, key)
        if plan is not None:
            y = np.empty(plan.out_shape, plan.dtype)
            idx = np.empty(plan.out_shape, np.int64)  # the kernel always tracks indices
            plan.kernel(x, y, idx, threads_for(plan.nbytes, plan.rows))
            return (y, idx) if return_indices else y
    dtype = getattr(x, "dtype", None)
    can = _prepare(x, rank, data_format, "max")
    geo = adaptive_geometry(_spatial(can, rank), rank, output_size)
    return_indices = check_bool(return_indices, "return_indices")
    y5 = can.empty(geo.out_size, can.view.dtype)
    idx5 = can.empty(geo.out_size, np.int64)
    if y5.size:
        rows = can.n * geo.out_size[0] * geo.out_size[1] * (can.c if can.order == "cf" else 1)
        nbytes = can.view.nbytes + y5.nbytes
        nt = threads_for(nbytes, rows)
        if can.order == "cf":
            _adaptive.adaptive_max_forward_cf(can.flat(), can.flat(y5), can.flat(idx5),
                                              geo.window(), can.n * can.c, nt)
        else:
            _adaptive.adaptive_max_forward_cl(can.flat(), can.flat(y5), can.flat(idx5),
                                              geo.window(), can.n, can.c, nt)
    y = _finish(can, y5, dtype)
    if key is not None and y5.size and _plannable(x, y, can, data_format, _PLAN_DTYPES):
        cl = can.order == "cl"
        call = _adaptive.AdaptiveCall("max", geo.window(), can.n if cl else can.n * can.c, can.c,
                                      0, cl, x.dtype.name)
        _remember(_adaptive_max_plans, key, _Plan(call, y.shape, y.dtype, nbytes, rows))
    return (y, can.give_back(idx5)) if return_indices else y



def adaptive_avg_pool1d(x: np.ndarray, output_size: OutputSize,
                        data_format: DataFormat = CF) -> np.ndarray:
    return _adaptive_avg(x, 1, output_size, data_format)


def adaptive_avg_pool2d(x: np.ndarray, output_size: OutputSize,
                        data_format: DataFormat = CF) -> np.ndarray:
    return _adaptive_avg(x, 2, output_size, data_format)


def adaptive_avg_pool3d(x: np.ndarray, output_size: OutputSize,
                        data_format: DataFormat = CF) -> np.ndarray:
    return _adaptive_avg(x, 3, output_size, data_format)


def adaptive_avg_pool1d_backward(grad_output: np.ndarray, input_shape: Shape,
                                 data_format: DataFormat = CF) -> np.ndarray:
    return _adaptive_avg_backward(grad_output, input_shape, 1, data_format)


def adaptive_avg_pool2d_backward(grad_output: np.ndarray, input_shape: Shape,
                                 data_format: DataFormat = CF) -> np.ndarray:
    return _adaptive_avg_backward(grad_output, input_shape, 2, data_format)


def adaptive_avg_pool3d_backward(grad_output: np.ndarray, input_shape: Shape,
                                 data_format: DataFormat = CF) -> np.ndarray:
    return _adaptive_avg_backward(grad_output, input_shape, 3, data_format)


def adaptive_max_pool1d(x: np.ndarray, output_size: OutputSize, return_indices: bool = False,
                        data_format: DataFormat = CF) -> PoolResult:
    return _adaptive_max(x, 1, output_size, return_indices, data_format)


def adaptive_max_pool2d(x: np.ndarray, output_size: OutputSize, return_indices: bool = False,
                        data_format: DataFormat = CF) -> PoolResult:
    return _adaptive_max(x, 2, output_size, return_indices, data_format)


def adaptive_max_pool3d(x: np.ndarray, output_size: OutputSize, return_indices: bool = False,
                        data_format: DataFormat = CF) -> PoolResult:
    return _adaptive_max(x, 3, output_size, return_indices, data_format)


def adaptive_max_pool1d_backward(grad_output: np.ndarray, indices: np.ndarray, input_shape: Shape,
                                 data_format: DataFormat = CF) -> np.ndarray:
    return _max_backward(grad_output, indices, input_shape, 1, data_format)


def adaptive_max_pool2d_backward(grad_output: np.ndarray, indices: np.ndarray, input_shape: Shape,
                                 data_format: DataFormat = CF) -> np.ndarray:
    return _max_backward(grad_output, indices, input_shape, 2, data_format)


def adaptive_max_pool3d_backward(grad_output: np.ndarray, indices: np.ndarray, input_shape: Shape,
                                 data_format: DataFormat = CF) -> np.ndarray:
    return _max_backward(grad_output, indices, input_shape, 3, data_format)


# ----------------------------------------------------------------------------- global pooling

def _drop_spatial(y, rank, data_format, keepdims):
    keepdims = check_bool(keepdims, "keepdims")
    if keepdims:
        return y
    if data_format == "channels_last":
        return y.reshape(y.shape[:-rank - 1] + y.shape[-1:])
    return y.reshape(y.shape[:-rank])


def _keepdims_grad(grad_output, input_shape, rank, data_format, name="grad_output"):
    """Give a (N, C) or (C,) global-pooling gradient its size-1 spatial axes back."""
    if not isinstance(grad_output, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(grad_output).__name__}")
    n_in = len(input_shape) if isinstance(input_shape, (tuple, list)) else -1
    if grad_output.ndim == n_in - rank:
        ones = (1,) * rank
        if data_format == "channels_last":
            return grad_output.reshape(grad_output.shape[:-1] + ones + grad_output.shape[-1:])
        return grad_output.reshape(grad_output.shape + ones)
    return grad_output


_GAP_FAST_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _global_avg_common(x, rank, data_format):
    """Global average of the common call, as an (N, C) array; None for any other call.

    Global pooling of a CNN head is short enough (~0.1 ms) for the Python steps to matter. The
    common call (a batched, C-contiguous, native float32/float64 ndarray in the layout its
    data_format names, no empty spatial axis) skips the general layout handling, whose checks it
    passes by construction, and the window geometry of adaptive pooling."""
    if (type(x) is np.ndarray and x.ndim == rank + 2 and x.dtype in _GAP_FAST_DTYPES
            and x.flags.c_contiguous and data_format in ("channels_first", "channels_last")):
        cl = data_format == "channels_last"
        n, c = (x.shape[0], x.shape[-1]) if cl else x.shape[:2]
        spatial = x.shape[1:-1] if cl else x.shape[2:]
        if all(spatial):
            y = np.empty((n, c), x.dtype)
            if y.size:
                L = math.prod(spatial)
                if cl:
                    _adaptive.global_avg_forward_cl(x.reshape(-1), y.reshape(-1), n, c, L,
                                                    threads_for(x.nbytes + y.nbytes, n))
                else:
                    _adaptive.global_avg_forward_cf(x.reshape(-1), y.reshape(-1), n * c, L,
                                                    threads_for(x.nbytes + y.nbytes, n * c))
            return y
    return None


def _keep_spatial(y, rank, data_format):
    """(N, C) -> (N, 1, ..., 1, C) or (N, C, 1, ..., 1)."""
    n, c = y.shape
    return y.reshape((n,) + (1,) * rank + (c,) if data_format == "channels_last"
                     else (n, c) + (1,) * rank)


def _global_avg(x, rank, keepdims, data_format):
    y = _global_avg_common(x, rank, data_format)
    if y is not None:
        return _keep_spatial(y, rank, data_format) if check_bool(keepdims, "keepdims") else y
    dtype = getattr(x, "dtype", None)
    can = _prepare(x, rank, data_format, "float")
    y5 = can.empty((1, 1, 1), can.view.dtype)
    if y5.size:
        L = math.prod(can.spatial)
        if can.order == "cf":
            nt = threads_for(can.view.nbytes + y5.nbytes, can.n * can.c)
            _adaptive.global_avg_forward_cf(can.flat(), can.flat(y5), can.n * can.c, L, nt)
        else:
            nt = threads_for(can.view.nbytes + y5.nbytes, can.n)
            _adaptive.global_avg_forward_cl(can.flat(), can.flat(y5), can.n, can.c, L, nt)
    return _drop_spatial(_finish(can, y5, dtype), rank, data_format, keepdims)


def _global_max(x, rank, keepdims, return_indices, data_format):
    check_data_format(data_format)
    if check_bool(return_indices, "return_indices"):
        y, idx = _adaptive_max(x, rank, 1, True, data_format)
        return (_drop_spatial(y, rank, data_format, keepdims),
                _drop_spatial(idx, rank, data_format, keepdims))
    return _drop_spatial(_adaptive_max(x, rank, 1, False, data_format), rank, data_format,
                         keepdims)


def _global_avg_backward(grad_output, input_shape, rank, data_format):
    check_data_format(data_format)
    g = _keepdims_grad(grad_output, input_shape, rank, data_format)
    return _adaptive_avg_backward(g, input_shape, rank, data_format)


def _global_max_backward(grad_output, indices, input_shape, rank, data_format):
    check_data_format(data_format)
    g = _keepdims_grad(grad_output, input_shape, rank, data_format)
    i = _keepdims_grad(indices, input_shape, rank, data_format, "indices")
    return _max_backward(g, i, input_shape, rank, data_format)


def global_avg_pool1d(x: np.ndarray, keepdims: bool = False,
                      data_format: DataFormat = CF) -> np.ndarray:
    return _global_avg(x, 1, keepdims, data_format)


def global_avg_pool2d(x: np.ndarray, keepdims: bool = False,
                      data_format: DataFormat = CF) -> np.ndarray:
    return _global_avg(x, 2, keepdims, data_format)


def global_avg_pool3d(x: np.ndarray, keepdims: bool = False,
                      data_format: DataFormat = CF) -> np.ndarray:
    return _global_avg(x, 3, keepdims, data_format)


def global_max_pool1d(x: np.ndarray, keepdims: bool = False, return_indices: bool = False,
                      data_format: DataFormat = CF) -> PoolResult:
    return _global_max(x, 1, keepdims, return_indices, data_format)


def global_max_pool2d(x: np.ndarray, keepdims: bool = False, return_indices: bool = False,
                      data_format: DataFormat = CF) -> PoolResult:
    return _global_max(x, 2, keepdims, return_indices, data_format)


def global_max_pool3d(x: np.ndarray, keepdims: bool = False, return_indices: bool = False,
                      data_format: DataFormat = CF) -> PoolResult:
    return _global_max(x, 3, keepdims, return_indices, data_format)


def global_avg_pool1d_backward(grad_output: np.ndarray, input_shape: Shape,
                               data_format: DataFormat = CF) -> np.ndarray:
    return _global_avg_backward(grad_output, input_shape, 1, data_format)


def global_avg_pool2d_backward(grad_output: np.ndarray, input_shape: Shape,
                               data_format: DataFormat = CF) -> np.ndarray:
    return _global_avg_backward(grad_output, input_shape, 2, data_format)


def global_avg_pool3d_backward(grad_output: np.ndarray, input_shape: Shape,
                               data_format: DataFormat = CF) -> np.ndarray:
    return _global_avg_backward(grad_output, input_shape, 3, data_format)


def global_max_pool1d_backward(grad_output: np.ndarray, indices: np.ndarray, input_shape: Shape,
                               data_format: DataFormat = CF) -> np.ndarray:
    return _global_max_backward(grad_output, indices, input_shape, 1, data_format)


def global_max_pool2d_backward(grad_output: np.ndarray, indices: np.ndarray, input_shape: Shape,
                               data_format: DataFormat = CF) -> np.ndarray:
    return _global_max_backward(grad_output, indices, input_shape, 2, data_format)


def global_max_pool3d_backward(grad_output: np.ndarray, indices: np.ndarray, input_shape: Shape,
                               data_format: DataFormat = CF) -> np.ndarray:
    return _global_max_backward(grad_output, indices, input_shape, 3, data_format)


# ----------------------------------------------------------------------------- max unpooling

def _max_unpool(x, indices, rank, kernel_size, stride, padding, output_size, data_format):
    dtype = getattr(x, "dtype", None)
    can = _prepare(x, rank, data_format, "max")
    indices = _check_indices(indices, x, rank)
    out = unpool_size(_spatial(can, rank), rank, kernel_size, stride, padding, output_size)
    idx5 = can.conform(to_canonical(indices, rank, data_format).view)
    y5 = can.empty(_lift(out), can.view.dtype)
    in_plane, out_plane = math.prod(can.spatial), math.prod(out)
    if y5.size and can.view.size:
        nt = threads_for(y5.nbytes + idx5.nbytes, can.n * (can.c if can.order == "cf" else 1))
        if can.order == "cf":
            bad = _unpool.unpool_forward_cf(can.flat(), can.flat(idx5), can.flat(y5),
                                            can.n * can.c, in_plane, out_plane, nt)
        else:
            bad = _unpool.unpool_forward_cl(can.flat(), can.flat(idx5), can.flat(y5), can.n,
                                            can.c, in_plane, out_plane, nt)
        _raise_bad_indices(bad, "indices", out_plane)
    elif y5.size:
        y5[...] = 0
    # An empty output plane (e.g. the default size of a 1-cell input with padding) is returned
    # empty without looking at the indices, as PyTorch does: nothing is written.
    return _finish(can, y5, dtype)


def _max_unpool_backward(grad_output, indices, rank, data_format):
    data_format = check_data_format(data_format)
    grad_output = _check_grad(grad_output, rank, data_format)
    indices = check_array(indices, "indices", rank)
    if indices.dtype != np.int64:
        raise TypeError(f"indices must have dtype int64, got {indices.dtype}")
    dtype = grad_output.dtype
    can = to_canonical(grad_output.astype(kernel_dtype(grad_output, "grad_output", "float"),
                                          copy=False), rank, data_format)
    ican = to_canonical(indices, rank, data_format)
    if (ican.n, ican.c) != (can.n, can.c) or ican.batched != can.batched:
        raise ValueError(f"indices.shape={indices.shape} is inconsistent with "
                         f"grad_output.shape={grad_output.shape}")
    idx5 = can.conform(ican.view)
    gx5 = can.empty(ican.spatial, can.view.dtype)
    in_plane, out_plane = math.prod(ican.spatial), math.prod(can.spatial)
    if gx5.size:
        nt = threads_for(gx5.nbytes + idx5.nbytes, gx5.size)
        if can.order == "cf":
            bad = _unpool.unpool_backward_cf(can.flat(), can.flat(idx5), can.flat(gx5),
                                             can.n * can.c, in_plane, out_plane, nt)
        else:
            bad = _unpool.unpool_backward_cl(can.flat(), can.flat(idx5), can.flat(gx5), can.n,
                                             can.c, in_plane, out_plane, nt)
        _raise_bad_indices(bad, "indices", out_plane)
    return _finish(can, gx5, dtype)


def max_unpool1d(x: np.ndarray, indices: np.ndarray, kernel_size: IntOrTuple,
                 stride: Optional[IntOrTuple] = None, padding: IntOrTuple = 0,
                 output_size: Optional[Shape] = None, data_format: DataFormat = CF) -> np.ndarray:
    return _max_unpool(x, indices, 1, kernel_size, stride, padding, output_size, data_format)


def max_unpool2d(x: np.ndarray, indices: np.ndarray, kernel_size: IntOrTuple,
                 stride: Optional[IntOrTuple] = None, padding: IntOrTuple = 0,
                 output_size: Optional[Shape] = None, data_format: DataFormat = CF) -> np.ndarray:
    return _max_unpool(x, indices, 2, kernel_size, stride, padding, output_size, data_format)


def max_unpool3d(x: np.ndarray, indices: np.ndarray, kernel_size: IntOrTuple,
                 stride: Optional[IntOrTuple] = None, padding: IntOrTuple = 0,
                 output_size: Optional[Shape] = None, data_format: DataFormat = CF) -> np.ndarray:
    return _max_unpool(x, indices, 3, kernel_size, stride, padding, output_size, data_format)


def max_unpool1d_backward(grad_output: np.ndarray, indices: np.ndarray,
                          data_format: DataFormat = CF) -> np.ndarray:
    return _max_unpool_backward(grad_output, indices, 1, data_format)


def max_unpool2d_backward(grad_output: np.ndarray, indices: np.ndarray,
                          data_format: DataFormat = CF) -> np.ndarray:
    return _max_unpool_backward(grad_output, indices, 2, data_format)


def max_unpool3d_backward(grad_output: np.ndarray, indices: np.ndarray,
                          data_format: DataFormat = CF) -> np.ndarray:
    return _max_unpool_backward(grad_output, indices, 3, data_format)


# ----------------------------------------------------------------------------- types and docs
# Aliases used by the public signatures above (annotations stay strings under
# `from __future__ import annotations`, so they may be defined here), and the numpydoc docstrings,
# written once per operator family in _docs.py and filled per rank. (Imported here, not at the
# top, to keep this block separate from the kernels' code.)
from typing import Literal, Optional, Tuple, Union  # noqa: E402

from . import _docs  # noqa: E402

IntOrTuple = Union[int, Tuple[int, ...]]
Padding = Union[int, Tuple[int, ...], Literal["same", "valid"]]
DataFormat = Literal["channels_first", "channels_last"]
Shape = Tuple[int, ...]
OutputSize = Union[int, Tuple[Optional[int], ...]]
PoolResult = Union[np.ndarray, Tuple[np.ndarray, np.ndarray]]

_docs.attach(globals())
