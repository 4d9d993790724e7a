"""Dask bridge: max and average pooling of chunked (larger than memory) dask arrays.

Import it explicitly (``import cypool.dask``); ``import cypool`` never imports dask.

``cypool.dask.max_pool2d(x, ...)`` takes the arguments of ``cypool.max_pool2d`` and returns a lazy
dask array equal, element for element (values and indices, bit for bit), to what
``cypool.max_pool2d(x.compute(), ...)`` returns: for any chunking along any axes, overlapping
windows (stride < kernel), dilation, integer, ``"same"`` and ``"valid"`` padding, and ``ceil_mode``.

How windows that cross chunk boundaries are handled (a halo, not a re-chunking): along each spatial
axis the output is cut where the input is cut (output ``o`` goes with the input chunk holding its
window's first cell), and each output block is computed by one in-memory cypool call on the input
slice ``[a, b)`` its windows read: its own chunk plus a halo of ``dilation*(kernel-1)+1-stride``
cells from the next chunk (fewer when windows do not overlap), plus up to ``stride-1`` cells so that
``a`` is a multiple of the stride and ``b`` is congruent to the axis length modulo the stride. With
those two congruences the slice's own window grid, padding included (also the asymmetric
``"same"`` padding, which cypool derives from the length modulo the stride), is the global grid
shifted by ``a / stride`` outputs, so the in-memory kernel is simply reused and its edge outputs
that would see the slice's artificial borders are dropped. Re-chunking to window-aligned boundaries
instead cannot work for overlapping windows without duplicating data anyway, and moves whole chunks
whenever the existing boundaries are not aligned; the halo moves only a thin slab per boundary.

Batch and channel axes keep their chunks. Returned indices are converted to positions in the whole
``(n, c)`` plane, as the in-memory call gives them. Adaptive pooling is not offered: its bins are
not a fixed window grid, so one output block's bins are not the bins of a slice. Global pooling is a
plain dask reduction (``x.max(axis=...)`` / ``x.mean(axis=...)``).
"""
from __future__ import annotations

from typing import Optional, Sequence, Union

import dask.array as da
import numpy as np

from . import pooling as _P
from ._geometry import pool_geometry
from ._layout import check_data_format

__all__ = ["max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d",
           "block_plan"]

IntOrTuple = Union[int, Sequence[int]]
Padding = Union[int, Sequence[int], str]


class _AxisPlan:
    """How one spatial axis is cut: output blocks, their input slices and local offsets."""

    def __init__(self, size, in_chunks, out_size, k, s, lo, d):
        dk = d * (k - 1) + 1
        bounds = np.cumsum((0,) + tuple(in_chunks))
        cuts = [min(out_size, max(0, -(-(int(c) + lo) // s))) for c in bounds[1:-1]]
        edges = sorted(set([0, *cuts, out_size]))
        self.out_chunks = tuple(e1 - e0 for e0, e1 in zip(edges[:-1], edges[1:]))
        self.blocks = []   # (o0, o1, a, b) per output block
        for o0, o1 in zip(edges[:-1], edges[1:]):
            start = o0 * s - lo
            a = max(0, start) // s * s
            need = max(min(size, (o1 - 1) * s - lo + dk), min(size, a + dk))
            b = size - (size - need) // s * s      # smallest b >= need with b = size (mod s)
            while b - a < min(dk, size) and a > 0:   # avg_pool3d refuses slices under a window
                a = max(0, a - s)
            self.blocks.append((o0, o1, a, b))
        self.size, self.out_size, self.k, self.s, self.lo, self.d = size, out_size, k, s, lo, d

    @property
    def piece_chunks(self):
        return tuple(b - a for _, _, a, b in self.blocks)

    def first_cell(self, o0, o1):
        """Per output: the first real cell of its window and whether it has none (dilation)."""
        o = np.arange(o0, o1)
        start = o * self.s - self.lo
        first = np.where(start < 0, start + (-start + self.d - 1) // self.d * self.d, start)
        stop = np.minimum(start + self.d * (self.k - 1) + 1, self.size)
        return first, first >= stop


def _spatial_axes(ndim: int, rank: int, data_format: str) -> list:
    if data_format == "channels_last":
        return list(range(ndim - rank - 1, ndim - 1))
    return list(range(ndim - rank, ndim))


def _check(x, rank, data_format):
    if not isinstance(x, da.Array):
        raise TypeError(f"x must be a dask.array.Array, got {type(x).__name__} "
                        f"(use cypool.max_pool{rank}d for NumPy arrays)")
    data_format = check_data_format(data_format)
    if x.ndim not in (rank + 1, rank + 2):
        raise ValueError(f"x must have {rank + 1} (unbatched) or {rank + 2} (batched) dimensions "
                         f"for {rank}-d pooling, got x.shape={x.shape}")
    if any(np.isnan(c) for ch in x.chunks for c in ch):
        raise ValueError("x has unknown chunk sizes; call x.compute_chunk_sizes() first")
    return data_format


def block_plan(x: da.Array, rank: int, kernel_size: IntOrTuple,
               stride: Optional[IntOrTuple] = None, padding: Padding = 0,
               dilation: IntOrTuple = 1, ceil_mode: bool = False,
               data_format: str = "channels_first") -> list:
    """Per spatial axis, the (output start, output stop, input start, input stop) of each block.

    Shows the halo each output block reads; ``max_pool*``/``avg_pool*`` use this plan.
    """
    data_format = _check(x, rank, data_format)
    axes = _spatial_axes(x.ndim, rank, data_format)
    return [p.blocks for p in _plans(x, rank, axes, kernel_size, stride, padding, dilation,
                                     ceil_mode)]


def _plans(x, rank, axes, kernel_size, stride, padding, dilation, ceil_mode):
    spatial = tuple(x.shape[a] for a in axes)
    geo = pool_geometry(spatial, rank, kernel_size, stride, padding, dilation, ceil_mode)
    t = slice(3 - rank, 3)
    return [_AxisPlan(L, x.chunks[ax], o, k, s, lo, d) for ax, L, o, k, s, lo, d in
            zip(axes, spatial, geo.out_size[t], geo.kernel[t], geo.stride[t], geo.pad_begin[t],
                geo.dilation[t])]


def _pieces(x, axes, plans):
    """x with each spatial axis re-cut into the (overlapping) input slices of the output blocks."""
    for ax, plan in zip(axes, plans):
        index = [slice(None)] * x.ndim
        parts = []
        for _, _, a, b in plan.blocks:
            index[ax] = slice(a, b)
            parts.append(x[tuple(index)])
        x = da.concatenate(parts, axis=ax) if len(parts) > 1 else parts[0]
        x = x.rechunk({ax: plan.piece_chunks})
    return x


def _globalize(idx, axes, plans, where):
    """Slice-local plane indices -> positions in the whole plane (rows of the global shape)."""
    starts = [plan.blocks[w][2] for plan, w in zip(plans, where)]
    local_dims = [plan.blocks[w][3] - plan.blocks[w][2] for plan, w in zip(plans, where)]
    global_dims = [plan.size for plan in plans]
    # A plane index is sum(coord_i * stride_i): decode with the slice's dims, re-encode with the
    # plane's. A window holding no cell (dilation) has an index past the plane, built from the
    # first dilated position of each axis; it is rebuilt from the global geometry instead.
    empty = np.zeros(1, bool)
    fallback = np.zeros(1, np.int64)
    strides = [int(np.prod(local_dims[i + 1:])) for i in range(len(local_dims))]
    gstrides = [int(np.prod(global_dims[i + 1:])) for i in range(len(global_dims))]
    for i, (plan, w) in enumerate(zip(plans, where)):
        o0, o1 = plan.blocks[w][:2]
        first, none = plan.first_cell(o0, o1)
        shape = [1] * idx.ndim
        shape[axes[i]] = o1 - o0
        empty = empty | none.reshape(shape)
        fallback = fallback + first.reshape(shape) * gstrides[i]
    safe = np.where(empty, 0, idx)
    out = np.zeros(idx.shape, np.int64)
    for i in range(len(plans)):
        c, safe = np.divmod(safe, strides[i])
        out += (c + starts[i]) * gstrides[i]
    return np.where(empty, fallback, out)


def _pool_block(block, fn, args, axes, plans, return_indices, block_info=None):
    where = [block_info[0]["chunk-location"][ax] for ax in axes]
    res = fn(block, **args)
    y, idx = res if return_indices else (res, None)
    keep = [slice(None)] * block.ndim
    for ax, plan, w in zip(axes, plans, where):
        o0, o1, a, _ = plan.blocks[w]
        j0 = o0 - a // plan.s
        keep[ax] = slice(j0, j0 + o1 - o0)
    keep = tuple(keep)
    y = np.ascontiguousarray(y[keep])
    if not return_indices:
        return y
    return y, _globalize(np.ascontiguousarray(idx[keep]), axes, plans, where)


def _pool(x, rank, family, args, return_indices, data_format):
    data_format = _check(x, rank, data_format)
    axes = _spatial_axes(x.ndim, rank, data_format)
    plans = _plans(x, rank, axes, args["kernel_size"], args.get("stride"), args.get("padding", 0),
                   args.get("dilation", 1), args.get("ceil_mode", False))
    fn = getattr(_P, f"{family}{rank}d")
    if family == "avg_pool" and rank == 3 and any(p.size < p.k for p in plans):
        raise ValueError(f"input spatial size {tuple(p.size for p in plans)} is smaller than "
                         f"kernel_size={args['kernel_size']!r} (avg_pool3d)")
    args = dict(args, data_format=data_format)
    if family == "max_pool":
        args["return_indices"] = return_indices
    # Every argument is checked now, not at compute time: one call on a window-sized array.
    dummy_shape = [1] * x.ndim
    for ax, p in zip(axes, plans):
        dummy_shape[ax] = p.d * (p.k - 1) + 1
    probe = fn(np.zeros(dummy_shape, x.dtype), **args)
    dtype = (probe[0] if return_indices else probe).dtype
    chunks = list(x.chunks)
    for ax, p in zip(axes, plans):
        chunks[ax] = p.out_chunks
    pieces = _pieces(x, axes, plans)
    meta = np.empty((0,) * x.ndim, dtype)
    kw = dict(fn=fn, args=args, axes=axes, plans=plans, return_indices=return_indices)
    if not return_indices:
        return da.map_blocks(_pool_block, pieces, chunks=tuple(chunks), dtype=dtype, meta=meta,
                             token=f"cypool-{family}{rank}d", **kw)
    both = da.map_blocks(_pool_block, pieces, chunks=tuple(chunks), dtype=object,
                         meta=np.empty((0,) * x.ndim, object), token=f"cypool-{family}{rank}d",
                         **kw)
    y = both.map_blocks(lambda t: t[0], dtype=dtype, meta=meta, token=f"cypool-{family}-values")
    i = both.map_blocks(lambda t: t[1], dtype=np.int64, meta=np.empty((0,) * x.ndim, np.int64),
                        token=f"cypool-{family}-indices")
    return y, i


def max_pool1d(x: da.Array, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None,
               padding: Padding = 0, dilation: IntOrTuple = 1, ceil_mode: bool = False,
               return_indices: bool = False, data_format: str = "channels_first"):
    """``cypool.max_pool1d`` of a dask array; same arguments and results (lazily)."""
    return _pool(x, 1, "max_pool", dict(kernel_size=kernel_size, stride=stride, padding=padding,
                                        dilation=dilation, ceil_mode=ceil_mode),
                 return_indices, data_format)


def max_pool2d(x: da.Array, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None,
               padding: Padding = 0, dilation: IntOrTuple = 1, ceil_mode: bool = False,
               return_indices: bool = False, data_format: str = "channels_first"):
    """``cypool.max_pool2d`` of a dask array; same arguments and results (lazily).

    Examples
    --------
    >>> import dask.array as da, numpy as np, cypool, cypool.dask
    >>> x = da.from_array(np.arange(2 * 3 * 10 * 10, dtype=np.float32).reshape(2, 3, 10, 10),
    ...                   chunks=(1, 2, 4, 3))
    >>> y = cypool.dask.max_pool2d(x, 3, stride=2, padding=1)
    >>> y.chunks
    ((1, 1), (2, 1), (3, 2), (2, 2, 1))
    >>> bool((y.compute() == cypool.max_pool2d(x.compute(), 3, stride=2, padding=1)).all())
    True
    """
    return _pool(x, 2, "max_pool", dict(kernel_size=kernel_size, stride=stride, padding=padding,
                                        dilation=dilation, ceil_mode=ceil_mode),
                 return_indices, data_format)


def max_pool3d(x: da.Array, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None,
               padding: Padding = 0, dilation: IntOrTuple = 1, ceil_mode: bool = False,
               return_indices: bool = False, data_format: str = "channels_first"):
    """``cypool.max_pool3d`` of a dask array; same arguments and results (lazily)."""
    return _pool(x, 3, "max_pool", dict(kernel_size=kernel_size, stride=stride, padding=padding,
                                        dilation=dilation, ceil_mode=ceil_mode),
                 return_indices, data_format)


def avg_pool1d(x: da.Array, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None,
               padding: Padding = 0, ceil_mode: bool = False, count_include_pad: bool = True,
               data_format: str = "channels_first") -> da.Array:
    """``cypool.avg_pool1d`` of a dask array; same arguments and results (lazily)."""
    return _pool(x, 1, "avg_pool", dict(kernel_size=kernel_size, stride=stride, padding=padding,
                                        ceil_mode=ceil_mode, count_include_pad=count_include_pad),
                 False, data_format)


def avg_pool2d(x: da.Array, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None,
               padding: Padding = 0, ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: Optional[int] = None,
               data_format: str = "channels_first") -> da.Array:
    """``cypool.avg_pool2d`` of a dask array; same arguments and results (lazily)."""
    return _pool(x, 2, "avg_pool", dict(kernel_size=kernel_size, stride=stride, padding=padding,
                                        ceil_mode=ceil_mode, count_include_pad=count_include_pad,
                                        divisor_override=divisor_override),
                 False, data_format)


def avg_pool3d(x: da.Array, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None,
               padding: Padding = 0, ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: Optional[int] = None,
               data_format: str = "channels_first") -> da.Array:
    """``cypool.avg_pool3d`` of a dask array; same arguments and results (lazily)."""
    return _pool(x, 3, "avg_pool", dict(kernel_size=kernel_size, stride=stride, padding=padding,
                                        ceil_mode=ceil_mode, count_include_pad=count_include_pad,
                                        divisor_override=divisor_override),
                 False, data_format)
