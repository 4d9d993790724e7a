"""numpydoc docstrings of cypool.pooling's public functions, written once per operator family and
filled per rank (1-d, 2-d, 3-d), so `help(cypool.max_pool2d)` tells everything the README's API
table says without three copies of the text. `attach(namespace)` sets them; pooling.py calls it.
The Examples are run as doctests by tests/test_docs.py.
"""
from __future__ import annotations

from typing import Callable, Dict

# Per rank: spatial shape strings used in the texts and examples (hand-written, not computed).
RANKS = {
    1: dict(r=1, sp="L", sp8="8", sp6="6", sp4="4", sp3="3", sp1="1", first=1, last=7,
            n8=8, n6=6, last6=5, cnt4="4.0", cnt3="3.0", corner="0.6666666666666666",
            mean6="2.5"),
    2: dict(r=2, sp="H, W", sp8="8, 8", sp6="6, 6", sp4="4, 4", sp3="3, 3", sp1="1, 1",
            first=9, last=63, n8=64, n6=36, last6=35, cnt4="16.0", cnt3="9.0",
            corner="0.4444444444444444", mean6="17.5"),
    3: dict(r=3, sp="D, H, W", sp8="8, 8, 8", sp6="6, 6, 6", sp4="4, 4, 4", sp3="3, 3, 3",
            sp1="1, 1, 1", first=73, last=511, n8=512, n6=216, last6=215, cnt4="64.0",
            cnt3="27.0", corner="0.2962962962962963", mean6="107.5"),
}

P = {
    "x": """x : numpy.ndarray
    Input of shape ``(N, C, {sp})`` (or unbatched ``(C, {sp})``) when
    ``data_format="channels_first"``, ``(N, {sp}, C)`` (or ``({sp}, C)``) when
    ``"channels_last"``. Any strides (slices, negative strides, Fortran order) and read-only
    arrays are accepted; an array contiguous in either memory order is not copied.""",
    "x_max_dtype": (
        "    dtypes: float32, float64 (float16 is computed in float32), int8, uint8,\n"
        "    int16, uint16, int32, uint32, int64 and bool. The output has the input's dtype."),
    "x_avg_dtype": (
        "    dtypes: float32, float64 (float16 is computed in float32);\n"
        "    integer arrays raise TypeError. Sums accumulate in float64; the output has\n"
        "    the input's dtype."),
    "kernel_size": """kernel_size : int or tuple of {r} ints
    Window size along each spatial axis.""",
    "stride": """stride : int, tuple of {r} ints or None, default None
    Step between windows; None means ``stride = kernel_size``.""",
    "padding": """padding : int, tuple of {r} ints, "same" or "valid", default 0
    Implicit padding on both sides, at most half the kernel (``2 * p <= k``). ``"same"``
    (Keras/TensorFlow) pads so that ``out = ceil(L / stride)``, the odd cell at the end;
    ``"valid"`` is no padding. Padded cells never enter a maximum, nor, with a string padding,
    an average.""",
    "dilation": """dilation : int or tuple of {r} ints, default 1
    Spacing between the cells of a window. With ``"same"`` padding the dilated window is used.""",
    "ceil_mode": """ceil_mode : bool, default False
    Round the output size up instead of down (PyTorch's rule: a last window that would start
    past the input and the left padding is dropped). Not allowed with a string padding.""",
    "return_indices": """return_indices : bool, default False
    Also return the int64 indices of the maxima: flat positions within each ``(n, c)`` plane of
    the input (``{flat}``) in both data formats, PyTorch's convention.""",
    "count_include_pad": """count_include_pad : bool, default True
    Count the zero padding in the divisor (the window's padded extent, clipped to
    ``[-p, L + p)``). Ignored with a string padding (padded cells never count).""",
    "divisor_override": """divisor_override : int or None, default None
    A non-zero divisor used for every window instead of the cell count.""",
    "out": """out : numpy.ndarray, optional, keyword-only
    Where to write the result, which is returned: an array of the result's shape and dtype,
    writeable, not overlapping ``x``. A C-contiguous ``out`` in the data format's layout is
    written by the kernel directly; a call then allocates no output and saves the first-touch
    page faults of a new array (for a 256 MB input, 2x2/s2 max: a fifth to a quarter of the
    call's time on the machine the README's benchmark ran on).""",
    "out_grad": """out : numpy.ndarray, optional, keyword-only
    Where to write the input gradient, which is returned: an array of ``input_shape`` and
    ``grad_output``'s dtype, writeable, not overlapping the inputs. A C-contiguous ``out`` in the
    data format's layout is written by the kernel directly (a training loop can reuse one
    gradient buffer and skip the first-touch page faults of a new array); any other layout gets
    a copy.""",
    "data_format": """data_format : {{"channels_first", "channels_last"}}, default "channels_first"
    Whether channels come before (``(N, C, {sp})``) or after (``(N, {sp}, C)``) the spatial axes.
    The output has the same data format, and keeps the input's memory order.""",
    "output_size": """output_size : int or tuple of {r} (int or None)
    Output spatial size; a None entry keeps that axis's input size. Bin ``i`` of an axis covers
    input cells ``[floor(i * L / O), ceil((i + 1) * L / O))``.""",
    "keepdims": """keepdims : bool, default False
    Keep the pooled spatial axes with size 1 (``(N, C, {sp1})``) instead of returning
    ``(N, C)``.""",
    "grad_output": """grad_output : numpy.ndarray
    Gradient with respect to the forward output: same shape and data format as that output;
    float16, float32 or float64.""",
    "indices": """indices : numpy.ndarray of int64
    The indices returned by the forward call with ``return_indices=True`` (same shape as
    ``grad_output``). Indices outside the plane raise ValueError.""",
    "input_shape": """input_shape : tuple of ints
    Shape of the forward input (``x.shape``), in the same data format.""",
    "unpool_x": """x : numpy.ndarray
    Pooled values, shape ``(N, C, {sp})`` or ``(N, {sp}, C)`` (or unbatched); the dtypes of max
    pooling.""",
    "unpool_indices": """indices : numpy.ndarray of int64
    Flat plane positions in the unpooled output, as ``max_pool{r}d(..., return_indices=True)``
    returns them; same shape as ``x``. Positions outside the output plane raise ValueError;
    a later duplicate overwrites an earlier one.""",
    "unpool_output_size": """output_size : tuple of ints or None, default None
    Output size (the spatial entries are used; a full shape is accepted). Default
    ``(L - 1) * stride - 2 * padding + kernel_size``; a given size must lie within one stride of
    it.""",
    "unpool_padding": """padding : int or tuple of {r} ints, default 0
    The padding of the max pooling being inverted.""",
}

COMMON_NOTES = """Notes
-----
Semantics are PyTorch 2.x's on the CPU: output size
``floor((L + 2p - d(k-1) - 1 [+ s-1 in ceil mode]) / s) + 1``; see the README's "Semantics"
section. Bad arguments raise ValueError or TypeError naming the parameter and the value. Work is
parallelised with OpenMP (see ``cypool.set_num_threads`` / ``cypool.threads``); results are
bit-identical for any thread count. The GIL is released while the kernel runs."""

MAX_NOTES = """

Max: NaN propagates (its index is the last NaN in window order); ties go to the first maximum in
row-major window order; a window holding no input cell (possible with dilation) gives the
lowest value and an index outside the plane, which backward and unpool refuse."""

FLAT = {1: "l", 2: "h * W + w", 3: "d * H * W + h * W + w"}


def _params(*names: str) -> str:
    return "Parameters\n----------\n" + "\n".join(P[n] for n in names)


TEMPLATES: Dict[str, str] = {
    "max_pool": """{r}-d max pooling.

""" + _params("x", "x_max_dtype", "kernel_size", "stride", "padding", "dilation", "ceil_mode",
              "return_indices", "data_format", "out") + """

Returns
-------
y : numpy.ndarray
    The maxima, ``(N, C, {sp_out})`` in the input's data format and dtype.
indices : numpy.ndarray of int64
    Only with ``return_indices=True``: see above. Feed them to ``max_pool{r}d_backward`` or
    ``max_unpool{r}d``.

""" + COMMON_NOTES + MAX_NOTES + """

Examples
--------
>>> import numpy as np, cypool
>>> x = np.arange(2 * 3 * {n8}, dtype=np.float32).reshape(2, 3, {sp8})
>>> cypool.max_pool{r}d(x, 2).shape
(2, 3, {sp4})
>>> y, idx = cypool.max_pool{r}d(x, 3, stride=2, padding=1, return_indices=True)
>>> y.shape, idx.dtype
((2, 3, {sp4}), dtype('int64'))
>>> int(idx[0, 0].flat[0]), int(idx[0, 0].flat[-1])   # plane positions of the first/last maxima
({first}, {last})
>>> cl = np.ascontiguousarray(np.moveaxis(x, 1, -1))      # the same data, channels last
>>> cypool.max_pool{r}d(cl, 3, stride=2, padding="same", data_format="channels_last").shape
(2, {sp4}, 3)
""",
    "max_pool_backward": """Gradient of {r}-d max pooling with respect to its input.

Each ``grad_output`` entry is added to the input cell its index names; other cells get 0.

""" + _params("grad_output", "indices", "input_shape", "data_format", "out_grad") + """

Returns
-------
grad_x : numpy.ndarray
    Shape ``input_shape``, dtype of ``grad_output``, data format ``data_format``.

""" + COMMON_NOTES + """

Examples
--------
>>> import numpy as np, cypool
>>> x = np.arange({n8}, dtype=np.float64).reshape(1, 1, {sp8})
>>> y, idx = cypool.max_pool{r}d(x, 2, return_indices=True)
>>> gx = cypool.max_pool{r}d_backward(np.ones_like(y), idx, x.shape)
>>> gx.shape, float(gx.sum()), float(gx.reshape(-1)[-1])
((1, 1, {sp8}), {cnt4}, 1.0)
""",
    "avg_pool": """{r}-d average pooling.

""" + _params("x", "x_avg_dtype", "kernel_size", "stride", "padding", "ceil_mode",
              "count_include_pad", "divisor_override", "data_format", "out") + """

Returns
-------
y : numpy.ndarray
    The averages, ``(N, C, {sp_out})`` in the input's data format and dtype.

""" + COMMON_NOTES + """

Average: the padded window is clipped to ``[-p, L + p)``, so a ceil-mode overhang past the padding
never counts; ``avg_pool3d`` (only it, as in PyTorch) refuses an input smaller than the kernel.

Examples
--------
>>> import numpy as np, cypool
>>> x = np.ones((2, 3, {sp8}))
>>> y = cypool.avg_pool{r}d(x, 3, stride=2, padding=1)
>>> y.shape, float(y[0, 0].flat[0])      # the corner window counts its padded zeros
((2, 3, {sp4}), {corner})
>>> float(cypool.avg_pool{r}d(x, 3, 2, 1, count_include_pad=False)[0, 0].flat[0])
1.0
""",
    "avg_pool_backward": """Gradient of {r}-d average pooling with respect to its input.

Takes the forward call's window arguments; each ``grad_output`` entry is spread over its window
with the forward divisor.

""" + _params("grad_output", "input_shape", "kernel_size", "stride", "padding", "ceil_mode",
              "count_include_pad", "divisor_override", "data_format", "out_grad") + """

Returns
-------
grad_x : numpy.ndarray
    Shape ``input_shape``, dtype of ``grad_output``.

""" + COMMON_NOTES + """

Examples
--------
>>> import numpy as np, cypool
>>> gx = cypool.avg_pool{r}d_backward(np.ones((1, 1, {sp4})), (1, 1, {sp8}), 2)
>>> gx.shape, float(gx.sum())
((1, 1, {sp8}), {cnt4})
""",
    "adaptive_avg_pool": """{r}-d adaptive average pooling to a fixed output size.

""" + _params("x", "x_avg_dtype", "output_size", "data_format") + """

Returns
-------
y : numpy.ndarray
    ``(N, C, *output_size)`` in the input's data format and dtype.

""" + COMMON_NOTES + """

Examples
--------
>>> import numpy as np, cypool
>>> x = np.arange(2 * 3 * {n6}, dtype=np.float64).reshape(2, 3, {sp6})
>>> cypool.adaptive_avg_pool{r}d(x, 3).shape
(2, 3, {sp3})
>>> float(cypool.adaptive_avg_pool{r}d(x, 1)[0, 0].flat[0])   # the mean of plane (0, 0)
{mean6}
""",
    "adaptive_avg_pool_backward": """Gradient of {r}-d adaptive average pooling.

The output size is read from ``grad_output``'s shape.

""" + _params("grad_output", "input_shape", "data_format") + """

Returns
-------
grad_x : numpy.ndarray
    Shape ``input_shape``, dtype of ``grad_output``.

""" + COMMON_NOTES + """

Examples
--------
>>> import numpy as np, cypool
>>> gx = cypool.adaptive_avg_pool{r}d_backward(np.ones((1, 1, {sp3})), (1, 1, {sp6}))
>>> gx.shape, float(gx.sum())
((1, 1, {sp6}), {cnt3})
""",
    "adaptive_max_pool": """{r}-d adaptive max pooling to a fixed output size.

""" + _params("x", "x_max_dtype", "output_size", "return_indices", "data_format") + """

Returns
-------
y : numpy.ndarray
    ``(N, C, *output_size)`` in the input's data format and dtype.
indices : numpy.ndarray of int64
    Only with ``return_indices=True``.

""" + COMMON_NOTES + MAX_NOTES + """

Examples
--------
>>> import numpy as np, cypool
>>> x = np.arange({n6}, dtype=np.float32).reshape(1, 1, {sp6})
>>> y, idx = cypool.adaptive_max_pool{r}d(x, 3, return_indices=True)
>>> y.shape, int(idx.reshape(-1)[-1])
((1, 1, {sp3}), {last6})
""",
    "adaptive_max_pool_backward": """Gradient of {r}-d adaptive max pooling.

""" + _params("grad_output", "indices", "input_shape", "data_format") + """

Returns
-------
grad_x : numpy.ndarray
    Shape ``input_shape``, dtype of ``grad_output``.

""" + COMMON_NOTES + """

Examples
--------
>>> import numpy as np, cypool
>>> x = np.arange({n6}, dtype=np.float32).reshape(1, 1, {sp6})
>>> y, idx = cypool.adaptive_max_pool{r}d(x, 3, return_indices=True)
>>> float(cypool.adaptive_max_pool{r}d_backward(np.ones_like(y), idx, x.shape).sum())
{cnt3}
""",
    "global_avg_pool": """{r}-d global average pooling: the mean of each ``(n, c)`` plane.

""" + _params("x", "x_avg_dtype", "keepdims", "data_format") + """

Returns
-------
y : numpy.ndarray
    ``(N, C)`` (``(C,)`` unbatched), or with ``keepdims=True`` size-1 spatial axes.

""" + COMMON_NOTES + """

Examples
--------
>>> import numpy as np, cypool
>>> x = np.ones((2, 3, {sp6}))
>>> cypool.global_avg_pool{r}d(x).shape, cypool.global_avg_pool{r}d(x, keepdims=True).shape
((2, 3), (2, 3, {sp1}))
""",
    "global_avg_pool_backward": """Gradient of {r}-d global average pooling.

``grad_output`` may be ``(N, C)`` or keep the size-1 spatial axes.

""" + _params("grad_output", "input_shape", "data_format") + """

Returns
-------
grad_x : numpy.ndarray
    Shape ``input_shape``.

""" + COMMON_NOTES + """

Examples
--------
>>> import numpy as np, cypool
>>> gx = cypool.global_avg_pool{r}d_backward(np.ones((2, 3)), (2, 3, {sp6}))
>>> gx.shape, round(float(gx[0, 0].sum()), 12)
((2, 3, {sp6}), 1.0)
""",
    "global_max_pool": """{r}-d global max pooling: the maximum of each ``(n, c)`` plane.

""" + _params("x", "x_max_dtype", "keepdims", "return_indices", "data_format") + """

Returns
-------
y : numpy.ndarray
    ``(N, C)`` (``(C,)`` unbatched), or with ``keepdims=True`` size-1 spatial axes.
indices : numpy.ndarray of int64
    Only with ``return_indices=True``; same shape as ``y``.

""" + COMMON_NOTES + MAX_NOTES + """

Examples
--------
>>> import numpy as np, cypool
>>> x = np.arange({n6}, dtype=np.float32).reshape(1, 1, {sp6})
>>> cypool.global_max_pool{r}d(x, return_indices=True)
(array([[{last6}.]], dtype=float32), array([[{last6}]]))
""",
    "global_max_pool_backward": """Gradient of {r}-d global max pooling.

""" + _params("grad_output", "indices", "input_shape", "data_format") + """

Returns
-------
grad_x : numpy.ndarray
    Shape ``input_shape``.

""" + COMMON_NOTES + """

Examples
--------
>>> import numpy as np, cypool
>>> x = np.arange({n6}, dtype=np.float32).reshape(1, 1, {sp6})
>>> y, idx = cypool.global_max_pool{r}d(x, return_indices=True)
>>> gx = cypool.global_max_pool{r}d_backward(np.ones((1, 1)), idx, x.shape)
>>> float(gx.sum()), float(gx.reshape(-1)[-1])
(1.0, 1.0)
""",
    "max_unpool": """{r}-d max unpooling: the partial inverse of ``max_pool{r}d``.

Writes each value of ``x`` at the plane position its index names, zeros elsewhere.

""" + _params("unpool_x", "unpool_indices", "kernel_size", "stride", "unpool_padding",
              "unpool_output_size", "data_format") + """

Returns
-------
y : numpy.ndarray
    The unpooled array, in ``x``'s data format and dtype.

""" + COMMON_NOTES + """

Examples
--------
>>> import numpy as np, cypool
>>> x = np.arange({n8}, dtype=np.float32).reshape(1, 1, {sp8})
>>> y, idx = cypool.max_pool{r}d(x, 2, return_indices=True)
>>> u = cypool.max_unpool{r}d(y, idx, 2)
>>> u.shape, float(u.sum()) == float(y.sum())
((1, 1, {sp8}), True)
""",
    "max_unpool_backward": """Gradient of {r}-d max unpooling with respect to its input values.

``grad_x[i] = grad_output[indices[i]]`` within each plane.

""" + _params("grad_output", "indices", "data_format") + """

Returns
-------
grad_x : numpy.ndarray
    Same shape as ``indices``.

""" + COMMON_NOTES + """

Examples
--------
>>> import numpy as np, cypool
>>> x = np.arange({n8}, dtype=np.float32).reshape(1, 1, {sp8})
>>> y, idx = cypool.max_pool{r}d(x, 2, return_indices=True)
>>> g = cypool.max_unpool{r}d_backward(np.ones((1, 1, {sp8}), np.float32), idx)
>>> g.shape, float(g.sum())
((1, 1, {sp4}), {cnt4})
""",
}


def docstring(family: str, rank: int) -> str:
    """The docstring of ``{family}{rank}d`` (family may end in "_backward")."""
    fields = dict(RANKS[rank], flat=FLAT[rank],
                  sp_out=", ".join(f"{a}_out" for a in RANKS[rank]["sp"].split(", ")))
    text = TEMPLATES[family].format(**fields)
    if rank == 1:   # avg_pool1d takes no divisor_override, as in PyTorch
        text = text.replace(P["divisor_override"].format(**fields) + "\n", "")
    return text


def attach(namespace: Dict[str, Callable]) -> None:
    """Give every public pooling function of `namespace` its filled-in docstring."""
    for family in TEMPLATES:
        base, _, suffix = family.partition("_backward")
        for rank in (1, 2, 3):
            name = f"{base}{rank}d" + ("_backward" if family.endswith("_backward") else "")
            namespace[name].__doc__ = docstring(family, rank)
