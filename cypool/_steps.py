"""The steps every operator family shares: check the arrays of a call, view them in the kernels'
memory order and dtype, and give results back in the caller's rank, data format and dtype.

Argument errors are raised here, by _geometry and by _layout, naming the parameter and its value.
The family modules (max.py, avg.py, ...) call these while they build a plan (cypool._plan).
"""
from __future__ import annotations

from functools import partial
from typing import Literal, Optional, Tuple, Union

import numpy as np

from . import _threads
from ._geometry import check_bool
from ._layout import (Canonical, cast, check_array, check_data_format, kernel_dtype,
                      shape_to_canonical, to_canonical)

# Aliases of the public signatures.
IntOrTuple = Union[int, Tuple[int, ...]]
Padding = Union[int, Tuple[int, ...], Literal["same", "valid"]]
DataFormat = Literal["channels_first", "channels_last"]
Shape = Tuple[int, ...]
OutputSize = Union[int, Tuple[Optional[int], ...]]
PoolResult = Union[np.ndarray, Tuple[np.ndarray, np.ndarray]]

CF = "channels_first"


def prepare(x, rank: int, data_format, family: str, name: str = "x",
            half: bool = False) -> Canonical:
    """Check x and view it as logical (N, C, D, H, W) in the kernel's dtype ("max" families take
    integers and bool, "float" families floats only; half: the kernel reads float16 and bfloat16
    natively)."""
    data_format = check_data_format(data_format)
    x = check_array(x, name, rank)
    spatial = x.shape[-rank - 1:-1] if data_format == "channels_last" else x.shape[-rank:]
    if 0 in spatial:
        raise ValueError(f"{name} must have non-zero spatial sizes, got {name}.shape={x.shape}")
    dtype = kernel_dtype(x, name, family, half)
    if x.dtype == np.bool_:
        x = x.view(np.uint8)
    elif x.dtype != dtype:
        x = cast(x, dtype)
    return to_canonical(x, rank, data_format)


def prepare_grad(grad_output, rank: int, data_format: str, name: str = "grad_output",
                 half: bool = False) -> Canonical:
    """A gradient (float16, bfloat16, float32, float64, any layout) as logical (N, C, D, H, W)
    in its kernel dtype (half: the kernel reads float16 and bfloat16 natively)."""
    grad_output = check_grad(grad_output, rank, name)
    dtype = kernel_dtype(grad_output, name, "float", half)
    if grad_output.dtype != dtype:
        grad_output = cast(grad_output, dtype)
    return to_canonical(grad_output, rank, data_format)


def check_grad(grad_output, rank: int, name: str = "grad_output") -> np.ndarray:
    grad_output = check_array(grad_output, name, rank)
    kernel_dtype(grad_output, name, "float")
    return grad_output


def check_indices(indices, like: np.ndarray, rank: int, name: str = "indices") -> np.ndarray:
    indices = check_array(indices, name, rank)
    if indices.dtype != np.int64:
        raise TypeError(f"{name} must have dtype int64, got {indices.dtype}")
    if indices.shape != like.shape:
        raise ValueError(f"{name}.shape={indices.shape} must equal the shape {like.shape} of the "
                         f"values it indexes")
    return indices


def check_input_shape(input_shape, grad: np.ndarray, rank: int, data_format: str) -> tuple:
    """input_shape's spatial sizes, after checking its N and C against grad_output's."""
    n, c, spatial, batched = shape_to_canonical(input_shape, rank, data_format)
    g_batched = grad.ndim == rank + 2
    gn = grad.shape[0] if g_batched else 1
    gc = grad.shape[-1] if data_format == "channels_last" else grad.shape[1 if g_batched else 0]
    if batched != g_batched or (n, c) != (gn, gc):
        raise ValueError(f"input_shape={tuple(input_shape)} is inconsistent with "
                         f"grad_output.shape={grad.shape} ({data_format})")
    return spatial


def result_dtype(dtype) -> np.dtype:
    """The dtype of a result computed for an input of `dtype`: the same, native-endian (as
    NumPy's ufuncs give)."""
    dtype = np.dtype(dtype)
    return dtype if dtype.isnative else dtype.newbyteorder("=")


def finish(can: Canonical, y5: np.ndarray, dtype) -> np.ndarray:
    """A logical 5-D kernel result in the caller's rank, data format and dtype."""
    dtype = result_dtype(dtype)
    y = can.give_back(y5)
    if y.dtype != dtype:
        y = y.view(np.bool_) if dtype == np.bool_ else cast(y, dtype)
    return y


def drop_spatial(y: np.ndarray, rank: int, data_format: str, keepdims) -> np.ndarray:
    """Global pooling's result without its size-1 spatial axes unless keepdims."""
    if check_bool(keepdims, "keepdims"):
        return y
    if data_format == "channels_last":
        return y.reshape(y.shape[:-rank - 1] + y.shape[-1:])
    return y.reshape(y.shape[:-rank])


def channel_block(n: int, c: int, n_threads: int) -> int:
    """Channels per work item of a channels-last backward: enough items for every thread, blocks
    wide enough for the channel loop to vectorise."""
    wanted = max(1, -(-2 * n_threads // max(n, 1)))
    blocks = max(1, min(wanted, -(-c // 16)))
    return max(1, -(-c // blocks))


def plan_channel_block(can: Canonical, nbytes: int) -> int:
    """The channel block a backward plan fixes for the thread count its size gets. It only splits
    the work into disjoint parts: any value gives the same result."""
    return channel_block(can.n, can.c, _threads.threads_for(nbytes, can.n * can.c))


def forward_items(can: Canonical, out_size: tuple) -> int:
    """A forward's independent work items (its output rows), the thread policy's input."""
    return can.n * out_size[0] * out_size[1] * (1 if can.order == "cl" else can.c)



# ----------------------------------------------------------------------------- plan layout
# What a plan keeps of a call's layout: never the caller's arrays (the cache must not keep them
# alive), only how to read and give back arrays of the same shapes, strides and dtypes.

def layout(can: Canonical) -> Canonical:
    """`can` without its array."""
    return Canonical(None, can.order, can.rank, can.data_format, can.batched)


def reads_as_given(given, can: Canonical, view: np.ndarray = None) -> bool:
    """Whether the kernel's flat input (can.flat(view)) is `given`'s own buffer, so a plan can
    hand the kernel `given` itself."""
    flat = can.flat(view)
    return (isinstance(given, np.ndarray) and given.dtype == flat.dtype
            and given.size == flat.size
            and given.__array_interface__["data"][0] == flat.__array_interface__["data"][0])


def flat_input(rank: int, data_format: str, family: str, x, half: bool = False) -> np.ndarray:
    """A plan's `source` for an x the kernel cannot read as given: converted and contiguous."""
    return prepare(x, rank, data_format, family, half=half).flat()


def flat_grad(rank: int, data_format: str, grad_output, half: bool = False) -> np.ndarray:
    """A plan's `source` for a gradient the kernel cannot read as given."""
    return prepare_grad(grad_output, rank, data_format, half=half).flat()


def input_source(x, can: Canonical, family: str, half: bool = False):
    """A plan's `source` for x: None when the kernel reads x as given, else its conversion
    (half: the kernel reads float16 and bfloat16 natively)."""
    return None if reads_as_given(x, can) else partial(flat_input, can.rank, can.data_format,
                                                        family, half=half)


def grad_source(grad_output, can: Canonical, half: bool = False):
    """A plan's `source` for a gradient: None when the kernel reads it as given."""
    return None if reads_as_given(grad_output, can) else partial(flat_grad, can.rank,
                                                                  can.data_format, half=half)


def index_source(indices, can: Canonical, idx5: np.ndarray):
    """A plan's `b_source` for indices (idx5: them in the kernel's order): None when the kernel
    reads them as given."""
    return None if reads_as_given(indices, can, idx5) else partial(flat_indices, layout(can))


def indices_in_order(lay: Canonical, indices: np.ndarray) -> np.ndarray:
    """Checked int64 indices as a logical 5-D array in the memory order of the call's kernel."""
    return lay.conform(to_canonical(indices, lay.rank, lay.data_format).view)


def flat_indices(lay: Canonical, indices) -> np.ndarray:
    """A plan's `index_source`: indices the kernel cannot read as given, in its memory order."""
    return lay.flat(indices_in_order(lay, check_array(indices, "indices", lay.rank)))


def give(lay: Canonical, dtype, keepdims: bool, buf: np.ndarray) -> np.ndarray:
    """A plan's `give`: the kernel's buffer ((N, C, D, H, W) or (N, D, H, W, C)) as the result in
    the caller's rank, data format and dtype."""
    y = finish(lay, buf if lay.order == "cf" else buf.transpose(0, 4, 1, 2, 3), dtype)
    return y if keepdims else drop_spatial(y, lay.rank, lay.data_format, False)


def destination(can: Canonical, spatial: tuple, dtype, keepdims: bool = True) -> dict:
    """The Plan fields of a result of logical spatial size `spatial` (three axes) and of the
    result dtype of `dtype`: the kernel writes the result itself when the call's memory order is
    its data format's and no dtype conversion follows, else a buffer that `give` turns into it."""
    rdtype = result_dtype(dtype)
    rshape = can.result_shape(spatial)
    if not keepdims:
        rank = can.rank
        rshape = (rshape[:-rank - 1] + rshape[-1:] if can.data_format == "channels_last"
                  else rshape[:-rank])
    natural = can.order == ("cl" if can.data_format == "channels_last" else "cf")
    if natural and can.view.dtype == rdtype:
        return dict(shape=rshape, dtype=rdtype, result_shape=rshape, result_dtype=rdtype)
    n, c, lay = can.n, can.c, layout(can)
    shape = (n, c, *spatial) if can.order == "cf" else (n, *spatial, c)
    return dict(shape=shape, dtype=can.view.dtype, result_shape=rshape, result_dtype=rdtype,
                give=partial(give, lay, rdtype, keepdims),
                give_indices=partial(give, lay, np.dtype(np.int64), keepdims))
