"""Adaptive average and max pooling backward, 1-d to 3-d: `_adaptive.AdaptiveCall`
(pyx/_adaptive.pyx) run backward for the average; the max's gradient is the index scatter of max
pooling (max_backward.py).
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from . import _adaptive
from ._geometry import adaptive_geometry
from ._layout import check_data_format
from ._plan import PLANS, Plan, plain_shape
from ._steps import (CF, DataFormat, Shape, check_grad, check_input_shape, destination,
                     grad_source, plan_channel_block, prepare_grad)
from .max_backward import _max_backward


def _adaptive_avg_backward(grad_output, input_shape, rank, data_format, out=None):
    key = None
    if (type(grad_output) is np.ndarray and plain_shape(input_shape)
            and type(data_format) is str):
        key = ("adaptive_avg_backward", grad_output.shape, grad_output.strides,
               grad_output.dtype, input_shape, rank, data_format)
    plan = PLANS.get(key)
    if plan is None:
        plan = PLANS.add(key, _adaptive_avg_backward_plan(grad_output, input_shape, rank,
                                                          data_format))
    return plan.run(grad_output, None, out)


def _adaptive_avg_backward_plan(grad_output, input_shape, rank, data_format) -> Plan:
    data_format = check_data_format(data_format)
    grad = check_grad(grad_output, rank)
    spatial = check_input_shape(input_shape, grad, rank, data_format)
    # the global average's gradient (one cell a plane) is read in float16 and bfloat16 as it is
    g_spatial = grad.shape[-rank - 1:-1] if data_format == "channels_last" else grad.shape[-rank:]
    half = all(s == 1 for s in g_spatial)
    can = prepare_grad(grad, rank, data_format, half=half)
    if min(can.spatial[3 - rank:]) < 1:  # PyTorch refuses an empty gradient plane here
        raise ValueError(f"grad_output.shape={grad.shape} has an empty spatial axis")
    geo = adaptive_geometry(spatial, rank, tuple(can.spatial[3 - rank:]), minimum=1)
    cl = can.order == "cl"
    size = can.n * can.c * geo.in_size[0] * geo.in_size[1] * geo.in_size[2]
    nbytes = size * can.view.dtype.itemsize + can.view.nbytes
    kernel = None
    if size:
        c_block = plan_channel_block(can, nbytes)
        kernel = _adaptive.AdaptiveCall("avg_backward", geo.window(),
                                        can.n if cl else can.n * can.c, can.c, c_block, cl,
                                        can.view.dtype.name)
    return Plan(kernel, nbytes=nbytes, items=can.n * can.c, inputs=("grad_output",),
                source=grad_source(grad_output, can, half=half),
                **destination(can, geo.in_size, grad.dtype))


def adaptive_avg_pool1d_backward(grad_output: np.ndarray, input_shape: Shape,
                                 data_format: DataFormat = CF, *,
                                 out: Optional[np.ndarray] = None) -> np.ndarray:
    """Gradient of 1-d adaptive average pooling.

    The output size is read from ``grad_output``'s shape.

    Parameters
    ----------
    grad_output : numpy.ndarray
        The gradient of the forward output (its shape and data format), floating point.
    input_shape : tuple of ints
        Shape of the forward input (``x.shape``), in the same data format.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Where the channel axis is; the result has the same data format and memory order.
    out : numpy.ndarray, optional, keyword-only
        Where to write the input gradient, which is returned (the user guide: "Writing into
        out="): a training loop can reuse one gradient buffer.

    Returns
    -------
    grad_x : numpy.ndarray
        Shape ``input_shape``, dtype of ``grad_output``.

    Raises
    ------
    TypeError, ValueError
        For a bad argument, as in ``adaptive_avg_pool2d_backward``.

    See Also
    --------
    cypool.adaptive_avg_pool2d_backward : The same operator in 2-d.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> gx = cypool.adaptive_avg_pool1d_backward(np.ones((1, 1, 3)), (1, 1, 6))
    >>> gx.shape, float(gx.sum())
    ((1, 1, 6), 3.0)
    """
    return _adaptive_avg_backward(grad_output, input_shape, 1, data_format, out=out)


def adaptive_avg_pool2d_backward(grad_output: np.ndarray, input_shape: Shape,
                                 data_format: DataFormat = CF, *,
                                 out: Optional[np.ndarray] = None) -> np.ndarray:
    """Gradient of 2-d adaptive average pooling.

    The output size is read from ``grad_output``'s shape.

    Parameters
    ----------
    grad_output : numpy.ndarray
        The gradient of the forward output (its shape and data format), floating point.
    input_shape : tuple of ints
        Shape of the forward input (``x.shape``), in the same data format.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Where the channel axis is; the result has the same data format and memory order.
    out : numpy.ndarray, optional, keyword-only
        Where to write the input gradient, which is returned (the user guide: "Writing into
        out="): a training loop can reuse one gradient buffer.

    Returns
    -------
    grad_x : numpy.ndarray
        Shape ``input_shape``, dtype of ``grad_output``.

    Raises
    ------
    TypeError
        If ``grad_output`` is not a floating-point numpy.ndarray or ``input_shape`` is not a tuple
        of ints.
    ValueError
        If the shapes disagree, ``grad_output`` has an empty spatial axis, ``data_format`` is
        unknown, or ``out`` does not fit.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> gx = cypool.adaptive_avg_pool2d_backward(np.ones((1, 1, 3, 3)), (1, 1, 6, 6))
    >>> gx.shape, float(gx.sum())
    ((1, 1, 6, 6), 9.0)
    """
    return _adaptive_avg_backward(grad_output, input_shape, 2, data_format, out=out)


def adaptive_avg_pool3d_backward(grad_output: np.ndarray, input_shape: Shape,
                                 data_format: DataFormat = CF, *,
                                 out: Optional[np.ndarray] = None) -> np.ndarray:
    """Gradient of 3-d adaptive average pooling.

    The output size is read from ``grad_output``'s shape.

    Parameters
    ----------
    grad_output : numpy.ndarray
        The gradient of the forward output (its shape and data format), floating point.
    input_shape : tuple of ints
        Shape of the forward input (``x.shape``), in the same data format.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Where the channel axis is; the result has the same data format and memory order.
    out : numpy.ndarray, optional, keyword-only
        Where to write the input gradient, which is returned (the user guide: "Writing into
        out="): a training loop can reuse one gradient buffer.

    Returns
    -------
    grad_x : numpy.ndarray
        Shape ``input_shape``, dtype of ``grad_output``.

    Raises
    ------
    TypeError, ValueError
        For a bad argument, as in ``adaptive_avg_pool2d_backward``.

    See Also
    --------
    cypool.adaptive_avg_pool2d_backward : The same operator in 2-d.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> gx = cypool.adaptive_avg_pool3d_backward(np.ones((1, 1, 3, 3, 3)), (1, 1, 6, 6, 6))
    >>> gx.shape, float(gx.sum())
    ((1, 1, 6, 6, 6), 27.0)
    """
    return _adaptive_avg_backward(grad_output, input_shape, 3, data_format, out=out)


def adaptive_max_pool1d_backward(grad_output: np.ndarray, indices: np.ndarray, input_shape: Shape,
                                 data_format: DataFormat = CF, *,
                                 out: Optional[np.ndarray] = None) -> np.ndarray:
    """Gradient of 1-d adaptive max pooling.

    Parameters
    ----------
    grad_output : numpy.ndarray
        The gradient of the forward output (its shape and data format), floating point.
    indices : numpy.ndarray of int64
        The forward's ``return_indices=True`` output; an index outside the plane raises.
    input_shape : tuple of ints
        Shape of the forward input (``x.shape``), in the same data format.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Where the channel axis is; the result has the same data format and memory order.
    out : numpy.ndarray, optional, keyword-only
        Where to write the input gradient, which is returned (the user guide: "Writing into
        out="): a training loop can reuse one gradient buffer.

    Returns
    -------
    grad_x : numpy.ndarray
        Shape ``input_shape``, dtype of ``grad_output``.

    Raises
    ------
    TypeError, ValueError
        For a bad argument, as in ``adaptive_max_pool2d_backward``.

    See Also
    --------
    cypool.adaptive_max_pool2d_backward : The same operator in 2-d.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.arange(6, dtype=np.float32).reshape(1, 1, 6)
    >>> y, idx = cypool.adaptive_max_pool1d(x, 3, return_indices=True)
    >>> float(cypool.adaptive_max_pool1d_backward(np.ones_like(y), idx, x.shape).sum())
    3.0
    """
    return _max_backward(grad_output, indices, input_shape, 1, data_format, out=out)


def adaptive_max_pool2d_backward(grad_output: np.ndarray, indices: np.ndarray, input_shape: Shape,
                                 data_format: DataFormat = CF, *,
                                 out: Optional[np.ndarray] = None) -> np.ndarray:
    """Gradient of 2-d adaptive max pooling.

    Parameters
    ----------
    grad_output : numpy.ndarray
        The gradient of the forward output (its shape and data format), floating point.
    indices : numpy.ndarray of int64
        The forward's ``return_indices=True`` output; an index outside the plane raises.
    input_shape : tuple of ints
        Shape of the forward input (``x.shape``), in the same data format.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Where the channel axis is; the result has the same data format and memory order.
    out : numpy.ndarray, optional, keyword-only
        Where to write the input gradient, which is returned (the user guide: "Writing into
        out="): a training loop can reuse one gradient buffer.

    Returns
    -------
    grad_x : numpy.ndarray
        Shape ``input_shape``, dtype of ``grad_output``.

    Raises
    ------
    TypeError
        If an array is not a numpy.ndarray, ``grad_output`` is not floating point, ``indices`` is
        not int64, or ``input_shape`` is not a tuple of ints.
    ValueError
        If the shapes disagree, an index lies outside its plane, ``data_format`` is unknown, or
        ``out`` does not fit.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.arange(36, dtype=np.float32).reshape(1, 1, 6, 6)
    >>> y, idx = cypool.adaptive_max_pool2d(x, 3, return_indices=True)
    >>> float(cypool.adaptive_max_pool2d_backward(np.ones_like(y), idx, x.shape).sum())
    9.0
    """
    return _max_backward(grad_output, indices, input_shape, 2, data_format, out=out)


def adaptive_max_pool3d_backward(grad_output: np.ndarray, indices: np.ndarray, input_shape: Shape,
                                 data_format: DataFormat = CF, *,
                                 out: Optional[np.ndarray] = None) -> np.ndarray:
    """Gradient of 3-d adaptive max pooling.

    Parameters
    ----------
    grad_output : numpy.ndarray
        The gradient of the forward output (its shape and data format), floating point.
    indices : numpy.ndarray of int64
        The forward's ``return_indices=True`` output; an index outside the plane raises.
    input_shape : tuple of ints
        Shape of the forward input (``x.shape``), in the same data format.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Where the channel axis is; the result has the same data format and memory order.
    out : numpy.ndarray, optional, keyword-only
        Where to write the input gradient, which is returned (the user guide: "Writing into
        out="): a training loop can reuse one gradient buffer.

    Returns
    -------
    grad_x : numpy.ndarray
        Shape ``input_shape``, dtype of ``grad_output``.

    Raises
    ------
    TypeError, ValueError
        For a bad argument, as in ``adaptive_max_pool2d_backward``.

    See Also
    --------
    cypool.adaptive_max_pool2d_backward : The same operator in 2-d.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.arange(216, dtype=np.float32).reshape(1, 1, 6, 6, 6)
    >>> y, idx = cypool.adaptive_max_pool3d(x, 3, return_indices=True)
    >>> float(cypool.adaptive_max_pool3d_backward(np.ones_like(y), idx, x.shape).sum())
    27.0
    """
    return _max_backward(grad_output, indices, input_shape, 3, data_format, out=out)
