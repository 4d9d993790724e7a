"""Max pooling, forward and backward, 1-d to 3-d: the Python side of pyx/_max.pyx.

Each public function is one plan look-up and one run (cypool._plan): `_max_plan` validates the
arguments and prepares `_max.MaxForward` with the call's Window; `_max_backward_plan` prepares
`_max.MaxBackward`, the index scatter that adaptive, global, stochastic and blur-max pooling
share.
"""
from __future__ import annotations

from functools import partial
from typing import Optional

import numpy as np

from . import _max, _threads
from ._geometry import check_bool, lift, pool_geometry
from ._layout import check_data_format
from ._plan import PLANS, Plan, plain, plain_shape
from ._steps import (CF, DataFormat, IntOrTuple, Padding, PoolResult, Shape, channel_block,
                     check_grad, check_indices, check_input_shape, destination, flat_grad,
                     flat_indices, flat_input, indices_in_order, layout, prepare, prepare_grad,
                     reads_as_given)


def _max_pool(x, rank, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
              data_format, out=None):
    key = None
    # `type(v) is int or plain(v)`: plain's own first test, inline (halves the key's cost)
    if (type(x) is np.ndarray and type(ceil_mode) is bool and type(return_indices) is bool
            and type(data_format) is str and (type(kernel_size) is int or plain(kernel_size))
            and (type(stride) is int or plain(stride)) and (type(padding) is int or plain(padding))
            and (type(dilation) is int or plain(dilation))):
        key = ("max_pool", x.shape, x.strides, x.dtype, rank, kernel_size, stride, padding,
               dilation, ceil_mode, return_indices, data_format)
    plan = PLANS.get(key)
    if plan is None:
        plan = PLANS.add(key, _max_plan(x, rank, kernel_size, stride, padding, dilation, ceil_mode,
                                        return_indices, data_format))
    return plan.run(x, None, out)


def _max_plan(x, rank, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
              data_format) -> Plan:
    can = prepare(x, rank, data_format, "max", half=True)
    geo = pool_geometry(can.spatial[3 - rank:], rank, kernel_size, stride, padding, dilation,
                        ceil_mode)
    return_indices = check_bool(return_indices, "return_indices")
    cl = can.order == "cl"
    size = can.n * can.c * geo.out_size[0] * geo.out_size[1] * geo.out_size[2]
    kernel = _max.MaxForward(geo.window(), can.n if cl else can.n * can.c, can.c, cl,
                             can.view.dtype.name) if size else None
    return Plan(kernel, nbytes=can.view.nbytes + size * can.view.dtype.itemsize,
                items=can.n * geo.out_size[0] * geo.out_size[1] * (1 if cl else can.c),
                source=None if reads_as_given(x, can) else partial(
                    flat_input, rank, can.data_format, "max", half=True),
                new_indices=return_indices, return_indices=return_indices,
                **destination(can, geo.out_size, x.dtype))


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
        # c_block only splits the work into disjoint parts: any value gives the same result
        c_block = channel_block(can.n, can.c, _threads.threads_for(nbytes, can.n * can.c))
        kernel = _max.MaxBackward(can.n if cl else can.n * can.c, can.c, c_block, in_plane,
                                  out_plane, cl, can.view.dtype.name)
    return Plan(kernel, nbytes=nbytes, items=can.n * can.c, fill=gx_size > 0,
                source=None if reads_as_given(grad_output, can) else partial(
                    flat_grad, rank, data_format, half=True),
                b_source=None if reads_as_given(indices, can, idx5) else partial(
                    flat_indices, lay),
                bound=in_plane, index_name=name, inputs=("grad_output", name),
                **destination(can, spatial, grad.dtype))


def max_pool1d(x: np.ndarray, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None,
               padding: Padding = 0, dilation: IntOrTuple = 1, ceil_mode: bool = False,
               return_indices: bool = False, data_format: DataFormat = CF, *,
               out: Optional[np.ndarray] = None) -> PoolResult:
    """1-d max pooling.

    Parameters
    ----------
    x : numpy.ndarray
        Input of shape ``(N, C, L)`` (or unbatched ``(C, L)``) when
        ``data_format="channels_first"``, ``(N, L, C)`` (or ``(L, C)``) when
        ``"channels_last"``. Any strides (slices, negative strides, Fortran order) and read-only
        arrays are accepted; an array contiguous in either memory order is not copied.
        dtypes: float32, float64, float16 and bfloat16 (ml_dtypes; read and written in half
        precision, compared in float32), int8, uint8,
        int16, uint16, int32, uint32, int64 and bool. The output has the input's dtype.
    kernel_size : int or tuple of 1 ints
        Window size along each spatial axis.
    stride : int, tuple of 1 ints or None, default None
        Step between windows; None means ``stride = kernel_size``.
    padding : int, tuple of 1 ints, "same" or "valid", default 0
        Implicit padding on both sides, at most half the kernel (``2 * p <= k``). ``"same"``
        (Keras/TensorFlow) pads so that ``out = ceil(L / stride)``, the odd cell at the end;
        ``"valid"`` is no padding. Padded cells never enter a maximum, nor, with a string padding,
        an average.
    dilation : int or tuple of 1 ints, default 1
        Spacing between the cells of a window. With ``"same"`` padding the dilated window is used.
    ceil_mode : bool, default False
        Round the output size up instead of down (PyTorch's rule: a last window that would start
        past the input and the left padding is dropped). Not allowed with a string padding.
    return_indices : bool, default False
        Also return the int64 indices of the maxima: flat positions within each ``(n, c)`` plane of
        the input (``l``) in both data formats, PyTorch's convention.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before (``(N, C, L)``) or after (``(N, L, C)``) the spatial axes.
        The output has the same data format, and keeps the input's memory order.
    out : numpy.ndarray, optional, keyword-only
        Where to write the result, which is returned: an array of the result's shape and dtype,
        writeable, not overlapping ``x``. A C-contiguous ``out`` in the data format's layout is
        written by the kernel directly; a call then allocates no output and saves the first-touch
        page faults of a new array (for a 256 MB input, 2x2/s2 max: a fifth to a quarter of the
        call's time on the benchmark machine).

    Returns
    -------
    y : numpy.ndarray
        The maxima, ``(N, C, L_out)`` in the input's data format and dtype.
    indices : numpy.ndarray of int64
        Only with ``return_indices=True``: see above. Feed them to ``max_pool1d_backward`` or
        ``max_unpool1d``.

    Raises
    ------
    TypeError
        If ``x`` is not a numpy.ndarray or has an unsupported dtype, or an argument has the wrong
        type (e.g. a float ``kernel_size``, a non-bool ``ceil_mode``).
    ValueError
        If ``x`` has the wrong number of dimensions or an empty spatial axis, a window argument is
        out of range (non-positive, padding over half the kernel, an output size below 1, ceil_mode
        with a string padding), ``data_format`` is unknown, or ``out`` does not fit.

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
    >>> x = np.arange(2 * 3 * 8, dtype=np.float32).reshape(2, 3, 8)
    >>> cypool.max_pool1d(x, 2).shape
    (2, 3, 4)
    >>> y, idx = cypool.max_pool1d(x, 3, stride=2, padding=1, return_indices=True)
    >>> y.shape, idx.dtype
    ((2, 3, 4), dtype('int64'))
    >>> int(idx[0, 0].flat[0]), int(idx[0, 0].flat[-1])   # plane positions of the first/last maxima
    (1, 7)
    >>> cl = np.ascontiguousarray(np.moveaxis(x, 1, -1))      # the same data, channels last
    >>> cypool.max_pool1d(cl, 3, stride=2, padding="same", data_format="channels_last").shape
    (2, 4, 3)
    """
    return _max_pool(x, 1, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                     data_format, out)


def max_pool2d(x: np.ndarray, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None,
               padding: Padding = 0, dilation: IntOrTuple = 1, ceil_mode: bool = False,
               return_indices: bool = False, data_format: DataFormat = CF, *,
               out: Optional[np.ndarray] = None) -> PoolResult:
    """2-d max pooling.

    Parameters
    ----------
    x : numpy.ndarray
        Input of shape ``(N, C, H, W)`` (or unbatched ``(C, H, W)``) when
        ``data_format="channels_first"``, ``(N, H, W, C)`` (or ``(H, W, C)``) when
        ``"channels_last"``. Any strides (slices, negative strides, Fortran order) and read-only
        arrays are accepted; an array contiguous in either memory order is not copied.
        dtypes: float32, float64, float16 and bfloat16 (ml_dtypes; read and written in half
        precision, compared in float32), int8, uint8,
        int16, uint16, int32, uint32, int64 and bool. The output has the input's dtype.
    kernel_size : int or tuple of 2 ints
        Window size along each spatial axis.
    stride : int, tuple of 2 ints or None, default None
        Step between windows; None means ``stride = kernel_size``.
    padding : int, tuple of 2 ints, "same" or "valid", default 0
        Implicit padding on both sides, at most half the kernel (``2 * p <= k``). ``"same"``
        (Keras/TensorFlow) pads so that ``out = ceil(L / stride)``, the odd cell at the end;
        ``"valid"`` is no padding. Padded cells never enter a maximum, nor, with a string padding,
        an average.
    dilation : int or tuple of 2 ints, default 1
        Spacing between the cells of a window. With ``"same"`` padding the dilated window is used.
    ceil_mode : bool, default False
        Round the output size up instead of down (PyTorch's rule: a last window that would start
        past the input and the left padding is dropped). Not allowed with a string padding.
    return_indices : bool, default False
        Also return the int64 indices of the maxima: flat positions within each ``(n, c)`` plane of
        the input (``h * W + w``) in both data formats, PyTorch's convention.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before (``(N, C, H, W)``) or after (``(N, H, W, C)``) the spatial axes.
        The output has the same data format, and keeps the input's memory order.
    out : numpy.ndarray, optional, keyword-only
        Where to write the result, which is returned: an array of the result's shape and dtype,
        writeable, not overlapping ``x``. A C-contiguous ``out`` in the data format's layout is
        written by the kernel directly; a call then allocates no output and saves the first-touch
        page faults of a new array (for a 256 MB input, 2x2/s2 max: a fifth to a quarter of the
        call's time on the benchmark machine).

    Returns
    -------
    y : numpy.ndarray
        The maxima, ``(N, C, H_out, W_out)`` in the input's data format and dtype.
    indices : numpy.ndarray of int64
        Only with ``return_indices=True``: see above. Feed them to ``max_pool2d_backward`` or
        ``max_unpool2d``.

    Raises
    ------
    TypeError
        If ``x`` is not a numpy.ndarray or has an unsupported dtype, or an argument has the wrong
        type (e.g. a float ``kernel_size``, a non-bool ``ceil_mode``).
    ValueError
        If ``x`` has the wrong number of dimensions or an empty spatial axis, a window argument is
        out of range (non-positive, padding over half the kernel, an output size below 1, ceil_mode
        with a string padding), ``data_format`` is unknown, or ``out`` does not fit.

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
    >>> x = np.arange(2 * 3 * 64, dtype=np.float32).reshape(2, 3, 8, 8)
    >>> cypool.max_pool2d(x, 2).shape
    (2, 3, 4, 4)
    >>> y, idx = cypool.max_pool2d(x, 3, stride=2, padding=1, return_indices=True)
    >>> y.shape, idx.dtype
    ((2, 3, 4, 4), dtype('int64'))
    >>> int(idx[0, 0].flat[0]), int(idx[0, 0].flat[-1])   # plane positions of the first/last maxima
    (9, 63)
    >>> cl = np.ascontiguousarray(np.moveaxis(x, 1, -1))      # the same data, channels last
    >>> cypool.max_pool2d(cl, 3, stride=2, padding="same", data_format="channels_last").shape
    (2, 4, 4, 3)
    """
    return _max_pool(x, 2, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                     data_format, out)


def max_pool3d(x: np.ndarray, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None,
               padding: Padding = 0, dilation: IntOrTuple = 1, ceil_mode: bool = False,
               return_indices: bool = False, data_format: DataFormat = CF, *,
               out: Optional[np.ndarray] = None) -> PoolResult:
    """3-d max pooling.

    Parameters
    ----------
    x : numpy.ndarray
        Input of shape ``(N, C, D, H, W)`` (or unbatched ``(C, D, H, W)``) when
        ``data_format="channels_first"``, ``(N, D, H, W, C)`` (or ``(D, H, W, C)``) when
        ``"channels_last"``. Any strides (slices, negative strides, Fortran order) and read-only
        arrays are accepted; an array contiguous in either memory order is not copied.
        dtypes: float32, float64, float16 and bfloat16 (ml_dtypes; read and written in half
        precision, compared in float32), int8, uint8,
        int16, uint16, int32, uint32, int64 and bool. The output has the input's dtype.
    kernel_size : int or tuple of 3 ints
        Window size along each spatial axis.
    stride : int, tuple of 3 ints or None, default None
        Step between windows; None means ``stride = kernel_size``.
    padding : int, tuple of 3 ints, "same" or "valid", default 0
        Implicit padding on both sides, at most half the kernel (``2 * p <= k``). ``"same"``
        (Keras/TensorFlow) pads so that ``out = ceil(L / stride)``, the odd cell at the end;
        ``"valid"`` is no padding. Padded cells never enter a maximum, nor, with a string padding,
        an average.
    dilation : int or tuple of 3 ints, default 1
        Spacing between the cells of a window. With ``"same"`` padding the dilated window is used.
    ceil_mode : bool, default False
        Round the output size up instead of down (PyTorch's rule: a last window that would start
        past the input and the left padding is dropped). Not allowed with a string padding.
    return_indices : bool, default False
        Also return the int64 indices of the maxima: flat positions within each ``(n, c)`` plane of
        the input (``d * H * W + h * W + w``) in both data formats, PyTorch's convention.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before (``(N, C, D, H, W)``) or after (``(N, D, H, W, C)``) the spatial axes.
        The output has the same data format, and keeps the input's memory order.
    out : numpy.ndarray, optional, keyword-only
        Where to write the result, which is returned: an array of the result's shape and dtype,
        writeable, not overlapping ``x``. A C-contiguous ``out`` in the data format's layout is
        written by the kernel directly; a call then allocates no output and saves the first-touch
        page faults of a new array (for a 256 MB input, 2x2/s2 max: a fifth to a quarter of the
        call's time on the benchmark machine).

    Returns
    -------
    y : numpy.ndarray
        The maxima, ``(N, C, D_out, H_out, W_out)`` in the input's data format and dtype.
    indices : numpy.ndarray of int64
        Only with ``return_indices=True``: see above. Feed them to ``max_pool3d_backward`` or
        ``max_unpool3d``.

    Raises
    ------
    TypeError
        If ``x`` is not a numpy.ndarray or has an unsupported dtype, or an argument has the wrong
        type (e.g. a float ``kernel_size``, a non-bool ``ceil_mode``).
    ValueError
        If ``x`` has the wrong number of dimensions or an empty spatial axis, a window argument is
        out of range (non-positive, padding over half the kernel, an output size below 1, ceil_mode
        with a string padding), ``data_format`` is unknown, or ``out`` does not fit.

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
    >>> x = np.arange(2 * 3 * 512, dtype=np.float32).reshape(2, 3, 8, 8, 8)
    >>> cypool.max_pool3d(x, 2).shape
    (2, 3, 4, 4, 4)
    >>> y, idx = cypool.max_pool3d(x, 3, stride=2, padding=1, return_indices=True)
    >>> y.shape, idx.dtype
    ((2, 3, 4, 4, 4), dtype('int64'))
    >>> int(idx[0, 0].flat[0]), int(idx[0, 0].flat[-1])   # plane positions of the first/last maxima
    (73, 511)
    >>> cl = np.ascontiguousarray(np.moveaxis(x, 1, -1))      # the same data, channels last
    >>> cypool.max_pool3d(cl, 3, stride=2, padding="same", data_format="channels_last").shape
    (2, 4, 4, 4, 3)
    """
    return _max_pool(x, 3, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                     data_format, out)


def max_pool1d_backward(grad_output: np.ndarray, indices: np.ndarray, input_shape: Shape,
                        data_format: DataFormat = CF, *,
                        out: Optional[np.ndarray] = None) -> np.ndarray:
    """Gradient of 1-d max pooling with respect to its input.

    Each ``grad_output`` entry is added to the input cell its index names; other cells get 0.

    Parameters
    ----------
    grad_output : numpy.ndarray
        Gradient with respect to the forward output: same shape and data format as that output;
        float16 or bfloat16 (ml_dtypes; half precision in and out, each add rounded as PyTorch's
        half-precision backward rounds it), float32 or float64.
    indices : numpy.ndarray of int64
        The indices returned by the forward call with ``return_indices=True`` (same shape as
        ``grad_output``). Indices outside the plane raise ValueError.
    input_shape : tuple of ints
        Shape of the forward input (``x.shape``), in the same data format.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before (``(N, C, L)``) or after (``(N, L, C)``) the spatial axes.
        The output has the same data format, and keeps the input's memory order.
    out : numpy.ndarray, optional, keyword-only
        Where to write the input gradient, which is returned: an array of ``input_shape`` and
        ``grad_output``'s dtype, writeable, not overlapping the inputs. A C-contiguous ``out`` in the
        data format's layout is written by the kernel directly (a training loop can reuse one
        gradient buffer and skip the first-touch page faults of a new array); any other layout gets
        a copy.

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
        Gradient with respect to the forward output: same shape and data format as that output;
        float16 or bfloat16 (ml_dtypes; half precision in and out, each add rounded as PyTorch's
        half-precision backward rounds it), float32 or float64.
    indices : numpy.ndarray of int64
        The indices returned by the forward call with ``return_indices=True`` (same shape as
        ``grad_output``). Indices outside the plane raise ValueError.
    input_shape : tuple of ints
        Shape of the forward input (``x.shape``), in the same data format.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before (``(N, C, H, W)``) or after (``(N, H, W, C)``) the spatial axes.
        The output has the same data format, and keeps the input's memory order.
    out : numpy.ndarray, optional, keyword-only
        Where to write the input gradient, which is returned: an array of ``input_shape`` and
        ``grad_output``'s dtype, writeable, not overlapping the inputs. A C-contiguous ``out`` in the
        data format's layout is written by the kernel directly (a training loop can reuse one
        gradient buffer and skip the first-touch page faults of a new array); any other layout gets
        a copy.

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
        Gradient with respect to the forward output: same shape and data format as that output;
        float16 or bfloat16 (ml_dtypes; half precision in and out, each add rounded as PyTorch's
        half-precision backward rounds it), float32 or float64.
    indices : numpy.ndarray of int64
        The indices returned by the forward call with ``return_indices=True`` (same shape as
        ``grad_output``). Indices outside the plane raise ValueError.
    input_shape : tuple of ints
        Shape of the forward input (``x.shape``), in the same data format.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before (``(N, C, D, H, W)``) or after (``(N, D, H, W, C)``) the spatial axes.
        The output has the same data format, and keeps the input's memory order.
    out : numpy.ndarray, optional, keyword-only
        Where to write the input gradient, which is returned: an array of ``input_shape`` and
        ``grad_output``'s dtype, writeable, not overlapping the inputs. A C-contiguous ``out`` in the
        data format's layout is written by the kernel directly (a training loop can reuse one
        gradient buffer and skip the first-touch page faults of a new array); any other layout gets
        a copy.

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
    >>> x = np.arange(512, dtype=np.float64).reshape(1, 1, 8, 8, 8)
    >>> y, idx = cypool.max_pool3d(x, 2, return_indices=True)
    >>> gx = cypool.max_pool3d_backward(np.ones_like(y), idx, x.shape)
    >>> gx.shape, float(gx.sum()), float(gx.reshape(-1)[-1])
    ((1, 1, 8, 8, 8), 64.0, 1.0)
    """
    return _max_backward(grad_output, indices, input_shape, 3, data_format, out=out)
