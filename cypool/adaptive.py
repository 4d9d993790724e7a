"""Adaptive average and max pooling, forward and backward, 1-d to 3-d: the Python side of
pyx/_adaptive.pyx (global pooling, in global_pool.py, is its one-bin case).

Each public function is one plan look-up and one run (cypool._plan); `_adaptive_plan` validates
the arguments and prepares `_adaptive.AdaptiveCall` with the call's Window. Adaptive max pooling's
backward is the index scatter of max pooling (max._max_backward).
"""
from __future__ import annotations

from functools import partial

import numpy as np

from . import _adaptive, _threads
from ._geometry import adaptive_geometry, check_bool
from ._layout import check_data_format
from ._plan import PLANS, Plan, plain, plain_shape
from ._steps import (CF, DataFormat, OutputSize, PoolResult, Shape, channel_block, check_grad,
                     check_input_shape, destination, flat_grad, flat_input, prepare,
                     prepare_grad, reads_as_given)
from .max import _max_backward


def _adaptive_pool(x, rank, output_size, return_indices, data_format, op, keepdims=True,
                   is_global=False):
    """Adaptive pooling forward: op "adaptive_avg" or "adaptive_max". Global pooling passes its
    keepdims (False: the result drops its size-1 spatial axes) and is_global=True."""
    key = None
    if (type(x) is np.ndarray and type(data_format) is str and plain(output_size)
            and type(return_indices) is bool and type(keepdims) is bool):
        key = (op, x.shape, x.strides, x.dtype, rank, output_size,
               return_indices, data_format, keepdims, is_global)
    plan = PLANS.get(key)
    if plan is None:
        plan = PLANS.add(key, _adaptive_plan(x, rank, output_size, return_indices, data_format, op,
                                             keepdims, is_global))
    return plan.run(x)


def _adaptive_plan(x, rank, output_size, return_indices, data_format, op, keepdims,
                   is_global) -> Plan:
    if is_global:  # global pooling checks its flags first
        check_data_format(data_format)
        return_indices = check_bool(return_indices, "return_indices")
    family = "max" if op == "adaptive_max" else "float"
    can = prepare(x, rank, data_format, family)
    geo = adaptive_geometry(can.spatial[3 - rank:], rank, output_size)
    return_indices = check_bool(return_indices, "return_indices")
    keepdims = check_bool(keepdims, "keepdims")
    cl = can.order == "cl"
    size = can.n * can.c * geo.out_size[0] * geo.out_size[1] * geo.out_size[2]
    kernel = _adaptive.AdaptiveCall(op[len("adaptive_"):], geo.window(), can.n if cl else can.n * can.c, can.c, 0,
                                    cl, can.view.dtype.name) if size else None
    return Plan(kernel, nbytes=can.view.nbytes + size * can.view.dtype.itemsize,
                items=can.n * geo.out_size[0] * geo.out_size[1] * (1 if cl else can.c),
                source=None if reads_as_given(x, can) else partial(
                    flat_input, rank, can.data_format, family),
                new_indices=family == "max", return_indices=return_indices,
                **destination(can, geo.out_size, x.dtype, keepdims))


def _adaptive_avg_backward(grad_output, input_shape, rank, data_format):
    key = None
    if (type(grad_output) is np.ndarray and plain_shape(input_shape)
            and type(data_format) is str):
        key = ("adaptive_avg_backward", grad_output.shape, grad_output.strides,
               grad_output.dtype, input_shape, rank, data_format)
    plan = PLANS.get(key)
    if plan is None:
        plan = PLANS.add(key, _adaptive_avg_backward_plan(grad_output, input_shape, rank,
                                                          data_format))
    return plan.run(grad_output)


def _adaptive_avg_backward_plan(grad_output, input_shape, rank, data_format) -> Plan:
    data_format = check_data_format(data_format)
    grad = check_grad(grad_output, rank)
    spatial = check_input_shape(input_shape, grad, rank, data_format)
    can = prepare_grad(grad, rank, data_format)
    if min(can.spatial[3 - rank:]) < 1:  # PyTorch refuses an empty gradient plane here
        raise ValueError(f"grad_output.shape={grad.shape} has an empty spatial axis")
    geo = adaptive_geometry(spatial, rank, tuple(can.spatial[3 - rank:]), minimum=1)
    cl = can.order == "cl"
    size = can.n * can.c * geo.in_size[0] * geo.in_size[1] * geo.in_size[2]
    nbytes = size * can.view.dtype.itemsize + can.view.nbytes
    kernel = None
    if size:
        # c_block only splits the work into disjoint parts: any value gives the same result
        c_block = channel_block(can.n, can.c, _threads.threads_for(nbytes, can.n * can.c))
        kernel = _adaptive.AdaptiveCall("avg_backward", geo.window(),
                                        can.n if cl else can.n * can.c, can.c, c_block, cl,
                                        can.view.dtype.name)
    return Plan(kernel, nbytes=nbytes, items=can.n * can.c, inputs=("grad_output",),
                source=None if reads_as_given(grad_output, can) else partial(
                    flat_grad, rank, data_format),
                **destination(can, geo.in_size, grad.dtype))


def adaptive_avg_pool1d(x: np.ndarray, output_size: OutputSize,
                        data_format: DataFormat = CF) -> np.ndarray:
    """1-d adaptive average pooling to a fixed output size.

    Parameters
    ----------
    x : numpy.ndarray
        Input of shape ``(N, C, L)`` (or unbatched ``(C, L)``) when
        ``data_format="channels_first"``, ``(N, L, C)`` (or ``(L, C)``) when
        ``"channels_last"``. Any strides (slices, negative strides, Fortran order) and read-only
        arrays are accepted; an array contiguous in either memory order is not copied.
        dtypes: float32, float64 (float16 and bfloat16 are computed in float32);
        integer arrays raise TypeError. Sums accumulate in float64; the output has
        the input's dtype.
    output_size : int or tuple of 1 (int or None)
        Output spatial size; a None entry keeps that axis's input size. Bin ``i`` of an axis covers
        input cells ``[floor(i * L / O), ceil((i + 1) * L / O))``.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before (``(N, C, L)``) or after (``(N, L, C)``) the spatial axes.
        The output has the same data format, and keeps the input's memory order.

    Returns
    -------
    y : numpy.ndarray
        ``(N, C, *output_size)`` in the input's data format and dtype.

    Raises
    ------
    TypeError
        If ``x`` is not a floating-point numpy.ndarray or ``output_size`` is not an int or a tuple
        of ints or None.
    ValueError
        If ``x`` has the wrong number of dimensions or an empty spatial axis, ``output_size`` is
        negative, or ``data_format`` is unknown.

    Notes
    -----
    Semantics are PyTorch 2.x's on the CPU: output size
    ``floor((L + 2p - d(k-1) - 1 [+ s-1 in ceil mode]) / s) + 1``; see the README's "Semantics"
    section. Bad arguments raise ValueError or TypeError naming the parameter and the value. Work is
    parallelised with OpenMP (see ``cypool.set_num_threads`` / ``cypool.threads``); results are
    bit-identical for any thread count. The GIL is released while the kernel runs.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.arange(2 * 3 * 6, dtype=np.float64).reshape(2, 3, 6)
    >>> cypool.adaptive_avg_pool1d(x, 3).shape
    (2, 3, 3)
    >>> float(cypool.adaptive_avg_pool1d(x, 1)[0, 0].flat[0])   # the mean of plane (0, 0)
    2.5
    """
    return _adaptive_pool(x, 1, output_size, False, data_format, "adaptive_avg")


def adaptive_avg_pool2d(x: np.ndarray, output_size: OutputSize,
                        data_format: DataFormat = CF) -> np.ndarray:
    """2-d adaptive average pooling to a fixed output size.

    Parameters
    ----------
    x : numpy.ndarray
        Input of shape ``(N, C, H, W)`` (or unbatched ``(C, H, W)``) when
        ``data_format="channels_first"``, ``(N, H, W, C)`` (or ``(H, W, C)``) when
        ``"channels_last"``. Any strides (slices, negative strides, Fortran order) and read-only
        arrays are accepted; an array contiguous in either memory order is not copied.
        dtypes: float32, float64 (float16 and bfloat16 are computed in float32);
        integer arrays raise TypeError. Sums accumulate in float64; the output has
        the input's dtype.
    output_size : int or tuple of 2 (int or None)
        Output spatial size; a None entry keeps that axis's input size. Bin ``i`` of an axis covers
        input cells ``[floor(i * L / O), ceil((i + 1) * L / O))``.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before (``(N, C, H, W)``) or after (``(N, H, W, C)``) the spatial axes.
        The output has the same data format, and keeps the input's memory order.

    Returns
    -------
    y : numpy.ndarray
        ``(N, C, *output_size)`` in the input's data format and dtype.

    Raises
    ------
    TypeError
        If ``x`` is not a floating-point numpy.ndarray or ``output_size`` is not an int or a tuple
        of ints or None.
    ValueError
        If ``x`` has the wrong number of dimensions or an empty spatial axis, ``output_size`` is
        negative, or ``data_format`` is unknown.

    Notes
    -----
    Semantics are PyTorch 2.x's on the CPU: output size
    ``floor((L + 2p - d(k-1) - 1 [+ s-1 in ceil mode]) / s) + 1``; see the README's "Semantics"
    section. Bad arguments raise ValueError or TypeError naming the parameter and the value. Work is
    parallelised with OpenMP (see ``cypool.set_num_threads`` / ``cypool.threads``); results are
    bit-identical for any thread count. The GIL is released while the kernel runs.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.arange(2 * 3 * 36, dtype=np.float64).reshape(2, 3, 6, 6)
    >>> cypool.adaptive_avg_pool2d(x, 3).shape
    (2, 3, 3, 3)
    >>> float(cypool.adaptive_avg_pool2d(x, 1)[0, 0].flat[0])   # the mean of plane (0, 0)
    17.5
    """
    return _adaptive_pool(x, 2, output_size, False, data_format, "adaptive_avg")


def adaptive_avg_pool3d(x: np.ndarray, output_size: OutputSize,
                        data_format: DataFormat = CF) -> np.ndarray:
    """3-d adaptive average pooling to a fixed output size.

    Parameters
    ----------
    x : numpy.ndarray
        Input of shape ``(N, C, D, H, W)`` (or unbatched ``(C, D, H, W)``) when
        ``data_format="channels_first"``, ``(N, D, H, W, C)`` (or ``(D, H, W, C)``) when
        ``"channels_last"``. Any strides (slices, negative strides, Fortran order) and read-only
        arrays are accepted; an array contiguous in either memory order is not copied.
        dtypes: float32, float64 (float16 and bfloat16 are computed in float32);
        integer arrays raise TypeError. Sums accumulate in float64; the output has
        the input's dtype.
    output_size : int or tuple of 3 (int or None)
        Output spatial size; a None entry keeps that axis's input size. Bin ``i`` of an axis covers
        input cells ``[floor(i * L / O), ceil((i + 1) * L / O))``.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before (``(N, C, D, H, W)``) or after (``(N, D, H, W, C)``) the spatial axes.
        The output has the same data format, and keeps the input's memory order.

    Returns
    -------
    y : numpy.ndarray
        ``(N, C, *output_size)`` in the input's data format and dtype.

    Raises
    ------
    TypeError
        If ``x`` is not a floating-point numpy.ndarray or ``output_size`` is not an int or a tuple
        of ints or None.
    ValueError
        If ``x`` has the wrong number of dimensions or an empty spatial axis, ``output_size`` is
        negative, or ``data_format`` is unknown.

    Notes
    -----
    Semantics are PyTorch 2.x's on the CPU: output size
    ``floor((L + 2p - d(k-1) - 1 [+ s-1 in ceil mode]) / s) + 1``; see the README's "Semantics"
    section. Bad arguments raise ValueError or TypeError naming the parameter and the value. Work is
    parallelised with OpenMP (see ``cypool.set_num_threads`` / ``cypool.threads``); results are
    bit-identical for any thread count. The GIL is released while the kernel runs.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.arange(2 * 3 * 216, dtype=np.float64).reshape(2, 3, 6, 6, 6)
    >>> cypool.adaptive_avg_pool3d(x, 3).shape
    (2, 3, 3, 3, 3)
    >>> float(cypool.adaptive_avg_pool3d(x, 1)[0, 0].flat[0])   # the mean of plane (0, 0)
    107.5
    """
    return _adaptive_pool(x, 3, output_size, False, data_format, "adaptive_avg")


def adaptive_avg_pool1d_backward(grad_output: np.ndarray, input_shape: Shape,
                                 data_format: DataFormat = CF) -> np.ndarray:
    """Gradient of 1-d adaptive average pooling.

    The output size is read from ``grad_output``'s shape.

    Parameters
    ----------
    grad_output : numpy.ndarray
        Gradient with respect to the forward output: same shape and data format as that output;
        float16, float32 or float64.
    input_shape : tuple of ints
        Shape of the forward input (``x.shape``), in the same data format.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before (``(N, C, L)``) or after (``(N, L, C)``) the spatial axes.
        The output has the same data format, and keeps the input's memory order.

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
        If the shapes disagree, ``grad_output`` has an empty spatial axis, or ``data_format`` is
        unknown.

    Notes
    -----
    Semantics are PyTorch 2.x's on the CPU: output size
    ``floor((L + 2p - d(k-1) - 1 [+ s-1 in ceil mode]) / s) + 1``; see the README's "Semantics"
    section. Bad arguments raise ValueError or TypeError naming the parameter and the value. Work is
    parallelised with OpenMP (see ``cypool.set_num_threads`` / ``cypool.threads``); results are
    bit-identical for any thread count. The GIL is released while the kernel runs.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> gx = cypool.adaptive_avg_pool1d_backward(np.ones((1, 1, 3)), (1, 1, 6))
    >>> gx.shape, float(gx.sum())
    ((1, 1, 6), 3.0)
    """
    return _adaptive_avg_backward(grad_output, input_shape, 1, data_format)


def adaptive_avg_pool2d_backward(grad_output: np.ndarray, input_shape: Shape,
                                 data_format: DataFormat = CF) -> np.ndarray:
    """Gradient of 2-d adaptive average pooling.

    The output size is read from ``grad_output``'s shape.

    Parameters
    ----------
    grad_output : numpy.ndarray
        Gradient with respect to the forward output: same shape and data format as that output;
        float16, float32 or float64.
    input_shape : tuple of ints
        Shape of the forward input (``x.shape``), in the same data format.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before (``(N, C, H, W)``) or after (``(N, H, W, C)``) the spatial axes.
        The output has the same data format, and keeps the input's memory order.

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
        If the shapes disagree, ``grad_output`` has an empty spatial axis, or ``data_format`` is
        unknown.

    Notes
    -----
    Semantics are PyTorch 2.x's on the CPU: output size
    ``floor((L + 2p - d(k-1) - 1 [+ s-1 in ceil mode]) / s) + 1``; see the README's "Semantics"
    section. Bad arguments raise ValueError or TypeError naming the parameter and the value. Work is
    parallelised with OpenMP (see ``cypool.set_num_threads`` / ``cypool.threads``); results are
    bit-identical for any thread count. The GIL is released while the kernel runs.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> gx = cypool.adaptive_avg_pool2d_backward(np.ones((1, 1, 3, 3)), (1, 1, 6, 6))
    >>> gx.shape, float(gx.sum())
    ((1, 1, 6, 6), 9.0)
    """
    return _adaptive_avg_backward(grad_output, input_shape, 2, data_format)


def adaptive_avg_pool3d_backward(grad_output: np.ndarray, input_shape: Shape,
                                 data_format: DataFormat = CF) -> np.ndarray:
    """Gradient of 3-d adaptive average pooling.

    The output size is read from ``grad_output``'s shape.

    Parameters
    ----------
    grad_output : numpy.ndarray
        Gradient with respect to the forward output: same shape and data format as that output;
        float16, float32 or float64.
    input_shape : tuple of ints
        Shape of the forward input (``x.shape``), in the same data format.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before (``(N, C, D, H, W)``) or after (``(N, D, H, W, C)``) the spatial axes.
        The output has the same data format, and keeps the input's memory order.

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
        If the shapes disagree, ``grad_output`` has an empty spatial axis, or ``data_format`` is
        unknown.

    Notes
    -----
    Semantics are PyTorch 2.x's on the CPU: output size
    ``floor((L + 2p - d(k-1) - 1 [+ s-1 in ceil mode]) / s) + 1``; see the README's "Semantics"
    section. Bad arguments raise ValueError or TypeError naming the parameter and the value. Work is
    parallelised with OpenMP (see ``cypool.set_num_threads`` / ``cypool.threads``); results are
    bit-identical for any thread count. The GIL is released while the kernel runs.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> gx = cypool.adaptive_avg_pool3d_backward(np.ones((1, 1, 3, 3, 3)), (1, 1, 6, 6, 6))
    >>> gx.shape, float(gx.sum())
    ((1, 1, 6, 6, 6), 27.0)
    """
    return _adaptive_avg_backward(grad_output, input_shape, 3, data_format)


def adaptive_max_pool1d(x: np.ndarray, output_size: OutputSize, return_indices: bool = False,
                        data_format: DataFormat = CF) -> PoolResult:
    """1-d adaptive max pooling to a fixed output size.

    Parameters
    ----------
    x : numpy.ndarray
        Input of shape ``(N, C, L)`` (or unbatched ``(C, L)``) when
        ``data_format="channels_first"``, ``(N, L, C)`` (or ``(L, C)``) when
        ``"channels_last"``. Any strides (slices, negative strides, Fortran order) and read-only
        arrays are accepted; an array contiguous in either memory order is not copied.
        dtypes: float32, float64 (float16 and bfloat16 are computed in float32), int8, uint8,
        int16, uint16, int32, uint32, int64 and bool. The output has the input's dtype.
    output_size : int or tuple of 1 (int or None)
        Output spatial size; a None entry keeps that axis's input size. Bin ``i`` of an axis covers
        input cells ``[floor(i * L / O), ceil((i + 1) * L / O))``.
    return_indices : bool, default False
        Also return the int64 indices of the maxima: flat positions within each ``(n, c)`` plane of
        the input (``l``) in both data formats, PyTorch's convention.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before (``(N, C, L)``) or after (``(N, L, C)``) the spatial axes.
        The output has the same data format, and keeps the input's memory order.

    Returns
    -------
    y : numpy.ndarray
        ``(N, C, *output_size)`` in the input's data format and dtype.
    indices : numpy.ndarray of int64
        Only with ``return_indices=True``.

    Raises
    ------
    TypeError
        If ``x`` is not a numpy.ndarray or has an unsupported dtype, ``output_size`` is not an int
        or a tuple of ints or None, or ``return_indices`` is not a bool.
    ValueError
        If ``x`` has the wrong number of dimensions or an empty spatial axis, ``output_size`` is
        negative, or ``data_format`` is unknown.

    Notes
    -----
    Semantics are PyTorch 2.x's on the CPU: output size
    ``floor((L + 2p - d(k-1) - 1 [+ s-1 in ceil mode]) / s) + 1``; see the README's "Semantics"
    section. Bad arguments raise ValueError or TypeError naming the parameter and the value. Work is
    parallelised with OpenMP (see ``cypool.set_num_threads`` / ``cypool.threads``); results are
    bit-identical for any thread count. The GIL is released while the kernel runs.

    Max: NaN propagates (its index is the last NaN in window order); ties go to the first maximum in
    row-major window order; a window holding no input cell (possible with dilation) gives the
    lowest value and an index outside the plane, which backward and unpool refuse.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.arange(6, dtype=np.float32).reshape(1, 1, 6)
    >>> y, idx = cypool.adaptive_max_pool1d(x, 3, return_indices=True)
    >>> y.shape, int(idx.reshape(-1)[-1])
    ((1, 1, 3), 5)
    """
    return _adaptive_pool(x, 1, output_size, return_indices, data_format, "adaptive_max")


def adaptive_max_pool2d(x: np.ndarray, output_size: OutputSize, return_indices: bool = False,
                        data_format: DataFormat = CF) -> PoolResult:
    """2-d adaptive max pooling to a fixed output size.

    Parameters
    ----------
    x : numpy.ndarray
        Input of shape ``(N, C, H, W)`` (or unbatched ``(C, H, W)``) when
        ``data_format="channels_first"``, ``(N, H, W, C)`` (or ``(H, W, C)``) when
        ``"channels_last"``. Any strides (slices, negative strides, Fortran order) and read-only
        arrays are accepted; an array contiguous in either memory order is not copied.
        dtypes: float32, float64 (float16 and bfloat16 are computed in float32), int8, uint8,
        int16, uint16, int32, uint32, int64 and bool. The output has the input's dtype.
    output_size : int or tuple of 2 (int or None)
        Output spatial size; a None entry keeps that axis's input size. Bin ``i`` of an axis covers
        input cells ``[floor(i * L / O), ceil((i + 1) * L / O))``.
    return_indices : bool, default False
        Also return the int64 indices of the maxima: flat positions within each ``(n, c)`` plane of
        the input (``h * W + w``) in both data formats, PyTorch's convention.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before (``(N, C, H, W)``) or after (``(N, H, W, C)``) the spatial axes.
        The output has the same data format, and keeps the input's memory order.

    Returns
    -------
    y : numpy.ndarray
        ``(N, C, *output_size)`` in the input's data format and dtype.
    indices : numpy.ndarray of int64
        Only with ``return_indices=True``.

    Raises
    ------
    TypeError
        If ``x`` is not a numpy.ndarray or has an unsupported dtype, ``output_size`` is not an int
        or a tuple of ints or None, or ``return_indices`` is not a bool.
    ValueError
        If ``x`` has the wrong number of dimensions or an empty spatial axis, ``output_size`` is
        negative, or ``data_format`` is unknown.

    Notes
    -----
    Semantics are PyTorch 2.x's on the CPU: output size
    ``floor((L + 2p - d(k-1) - 1 [+ s-1 in ceil mode]) / s) + 1``; see the README's "Semantics"
    section. Bad arguments raise ValueError or TypeError naming the parameter and the value. Work is
    parallelised with OpenMP (see ``cypool.set_num_threads`` / ``cypool.threads``); results are
    bit-identical for any thread count. The GIL is released while the kernel runs.

    Max: NaN propagates (its index is the last NaN in window order); ties go to the first maximum in
    row-major window order; a window holding no input cell (possible with dilation) gives the
    lowest value and an index outside the plane, which backward and unpool refuse.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.arange(36, dtype=np.float32).reshape(1, 1, 6, 6)
    >>> y, idx = cypool.adaptive_max_pool2d(x, 3, return_indices=True)
    >>> y.shape, int(idx.reshape(-1)[-1])
    ((1, 1, 3, 3), 35)
    """
    return _adaptive_pool(x, 2, output_size, return_indices, data_format, "adaptive_max")


def adaptive_max_pool3d(x: np.ndarray, output_size: OutputSize, return_indices: bool = False,
                        data_format: DataFormat = CF) -> PoolResult:
    """3-d adaptive max pooling to a fixed output size.

    Parameters
    ----------
    x : numpy.ndarray
        Input of shape ``(N, C, D, H, W)`` (or unbatched ``(C, D, H, W)``) when
        ``data_format="channels_first"``, ``(N, D, H, W, C)`` (or ``(D, H, W, C)``) when
        ``"channels_last"``. Any strides (slices, negative strides, Fortran order) and read-only
        arrays are accepted; an array contiguous in either memory order is not copied.
        dtypes: float32, float64 (float16 and bfloat16 are computed in float32), int8, uint8,
        int16, uint16, int32, uint32, int64 and bool. The output has the input's dtype.
    output_size : int or tuple of 3 (int or None)
        Output spatial size; a None entry keeps that axis's input size. Bin ``i`` of an axis covers
        input cells ``[floor(i * L / O), ceil((i + 1) * L / O))``.
    return_indices : bool, default False
        Also return the int64 indices of the maxima: flat positions within each ``(n, c)`` plane of
        the input (``d * H * W + h * W + w``) in both data formats, PyTorch's convention.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before (``(N, C, D, H, W)``) or after (``(N, D, H, W, C)``) the spatial axes.
        The output has the same data format, and keeps the input's memory order.

    Returns
    -------
    y : numpy.ndarray
        ``(N, C, *output_size)`` in the input's data format and dtype.
    indices : numpy.ndarray of int64
        Only with ``return_indices=True``.

    Raises
    ------
    TypeError
        If ``x`` is not a numpy.ndarray or has an unsupported dtype, ``output_size`` is not an int
        or a tuple of ints or None, or ``return_indices`` is not a bool.
    ValueError
        If ``x`` has the wrong number of dimensions or an empty spatial axis, ``output_size`` is
        negative, or ``data_format`` is unknown.

    Notes
    -----
    Semantics are PyTorch 2.x's on the CPU: output size
    ``floor((L + 2p - d(k-1) - 1 [+ s-1 in ceil mode]) / s) + 1``; see the README's "Semantics"
    section. Bad arguments raise ValueError or TypeError naming the parameter and the value. Work is
    parallelised with OpenMP (see ``cypool.set_num_threads`` / ``cypool.threads``); results are
    bit-identical for any thread count. The GIL is released while the kernel runs.

    Max: NaN propagates (its index is the last NaN in window order); ties go to the first maximum in
    row-major window order; a window holding no input cell (possible with dilation) gives the
    lowest value and an index outside the plane, which backward and unpool refuse.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.arange(216, dtype=np.float32).reshape(1, 1, 6, 6, 6)
    >>> y, idx = cypool.adaptive_max_pool3d(x, 3, return_indices=True)
    >>> y.shape, int(idx.reshape(-1)[-1])
    ((1, 1, 3, 3, 3), 215)
    """
    return _adaptive_pool(x, 3, output_size, return_indices, data_format, "adaptive_max")


def adaptive_max_pool1d_backward(grad_output: np.ndarray, indices: np.ndarray, input_shape: Shape,
                                 data_format: DataFormat = CF) -> np.ndarray:
    """Gradient of 1-d adaptive max pooling.

    Parameters
    ----------
    grad_output : numpy.ndarray
        Gradient with respect to the forward output: same shape and data format as that output;
        float16, float32 or float64.
    indices : numpy.ndarray of int64
        The indices returned by the forward call with ``return_indices=True`` (same shape as
        ``grad_output``). Indices outside the plane raise ValueError.
    input_shape : tuple of ints
        Shape of the forward input (``x.shape``), in the same data format.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before (``(N, C, L)``) or after (``(N, L, C)``) the spatial axes.
        The output has the same data format, and keeps the input's memory order.

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
        If the shapes disagree, an index lies outside its plane, or ``data_format`` is unknown.

    Notes
    -----
    Semantics are PyTorch 2.x's on the CPU: output size
    ``floor((L + 2p - d(k-1) - 1 [+ s-1 in ceil mode]) / s) + 1``; see the README's "Semantics"
    section. Bad arguments raise ValueError or TypeError naming the parameter and the value. Work is
    parallelised with OpenMP (see ``cypool.set_num_threads`` / ``cypool.threads``); results are
    bit-identical for any thread count. The GIL is released while the kernel runs.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.arange(6, dtype=np.float32).reshape(1, 1, 6)
    >>> y, idx = cypool.adaptive_max_pool1d(x, 3, return_indices=True)
    >>> float(cypool.adaptive_max_pool1d_backward(np.ones_like(y), idx, x.shape).sum())
    3.0
    """
    return _max_backward(grad_output, indices, input_shape, 1, data_format)


def adaptive_max_pool2d_backward(grad_output: np.ndarray, indices: np.ndarray, input_shape: Shape,
                                 data_format: DataFormat = CF) -> np.ndarray:
    """Gradient of 2-d adaptive max pooling.

    Parameters
    ----------
    grad_output : numpy.ndarray
        Gradient with respect to the forward output: same shape and data format as that output;
        float16, float32 or float64.
    indices : numpy.ndarray of int64
        The indices returned by the forward call with ``return_indices=True`` (same shape as
        ``grad_output``). Indices outside the plane raise ValueError.
    input_shape : tuple of ints
        Shape of the forward input (``x.shape``), in the same data format.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before (``(N, C, H, W)``) or after (``(N, H, W, C)``) the spatial axes.
        The output has the same data format, and keeps the input's memory order.

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
        If the shapes disagree, an index lies outside its plane, or ``data_format`` is unknown.

    Notes
    -----
    Semantics are PyTorch 2.x's on the CPU: output size
    ``floor((L + 2p - d(k-1) - 1 [+ s-1 in ceil mode]) / s) + 1``; see the README's "Semantics"
    section. Bad arguments raise ValueError or TypeError naming the parameter and the value. Work is
    parallelised with OpenMP (see ``cypool.set_num_threads`` / ``cypool.threads``); results are
    bit-identical for any thread count. The GIL is released while the kernel runs.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.arange(36, dtype=np.float32).reshape(1, 1, 6, 6)
    >>> y, idx = cypool.adaptive_max_pool2d(x, 3, return_indices=True)
    >>> float(cypool.adaptive_max_pool2d_backward(np.ones_like(y), idx, x.shape).sum())
    9.0
    """
    return _max_backward(grad_output, indices, input_shape, 2, data_format)


def adaptive_max_pool3d_backward(grad_output: np.ndarray, indices: np.ndarray, input_shape: Shape,
                                 data_format: DataFormat = CF) -> np.ndarray:
    """Gradient of 3-d adaptive max pooling.

    Parameters
    ----------
    grad_output : numpy.ndarray
        Gradient with respect to the forward output: same shape and data format as that output;
        float16, float32 or float64.
    indices : numpy.ndarray of int64
        The indices returned by the forward call with ``return_indices=True`` (same shape as
        ``grad_output``). Indices outside the plane raise ValueError.
    input_shape : tuple of ints
        Shape of the forward input (``x.shape``), in the same data format.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before (``(N, C, D, H, W)``) or after (``(N, D, H, W, C)``) the spatial axes.
        The output has the same data format, and keeps the input's memory order.

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
        If the shapes disagree, an index lies outside its plane, or ``data_format`` is unknown.

    Notes
    -----
    Semantics are PyTorch 2.x's on the CPU: output size
    ``floor((L + 2p - d(k-1) - 1 [+ s-1 in ceil mode]) / s) + 1``; see the README's "Semantics"
    section. Bad arguments raise ValueError or TypeError naming the parameter and the value. Work is
    parallelised with OpenMP (see ``cypool.set_num_threads`` / ``cypool.threads``); results are
    bit-identical for any thread count. The GIL is released while the kernel runs.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.arange(216, dtype=np.float32).reshape(1, 1, 6, 6, 6)
    >>> y, idx = cypool.adaptive_max_pool3d(x, 3, return_indices=True)
    >>> float(cypool.adaptive_max_pool3d_backward(np.ones_like(y), idx, x.shape).sum())
    27.0
    """
    return _max_backward(grad_output, indices, input_shape, 3, data_format)
