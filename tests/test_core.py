"""Gradients by finite differences, thread-count determinism, memory layouts, layers, hypothesis."""
import platform

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import cypool
import reference as ref
import reference_backward as RB
from helpers import random_pool_config

FORMATS = ["channels_first", "channels_last"]


# ----------------------------------------------------------------------------- gradients

def _check_layer_gradient(layer, x, rng):
    """layer.backward against central differences of <g, layer(x)> (float64, no ties)."""
    y = layer(x)
    g = rng.standard_normal(y.shape)
    gx = layer.backward(g)
    num = ref.numeric_grad(lambda v: layer(v), x.copy(), g)
    np.testing.assert_allclose(gx, num, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_finite_difference_gradients(rank, data_format, rng):
    spatial = {1: (9,), 2: (7, 6), 3: (5, 4, 5)}[rank]
    shape = (2, 3, *spatial) if data_format == "channels_first" else (2, *spatial, 3)
    x = rng.permutation(np.prod(shape)).reshape(shape).astype(np.float64) / 7.0  # no ties
    layers = [
        getattr(cypool, f"MaxPool{rank}d")(3, 2, 1, data_format=data_format),
        getattr(cypool, f"MaxPool{rank}d")(2, 1, 0, 2, data_format=data_format),
        getattr(cypool, f"AvgPool{rank}d")(3, 2, 1, ceil_mode=True, data_format=data_format),
        getattr(cypool, f"AvgPool{rank}d")(2, 2, 1, count_include_pad=False,
                                           data_format=data_format),
        getattr(cypool, f"AvgPool{rank}d")(3, 2, "same", data_format=data_format),
        getattr(cypool, f"AdaptiveAvgPool{rank}d")(3, data_format=data_format),
        getattr(cypool, f"AdaptiveMaxPool{rank}d")(2, data_format=data_format),
        getattr(cypool, f"GlobalAvgPool{rank}d")(data_format=data_format),
        getattr(cypool, f"GlobalMaxPool{rank}d")(keepdims=True, data_format=data_format),
    ]
    for layer in layers:
        _check_layer_gradient(layer, x, rng)


def test_unpool_backward_is_adjoint(rng):
    x = rng.standard_normal((2, 3, 8, 7))
    y, idx = cypool.max_pool2d(x, 2, return_indices=True)
    u = cypool.max_unpool2d(y, idx, 2, output_size=(8, 7))
    g = rng.standard_normal(u.shape)
    gy = cypool.max_unpool2d_backward(g, idx)
    # <g, U y> == <U^T g, y> for the linear map U
    np.testing.assert_allclose(np.sum(g * u), np.sum(gy * y), rtol=1e-12)


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("n_threads", [1, 2])
def test_unpool_backward_gathers_across_work_items(data_format, n_threads, rng):
    # planes (channels-first) and samples (channels-last) of more than one work item of the
    # gather (16384 elements): each is split, and every cell must still be gathered once
    x = rng.standard_normal((2, 3, 300, 300))
    y, idx = cypool.max_pool2d(x, 3, 2, 1, return_indices=True)
    g = rng.standard_normal(x.shape)
    expected = RB.unpool_backward(g, idx)
    cl = data_format == "channels_last"
    fmt_in = (lambda a: np.ascontiguousarray(np.moveaxis(a, 1, -1))) if cl else (lambda a: a)
    with cypool.threads(n_threads):
        gy = cypool.max_unpool2d_backward(fmt_in(g), fmt_in(idx), data_format=data_format)
        np.testing.assert_array_equal(np.moveaxis(gy, -1, 1) if cl else gy, expected)
        bad = idx.copy()
        bad.flat[::5] = -1
        with pytest.raises(ValueError, match=f"has {len(bad.flat[::5])} entries"):
            cypool.max_unpool2d_backward(fmt_in(g), fmt_in(bad), data_format=data_format)


def test_layer_backward_before_forward_raises():
    with pytest.raises(RuntimeError, match="before forward"):
        cypool.MaxPool2d(2).backward(np.zeros((1, 1, 1, 1)))


def test_layers_take_the_arguments_of_their_functions():
    """A layer accepts exactly its function's arguments (less x, return_indices and out), as
    PyTorch's modules do: AvgPool1d has no divisor_override, like avg_pool1d and
    torch.nn.AvgPool1d."""
    import inspect
    import re
    drop = {"x", "return_indices", "out"}
    for name in ("MaxPool", "AvgPool", "AdaptiveAvgPool", "AdaptiveMaxPool", "GlobalAvgPool",
                 "GlobalMaxPool"):
        for rank in (1, 2, 3):
            layer = getattr(cypool, f"{name}{rank}d")
            words = re.findall("[A-Z][a-z]+", name)   # AdaptiveAvgPool -> adaptive_avg_pool
            fn = getattr(cypool, "_".join(w.lower() for w in words) + f"{rank}d")
            assert (set(inspect.signature(layer).parameters)
                    == set(inspect.signature(fn).parameters) - drop), (layer, fn)
    with pytest.raises(TypeError, match="divisor_override"):
        cypool.AvgPool1d(2, divisor_override=3)
    assert "divisor_override" in inspect.signature(cypool.AvgPool2d).parameters
    torch = pytest.importorskip("torch")
    assert "divisor_override" not in inspect.signature(torch.nn.AvgPool1d).parameters
    assert "divisor_override" in inspect.signature(torch.nn.AvgPool2d).parameters


# ----------------------------------------------------------------------------- threads

def _all_ops(x, data_format):
    kw = dict(data_format=data_format)
    y, idx = cypool.max_pool2d(x, 3, 2, 1, return_indices=True, **kw)
    in_shape = x.shape
    return [
        y, idx,
        cypool.max_pool2d_backward(np.ones_like(y), idx, in_shape, **kw),
        cypool.avg_pool2d(x, 3, 1, 1, **kw),
        cypool.avg_pool2d_backward(np.ones_like(cypool.avg_pool2d(x, 3, 1, 1, **kw)), in_shape,
                                   3, 1, 1, **kw),
        cypool.adaptive_avg_pool2d(x, 5, **kw),
        cypool.adaptive_avg_pool2d_backward(np.ones_like(cypool.adaptive_avg_pool2d(x, 5, **kw)),
                                            in_shape, **kw),
        cypool.adaptive_max_pool2d(x, 5, **kw),
        cypool.global_avg_pool2d(x, **kw),
        cypool.max_unpool2d(y, idx, 3, 2, 1, output_size=x.shape[-2:] if
                            data_format == "channels_first" else x.shape[1:3], **kw),
    ]


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bit_identical_for_any_thread_count(data_format, dtype, rng):
    shape = (3, 20, 33, 31) if data_format == "channels_first" else (3, 33, 31, 20)
    x = rng.standard_normal(shape).astype(dtype)
    results = []
    for n in (1, 2, 3):
        with cypool.threads(n):
            results.append(_all_ops(x, data_format))
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert a.dtype == b.dtype
            assert a.tobytes() == b.tobytes()


def test_thread_settings():
    default = cypool.get_num_threads()
    assert default >= 1
    with cypool.threads(1):
        assert cypool.get_num_threads() == 1
    assert cypool.get_num_threads() == default
    cypool.set_num_threads(1)
    try:
        assert cypool.get_num_threads() == 1
    finally:
        cypool.set_num_threads(None)
    for bad in (0, -1):
        with pytest.raises(ValueError, match="n must be a positive int"):
            cypool.set_num_threads(bad)
    for bad in (1.5, "2", True):
        with pytest.raises(TypeError, match="n must be a positive int"):
            cypool.set_num_threads(bad)


def test_openmp_linked():
    # CI builds with OpenMP; a serial build must say so through openmp_enabled().
    assert cypool.openmp_enabled()


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64")
                    or platform.libc_ver()[0] != "glibc",
                    reason="vector clones need x86-64 and a C library with ifuncs (glibc)")
def test_vector_clones_built():
    # GCC >= 11 and LLVM clang pass setup.py's probe on x86-64 glibc: the hot loops then carry
    # AVX2 and AVX-512 clones; a build without them is several times slower and must say so.
    from cypool import _openmp_info
    assert _openmp_info.vector_clones()


def test_show_config(capsys):
    cypool.show_config()
    out = capsys.readouterr().out
    assert "openmp" in out and "threads" in out and cypool.__version__ in out
    assert "vector_clones" in out


# ----------------------------------------------------------------------------- layouts

@pytest.mark.parametrize("data_format", FORMATS)
def test_any_strides_and_read_only(data_format, rng):
    base = rng.standard_normal((3, 6, 17, 19))
    if data_format == "channels_last":
        base = np.moveaxis(base, 1, -1).copy()
    expected, idx_expected = cypool.max_pool2d(base, 3, 2, 1, return_indices=True,
                                               data_format=data_format)
    variants = [np.asfortranarray(base), base[::-1][::-1], base.copy()]
    sliced = np.zeros(tuple(2 * s for s in base.shape))
    sliced[::2, ::2, ::2, ::2] = base
    variants.append(sliced[::2, ::2, ::2, ::2])
    neg = base[:, :, ::-1].copy()[:, :, ::-1]
    variants.append(neg)
    ro = base.copy()
    ro.setflags(write=False)
    variants.append(ro)
    for v in variants:
        y, idx = cypool.max_pool2d(v, 3, 2, 1, return_indices=True, data_format=data_format)
        np.testing.assert_array_equal(y, expected)
        np.testing.assert_array_equal(idx, idx_expected)
        np.testing.assert_allclose(cypool.avg_pool2d(v, 3, 2, 1, data_format=data_format),
                                   cypool.avg_pool2d(base, 3, 2, 1, data_format=data_format))


def test_channels_last_memory_is_not_transposed(rng):
    x = rng.standard_normal((2, 16, 16, 8)).astype(np.float32)  # NHWC
    y = cypool.max_pool2d(x, 2, data_format="channels_last")
    assert y.flags.c_contiguous and y.shape == (2, 8, 8, 8)
    # A channels_first view of NHWC memory runs the channels-last kernel and stays NHWC in memory.
    view = np.moveaxis(x, -1, 1)
    yv = cypool.max_pool2d(view, 2)
    assert yv.shape == (2, 8, 8, 8)
    assert np.moveaxis(yv, 1, -1).flags.c_contiguous
    np.testing.assert_array_equal(np.moveaxis(yv, 1, -1), y)


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_unbatched_input(rank, rng):
    x = rng.standard_normal((4,) + (7,) * rank)
    fn = getattr(cypool, f"max_pool{rank}d")
    np.testing.assert_array_equal(fn(x, 2), fn(x[None], 2)[0])
    xl = np.moveaxis(x, 0, -1)
    np.testing.assert_array_equal(fn(xl, 2, data_format="channels_last"),
                                  np.moveaxis(fn(x, 2), 0, -1))


@pytest.mark.parametrize("data_format", FORMATS)
def test_empty_batch_and_channels(data_format):
    for shape in [(0, 3, 8, 8), (2, 0, 8, 8)]:
        x = np.zeros(shape if data_format == "channels_first" else
                     (shape[0], 8, 8, shape[1]), np.float32)
        y, idx = cypool.max_pool2d(x, 2, return_indices=True, data_format=data_format)
        expected = (shape[0], shape[1], 4, 4) if data_format == "channels_first" else \
            (shape[0], 4, 4, shape[1])
        assert y.shape == expected and idx.shape == expected
        assert cypool.avg_pool2d(x, 2, data_format=data_format).shape == expected
        g = cypool.max_pool2d_backward(y, idx, x.shape, data_format=data_format)
        assert g.shape == x.shape


def test_float32_average_of_ones_is_exact():
    x = np.ones((1, 1, 4096, 4096), np.float32)
    assert cypool.global_avg_pool2d(x)[0, 0] == 1.0
    assert cypool.adaptive_avg_pool2d(x, 1)[0, 0, 0, 0] == 1.0
    assert np.all(cypool.avg_pool2d(x, 512) == 1.0)


# ----------------------------------------------------------------------------- property test

@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), rank=st.integers(1, 3),
       data_format=st.sampled_from(FORMATS))
def test_hypothesis_max_and_avg_against_reference(seed, rank, data_format):
    rng = np.random.default_rng(seed)
    spatial, k, s, p, d, ceil_mode = random_pool_config(rng, rank)
    x = rng.integers(-2, 3, size=(1, 2, *spatial)).astype(np.float64)
    x[rng.random(x.shape) < 0.05] = np.nan
    y_ref, i_ref = ref.max_pool(x, k, s, p, p, d, ceil_mode)
    xin = np.moveaxis(x, 1, -1) if data_format == "channels_last" else x
    y, i = getattr(cypool, f"max_pool{rank}d")(xin, k, s, p, d, ceil_mode, True,
                                              data_format=data_format)
    if data_format == "channels_last":
        y, i = np.moveaxis(y, -1, 1), np.moveaxis(i, -1, 1)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(i, i_ref)
