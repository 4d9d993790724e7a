"""Max unpooling backward, 1-d to 3-d: the gather of pyx/_unpool.pyx, in the plans' call
convention through unpool.py's `_Unpool`.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from . import _unpool
from ._layout import check_array, check_data_format, to_canonical
from ._plan import PLANS, Plan
from ._steps import (CF, DataFormat, check_grad, destination, grad_source, index_source, layout,
                     prepare_grad)
from .unpool import _sizes, _Unpool


def _max_unpool_backward(grad_output, indices, rank, data_format, out=None):
    key = None
    if (type(grad_output) is np.ndarray and type(indices) is np.ndarray
            and type(data_format) is str):
        key = ("max_unpool_backward", grad_output.shape, grad_output.strides, grad_output.dtype,
               indices.shape, indices.strides, indices.dtype, rank, data_format)
    plan = PLANS.get(key)
    if plan is None:
        plan = PLANS.add(key, _max_unpool_backward_plan(grad_output, indices, rank, data_format))
    return plan.run(grad_output, indices, out)


def _max_unpool_backward_plan(grad_output, indices, rank, data_format) -> Plan:
    data_format = check_data_format(data_format)
    grad = check_grad(grad_output, rank)
    ind = check_array(indices, "indices", rank)
    if ind.dtype != np.int64:
        raise TypeError(f"indices must have dtype int64, got {ind.dtype}")
    can = prepare_grad(grad, rank, data_format)
    ican = to_canonical(ind, rank, data_format)
    if (ican.n, ican.c) != (can.n, can.c) or ican.batched != can.batched:
        raise ValueError(f"indices.shape={ind.shape} is inconsistent with "
                         f"grad_output.shape={grad.shape}")
    lay = layout(can)
    idx5 = lay.conform(ican.view)
    in_plane = ican.spatial[0] * ican.spatial[1] * ican.spatial[2]
    out_plane = can.spatial[0] * can.spatial[1] * can.spatial[2]
    size = can.n * can.c * in_plane
    fn = _unpool.unpool_backward_cl if can.order == "cl" else _unpool.unpool_backward_cf
    return Plan(_Unpool(fn, *_sizes(can, in_plane, out_plane)) if size else None,
                nbytes=size * can.view.dtype.itemsize + idx5.nbytes, items=size,
                source=grad_source(grad_output, can),
                b_source=index_source(indices, can, idx5),
                bound=out_plane, inputs=("grad_output", "indices"),
                **destination(can, ican.spatial, grad.dtype))


def max_unpool1d_backward(grad_output: np.ndarray, indices: np.ndarray,
                          data_format: DataFormat = CF, *,
                          out: Optional[np.ndarray] = None) -> np.ndarray:
    """Gradient of 1-d max unpooling with respect to its input values.

    ``grad_x[i] = grad_output[indices[i]]`` within each plane.

    Parameters
    ----------
    grad_output : numpy.ndarray
        The gradient of the forward output (its shape and data format), floating point.
    indices : numpy.ndarray of int64
        The forward's ``return_indices=True`` output; an index outside the plane raises.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Where the channel axis is; the result has the same data format and memory order.
    out : numpy.ndarray, optional, keyword-only
        Where to write the gradient, which is returned (the user guide: "Writing into out=").

    Returns
    -------
    grad_x : numpy.ndarray
        Same shape as ``indices``.

    Raises
    ------
    TypeError, ValueError
        For a bad argument, as in ``max_unpool2d_backward``.

    See Also
    --------
    cypool.max_unpool2d_backward : The same operator in 2-d.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.arange(8, dtype=np.float32).reshape(1, 1, 8)
    >>> y, idx = cypool.max_pool1d(x, 2, return_indices=True)
    >>> g = cypool.max_unpool1d_backward(np.ones((1, 1, 8), np.float32), idx)
    >>> g.shape, float(g.sum())
    ((1, 1, 4), 4.0)
    """
    return _max_unpool_backward(grad_output, indices, 1, data_format, out=out)


def max_unpool2d_backward(grad_output: np.ndarray, indices: np.ndarray,
                          data_format: DataFormat = CF, *,
                          out: Optional[np.ndarray] = None) -> np.ndarray:
    """Gradient of 2-d max unpooling with respect to its input values.

    ``grad_x[i] = grad_output[indices[i]]`` within each plane.

    Parameters
    ----------
    grad_output : numpy.ndarray
        The gradient of the forward output (its shape and data format), floating point.
    indices : numpy.ndarray of int64
        The forward's ``return_indices=True`` output; an index outside the plane raises.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Where the channel axis is; the result has the same data format and memory order.
    out : numpy.ndarray, optional, keyword-only
        Where to write the gradient, which is returned (the user guide: "Writing into out=").

    Returns
    -------
    grad_x : numpy.ndarray
        Same shape as ``indices``.

    Raises
    ------
    TypeError
        If ``grad_output`` is not a floating-point numpy.ndarray or ``indices`` is not int64.
    ValueError
        If the shapes disagree, an index lies outside the plane of ``grad_output``,
        ``data_format`` is unknown, or ``out`` does not fit.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.arange(64, dtype=np.float32).reshape(1, 1, 8, 8)
    >>> y, idx = cypool.max_pool2d(x, 2, return_indices=True)
    >>> g = cypool.max_unpool2d_backward(np.ones((1, 1, 8, 8), np.float32), idx)
    >>> g.shape, float(g.sum())
    ((1, 1, 4, 4), 16.0)
    """
    return _max_unpool_backward(grad_output, indices, 2, data_format, out=out)


def max_unpool3d_backward(grad_output: np.ndarray, indices: np.ndarray,
                          data_format: DataFormat = CF, *,
                          out: Optional[np.ndarray] = None) -> np.ndarray:
    """Gradient of 3-d max unpooling with respect to its input values.

    ``grad_x[i] = grad_output[indices[i]]`` within each plane.

    Parameters
    ----------
    grad_output : numpy.ndarray
        The gradient of the forward output (its shape and data format), floating point.
    indices : numpy.ndarray of int64
        The forward's ``return_indices=True`` output; an index outside the plane raises.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Where the channel axis is; the result has the same data format and memory order.
    out : numpy.ndarray, optional, keyword-only
        Where to write the gradient, which is returned (the user guide: "Writing into out=").

    Returns
    -------
    grad_x : numpy.ndarray
        Same shape as ``indices``.

    Raises
    ------
    TypeError, ValueError
        For a bad argument, as in ``max_unpool2d_backward``.

    See Also
    --------
    cypool.max_unpool2d_backward : The same operator in 2-d.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.arange(512, dtype=np.float32).reshape(1, 1, 8, 8, 8)
    >>> y, idx = cypool.max_pool3d(x, 2, return_indices=True)
    >>> g = cypool.max_unpool3d_backward(np.ones((1, 1, 8, 8, 8), np.float32), idx)
    >>> g.shape, float(g.sum())
    ((1, 1, 4, 4, 4), 64.0)
    """
    return _max_unpool_backward(grad_output, indices, 3, data_format, out=out)
