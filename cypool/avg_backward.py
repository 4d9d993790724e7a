"""Average pooling backward, 1-d to 3-d: `_avg.AvgCall` (pyx/_avg.pyx) run backward, with the
window arguments and divisor rule of the forward (avg.py).
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from . import _avg
from ._geometry import pool_geometry
from ._layout import check_data_format
from ._plan import PLANS, Plan, plain, plain_shape
from ._steps import (CF, DataFormat, IntOrTuple, Padding, Shape, check_grad, check_input_shape,
                     destination, grad_source, plan_channel_block, prepare_grad)
from .avg import _avg_args, _check_avg3d_input


def _avg_backward(grad_output, input_shape, rank, kernel_size, stride, padding, ceil_mode,
                  count_include_pad, divisor_override, data_format, out=None):
    key = None
    if (type(grad_output) is np.ndarray and plain_shape(input_shape)
            and type(ceil_mode) is bool and type(count_include_pad) is bool
            and (divisor_override is None or type(divisor_override) is int)
            and type(data_format) is str and (type(kernel_size) is int or plain(kernel_size))
            and (type(stride) is int or plain(stride))
            and (type(padding) is int or plain(padding))):
        key = ("avg_backward", grad_output.shape, grad_output.strides, grad_output.dtype,
               input_shape, rank, kernel_size, stride, padding, ceil_mode, count_include_pad,
               divisor_override, data_format)
    plan = PLANS.get(key)
    if plan is None:
        plan = PLANS.add(key, _avg_backward_plan(grad_output, input_shape, rank, kernel_size,
                                                 stride, padding, ceil_mode, count_include_pad,
                                                 divisor_override, data_format))
    return plan.run(grad_output, None, out)


def _avg_backward_plan(grad_output, input_shape, rank, kernel_size, stride, padding, ceil_mode,
                       count_include_pad, divisor_override, data_format) -> Plan:
    data_format = check_data_format(data_format)
    grad = check_grad(grad_output, rank)
    spatial = check_input_shape(input_shape, grad, rank, data_format)
    geo = pool_geometry(spatial, rank, kernel_size, stride, padding, 1, ceil_mode)
    _check_avg3d_input(spatial, rank, kernel_size)
    cip, divisor = _avg_args(count_include_pad, divisor_override, geo)
    can = prepare_grad(grad, rank, data_format, half=True)
    if tuple(can.spatial) != geo.out_size:
        raise ValueError(f"grad_output.shape={grad.shape} does not match the pooled size "
                         f"{geo.out_size[3 - rank:]} of input_shape={tuple(input_shape)}")
    cl = can.order == "cl"
    size = can.n * can.c * geo.in_size[0] * geo.in_size[1] * geo.in_size[2]
    nbytes = size * can.view.dtype.itemsize + can.view.nbytes
    kernel = None
    if size:
        c_block = plan_channel_block(can, nbytes)
        kernel = _avg.AvgCall(geo.window(), True, can.n if cl else can.n * can.c, can.c, c_block,
                              cl, cip, divisor, can.view.dtype.name)
    return Plan(kernel, nbytes=nbytes, items=can.n * can.c, inputs=("grad_output",),
                source=grad_source(grad_output, can, half=True),
                **destination(can, geo.in_size, grad.dtype))


def avg_pool1d_backward(grad_output: np.ndarray, input_shape: Shape, kernel_size: IntOrTuple,
                        stride: Optional[IntOrTuple] = None, padding: Padding = 0,
                        ceil_mode: bool = False, count_include_pad: bool = True,
                        data_format: DataFormat = CF, *,
                        out: Optional[np.ndarray] = None) -> np.ndarray:
    """Gradient of 1-d average pooling with respect to its input.

    Takes the forward call's window arguments; each ``grad_output`` entry is spread over its window
    with the forward divisor.

    Parameters
    ----------
    grad_output : numpy.ndarray
        The gradient of the forward output (its shape and data format), floating point.
    input_shape : tuple of ints
        Shape of the forward input (``x.shape``), in the same data format.
    kernel_size : int or tuple of 1 ints
        Window size along each spatial axis.
    stride : int, tuple of 1 ints or None, default None
        Step between windows; None means ``stride = kernel_size``.
    padding : int, tuple of 1 ints, "same" or "valid", default 0
        Padding on both sides, at most half the kernel; ``"same"`` (Keras: ``out = ceil(L / s)``)
        or ``"valid"`` (none). Padded cells never enter a maximum, nor a string padding's average.
    ceil_mode : bool, default False
        Round the output size up (PyTorch's rule); not with a string padding.
    count_include_pad : bool, default True
        Count the zero padding in the divisor (the window's padded extent, clipped to
        ``[-p, L + p)``). Ignored with a string padding (padded cells never count).
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
        For a bad argument, as in ``avg_pool2d_backward``.

    See Also
    --------
    cypool.avg_pool2d_backward : The same operator in 2-d.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> gx = cypool.avg_pool1d_backward(np.ones((1, 1, 4)), (1, 1, 8), 2)
    >>> gx.shape, float(gx.sum())
    ((1, 1, 8), 4.0)
    """
    return _avg_backward(grad_output, input_shape, 1, kernel_size, stride, padding, ceil_mode,
                         count_include_pad, None, data_format, out)


def avg_pool2d_backward(grad_output: np.ndarray, input_shape: Shape, kernel_size: IntOrTuple,
                        stride: Optional[IntOrTuple] = None, padding: Padding = 0,
                        ceil_mode: bool = False, count_include_pad: bool = True,
                        divisor_override: Optional[int] = None,
                        data_format: DataFormat = CF, *,
                        out: Optional[np.ndarray] = None) -> np.ndarray:
    """Gradient of 2-d average pooling with respect to its input.

    Takes the forward call's window arguments; each ``grad_output`` entry is spread over its window
    with the forward divisor.

    Parameters
    ----------
    grad_output : numpy.ndarray
        The gradient of the forward output (its shape and data format), floating point.
    input_shape : tuple of ints
        Shape of the forward input (``x.shape``), in the same data format.
    kernel_size : int or tuple of 2 ints
        Window size along each spatial axis.
    stride : int, tuple of 2 ints or None, default None
        Step between windows; None means ``stride = kernel_size``.
    padding : int, tuple of 2 ints, "same" or "valid", default 0
        Padding on both sides, at most half the kernel; ``"same"`` (Keras: ``out = ceil(L / s)``)
        or ``"valid"`` (none). Padded cells never enter a maximum, nor a string padding's average.
    ceil_mode : bool, default False
        Round the output size up (PyTorch's rule); not with a string padding.
    count_include_pad : bool, default True
        Count the zero padding in the divisor (the window's padded extent, clipped to
        ``[-p, L + p)``). Ignored with a string padding (padded cells never count).
    divisor_override : int or None, default None
        A non-zero divisor used for every window instead of the cell count.
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
        If ``grad_output`` is not a floating-point numpy.ndarray, ``input_shape`` is not a tuple of
        ints, or a window argument has the wrong type.
    ValueError
        If ``grad_output`` does not have the pooled size of ``input_shape``, a window argument is
        out of range, ``data_format`` is unknown, or ``out`` does not fit.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> gx = cypool.avg_pool2d_backward(np.ones((1, 1, 4, 4)), (1, 1, 8, 8), 2)
    >>> gx.shape, float(gx.sum())
    ((1, 1, 8, 8), 16.0)
    """
    return _avg_backward(grad_output, input_shape, 2, kernel_size, stride, padding, ceil_mode,
                         count_include_pad, divisor_override, data_format, out)


def avg_pool3d_backward(grad_output: np.ndarray, input_shape: Shape, kernel_size: IntOrTuple,
                        stride: Optional[IntOrTuple] = None, padding: Padding = 0,
                        ceil_mode: bool = False, count_include_pad: bool = True,
                        divisor_override: Optional[int] = None,
                        data_format: DataFormat = CF, *,
                        out: Optional[np.ndarray] = None) -> np.ndarray:
    """Gradient of 3-d average pooling with respect to its input.

    Takes the forward call's window arguments; each ``grad_output`` entry is spread over its window
    with the forward divisor.

    Parameters
    ----------
    grad_output : numpy.ndarray
        The gradient of the forward output (its shape and data format), floating point.
    input_shape : tuple of ints
        Shape of the forward input (``x.shape``), in the same data format.
    kernel_size : int or tuple of 3 ints
        Window size along each spatial axis.
    stride : int, tuple of 3 ints or None, default None
        Step between windows; None means ``stride = kernel_size``.
    padding : int, tuple of 3 ints, "same" or "valid", default 0
        Padding on both sides, at most half the kernel; ``"same"`` (Keras: ``out = ceil(L / s)``)
        or ``"valid"`` (none). Padded cells never enter a maximum, nor a string padding's average.
    ceil_mode : bool, default False
        Round the output size up (PyTorch's rule); not with a string padding.
    count_include_pad : bool, default True
        Count the zero padding in the divisor (the window's padded extent, clipped to
        ``[-p, L + p)``). Ignored with a string padding (padded cells never count).
    divisor_override : int or None, default None
        A non-zero divisor used for every window instead of the cell count.
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
        For a bad argument, as in ``avg_pool2d_backward``.

    See Also
    --------
    cypool.avg_pool2d_backward : The same operator in 2-d.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> gx = cypool.avg_pool3d_backward(np.ones((1, 1, 4, 4, 4)), (1, 1, 8, 8, 8), 2)
    >>> gx.shape, float(gx.sum())
    ((1, 1, 8, 8, 8), 64.0)
    """
    return _avg_backward(grad_output, input_shape, 3, kernel_size, stride, padding, ceil_mode,
                         count_include_pad, divisor_override, data_format, out)
