"""Stochastic pooling (Zeiler & Fergus 2013), forward and backward: the Python side of
pyx/_stochastic.pyx. The backward is the index scatter of max pooling (max_backward._max_backward).
"""
from __future__ import annotations

from typing import Optional, Union

import numpy as np

from . import _stochastic
from ._geometry import _is_int, check_bool, pool_geometry
from ._plan import Plan
from ._steps import (CF, DataFormat, IntOrTuple, PoolResult, Shape, destination, input_source,
                     prepare)

from .max_backward import _max_backward

Seed = Union[None, int, np.random.Generator]


def _generator(seed) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or (_is_int(seed) and seed >= 0):
        return np.random.default_rng(seed)
    if _is_int(seed):  # the right type, a value out of range
        raise ValueError(f"seed must be non-negative, got seed={seed!r}")
    raise TypeError(f"seed must be None, a non-negative int or a numpy.random.Generator, "
                    f"got seed={seed!r}")


def stochastic_pool2d(x: np.ndarray, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None,
                      training: bool = True, seed: Seed = None, return_indices: bool = False,
                      data_format: DataFormat = CF) -> PoolResult:
    """Stochastic pooling (Zeiler & Fergus 2013), no padding, floor mode.

    Weights are ``r = max(x, 0)``. In training one cell per window is sampled with probability
    ``r_i / sum(r)`` and its value returned; in evaluation the window gives ``sum(r^2) / sum(r)``.
    A window whose weights are all zero samples a cell uniformly (evaluation: 0); a NaN in a
    window gives NaN (index: the first NaN).

    Parameters
    ----------
    x : numpy.ndarray
        Input ``(N, C, H, W)`` (or unbatched ``(C, H, W)``) channels first, ``(N, H, W, C)``
        channels last; float16 or bfloat16 (computed in float32), float32 or float64, any strides.
    kernel_size : int or tuple of 2 ints
        Window size.
    stride : int, tuple of 2 ints or None, default None
        Step between windows; None means ``stride = kernel_size``.
    training : bool, default True
        Sample (True) or take the probability-weighted average (False).
    seed : None, int >= 0 or numpy.random.Generator, default None
        Source of the uniforms: a training call draws one 64-bit key from it
        (``integers(2**64, dtype=numpy.uint64)``); window ``t`` (its position in
        ``(N, C, OH, OW)`` order) takes output ``t + 1`` of SplitMix64 seeded with that key, as
        ``(z >> 11) * 2**-53``. The same seed gives the same result for any thread count and
        data format.
    return_indices : bool, default False
        Also return the sampled cells (int64, flat per plane), for
        ``stochastic_pool2d_backward``; training only.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before or after the spatial axes; the result keeps it.

    Returns
    -------
    y : numpy.ndarray
        ``(N, C, OH, OW)`` in the input's data format and dtype.
    indices : numpy.ndarray of int64
        Only with ``return_indices=True``.

    Raises
    ------
    TypeError
        If ``x`` is not a floating-point numpy.ndarray, ``seed`` is not None, an int or a
        Generator, or a flag is not a bool.
    ValueError
        If a window argument is out of range, ``seed`` is negative, ``return_indices=True``
        comes with ``training=False``, or ``data_format`` is unknown.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    >>> y, idx = cypool.stochastic_pool2d(x, 2, seed=0, return_indices=True)
    >>> y.shape, bool(np.all(y == x.reshape(-1)[idx]))
    ((1, 1, 2, 2), True)
    >>> round(float(cypool.stochastic_pool2d(x, 2, training=False)[0, 0, 0, 0]), 5)  # 42 / 10
    4.2
    """
    # Every training call draws its own key, so its plan is built for it and not kept.
    return _stochastic_plan(x, kernel_size, stride, training, seed, return_indices,
                            data_format).run(x)


class _Stochastic:
    """pyx/_stochastic.pyx's kernel in the plans' call convention, (x, y, indices or None,
    n_threads), with this call's key (the seed of its uniforms)."""
    __slots__ = ("key", "window", "outer", "c", "cl", "training")

    def __init__(self, key, window, outer, c, cl, training):
        self.key, self.window, self.outer, self.c, self.cl = key, window, outer, c, cl
        self.training = training

    def __call__(self, src, dst, indices, n_threads):
        # ravel("K"): the buffers are contiguous in the kernel's memory order, so these are views
        # indices: None unless return_indices (the samples' cells are then not written)
        idx = indices.ravel("K") if indices is not None else None
        _stochastic.stochastic_forward(src.ravel("K"), dst.ravel("K"), idx, self.key,
                                       self.window, self.outer, self.c, self.cl, self.training,
                                       n_threads)


def _stochastic_plan(x, kernel_size, stride, training, seed, return_indices,
                     data_format) -> Plan:
    can = prepare(x, 2, data_format, "float")
    geo = pool_geometry(can.spatial[1:], 2, kernel_size, stride, 0)
    training = check_bool(training, "training")
    return_indices = check_bool(return_indices, "return_indices")
    if return_indices and not training:
        raise ValueError("return_indices=True needs training=True (evaluation samples nothing)")
    rng = _generator(seed)
    key = int(rng.integers(2**64, dtype=np.uint64)) if training else 0
    cl = can.order == "cl"
    outer = can.n if cl else can.n * can.c
    size = can.n * can.c * geo.out_size[0] * geo.out_size[1] * geo.out_size[2]
    return Plan(_Stochastic(key, geo.window(), outer, can.c, cl, training) if size else None,
                nbytes=can.view.nbytes + size * can.view.dtype.itemsize,
                items=outer * geo.out_size[1],
                source=input_source(x, can, "float"),
                new_indices=return_indices, return_indices=return_indices,
                **destination(can, geo.out_size, x.dtype))


def stochastic_pool2d_backward(grad_output: np.ndarray, indices: np.ndarray, input_shape: Shape,
                               data_format: DataFormat = CF) -> np.ndarray:
    """Gradient of training-mode stochastic pooling with respect to its input.

    Each output gradient goes to its sampled cell (the index scatter of max pooling).

    Parameters
    ----------
    grad_output : numpy.ndarray
        Gradient with respect to the forward output (its shape and data format).
    indices : numpy.ndarray of int64
        The sampled cells, from ``stochastic_pool2d(..., return_indices=True)``.
    input_shape : tuple of ints
        Shape of the forward input.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before or after the spatial axes; the result keeps it.

    Returns
    -------
    grad_x : numpy.ndarray
        Shape ``input_shape``, dtype of ``grad_output``.

    Raises
    ------
    TypeError
        If ``grad_output`` is not floating point or ``indices`` is not int64.
    ValueError
        If the shapes disagree or an index lies outside its plane.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    >>> y, idx = cypool.stochastic_pool2d(x, 2, seed=0, return_indices=True)
    >>> float(cypool.stochastic_pool2d_backward(np.ones_like(y), idx, x.shape).sum())
    4.0
    """
    return _max_backward(grad_output, indices, input_shape, 2, data_format)
