"""Fractional max pooling (Graham 2015), 2-d and 3-d, forward and backward, with PyTorch's
window rule: the Python side of pyx/_fractional.pyx.

A window of fixed size k slides over an axis of length L to give O outputs; its starts advance by
the floor or the ceiling of a = (L - k) / (O - 1), chosen by one sample u per plane and axis:
``start_i = int((i + u) * a) - int(u * a)`` for i < O - 1, and the last window ends at the input's
end (torch's ``generate_intervals``). The arithmetic runs in the samples' floating type, rounded
at each step as torch rounds it in its scalar type (float16 and ml_dtypes' bfloat16 included),
so the same samples give torch's windows exactly. The window starts are computed here, per plane;
the kernel takes each window's maximum. The gradient is max pooling's index scatter.
"""
from __future__ import annotations

from typing import Optional, Tuple, Union

import numpy as np

from . import _fractional
from ._geometry import check_bool
from ._plan import Plan
from ._steps import (CF, DataFormat, IntOrTuple, PoolResult, Shape, destination, input_source,
                     prepare)
from .max_backward import _max_backward
from .stochastic import Seed, _generator

Ratio = Union[float, Tuple[float, ...]]
_AXES = {2: ("height", "width"), 3: ("time", "height", "width")}


def _intervals(sample, input_size: int, output_size: int, pool_size: int) -> np.ndarray:
    """Window starts along one axis for samples of any shape: (..., output_size) int64.

    Arithmetic in the samples' dtype (float16, float32, float64 or ml_dtypes.bfloat16), each
    operation rounded as torch's scalar type rounds it; the float -> int conversion truncates
    toward zero, as C's cast does."""
    sample = np.asarray(sample)
    dt = sample.dtype.type
    out = np.empty(sample.shape + (output_size,), np.int64)
    if output_size > 1:
        alpha = dt(input_size - pool_size) / dt(output_size - 1)
        i = np.arange(output_size - 1).astype(sample.dtype)
        with np.errstate(invalid="ignore", over="ignore"):
            first = ((i + sample[..., None]) * alpha).astype(np.float64).astype(np.int64)
            offset = (sample * alpha).astype(np.float64).astype(np.int64)
        out[..., :-1] = first - offset[..., None]
    if output_size > 0:
        out[..., -1] = input_size - pool_size
    return out


def _ints(value, rank: int, name: str, minimum: int) -> tuple:
    """An int or exactly `rank` ints (torch's fractional pooling takes no 1-tuple), >= minimum."""
    vals = tuple(value) if isinstance(value, (list, tuple)) else (value,) * rank
    if len(vals) != rank or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                    for v in vals):
        raise TypeError(f"{name} must be an int or a tuple of {rank} ints, got {name}={value!r}")
    if min(vals) < minimum:
        kind = "positive" if minimum == 1 else "non-negative"
        raise ValueError(f"{name} must be {kind}, got {name}={value!r}")
    return tuple(int(v) for v in vals)


def _output_size(spatial, rank, kernel, output_size, output_ratio) -> tuple:
    if output_size is not None and output_ratio is not None:
        raise ValueError("give output_size or output_ratio, not both")
    if output_size is None and output_ratio is None:
        raise ValueError("fractional max pooling needs output_size or output_ratio")
    if output_size is not None:
        out = _ints(output_size, rank, "output_size", 0)
    else:
        ratios = tuple(output_ratio) if isinstance(output_ratio, (tuple, list)) else \
            (output_ratio,) * rank
        if len(ratios) != rank or not all(isinstance(r, (int, float, np.integer, np.floating))
                                          and not isinstance(r, bool) for r in ratios):
            raise TypeError(f"output_ratio must be a number or a tuple of {rank} numbers, got "
                            f"output_ratio={output_ratio!r}")
        if not all(0 < r < 1 for r in ratios):
            raise ValueError(f"output_ratio must be between 0 and 1, got "
                             f"output_ratio={output_ratio!r}")
        out = tuple(int(L * float(r)) for L, r in zip(spatial, ratios))
    for axis, L, k, o in zip(_AXES[rank], spatial, kernel, out):
        # torch's limits: output + k - 1 <= L in 2-d, < L in 3-d
        if o + k - 1 > L - (rank == 3):
            raise ValueError(f"kernel_size {k} is too large for an output {axis} of {o} from an "
                             f"input {axis} of {L} (output_size + kernel_size - 1 must be "
                             f"{'<' if rank == 3 else '<='} the input size)")
    return out


def _samples(random_samples, seed, n, c, batched, rank, dtype) -> np.ndarray:
    """One sample per plane and axis, (n * c, rank), in torch's axis order."""
    if random_samples is None:
        return _generator(seed).random((n * c, rank)).astype(dtype)
    if seed is not None:
        raise ValueError("give random_samples or seed, not both")
    if not isinstance(random_samples, np.ndarray):
        raise TypeError(f"random_samples must be a numpy.ndarray, got "
                        f"{type(random_samples).__name__}")
    u = random_samples
    if u.dtype.kind != "f" and u.dtype.name != "bfloat16":
        raise TypeError(f"random_samples must have a floating dtype, got {u.dtype}")
    wanted = [(n, c, rank)] if batched else [(c, rank), (1, c, rank)]
    if u.shape not in wanted:
        raise ValueError(f"random_samples.shape={u.shape} must be "
                         f"{' or '.join(map(str, wanted))}")
    u = u.reshape(n * c, rank)
    if not np.isfinite(u.astype(np.float64)).all():
        raise ValueError("random_samples must be finite numbers in [0, 1)")
    return u


class _Fractional:
    """pyx/_fractional.pyx's kernel in the plans' call convention (x, y, indices, n_threads),
    with this call's window starts."""
    __slots__ = ("starts", "n", "c", "cl", "spatial", "kernel")

    def __init__(self, starts, n, c, cl, spatial, kernel):
        self.starts, self.n, self.c, self.cl = starts, n, c, cl
        self.spatial, self.kernel = spatial, kernel

    def __call__(self, src, dst, indices, n_threads):
        # ravel("K"): the buffers are contiguous in the kernel's memory order, so these are views;
        # indices: None unless return_indices (then the kernel writes none)
        _fractional.fractional_forward(src.ravel("K"), dst.ravel("K"),
                                       None if indices is None else indices.ravel("K"),
                                       *self.starts, self.n, self.c, self.cl, *self.spatial,
                                       *self.kernel, n_threads)


def _fractional_plan(x, rank, kernel_size, output_size, output_ratio, return_indices,
                     random_samples, seed, data_format) -> Plan:
    can = prepare(x, rank, data_format, "float")
    kernel = _ints(kernel_size, rank, "kernel_size", 1)
    spatial = can.spatial[3 - rank:]
    out = _output_size(spatial, rank, kernel, output_size, output_ratio)
    return_indices = check_bool(return_indices, "return_indices")
    u = _samples(random_samples, seed, can.n, can.c, can.batched, rank, x.dtype)
    order = (1, 0) if rank == 2 else (0, 1, 2)      # torch's sample order: 2-d (W, H), 3-d (T, H, W)
    starts = [_intervals(u[:, order[a]], spatial[a], out[a], kernel[a])
              for a in range(rank)]
    for axis, s, L, k in zip(_AXES[rank], starts, spatial, kernel):
        if s.size and (s.min() < 0 or s.max() > L - k):   # never read outside the input
            raise ValueError(f"random_samples give windows outside the input's {axis}: "
                             f"samples must lie in [0, 1)")
    lift = 3 - rank                                   # 2-d: one time step, a window of 1
    planes = can.n * can.c
    starts = [np.zeros((planes, 1), np.int64)] * lift + starts
    out3 = (1,) * lift + out
    size = planes * out3[0] * out3[1] * out3[2]
    cl = can.order == "cl"
    return Plan(_Fractional(starts, can.n, can.c, cl, can.spatial, (1,) * lift + kernel)
                if size else None,
                nbytes=can.view.nbytes + size * (can.view.dtype.itemsize + 8), items=planes,
                source=input_source(x, can, "float"),
                new_indices=return_indices, return_indices=return_indices,
                **destination(can, out3, x.dtype))


def fractional_max_pool2d(x: np.ndarray, kernel_size: IntOrTuple,
                          output_size: Optional[IntOrTuple] = None,
                          output_ratio: Optional[Ratio] = None, return_indices: bool = False,
                          random_samples: Optional[np.ndarray] = None, seed: Seed = None,
                          data_format: DataFormat = CF) -> PoolResult:
    """2-d fractional max pooling (Graham 2015) with PyTorch's window rule.

    Parameters
    ----------
    x : numpy.ndarray
        (N, C, H, W), or (N, H, W, C) with ``data_format="channels_last"``; unbatched inputs
        drop N; float16 (windows in float16 arithmetic, maxima in float32), float32 or float64.
    kernel_size : int or tuple of 2 ints
        The window's size.
    output_size : int or tuple of 2 ints, optional
        The output's spatial size; ``output_size + kernel_size - 1`` must not exceed the input.
    output_ratio : float or tuple of 2 floats, optional
        Instead of output_size: the output is ``int(input_size * ratio)``, ratio in (0, 1).
    return_indices : bool
        Also return the int64 flat position ``h * W + w`` of each maximum within its plane.
    random_samples : numpy.ndarray, optional
        One number in [0, 1) per plane and axis, shape (N, C, 2) ((C, 2) or (1, C, 2) unbatched),
        last axis (width, height) as in PyTorch's ``_random_samples``; the windows are computed
        in its dtype, so the same samples give PyTorch's result exactly.
    seed : None, int or numpy.random.Generator
        Draws the samples when random_samples is not given.
    data_format : {"channels_first", "channels_last"}
        Layout of x and of the result.

    Returns
    -------
    numpy.ndarray or (numpy.ndarray, numpy.ndarray)
        The pooled array, and the indices when return_indices is True.

    Raises
    ------
    TypeError
        For a non-floating x, kernel_size or output_size not an int or a tuple of ints, or
        random_samples not a floating ndarray.
    ValueError
        When neither or both of output_size and output_ratio are given, the window does not fit,
        or random_samples has the wrong shape or gives windows outside the input.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.arange(25, dtype=np.float32).reshape(1, 1, 5, 5)
    >>> u = np.full((1, 1, 2), 0.5, np.float32)
    >>> cypool.fractional_max_pool2d(x, 2, output_size=3, random_samples=u)[0, 0]
    array([[ 6.,  8.,  9.],
           [16., 18., 19.],
           [21., 23., 24.]], dtype=float32)
    """
    return _fractional_plan(x, 2, kernel_size, output_size, output_ratio, return_indices,
                            random_samples, seed, data_format).run(x)


def fractional_max_pool3d(x: np.ndarray, kernel_size: IntOrTuple,
                          output_size: Optional[IntOrTuple] = None,
                          output_ratio: Optional[Ratio] = None, return_indices: bool = False,
                          random_samples: Optional[np.ndarray] = None, seed: Seed = None,
                          data_format: DataFormat = CF) -> PoolResult:
    """3-d fractional max pooling (Graham 2015) with PyTorch's window rule.

    Parameters
    ----------
    x : numpy.ndarray
        (N, C, D, H, W), or (N, D, H, W, C) with ``data_format="channels_last"``; unbatched
        inputs drop N; float16, float32 or float64.
    kernel_size : int or tuple of 3 ints
        The window's size.
    output_size : int or tuple of 3 ints, optional
        The output's spatial size; ``output_size + kernel_size - 1`` must be less than the input
        (PyTorch's 3-d limit).
    output_ratio : float or tuple of 3 floats, optional
        Instead of output_size: the output is ``int(input_size * ratio)``, ratio in (0, 1).
    return_indices : bool
        Also return the int64 flat position ``(d * H + h) * W + w`` of each maximum.
    random_samples : numpy.ndarray, optional
        One number in [0, 1) per plane and axis, shape (N, C, 3) ((C, 3) or (1, C, 3)
        unbatched), last axis (depth, height, width) as in PyTorch's ``_random_samples``.
    seed : None, int or numpy.random.Generator
        Draws the samples when random_samples is not given.
    data_format : {"channels_first", "channels_last"}
        Layout of x and of the result.

    Returns
    -------
    numpy.ndarray or (numpy.ndarray, numpy.ndarray)
        The pooled array, and the indices when return_indices is True.

    Raises
    ------
    TypeError
        For a non-floating x, kernel_size or output_size not an int or a tuple of ints, or
        random_samples not a floating ndarray.
    ValueError
        When neither or both of output_size and output_ratio are given, the window does not fit,
        or random_samples has the wrong shape or gives windows outside the input.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.arange(64, dtype=np.float64).reshape(1, 1, 4, 4, 4)
    >>> cypool.fractional_max_pool3d(x, 2, output_size=2, seed=0).shape
    (1, 1, 2, 2, 2)
    """
    return _fractional_plan(x, 3, kernel_size, output_size, output_ratio, return_indices,
                            random_samples, seed, data_format).run(x)


def fractional_max_pool2d_backward(grad_output: np.ndarray, indices: np.ndarray,
                                   input_shape: Shape, data_format: DataFormat = CF) -> np.ndarray:
    """Gradient of fractional_max_pool2d: each output gradient goes to its maximum's cell.

    Parameters
    ----------
    grad_output : numpy.ndarray
        Gradient of the pooled output.
    indices : numpy.ndarray
        The int64 indices fractional_max_pool2d returned.
    input_shape : tuple of int
        Shape of the forward's input.
    data_format : {"channels_first", "channels_last"}
        Layout of the arrays.

    Returns
    -------
    numpy.ndarray
        The input's gradient.

    Raises
    ------
    TypeError, ValueError
        As max_pool2d_backward, whose index scatter this is.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    >>> y, i = cypool.fractional_max_pool2d(x, 2, output_size=2, return_indices=True, seed=1)
    >>> float(cypool.fractional_max_pool2d_backward(np.ones_like(y), i, x.shape).sum())
    4.0
    """
    return _max_backward(grad_output, indices, input_shape, 2, data_format)


def fractional_max_pool3d_backward(grad_output: np.ndarray, indices: np.ndarray,
                                   input_shape: Shape, data_format: DataFormat = CF) -> np.ndarray:
    """Gradient of fractional_max_pool3d: each output gradient goes to its maximum's cell.

    Parameters
    ----------
    grad_output : numpy.ndarray
        Gradient of the pooled output.
    indices : numpy.ndarray
        The int64 indices fractional_max_pool3d returned.
    input_shape : tuple of int
        Shape of the forward's input.
    data_format : {"channels_first", "channels_last"}
        Layout of the arrays.

    Returns
    -------
    numpy.ndarray
        The input's gradient.

    Raises
    ------
    TypeError, ValueError
        As max_pool3d_backward, whose index scatter this is.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.arange(64, dtype=np.float64).reshape(1, 1, 4, 4, 4)
    >>> y, i = cypool.fractional_max_pool3d(x, 2, output_size=2, return_indices=True, seed=1)
    >>> float(cypool.fractional_max_pool3d_backward(np.ones_like(y), i, x.shape).sum())
    8.0
    """
    return _max_backward(grad_output, indices, input_shape, 3, data_format)
