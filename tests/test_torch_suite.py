"""The behaviours PyTorch's own CPU pooling tests check (test/nn/test_pooling.py, 2.x), written
anew and run with torch.nn.functional's pooling functions and torch.nn's pooling modules routed
to cypool.torch. Each test names the torch behaviour it covers; docs/torch-bridge.md counts
them and lists those left out. Skipped without torch."""
import math
import random

import pytest

torch = pytest.importorskip("torch")
ct = pytest.importorskip("cypool.torch")
nn, F = torch.nn, torch.nn.functional
torch.set_num_threads(1)

NAMES = [f"{f}{r}d" for f in ("max_pool", "avg_pool", "adaptive_avg_pool", "adaptive_max_pool",
                              "max_unpool", "lp_pool") for r in (1, 2, 3)]
NAMES += [f"max_pool{r}d_with_indices" for r in (1, 2, 3)]
NAMES += [f"adaptive_max_pool{r}d_with_indices" for r in (1, 2, 3)]
NAMES += [f"fractional_max_pool{r}d{s}" for r in (2, 3) for s in ("", "_with_indices")]
MODULE_NAMES = [f"{m}{r}d" for m in ("MaxPool", "AvgPool", "AdaptiveAvgPool", "AdaptiveMaxPool",
                                     "MaxUnpool", "LPPool") for r in (1, 2, 3)]
MODULE_NAMES += ["FractionalMaxPool2d", "FractionalMaxPool3d"]
# torch's own functions and modules, kept for the reference results
T = type("Torch", (), {**{n: staticmethod(getattr(F, n)) for n in NAMES},
                       **{n: getattr(nn, n) for n in MODULE_NAMES}})


@pytest.fixture(autouse=True)
def routed(monkeypatch):
    """torch.nn.functional.max_pool2d, torch.nn.MaxPool2d, ... are cypool.torch's."""
    for n in NAMES:
        monkeypatch.setattr(F, n, getattr(ct, n))
    for n in MODULE_NAMES:
        monkeypatch.setattr(nn, n, ct.MODULES[n])


def assert_cypool(t):
    """The routing is real: the result came from the bridge (its custom Function)."""
    assert t.grad_fn is None or "PoolFunction" in type(t.grad_fn).__name__


# ----------------------------------------------------------------------------- average pooling

def _sum_pool2d(x, k):
    return F.unfold(x, kernel_size=k, stride=k).sum(1)


def test_avg_pool2d_every_kernel_size_double():
    # torch: doubletensor_avg_pool2d
    x = torch.rand(1, 1, 5, 8, dtype=torch.double)
    for i in range(1, 6):
        for j in range(1, 9):
            got = F.avg_pool2d(x[0], (i, j)).reshape(1, -1)
            torch.testing.assert_close(got, _sum_pool2d(x, (i, j)) / (i * j), rtol=0, atol=1e-12)


def test_avg_pool2d_divisor_override_double():
    # torch: ..._with_divisor
    x = torch.rand(1, 1, 3, 3, dtype=torch.double)
    for i in range(1, 4):
        for j in range(1, 4):
            for div in (1, 7, i * j):
                got = F.avg_pool2d(x[0], (i, j), divisor_override=div).reshape(1, -1)
                torch.testing.assert_close(got, _sum_pool2d(x, (i, j)) / div, rtol=0, atol=1e-12)


@pytest.mark.parametrize("divisor", [False, True])
def test_avg_pool3d_every_kernel_size_double(divisor):
    # torch: avg_pool3d (+divisor)
    x = torch.rand(1, 5, 6, 7, dtype=torch.double)
    for k in [(i, j, m) for i in range(1, 6) for j in range(1, 7) for m in range(1, 8)][::3]:
        divs = (1, 7, k[0] * k[1]) if divisor else (None,)
        for div in divs:
            got = F.avg_pool3d(x, k, divisor_override=div)
            ref = T.avg_pool3d(x, k, divisor_override=div)
            torch.testing.assert_close(got, ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("rank, kw", [(1, dict(kernel_size=1, stride=2)),
                                      (2, dict(kernel_size=(1, 2), padding=(0, 1), stride=2)),
                                      (3, dict(kernel_size=(1, 2, 3), stride=2))])
def test_avg_pool_ceil_mode_has_no_nan(rank, kw):
    # torch: avg_pool{1,2,3}d_ceil_mode
    x = 10 * torch.randn((1, 16) + (4,) * rank)
    y = getattr(F, f"avg_pool{rank}d")(x, ceil_mode=True, count_include_pad=True, **kw)
    assert not torch.isnan(y).any()
    torch.testing.assert_close(y, getattr(T, f"avg_pool{rank}d")(x, ceil_mode=True,
                                                                 count_include_pad=True, **kw))


# ----------------------------------------------------------------------------- adaptive

def test_adaptive_output_size_none_keeps_input_size():
    # torch: adaptive_pooling_size_none
    for rank in (2, 3):
        for kind in ("Max", "Avg"):
            m = getattr(nn, f"Adaptive{kind}Pool{rank}d")((2,) * (rank - 1) + (None,))
            assert m(torch.randn((4,) * (rank + 1))).shape == (4,) + (2,) * (rank - 1) + (4,)


def test_adaptive_output_size_overflow_raises():
    # torch: adaptive_pooling_size_overflow
    with pytest.raises(RuntimeError):
        nn.AdaptiveMaxPool1d(0x3FFFFFFFFFFFFFFF)(torch.empty([2, 2, 2]))


def _nhwc_case(module, ref_module, x, grad, fmt):
    ref_x = x.detach().clone().contiguous().requires_grad_(True)
    x = x.detach().clone(memory_format=torch.preserve_format).requires_grad_(True)
    out, ref = module(x), ref_module(ref_x)
    outs = out if isinstance(out, tuple) else (out,)
    refs = ref if isinstance(ref, tuple) else (ref,)
    outs[0].backward(grad)
    refs[0].backward(grad.contiguous())
    for o, r in zip(outs, refs):
        if fmt is not None:
            assert o.is_contiguous(memory_format=fmt)
        assert r.is_contiguous()
        torch.testing.assert_close(o, r)
    torch.testing.assert_close(x.grad, ref_x.grad)
    return outs


@pytest.mark.parametrize("sliced", [False, True])
def test_adaptive_avg_pool_channels_last(sliced):
    # torch: adaptive_pooling_avg_nhwc(+non_contiguous)
    x = torch.randint(1, 10, (4, 8, 8, 8), dtype=torch.float32).contiguous(
        memory_format=torch.channels_last)
    g = torch.randint(1, 10, (4, 8, 7, 7), dtype=torch.float32)
    if sliced:
        x, g = x[:, ::2], g[:, ::2]
    _nhwc_case(nn.AdaptiveAvgPool2d((7, 7)), T.AdaptiveAvgPool2d((7, 7)), x, g,
               torch.channels_last)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("kind", ["Avg", "Max"])
@pytest.mark.parametrize("fmt", [torch.contiguous_format, torch.channels_last])
def test_adaptive_pooling_lower_precision(dtype, kind, fmt):
    # torch: adaptive_pooling_lower_precision
    x = torch.randint(1, 10, (3, 19, 8, 8), dtype=torch.float32).to(memory_format=fmt)
    x = x.requires_grad_()
    x2 = x.detach().clone().to(dtype).requires_grad_(True)
    pool = getattr(nn, f"Adaptive{kind}Pool2d")((7, 7))
    out, out2 = pool(x), pool(x2)
    out.sum().backward()
    out2.sum().backward()
    assert out2.is_contiguous(memory_format=fmt) and out2.dtype == dtype
    assert x2.grad.dtype == dtype
    torch.testing.assert_close(out, out2.float(), atol=0.1, rtol=0)
    torch.testing.assert_close(x.grad, x2.grad.float(), atol=0.1, rtol=0)
    # and equal to torch's own half-precision result within torch's tolerance for the dtype
    torch.testing.assert_close(out2, getattr(T, f"Adaptive{kind}Pool2d")((7, 7))(x2.detach()))


def test_adaptive_pooling_zero_batch():
    # torch: adaptive_pooling_zero_batch
    for rank in (1, 2, 3):
        x = torch.ones((0,) + (10,) * rank, requires_grad=True)
        y = getattr(nn, f"AdaptiveAvgPool{rank}d")(5)(x)
        y.sum().backward()
        assert y.shape[0] == 0 and x.grad.shape == x.shape


def test_adaptive_pooling_empty_output_backward_raises():
    # torch: adaptive_pooling_empty_output_size
    msg = "Expected grad_output to have non-zero size for non-batch dimensions"
    x = torch.randn(1, 64, 10, 9, requires_grad=True)
    for fn in (F.adaptive_avg_pool2d, F.adaptive_avg_pool3d, F.adaptive_max_pool2d,
               F.adaptive_max_pool3d):
        with pytest.raises(RuntimeError, match=msg):
            fn(x, 0).sum().backward()
    x2 = torch.randn(1, 64, requires_grad=True)
    for fn in (F.adaptive_avg_pool1d, F.adaptive_max_pool1d):
        with pytest.raises(RuntimeError, match=msg):
            fn(x2, 0).sum().backward()


def test_adaptive_max_pool_zero_batch_and_zero_channels():
    # torch: AdaptiveMaxPool_zero_batch_dim
    for rank, shape in ((1, (16, 50)), (2, (16, 50, 32)), (3, (16, 50, 44, 31))):
        m = getattr(nn, f"AdaptiveMaxPool{rank}d")(3)
        x = torch.randn((0,) + shape, requires_grad=True)
        m(x).sum().backward()
        assert x.grad.shape == x.shape
        with pytest.raises(RuntimeError, match="Expected"):
            m(torch.randn((1, 0) + shape[1:]))


def test_adaptive_avg_pool2d_output_size_one():
    # torch: adaptive_avg_pool2d_output_size_one
    for mf in (torch.contiguous_format, torch.channels_last, "non_contiguous"):
        x = torch.randint(1, 10, (2, 3, 6, 6), dtype=torch.float, requires_grad=True)
        x = x[::2, ::2, ::2, ::2] if mf == "non_contiguous" else x.to(memory_format=mf)
        out = nn.AdaptiveAvgPool2d((1, 1))(x)
        out.sum().backward()
        torch.testing.assert_close(out, x.contiguous().mean((-1, -2)).view(x.size(0), x.size(1),
                                                                            1, 1))
        c = out.size(1)
        assert out.stride() == ((c, 1, c, c) if mf == torch.channels_last else (c, 1, 1, 1))


def test_adaptive_avg_pool3d_output_size_one():
    # torch: adaptive_avg_pool3d_output_size_one
    x = torch.randn(2, 3, 6, 6, 6, requires_grad=True)
    out = nn.AdaptiveAvgPool3d(1)(x)
    out.sum().backward()
    torch.testing.assert_close(out, x.mean((-1, -2, -3)).view(out.shape))
    assert out.is_contiguous() and out.stride() == (3, 1, 1, 1, 1)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int8, torch.short, torch.int, torch.long])
def test_adaptive_pooling_integer_not_implemented(dtype):
    # torch: adaptive_pooling_no_suppot_input
    for rank in (2, 3):
        for kind in ("Max", "Avg"):
            m = getattr(nn, f"Adaptive{kind}Pool{rank}d")((2,) * rank)
            with pytest.raises(RuntimeError, match="not implemented"):
                m(torch.randn((4,) * (rank + 1)).to(dtype))


@pytest.mark.parametrize("sliced", [False, True])
@pytest.mark.parametrize("rank, out", [(2, (7, 7)), (2, (5, 8)), (2, (1, 1)), (3, (7, 7, 7)),
                                       (3, (1, 1, 1))])
def test_adaptive_max_pool_channels_last(sliced, rank, out):
    # torch: adaptive_pooling_max_nhwc
    fmt = torch.channels_last if rank == 2 else torch.channels_last_3d
    shape = (4, 8) + (10,) * rank
    x = torch.randint(1, 10, shape, dtype=torch.double).contiguous(memory_format=fmt)
    g = torch.randint(1, 10, (4, 8) + out, dtype=torch.double).contiguous(memory_format=fmt)
    if sliced:
        x, g = x[:, ::2], g[:, ::2]
    mod = getattr(nn, f"AdaptiveMaxPool{rank}d")
    # torch keeps channels_last for 2-d only ("channels_last_3d case does not return
    # channels_last_3d outputs"); the bridge gives exactly torch's strides
    y, i = _nhwc_case(mod(out, return_indices=True), getattr(T, f"AdaptiveMaxPool{rank}d")(
        out, return_indices=True), x, g, fmt if rank == 2 else None)
    ty, ti = getattr(T, f"AdaptiveMaxPool{rank}d")(out, return_indices=True)(x)
    assert y.stride() == ty.stride() and i.stride() == ti.stride()


# ----------------------------------------------------------------------------- unpooling

def test_max_unpool2d_output_size_checks():
    # torch: MaxUnpool2d_output_size
    m, mu = nn.MaxPool2d(3, stride=2, return_indices=True), nn.MaxUnpool2d(3, stride=2)
    big = torch.rand(1, 1, 6, 6)
    big[0, 0, 4, 4] = 100
    out_big, idx_big = m(big)
    with pytest.raises(RuntimeError):
        mu(out_big, idx_big)
    small = torch.rand(1, 1, 5, 5)
    for i in range(0, 4, 2):
        for j in range(0, 4, 2):
            small[:, :, i, j] = 100
    out_s, idx_s = m(small)
    for h in range(3, 10):
        for w in range(3, 10):
            if 4 <= h <= 6 and 4 <= w <= 6:
                size = (1, 1, h, w) if h == 6 else (h, w)
                torch.testing.assert_close(mu(out_s, idx_s, output_size=size),
                                           T.MaxUnpool2d(3, stride=2)(out_s, idx_s,
                                                                      output_size=size))
            else:
                with pytest.raises(ValueError):
                    mu(out_s, idx_s, (h, w))


def test_max_unpool2d_channels_last():
    # torch: max_unpool2d_nhwc_cpu
    x = torch.randn(2, 10, 9, 9).contiguous(memory_format=torch.channels_last)
    out, ind = nn.MaxPool2d(3, stride=2, return_indices=True)(x)
    ref_out, ref_ind = T.MaxPool2d(3, stride=2, return_indices=True)(x.contiguous())
    out.requires_grad_()
    ref_out.requires_grad_()
    up = nn.MaxUnpool2d(3, stride=2)(out, ind)
    ref_up = T.MaxUnpool2d(3, stride=2)(ref_out, ref_ind)
    g = torch.randn(up.shape).contiguous(memory_format=torch.channels_last)
    up.backward(g)
    ref_up.backward(g.contiguous())
    assert up.is_contiguous(memory_format=torch.channels_last) and ref_up.is_contiguous()
    torch.testing.assert_close(up, ref_up)
    torch.testing.assert_close(out.grad, ref_out.grad)


def test_max_unpool_defaults_sizes_and_gradcheck():
    # torch: max_unpool
    x = torch.randn(1, 1, 4, dtype=torch.double)
    out, idx = F.max_pool1d(x, 2, stride=2, return_indices=True)
    torch.testing.assert_close(F.max_unpool1d(out, idx, 2), F.max_unpool1d(out, idx, 2, stride=2))
    inp = torch.randn(1, 1, 5, dtype=torch.double, requires_grad=True)
    out, idx = F.max_pool1d(inp, 2, stride=2, return_indices=True)
    torch.testing.assert_close(F.max_unpool1d(out, idx, 2, stride=2, output_size=inp.shape),
                               F.max_unpool1d(out, idx, 2, stride=2, output_size=inp.size()))
    assert torch.autograd.gradcheck(F.max_unpool1d, (out, idx, 2), check_forward_ad=True)
    for rank, shape in ((2, (1, 1, 4, 4)), (3, (4, 4, 4, 4, 4))):
        x = torch.randn(shape, dtype=torch.double, requires_grad=True)
        out, idx = getattr(F, f"max_pool{rank}d")(x, 2, stride=2, return_indices=True)
        unpool = getattr(F, f"max_unpool{rank}d")
        torch.testing.assert_close(unpool(out, idx, 2), unpool(out, idx, 2, stride=2))
        assert torch.autograd.gradcheck(unpool, (out, idx, 2), check_forward_ad=True)


def test_max_unpool3d_output_size_length_checked():
    # torch: max_unpool3d_input_check
    x = torch.ones(1, 3, 1, 1, 1)
    with pytest.raises(RuntimeError):
        F.max_unpool3d(x, torch.zeros(x.shape, dtype=int), [1, 1])


def test_max_unpool_zero_batch():
    # torch: MaxUnpool_zero_batch_dim
    for rank in (1, 2, 3):
        pool = getattr(nn, f"MaxPool{rank}d")(2, stride=2, return_indices=True)
        unpool = getattr(nn, f"MaxUnpool{rank}d")(2, stride=2)
        x = torch.randn((0, 10) + (10,) * rank, requires_grad=True)
        out, idx = pool(x)
        up = unpool(out, idx)
        up.sum().backward()
        assert torch.equal(x.grad, torch.zeros_like(x)) and torch.equal(up, torch.zeros_like(up))


@pytest.mark.parametrize("name, ks, shape, index, error", [
    ("MaxUnpool2d", (2, 2), (1, 3, 4, 5), -1, True),
    ("MaxUnpool2d", (2, 2), (1, 3, 4, 5), 2 * 2 * 4 * 5, True),
    ("MaxUnpool2d", (2, 2), (1, 3, 4, 5), 2 * 2 * 4 * 5 - 1, False),
    ("MaxUnpool2d", (2, 3), (2, 1, 4, 2), 2 * 3 * 4 * 2, True),
    ("MaxUnpool2d", (2, 3), (2, 1, 4, 2), 2 * 3 * 4 * 2 - 1, False),
    ("MaxUnpool3d", (2, 2, 2), (1, 3, 4, 5), -1, True),
    ("MaxUnpool3d", (2, 2, 2), (1, 3, 4, 5), 2 * 2 * 2 * 3 * 4 * 5, True),
    ("MaxUnpool3d", (2, 2, 2), (1, 3, 4, 5), 2 * 2 * 2 * 3 * 4 * 5 - 1, False),
    ("MaxUnpool3d", (2, 2, 2), (2, 3, 4, 1), 2 * 2 * 2 * 3 * 4 * 1, True),
    ("MaxUnpool3d", (2, 2, 2), (2, 3, 4, 1), 2 * 2 * 2 * 3 * 4 * 1 - 1, False),
])
def test_max_unpool_invalid_index(name, ks, shape, index, error):
    # torch: MaxUnpool_index_errors
    unpool = getattr(nn, name)(ks)
    out = torch.rand(shape)
    idx = torch.zeros(shape, dtype=torch.int64)
    idx.flatten()[0] = index
    if error:
        with pytest.raises(RuntimeError, match=r"Found an invalid max index:"):
            unpool(out, idx)
    else:
        torch.testing.assert_close(unpool(out, idx), getattr(T, name)(ks)(out, idx))


# ----------------------------------------------------------------------------- max pooling

def test_max_pool_zero_batch_and_zero_channels():
    # torch: MaxPool_zero_batch_dim
    for rank, shape, ok_zero_c in ((1, (16, 50), True), (2, (16, 50, 32), False),
                                   (3, (16, 50, 44, 31), False)):
        m = getattr(nn, f"MaxPool{rank}d")(3, stride=2)
        x = torch.randn((0,) + shape, requires_grad=True)
        m(x).sum().backward()
        assert x.grad.shape == x.shape
        if not ok_zero_c:
            with pytest.raises(RuntimeError, match="Expected"):
                m(torch.randn((1, 0) + shape[1:]))


def test_avg_pool2d_empty():
    # torch: AvgPool2d_empty
    pool = nn.AvgPool2d(3, stride=2)
    for fmt in (torch.contiguous_format, torch.channels_last):
        x = torch.randn(0, 16, 20, 32).contiguous(memory_format=fmt).requires_grad_()
        pool(x).sum().backward()
        assert x.grad.shape == x.shape
    with pytest.raises(RuntimeError, match="3D or 4D"):
        pool(torch.randn(16, 0, 20, 32))


def test_pooling_output_shapes():
    # torch: pooling_shape
    def check(expected, sizes, **kw):
        for kind in ("max", "avg"):
            for rank in (1, 2, 3):
                t = torch.randn(sizes[:rank + 2])
                assert getattr(F, f"{kind}_pool{rank}d")(t, **kw).shape == expected[:rank + 2]
    check((1, 1, 3, 3, 4), (1, 1, 5, 6, 7), kernel_size=1, stride=2, padding=0, ceil_mode=True)
    check((1, 1, 2, 3, 3), (1, 1, 3, 4, 5), kernel_size=2, stride=2, padding=1, ceil_mode=False)
    check((1, 1, 2, 3, 3), (1, 1, 3, 4, 5), kernel_size=2, stride=2, padding=1, ceil_mode=True)
    y = F.max_pool2d(torch.randn(1, 1, 6, 7), 1, stride=(2, 2), padding=0, ceil_mode=True)
    assert y.size() == (1, 1, 3, 4)


@pytest.mark.parametrize("dtype", [torch.float, torch.double])
def test_avg_pool2d_channels_last(dtype):
    # torch: avg_pool2d_nhwc
    cases = [(4, 8, 8, 8, 3, None, True, None, 0), (4, 8, 8, 8, 3, None, False, None, 1),
             (4, 8, 8, 8, 3, 2, False, None, 1), (4, 8, 8, 8, 3, None, True, 42, 0),
             (4, 8, 8, 8, 7, None, True, None, 0), (20, 64, 28, 28, 2, None, True, None, 0),
             (4, 8, 7, 7, 3, 1, True, None, 0), (4, 8, 7, 7, 3, 1, True, None, 1),
             (2, 128, 31, 31, 3, 2, True, None, 0), (1, 129, 8, 8, 3, 2, True, None, 0)]
    for n, c, h, w, k, s, cip, div, pad in cases:
        x = torch.randn(n, c, h, w, dtype=dtype).contiguous(memory_format=torch.channels_last)
        kw = dict(kernel_size=k, stride=s, count_include_pad=cip, divisor_override=div,
                  padding=pad)
        ref = T.AvgPool2d(**kw)(x)
        g = torch.randn(ref.shape, dtype=dtype)
        _nhwc_case(nn.AvgPool2d(**kw), T.AvgPool2d(**kw), x, g, torch.channels_last)


@pytest.mark.parametrize("dtype", [torch.float, torch.double])
def test_max_pool1d_corner_cases(dtype):
    # torch: max_pool1d_corner_cases
    def check(x, args, expected):
        got = nn.MaxPool1d(*args)(torch.tensor(x, dtype=dtype))
        torch.testing.assert_close(got, torch.tensor(expected, dtype=dtype))
    check([[1]], (1, None, 0, 1, False, False), [[1]])
    check([[1]], (2, None, 1, 2, False, False), [[float("-inf")]])
    check([[1], [1]], (2, None, 1, 2, False, False), [[float("-inf")], [float("-inf")]])
    check([[1, 2]], (2, 1, 1, 2, False, False), [[2, 1]])
    check([[1, 2]], (2, 2, 1, 2, False, True), [[2, 2]])


@pytest.mark.parametrize("dtype", [torch.float, torch.double])
def test_max_pool1d_random_and_strided(dtype):
    # torch: max_pool1d
    rng = random.Random(0)
    for _ in range(40):
        size = rng.sample(range(8, 64), 3)
        k, s, d = rng.randint(1, 4), rng.randint(1, 4), rng.randint(1, 4)
        ceil_mode = rng.random() < 0.5
        pad = rng.randint(0, k // 2)
        x = torch.randn(size, dtype=dtype)
        got = nn.MaxPool1d(k, s, pad, d, ceil_mode=ceil_mode)(x)
        torch.testing.assert_close(got, T.MaxPool1d(k, s, pad, d, ceil_mode=ceil_mode)(x))
        torch.testing.assert_close(got, nn.MaxPool1d(k, s, pad, d, return_indices=True,
                                                     ceil_mode=ceil_mode)(x)[0])
    t = torch.randn(5, 151, 33, dtype=dtype)[::2, ::3, ::2]
    for v in (t, t.transpose(1, 2)):
        torch.testing.assert_close(nn.MaxPool1d(3, 2, 1, 2, ceil_mode=True)(v),
                                   T.MaxPool1d(3, 2, 1, 2, ceil_mode=True)(v))


def _max_nhwc(rank, n, c, spatial, k, s, dtype, fmt, tol=None):
    x = torch.randn((n, c) + spatial, dtype=dtype).contiguous(memory_format=fmt)
    kw = dict(kernel_size=k, stride=s, return_indices=True)
    ref_out, _ = getattr(T, f"MaxPool{rank}d")(**kw)(x.contiguous())
    g = torch.randn(ref_out.shape, dtype=dtype).contiguous(memory_format=fmt)
    x = x.requires_grad_()
    ref_x = x.detach().clone().contiguous().requires_grad_()
    out, ind = getattr(nn, f"MaxPool{rank}d")(**kw)(x)
    ref_out, ref_ind = getattr(T, f"MaxPool{rank}d")(**kw)(ref_x)
    out.backward(g)
    ref_out.backward(g.contiguous())
    assert out.is_contiguous(memory_format=fmt) and ind.is_contiguous(memory_format=fmt)
    assert torch.equal(out, ref_out) and torch.equal(ind, ref_ind)
    torch.testing.assert_close(x.grad, ref_x.grad, **(tol or {}))


@pytest.mark.parametrize("dtype", [torch.half, torch.bfloat16, torch.float, torch.double])
def test_max_pool2d_channels_last(dtype):
    # torch: max_pool2d_nhwc
    for n, c, h, w, k, s in ((4, 8, 8, 8, 7, None), (20, 64, 28, 28, 2, None),
                             (4, 8, 7, 7, 3, 1), (2, 128, 31, 31, 3, 2), (1, 129, 8, 8, 3, 2)):
        _max_nhwc(2, n, c, (h, w), k, s, dtype, torch.channels_last)


@pytest.mark.parametrize("dtype", [torch.int32, torch.int64])
def test_max_pool2d_integer_corner_case(dtype):
    # torch: max_pool2d_corner_cases
    for fmt in (torch.contiguous_format, torch.channels_last):
        x = torch.tensor([[[[-1, -2], [-3, -4]]]], dtype=dtype).to(memory_format=fmt)
        got = nn.MaxPool2d(2, 2, 1, 2, False, True)(x)
        assert torch.equal(got, torch.tensor([[[[-4, -4], [-4, -4]]]], dtype=dtype))


@pytest.mark.parametrize("dtype", [torch.half, torch.bfloat16, torch.float, torch.double])
def test_max_pool3d_channels_last(dtype):
    # torch: max_pool3d_ndhwc
    tol = dict(atol=0.05, rtol=0.01) if dtype == torch.half else None
    for n, c, sp, k, s in ((4, 8, (8, 8, 8), 7, None), (1, 8, (8, 8, 8), (5, 6, 7), None),
                           (4, 8, (7, 7, 7), 3, 1), (2, 32, (19, 19, 19), (1, 2, 3), 2),
                           (1, 79, (4, 4, 4), 3, 2)):
        _max_nhwc(3, n, c, sp, k, s, dtype, torch.channels_last_3d, tol)
    # unbatched channels-last-3d input: indices as for a batch of one
    x = torch.randn(1, 6, 12, 13, 14, dtype=dtype).contiguous(
        memory_format=torch.channels_last_3d).squeeze(0)
    y, i = nn.MaxPool3d((5, 6, 7), return_indices=True)(x)
    ty, ti = T.MaxPool3d((5, 6, 7), return_indices=True)(x)
    assert torch.equal(y, ty) and torch.equal(i, ti) and y.stride() == ty.stride()


@pytest.mark.parametrize("dtype", [torch.half, torch.bfloat16])
def test_max_pool_half_precision_equals_float(dtype):
    # torch: max_pool_bfloat16_half
    for shape, k, s, fmt in (((4, 30, 8, 8), 7, 1, torch.contiguous_format),
                             ((4, 65, 8, 8), 7, 1, torch.channels_last),
                             ((1, 19, 20, 10), 8, 2, torch.contiguous_format),
                             ((1, 19, 20, 10), 8, 2, torch.channels_last),
                             ((1, 19, 10, 10, 10), 8, 2, torch.contiguous_format),
                             ((1, 19, 10, 9, 14), 8, 2, torch.channels_last_3d),
                             ((4, 10, 8, 8, 8), 7, 1, torch.channels_last_3d)):
        x = torch.randn(shape, dtype=dtype).to(memory_format=fmt).requires_grad_()
        pool = (nn.MaxPool2d if len(shape) == 4 else nn.MaxPool3d)(k, s, return_indices=True)
        x2 = x.detach().clone().float().requires_grad_(True)
        (out, ind), (out2, ind2) = pool(x), pool(x2)
        out.sum().backward()
        out2.sum().backward()
        assert out.is_contiguous(memory_format=fmt) and out.dtype == dtype
        assert x.grad.dtype == dtype
        assert torch.equal(out, out2.to(dtype)) and torch.equal(ind, ind2)
        assert torch.equal(x.grad, x2.grad.to(dtype))


@pytest.mark.parametrize("dtype", [torch.half, torch.bfloat16])
def test_avg_pool2d_half_precision(dtype):
    # torch: avg_pool2d_reduced_floating
    for n, c, h, w, k, s, fmt in ((4, 30, 8, 8, 7, 1, torch.contiguous_format),
                                  (4, 65, 8, 8, 7, 1, torch.channels_last),
                                  (1, 19, 20, 10, 8, 2, torch.contiguous_format),
                                  (1, 19, 20, 10, 8, 2, torch.channels_last)):
        x = torch.randn(n, c, h, w).to(dtype).to(memory_format=fmt).requires_grad_()
        x2 = x.detach().clone().float().requires_grad_(True)
        pool = nn.AvgPool2d(k, s)
        out, out2 = pool(x), pool(x2)
        out.sum().backward()
        out2.sum().backward()
        assert out.is_contiguous(memory_format=fmt) and out.dtype == dtype
        assert x.grad.dtype == dtype
        torch.testing.assert_close(out, out2.to(dtype))
        torch.testing.assert_close(x.grad, x2.grad.to(dtype))
        torch.testing.assert_close(out, T.AvgPool2d(k, s)(x.detach()))


@pytest.mark.parametrize("dtype", [torch.float, torch.double])
@pytest.mark.parametrize("sliced", [False, True])
def test_max_pool2d_channels_last_dilated(dtype, sliced):
    # torch: pooling_max_nhwc
    for n, c, h, w, k, s, p, d in ((4, 8, 10, 10, (2, 2), (1, 1), (1, 1), (2, 2)),
                                   (4, 8, 9, 14, (2, 2), (1, 1), (1, 1), (2, 2)),
                                   (4, 8, 11, 11, (4, 4), (2, 2), (2, 2), (2, 2))):
        x = torch.randint(1, 10, (n, c, h, w), dtype=dtype).contiguous(
            memory_format=torch.channels_last)
        kw = dict(kernel_size=k, stride=s, padding=p, dilation=d, return_indices=True)
        g = torch.randint(1, 10, T.MaxPool2d(**kw)(x)[0].shape, dtype=dtype).contiguous(
            memory_format=torch.channels_last)
        if sliced:
            x, g = x[:, ::2], g[:, ::2]
        _nhwc_case(nn.MaxPool2d(**kw), T.MaxPool2d(**kw), x, g, torch.channels_last)


def _indices_case(rank, adaptive):
    cls = getattr(nn, f"{'Adaptive' if adaptive else ''}MaxPool{rank}d")
    module = cls(2, return_indices=True)
    x = torch.arange(1, 4 ** (rank + 1) + 1, dtype=torch.float).view(2, 2, *(4,) * rank)
    x = x.requires_grad_()
    out, idx = module(x)
    ref_out, ref_idx = getattr(T, f"{'Adaptive' if adaptive else ''}MaxPool{rank}d")(
        2, return_indices=True)(x)
    assert torch.equal(out, ref_out) and torch.equal(idx, ref_idx) and idx.dim() == x.dim()
    assert out.requires_grad and not idx.requires_grad
    out.backward(torch.ones_like(out), retain_graph=True)
    expected = torch.zeros_like(x).flatten(2).scatter_(2, idx.flatten(2), 1.0).view_as(x)
    assert torch.equal(x.grad, expected)
    idx.add_(1)   # the saved indices changed: backward must refuse
    with pytest.raises(RuntimeError):
        out.backward(torch.ones_like(out))
    t = torch.tensor([[[float("-inf")]]]).view((1, 1) + (1,) * rank)
    o, i = cls(1, return_indices=True)(t)
    assert o.item() == float("-inf") and i.item() == 0


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("adaptive", [False, True])
def test_max_pool_indices(rank, adaptive):
    # torch: (Adaptive)MaxPool{1,2,3}d_indices
    _indices_case(rank, adaptive)


def test_max_pool_indices_unbatched_equal_batched():
    # torch: maxpool_indices_no_batch_dim
    cases = [(nn.MaxPool1d(3, return_indices=True), torch.randn(3, 5)),
             (nn.MaxPool2d(3, return_indices=True), torch.randn(3, 5, 6)),
             (nn.MaxPool3d(3, return_indices=True), torch.randn(3, 5, 6, 7)),
             (nn.AdaptiveMaxPool1d(3, return_indices=True), torch.randn(3, 5)),
             (nn.AdaptiveMaxPool2d(3, return_indices=True), torch.randn(3, 5, 6)),
             (nn.AdaptiveMaxPool3d(3, return_indices=True), torch.randn(3, 5, 6, 7))]
    for module, x in cases:
        assert torch.equal(module(x)[1], module(x.unsqueeze(0))[1].squeeze(0))


def test_max_pool_nan_and_minus_inf():
    # torch: max_pool_nan_inf
    for adaptive in ("", "adaptive_"):
        for rank in (1, 2, 3):
            fn = getattr(F, f"{adaptive}max_pool{rank}d")
            for fill, check in ((float("nan"), math.isnan), (float("-inf"), math.isinf)):
                x = torch.full([1, 1] + rank * [3], fill, requires_grad=True)
                res = fn(x, 1 if adaptive else 3)
                res.backward(torch.randn_like(res))
                assert check(res.item())
                x.requires_grad_(False)
                assert check(fn(x, 1 if adaptive else 3).item())


def test_pooling_zero_stride():
    # torch: pooling_zero_stride
    for op in ("max", "avg"):
        for rank in (1, 2, 3):
            x = torch.ones([1, 2] + rank * [4])
            msg = "stride should not be zero|stride must be greater than zero"
            with pytest.raises(RuntimeError, match=msg):
                getattr(F, f"{op}_pool{rank}d")(x, kernel_size=2, stride=0)
            with pytest.raises(RuntimeError, match=msg):
                getattr(nn, f"{op.title()}Pool{rank}d")(kernel_size=2, stride=0)(x)


def test_pool_large_size():
    # torch: pool_large_size
    for op in ("max", "avg"):
        for rank in (1, 2, 3):
            x = torch.ones([1, 1, 16777217] + (rank - 1) * [1])
            assert getattr(F, f"{op}_pool{rank}d")(x, 1, stride=1, padding=0).shape[2] == \
                16777217


def test_pool_invalid_size():
    # torch: pool_invalid_size
    for op in ("max", "avg"):
        for rank in (1, 2, 3):
            x = torch.ones([1, 1] + rank * [4])
            with pytest.raises(RuntimeError, match=r"too small|smaller than"):
                if op == "max":
                    getattr(F, f"max_pool{rank}d_with_indices")(x, 3, stride=2, padding=0,
                                                                dilation=2)
                else:
                    getattr(F, f"avg_pool{rank}d")(x, 6, stride=2, padding=0)


def test_max_pool3d_non_square_backward():
    # torch: maxpool3d_non_square_backward
    for dim in (2, 3, 4):
        shape = tuple(16 if i != dim else 64 for i in range(5))[1:]
        x = torch.randn(shape, requires_grad=True)
        F.max_pool3d(x, kernel_size=(1, 1, 1)).sum().backward()
        assert torch.equal(x.grad, torch.ones_like(x.grad))


def test_routing_is_real():
    """The functions and modules the tests above call are the bridge's."""
    x = torch.randn(1, 2, 4, 4, requires_grad=True)
    assert_cypool(F.max_pool2d(x, 2))
    assert_cypool(nn.AvgPool2d(2)(x))
    assert F.max_pool2d is ct.max_pool2d and issubclass(nn.MaxPool2d, T.MaxPool2d)


# ----------------------------------------------------------------------------- fractional

@pytest.mark.parametrize("rank", [2, 3])
def test_fractional_zero_batch_and_zero_channels(rank):
    # torch: FractionalMaxPool{2,3}d_zero_batch
    mod = getattr(nn, f"FractionalMaxPool{rank}d")(3, output_ratio=(0.5,) * rank)
    x = torch.ones((0, 16, 50, 32, 32)[:rank + 2], requires_grad=True)
    mod(x).sum().backward()
    assert x.grad.shape == x.shape
    with pytest.raises(RuntimeError, match="Expected input"):
        mod(torch.randn((1, 0, 50, 32, 32)[:rank + 2]))


def test_fractional_zero_output_size():
    # torch: FractionalMaxPool{2,3}d_zero_out_size
    x = torch.rand([16, 50, 32, 32])
    assert torch.equal(nn.FractionalMaxPool2d([2, 2], output_size=[0, 1])(x),
                       torch.empty((16, 50, 0, 1)))
    assert torch.equal(nn.FractionalMaxPool3d([3, 2, 2], output_size=[0, 1, 1])(x),
                       torch.empty((16, 0, 1, 1)))


@pytest.mark.parametrize("rank", [2, 3])
def test_fractional_zero_samples(rank):
    # torch: FractionalMaxPool{2,3}d_zero_samples
    samples = torch.rand([0, 16, rank])
    mod = getattr(nn, f"FractionalMaxPool{rank}d")([2] * rank, output_size=[1] * rank,
                                                   _random_samples=samples)
    shape = (16, 32, 32) if rank == 2 else (16, 50, 32, 32)
    assert torch.equal(mod(torch.randn((0,) + shape)), torch.empty((0, 16) + (1,) * rank))
    with pytest.raises(RuntimeError, match="Expect _random_samples"):
        mod(torch.randn((1,) + shape))


@pytest.mark.parametrize("rank", [2, 3])
def test_fractional_gradcheck_and_argument_errors(rank):
    # torch: fractional_max_pool{2,3}d
    x = torch.randn((1, 2) + (7,) * rank, dtype=torch.double, requires_grad=True)
    samples = torch.rand(1, 2, rank, dtype=torch.double)
    fn = getattr(F, f"fractional_max_pool{rank}d")

    def func(v):
        return fn(v, (2,) * rank, output_size=(3,) * rank, _random_samples=samples)

    assert func(x).shape == (1, 2) + (3,) * rank
    torch.testing.assert_close(func(x), getattr(T, f"fractional_max_pool{rank}d")(
        x, (2,) * rank, output_size=(3,) * rank, _random_samples=samples))
    assert torch.autograd.gradcheck(func, [x]) and torch.autograd.gradgradcheck(func, [x])
    x = torch.randn((2,) + (7,) * rank, dtype=torch.double, requires_grad=True)
    assert func(x).shape == (2,) + (3,) * rank
    assert torch.autograd.gradcheck(func, [x]) and torch.autograd.gradgradcheck(func, [x])
    for ks in [(), (1,)] + ([(1, 1)] if rank == 3 else []):
        with pytest.raises(RuntimeError, match="kernel_size must either"):
            fn(x, kernel_size=ks, output_size=(3,) * rank, _random_samples=samples)
    axes = ("height", "width") if rank == 2 else ("time", "height", "width")
    for a, axis in enumerate(axes):
        size = [3] * rank
        size[a] = 9
        with pytest.raises(RuntimeError, match="too large relative to input " + axis):
            fn(x, (2,) * rank, output_size=size, _random_samples=samples)
    for size in [(3,) * (rank - 1), ()]:
        with pytest.raises(RuntimeError, match="output_size must either"):
            fn(x, (2,) * rank, output_size=size, _random_samples=samples)


def test_fractional_nan_and_minus_inf():
    # torch: fractional_max_pool_nan_inf
    for rank in (2, 3):
        fn = getattr(nn, f"FractionalMaxPool{rank}d")(kernel_size=2, output_size=1)
        for fill, check in ((float("nan"), math.isnan), (float("-inf"), math.isinf)):
            x = torch.full([1, 1] + rank * [3], fill, requires_grad=True)
            res = fn(x)
            res.backward(torch.randn_like(res))
            assert check(res.item())


@pytest.mark.parametrize("rank", [2, 3])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
def test_fractional_equals_torch_for_the_same_samples(rank, dtype):
    """Torch's windows for the same _random_samples (and the same torch seed), every dtype."""
    if dtype == torch.bfloat16:
        pytest.importorskip("ml_dtypes", reason="bfloat16 window starts need ml_dtypes")
    g = torch.Generator().manual_seed(rank)
    for trial in range(30):
        sp = tuple(int(v) for v in torch.randint(4, 13, (rank,), generator=g))
        k = tuple(int(v) for v in torch.randint(1, 4, (rank,), generator=g))
        out = tuple(int(torch.randint(1, L - kk + 1, (), generator=g)) for L, kk in zip(sp, k))
        x = torch.randn((2, 3) + sp, generator=g).to(dtype)
        samples = torch.rand(2, 3, rank, generator=g).to(dtype)
        fn = getattr(F, f"fractional_max_pool{rank}d")
        y, i = fn(x, k, out, return_indices=True, _random_samples=samples)
        ty, ti = getattr(T, f"fractional_max_pool{rank}d")(x, k, out, return_indices=True,
                                                           _random_samples=samples)
        assert torch.equal(y, ty) and torch.equal(i, ti), (sp, k, out)
    torch.manual_seed(7)
    a = getattr(nn, f"FractionalMaxPool{rank}d")(2, output_ratio=0.5)(x)
    torch.manual_seed(7)
    assert torch.equal(a, getattr(T, f"FractionalMaxPool{rank}d")(2, output_ratio=0.5)(x))


def test_bfloat16_fractional_without_ml_dtypes_is_refused(monkeypatch):
    """Without ml_dtypes the window starts cannot be rounded as torch's bfloat16 rounds them:
    the call raises instead of answering with other windows."""
    import builtins
    real_import = builtins.__import__

    def no_ml_dtypes(name, *args, **kwargs):
        if name == "ml_dtypes":
            raise ImportError("ml_dtypes hidden by the test")
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_ml_dtypes)
    x = torch.randn(1, 2, 8, 8).to(torch.bfloat16)
    samples = torch.rand(1, 2, 2).to(torch.bfloat16)
    with pytest.raises(NotImplementedError, match="ml_dtypes"):
        ct.fractional_max_pool2d(x, 2, 4, _random_samples=samples)
