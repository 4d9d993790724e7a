"""Max pooling backward, 1-d to 3-d: the index scatter of pyx/_max.pyx (`_max.MaxBackward`),
which the gradients of adaptive, global, stochastic and blur-max pooling share.

Each public function is one plan look-up and one run (cypool._plan): `_max_backward_plan`
validates the arguments and prepares `_max.MaxBackward`.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from . import _max
from ._geometry import lift
from ._layout import check_data_format
from ._plan import PLANS, Plan, plain_shape
from ._steps import (CF, DataFormat, Shape, check_grad, check_indices, check_input_shape,
                     destination, grad_source, index_source, indices_in_order, layout,
                     plan_channel_block, prepare_grad)


def _max_backward(grad_output, indices, input_shape, rank, data_format, name="indices",
                  out=None):
    """Route gradients by plane-flat indices (max, adaptive max, global max, stochastic and
    blur-max pooling)."""
    key = None
    if (type(grad_output) is np.ndarray and type(indices) is np.ndarray
            and plain_shape(input_shape) and type(data_format) is str):
        key = ("max_backward", grad_output.shape, grad_output.strides, grad_output.dtype,
               indices.shape, indices.strides, indices.dtype, input_shape, rank, data_format,
               name)
    plan = PLANS.get(key)
    if plan is None:
        plan = PLANS.add(key, _max_backward_plan(grad_output, indices, input_shape, rank,
                                                 data_format, name))
    return plan.run(grad_output, indices, out)


def _max_backward_plan(grad_output, indices, input_shape, rank, data_format, name) -> Plan:
    data_format = check_data_format(data_format)
    grad = check_grad(grad_output, rank)
    ind = check_indices(indices, grad, rank, name)
    spatial = lift(check_input_shape(input_shape, grad, rank, data_format))
    can = prepare_grad(grad, rank, data_format, half=True)
    lay = layout(can)
    idx5 = indices_in_order(lay, ind)
    in_plane = spatial[0] * spatial[1] * spatial[2]
    out_plane = can.spatial[0] * can.spatial[1] * can.spatial[2]
    gx_size = can.n * can.c * in_plane
    nbytes = (gx_size * can.view.dtype.itemsize) + idx5.nbytes
    kernel = None
    if gx_size and can.view.size:
        cl = can.order == "cl"
        c_block = plan_channel_block(can, nbytes)
        kernel = _max.MaxBackward(can.n if cl else can.n * can.c, can.c, c_block, in_plane,
                                  out_plane, cl, can.view.dtype.name, tuple(spatial),
                                  tuple(can.spatial))
    return Plan(kernel, nbytes=nbytes, items=can.n * can.c, fill=gx_size > 0,
                source=grad_source(grad_output, can, half=True),
                b_source=index_source(indices, can, idx5),
                bound=in_plane, index_name=name, inputs=("grad_output", name),
                **destination(can, spatial, grad.dtype))


def max_pool1d_backward(grad_output: np.ndarray, indices: np.ndarray, input_shape: Shape,
                        data_format: DataFormat = CF, *,
                        out: Optional[np.ndarray] = None) -> np.ndarray:
    """Gradient of 1-d max pooling with respect to its input.

    Each ``grad_output`` entry is added to the input cell its index names; other cells get 0.

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
        Shape ``input_shape``, dtype of ``grad_output``, data format ``data_format``.

    Raises
    ------
    TypeError, ValueError
        For a bad argument, as in ``max_pool2d_backward``.

    See Also
    --------
    cypool.max_pool2d_backward : The same operator in 2-d.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.arange(8, dtype=np.float64).reshape(1, 1, 8)
    >>> y, idx = cypool.max_pool1d(x, 2, return_indices=True)
    >>> gx = cypool.max_pool1d_backward(np.ones_like(y), idx, x.shape)
    >>> gx.shape, float(gx.sum()), float(gx.reshape(-1)[-1])
    ((1, 1, 8), 4.0, 1.0)
    """
    return _max_backward(grad_output, indices, input_shape, 1, data_format, out=out)


def max_pool2d_backward(grad_output: np.ndarray, indices: np.ndarray, input_shape: Shape,
                        data_format: DataFormat = CF, *,
                        out: Optional[np.ndarray] = None) -> np.ndarray:
    """Gradient of 2-d max pooling with respect to its input.

    Each ``grad_output`` entry is added to the input cell its index names; other cells get 0.

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
        Shape ``input_shape``, dtype of ``grad_output``, data format ``data_format``.

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
    >>> x = np.arange(64, dtype=np.float64).reshape(1, 1, 8, 8)
    >>> y, idx = cypool.max_pool2d(x, 2, return_indices=True)
    >>> gx = cypool.max_pool2d_backward(np.ones_like(y), idx, x.shape)
    >>> gx.shape, float(gx.sum()), float(gx.reshape(-1)[-1])
    ((1, 1, 8, 8), 16.0, 1.0)
    """
    return _max_backward(grad_output, indices, input_shape, 2, data_format, out=out)


def max_pool3d_backward(grad_output: np.ndarray, indices: np.ndarray, input_shape: Shape,
                        data_format: DataFormat = CF, *,
                        out: Optional[np.ndarray] = None) -> np.ndarray:
    """Gradient of 3-d max pooling with respect to its input.

    Each ``grad_output`` entry is added to the input cell its index names; other cells get 0.

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
        Shape ``input_shape``, dtype of ``grad_output``, data format ``data_format``.

    Raises
    ------
    TypeError, ValueError
        For a bad argument, as in ``max_pool2d_backward``.

    See Also
    --------
    cypool.max_pool2d_backward : The same operator in 2-d.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.arange(512, dtype=np.float64).reshape(1, 1, 8, 8, 8)
    >>> y, idx = cypool.max_pool3d(x, 2, return_indices=True)
    >>> gx = cypool.max_pool3d_backward(np.ones_like(y), idx, x.shape)
    >>> gx.shape, float(gx.sum()), float(gx.reshape(-1)[-1])
    ((1, 1, 8, 8, 8), 64.0, 1.0)
    """
    return _max_backward(grad_output, indices, input_shape, 3, data_format, out=out)
