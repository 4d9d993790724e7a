"""cypool.torch: gradcheck, equality with torch's own modules in both memory formats, zero-copy
hand-over, errors, and a small CNN that trains; then the same for LPPool and cypool's own
strategies (stochastic, blur, max-blur, spatial pyramid). Skipped without torch."""
import math

import numpy as np
import pytest

import cypool
from helpers import random_data, random_pool_config

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")
ct = pytest.importorskip("cypool.torch")
nn = torch.nn
torch.set_num_threads(1)

N_CONFIGS = 60


def in_format(x, channels_last):
    """The same logical tensor in channels-last memory (1-d: a transposed (N, L, C) buffer)."""
    if not channels_last:
        return x.contiguous()
    if x.dim() == 3:
        return x.transpose(1, 2).contiguous().transpose(1, 2)
    fmt = torch.channels_last if x.dim() == 4 else torch.channels_last_3d
    return x.contiguous(memory_format=fmt)


def compare(ours, theirs, x, multi_output=False, check_grad=True, seed=0):
    """Forward values (and indices), then gradients for one random upstream gradient. torch runs
    on the contiguous tensor: its channels_last max kernel picks another index for an all -inf
    window (torch 2.13), while cypool follows torch's contiguous kernel in both formats."""
    xa = x.detach().clone(memory_format=torch.preserve_format).requires_grad_(True)
    xb = x.detach().contiguous().clone().requires_grad_(True)
    ya, yb = ours(xa), theirs(xb)
    if multi_output:
        (ya, ia), (yb, ib) = ya, yb
        assert torch.equal(ia, ib)
        if not bool((ia < np.prod(x.shape[2:])).all()):
            check_grad = False   # a window without real cells: torch's index is not a position
    # max: exact; averages: summation order may differ in the last bit
    tol = 0 if multi_output else 1e-12
    torch.testing.assert_close(ya, yb, rtol=tol, atol=tol, equal_nan=True)
    if check_grad:
        g = torch.randn(yb.shape, generator=torch.Generator().manual_seed(seed), dtype=x.dtype)
        ya.backward(g)
        yb.backward(g)
        torch.testing.assert_close(xa.grad, xb.grad, rtol=1e-12, atol=1e-12)


def configs(seed, dilation=True):
    rng = np.random.default_rng(seed)
    for i in range(N_CONFIGS):
        rank = int(rng.integers(1, 4))
        spatial, k, s, p, d, ceil_mode = random_pool_config(rng, rank, dilation=dilation)
        shape = (int(rng.integers(1, 3)), int(rng.integers(1, 5)), *spatial)
        yield i, rng, rank, shape, k, s, p, d, ceil_mode


@pytest.mark.parametrize("channels_last", [False, True])
def test_max_pool_equals_torch(channels_last):
    for i, rng, rank, shape, k, s, p, d, ceil_mode in configs(10):
        x = in_format(torch.from_numpy(random_data(rng, shape)), channels_last)
        args = dict(kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=ceil_mode,
                    return_indices=True)
        compare(ct.MODULES[f"MaxPool{rank}d"](**args), getattr(nn, f"MaxPool{rank}d")(**args), x,
                multi_output=True, seed=i)


@pytest.mark.parametrize("channels_last", [False, True])
def test_avg_pool_equals_torch(channels_last):
    for i, rng, rank, shape, k, s, p, _, ceil_mode in configs(11, dilation=False):
        x = in_format(torch.from_numpy(random_data(rng, shape, special=False)), channels_last)
        args = dict(kernel_size=k, stride=s, padding=p, ceil_mode=ceil_mode,
                    count_include_pad=bool(rng.integers(2)))
        if rank > 1 and rng.random() < 0.3:
            args["divisor_override"] = int(rng.integers(1, 6))
        theirs = getattr(nn, f"AvgPool{rank}d")(**args)
        try:
            theirs(x)
        except RuntimeError:
            with pytest.raises(ValueError):   # avg_pool3d: input smaller than the kernel
                ct.MODULES[f"AvgPool{rank}d"](**args)(x)
            continue
        compare(ct.MODULES[f"AvgPool{rank}d"](**args), theirs, x, seed=i)


@pytest.mark.parametrize("channels_last", [False, True])
def test_adaptive_pools_equal_torch(channels_last):
    rng = np.random.default_rng(12)
    for i in range(N_CONFIGS):
        rank = int(rng.integers(1, 4))
        spatial = tuple(int(v) for v in rng.integers(1, 12, rank))
        out = tuple(int(v) for v in rng.integers(1, 7, rank))
        x = in_format(torch.from_numpy(random_data(rng, (2, 3, *spatial))), channels_last)
        compare(ct.MODULES[f"AdaptiveMaxPool{rank}d"](out, return_indices=True),
                getattr(nn, f"AdaptiveMaxPool{rank}d")(out, return_indices=True), x,
                multi_output=True, seed=i)
        x = in_format(torch.from_numpy(random_data(rng, (2, 3, *spatial), special=False)),
                      channels_last)
        compare(ct.MODULES[f"AdaptiveAvgPool{rank}d"](out),
                getattr(nn, f"AdaptiveAvgPool{rank}d")(out), x, seed=i)


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_max_unpool_equals_torch(rank):
    x = torch.randn((2, 3) + (8,) * rank, dtype=torch.float64)
    y, idx = getattr(nn.functional, f"max_pool{rank}d")(x, 2, return_indices=True)
    for output_size in (None, (2, 3) + (9,) * rank):
        y1 = y.detach().clone().requires_grad_(True)
        y2 = y.detach().clone().requires_grad_(True)
        a = ct.MODULES[f"MaxUnpool{rank}d"](2)(y1, idx, output_size=output_size)
        b = getattr(nn, f"MaxUnpool{rank}d")(2)(y2, idx, output_size=output_size)
        assert torch.equal(a, b)
        g = torch.randn(b.shape, dtype=torch.float64)
        a.backward(g)
        b.backward(g)
        assert torch.equal(y1.grad, y2.grad)


GRADCHECK_CASES = [
    ("MaxPool1d", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True), (2, 3, 9)),
    ("MaxPool2d", dict(kernel_size=3, stride=2, padding=1, dilation=(1, 2)), (2, 3, 9, 8)),
    ("MaxPool3d", dict(kernel_size=2, stride=1, ceil_mode=True), (1, 2, 4, 5, 3)),
    ("AvgPool1d", dict(kernel_size=3, stride=2, padding=1, count_include_pad=False), (2, 3, 9)),
    ("AvgPool2d", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True), (2, 3, 9, 8)),
    ("AvgPool2d", dict(kernel_size=(2, 3), stride=1, padding="same"), (2, 3, 7, 6)),
    ("AvgPool1d", dict(kernel_size=4, stride=3, padding="same"), (2, 3, 10)),
    ("AvgPool3d", dict(kernel_size=2, stride=1, divisor_override=3), (1, 2, 4, 5, 3)),
    ("MaxPool1d", dict(kernel_size=3, stride=2, padding="same", dilation=2), (2, 3, 9)),
    ("AdaptiveAvgPool1d", dict(output_size=4), (2, 3, 9)),
    ("AdaptiveAvgPool2d", dict(output_size=(3, None)), (2, 3, 7, 5)),
    ("AdaptiveAvgPool3d", dict(output_size=2), (1, 2, 5, 4, 3)),
    ("AdaptiveMaxPool1d", dict(output_size=4), (2, 3, 9)),
    ("AdaptiveMaxPool2d", dict(output_size=(3, 2)), (2, 3, 7, 5)),
    ("AdaptiveMaxPool3d", dict(output_size=2), (1, 2, 5, 4, 3)),
]


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("name, args, shape", GRADCHECK_CASES)
def test_gradcheck(name, args, shape, channels_last):
    torch.manual_seed(0)
    x = in_format(torch.randn(shape, dtype=torch.float64), channels_last).requires_grad_(True)
    module = ct.MODULES[name](**args)
    assert torch.autograd.gradcheck(module, (x,))


def test_gradcheck_max_unpool():
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    y, idx = nn.functional.max_pool2d(x, 2, return_indices=True)
    y = y.detach().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda v: ct.MaxUnpool2d(2)(v, idx), (y,))


def test_modules_are_torch_modules_with_torch_arguments():
    m = ct.MaxPool2d(3, 2, 1, 1, True, True)   # positional order of torch.nn.MaxPool2d
    assert isinstance(m, nn.MaxPool2d)
    assert repr(m) == repr(nn.MaxPool2d(3, 2, 1, 1, True, True))
    assert ct.AvgPool2d(2, divisor_override=3).divisor_override == 3
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Sequential(nn.MaxPool2d(2)), nn.AvgPool2d(2))
    ct.replace_pooling(model)
    assert type(model[1][0]) is ct.MaxPool2d and type(model[2]) is ct.AvgPool2d
    assert model[1][0].kernel_size == 2
    # cypool's string paddings survive torch's __init__ (AvgPool1d would make a tuple of letters)
    x = torch.randn(2, 3, 10, dtype=torch.float64)
    for name, fn in (("AvgPool1d", cypool.avg_pool1d), ("MaxPool1d", cypool.max_pool1d)):
        m = ct.MODULES[name](4, 3, padding="same")
        assert m.padding == "same"
        np.testing.assert_array_equal(m(x).numpy(), fn(x.numpy(), 4, 3, padding="same"))


def test_zero_copy_both_memory_formats(monkeypatch):
    """cypool receives the tensor's own memory, and the tensor returned is cypool's output."""
    seen = {}
    original = cypool.max_pool2d

    def spy(x, *args, **kw):
        out = original(x, *args, **kw)
        seen["in"] = x.__array_interface__["data"][0]
        seen["out"] = out[0].__array_interface__["data"][0]
        return out

    monkeypatch.setattr(cypool, "max_pool2d", spy)   # the public name the bridge calls
    for fmt in (torch.contiguous_format, torch.channels_last):
        x = torch.randn(2, 8, 16, 16).contiguous(memory_format=fmt)
        y = ct.max_pool2d(x, 2)
        assert seen["in"] == x.data_ptr()
        assert seen["out"] == y.data_ptr()
        assert y.is_contiguous(memory_format=fmt)


def test_errors():
    # meta tensors: torch's shapes and checks, no data (the custom op's fake implementation)
    assert ct.max_pool2d(torch.zeros(1, 1, 5, 4, device="meta"), 2).shape == (1, 1, 2, 2)
    # int64 average pooling (torch truncates the integer mean) has no cypool kernel
    with pytest.raises(NotImplementedError, match="Long"):
        ct.AvgPool2d(2)(torch.zeros(1, 1, 4, 4, dtype=torch.int64))
    with pytest.raises(TypeError, match="Long"):
        ct.AvgPool2d(2)(torch.zeros(1, 1, 4, 4, dtype=torch.int64))
    for error in (ValueError, RuntimeError):
        with pytest.raises(error, match="pad should be at most half"):
            ct.MaxPool2d(2, padding=2)(torch.zeros(1, 1, 4, 4))
    # double backward is torch's
    x = torch.randn(1, 1, 4, 4, dtype=torch.float64, requires_grad=True)
    g = torch.randn(1, 1, 4, 4, dtype=torch.float64)
    ours = torch.autograd.grad(ct.avg_pool2d(x, 2, 1).pow(2).sum(), x, create_graph=True)[0]
    theirs = torch.autograd.grad(nn.functional.avg_pool2d(x, 2, 1).pow(2).sum(), x,
                                 create_graph=True)[0]
    torch.testing.assert_close(torch.autograd.grad(ours, x, g)[0],
                               torch.autograd.grad(theirs, x, g)[0])


def test_float16_and_unbatched():
    x = torch.randn(3, 8, 8).half()
    torch.testing.assert_close(ct.max_pool2d(x, 2), nn.functional.max_pool2d(x, 2), rtol=0, atol=0)
    assert ct.avg_pool2d(x, 2).dtype == torch.float16


def test_small_cnn_trains_like_torch():
    """conv -> cypool MaxPool2d -> conv -> cypool AdaptiveAvgPool2d -> linear on sklearn digits:
    the loss falls, and it follows the same model built on torch's pooling step for step."""
    datasets = pytest.importorskip("sklearn.datasets")
    digits = datasets.load_digits()
    X = torch.tensor(digits.images[:512] / 16.0, dtype=torch.float32)[:, None]
    Y = torch.tensor(digits.target[:512])

    def model(pools):
        torch.manual_seed(0)
        return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), pools[0],
                             nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), pools[1], nn.Flatten(),
                             nn.Linear(16, 10))

    def train(net):
        opt = torch.optim.Adam(net.parameters(), lr=0.02)
        losses = []
        for step in range(40):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(net(X), Y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses

    ours = train(model([ct.MaxPool2d(2), ct.AdaptiveAvgPool2d(1)]))
    theirs = train(model([nn.MaxPool2d(2), nn.AdaptiveAvgPool2d(1)]))
    assert ours[-1] < 0.5 * ours[0], ours
    # The two runs part slowly: the pooling results differ from torch's in the last bit (sums
    # in double), and 40 steps of Adam grow that (to 2e-3 by step 22 on a Zen 4 CPU, under 1e-3
    # on a Xeon). A wrong gradient shows from the first steps on.
    np.testing.assert_allclose(ours[:12], theirs[:12], rtol=1e-5)
    np.testing.assert_allclose(ours, theirs, rtol=1e-2)



# ----------------------------------------------------------------------------- LPPool

def lp_input(rng, shape, p, channels_last):
    """Inputs where torch's Lp pooling is finite: x ** p of a negative x is NaN for fractional p,
    and an odd p can make a window's sum negative (a NaN root)."""
    x = rng.standard_normal(shape)
    if p not in (1, 2, 4):
        x = np.abs(x) + 0.1
    return in_format(torch.from_numpy(x), channels_last)


@pytest.mark.parametrize("channels_last", [False, True])
def test_lp_pool_equals_torch(channels_last):
    rng = np.random.default_rng(20)
    for i in range(N_CONFIGS):
        rank = int(rng.integers(1, 3))
        p = float(rng.choice([1, 2, 3, 1.5, 0.7, 4])) if rng.random() < 0.8 else int(
            rng.choice([1, 2, 3]))
        k = tuple(int(v) for v in rng.integers(1, 4, rank))
        s = None if rng.random() < 0.2 else tuple(int(v) for v in rng.integers(1, 4, rank))
        ceil_mode = bool(rng.integers(2))
        spatial = tuple(int(kk + rng.integers(0, 6)) for kk in k)
        x = lp_input(rng, (int(rng.integers(1, 3)), int(rng.integers(1, 4)), *spatial), p,
                     channels_last)
        args = (p, k if rank == 2 else k[0], s if s is None or rank == 2 else s[0], ceil_mode)
        theirs = getattr(nn, f"LPPool{rank}d")(*args)
        ours = getattr(ct, f"LPPool{rank}d")(*args)
        assert repr(ours) == repr(theirs)
        compare(ours, theirs, x, seed=i)
        # the functional form is the module's forward
        torch.testing.assert_close(getattr(ct, f"lp_pool{rank}d")(x, *args), ours(x), rtol=0,
                                   atol=0, equal_nan=True)


def test_lp_pool_infinite_norm_is_torch_max_of_abs():
    x = torch.randn(2, 3, 7, 6, dtype=torch.float64)
    for p in (math.inf, -math.inf):
        compare(ct.LPPool2d(p, 3, 2, ceil_mode=True), nn.LPPool2d(p, 3, 2, ceil_mode=True), x)
        compare(ct.LPPool1d(p, 2), nn.LPPool1d(p, 2), x[:, :, 0])


@pytest.mark.parametrize("channels_last", [False, True])
def test_lp_pool_equals_cypool(channels_last):
    rng = np.random.default_rng(21)
    x = lp_input(rng, (2, 3, 9, 8), 1.5, channels_last)
    y = ct.LPPool2d(1.5, (3, 2), (2, 1), ceil_mode=True)(x)
    expected = cypool.lp_pool2d(x.numpy(), 1.5, (3, 2), (2, 1), True)
    np.testing.assert_array_equal(y.numpy(), expected)
    assert y.is_contiguous(memory_format=torch.channels_last if channels_last else
                           torch.contiguous_format)
    x1 = lp_input(rng, (2, 3, 9), 2, channels_last)
    np.testing.assert_array_equal(ct.LPPool1d(2, 3, 2)(x1).numpy(),
                                  cypool.lp_pool1d(x1.numpy(), 2, 3, 2))


def test_replace_pooling_swaps_lp_pool():
    model = nn.Sequential(nn.LPPool2d(2, 2), nn.Sequential(nn.LPPool1d(3, 2, ceil_mode=True)))
    ct.replace_pooling(model)
    assert type(model[0]) is ct.LPPool2d and type(model[1][0]) is ct.LPPool1d
    assert model[1][0].ceil_mode and model[1][0].norm_type == 3


# ----------------------------------------------------------------------------- blur, max-blur

def torch_blur(x, f, s):
    """BlurPool from torch's own ops: reflect padding, then the binomial filter per channel."""
    F = nn.functional
    a = torch.tensor([math.comb(f - 1, i) for i in range(f)], dtype=x.dtype)
    filt = a[:, None] * a[None, :]
    filt = (filt / filt.sum())[None, None].repeat(x.shape[1], 1, 1, 1)
    lo, hi = (f - 1) // 2, f // 2
    return F.conv2d(F.pad(x, [lo, hi, lo, hi], mode="reflect"), filt, stride=s,
                    groups=x.shape[1])


@pytest.mark.parametrize("channels_last", [False, True])
def test_blur_and_max_blur_equal_torch_reference(channels_last):
    rng = np.random.default_rng(22)
    for i in range(N_CONFIGS // 2):
        f = int(rng.integers(1, 8))
        s = tuple(int(v) for v in rng.integers(1, 4, 2))
        k = int(rng.integers(1, 4))
        shape = (int(rng.integers(1, 3)), int(rng.integers(1, 4))) + tuple(
            int(v) for v in rng.integers(f // 2 + k, 12, 2))
        x = in_format(torch.from_numpy(rng.standard_normal(shape)), channels_last)
        compare(ct.BlurPool2d(f, s), lambda v: torch_blur(v, f, s), x, seed=i)
        compare(ct.MaxBlurPool2d(k, f, s),
                lambda v: torch_blur(nn.functional.max_pool2d(v, k, 1), f, s), x, seed=i)


@pytest.mark.parametrize("channels_last", [False, True])
def test_blur_and_max_blur_equal_cypool(channels_last):
    x = in_format(torch.randn(2, 5, 11, 9, dtype=torch.float64), channels_last)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    y = ct.BlurPool2d(4, (2, 3))(x)
    np.testing.assert_array_equal(y.numpy(), cypool.blur_pool2d(x.numpy(), 4, (2, 3)))
    assert y.is_contiguous(memory_format=fmt)
    y = ct.MaxBlurPool2d(3, 5, 2)(x)
    np.testing.assert_array_equal(y.numpy(), cypool.max_blur_pool2d(x.numpy(), 3, 5, 2))
    assert y.is_contiguous(memory_format=fmt)
    np.testing.assert_array_equal(ct.blur_pool2d(x, 4, (2, 3)).numpy(),
                                  ct.BlurPool2d(4, (2, 3))(x).numpy())
    np.testing.assert_array_equal(ct.max_blur_pool2d(x, 3, 5, 2).numpy(),
                                  ct.MaxBlurPool2d(3, 5, 2)(x).numpy())


# ----------------------------------------------------------------------------- spatial pyramid

@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("mode", ["max", "avg"])
def test_spatial_pyramid_pool_equals_torch_and_cypool(channels_last, mode):
    rng = np.random.default_rng(23)
    F = nn.functional
    pool = F.adaptive_max_pool2d if mode == "max" else F.adaptive_avg_pool2d
    for i, (levels, h, w) in enumerate((((4, 2, 1), 7, 9), ((6, 3, 2, 1), 13, 6), ((3,), 3, 5))):
        x = in_format(torch.from_numpy(rng.standard_normal((2, 3, h, w))), channels_last)
        m = ct.SpatialPyramidPool2d(levels, mode)
        compare(m, lambda v: torch.cat([pool(v, lv).flatten(1) for lv in levels], 1), x, seed=i)
        np.testing.assert_array_equal(m(x).numpy(),
                                      cypool.spatial_pyramid_pool(x.numpy(), levels, mode))
        np.testing.assert_array_equal(ct.spatial_pyramid_pool(x, levels, mode).numpy(),
                                      m(x).numpy())


# ----------------------------------------------------------------------------- stochastic

@pytest.mark.parametrize("channels_last", [False, True])
def test_stochastic_pool_equals_cypool(channels_last):
    x = in_format(torch.randn(2, 4, 9, 8, dtype=torch.float64), channels_last)
    xn = x.numpy()
    # functional: an int seed gives cypool's draws for that seed, on every call
    for _ in range(2):
        y, idx = ct.stochastic_pool2d(x, 3, 2, seed=7, return_indices=True)
        ey, eidx = cypool.stochastic_pool2d(xn, 3, 2, seed=7, return_indices=True)
        np.testing.assert_array_equal(y.numpy(), ey)
        np.testing.assert_array_equal(idx.numpy(), eidx)
    # module: an int seeds one stream, advanced by every forward
    m, rng = ct.StochasticPool2d(3, 2, seed=7), np.random.default_rng(7)
    for _ in range(2):
        np.testing.assert_array_equal(m(x).numpy(), cypool.stochastic_pool2d(xn, 3, 2, seed=rng))
    m.eval()
    np.testing.assert_array_equal(m(x).numpy(), cypool.stochastic_pool2d(xn, 3, 2, False))
    assert m(x).is_contiguous(memory_format=torch.channels_last if channels_last else
                              torch.contiguous_format)


def test_stochastic_pool_gradient_goes_to_the_sampled_cell():
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64, requires_grad=True)
    y, idx = ct.StochasticPool2d(2, return_indices=True, seed=1)(x)
    g = torch.randn(y.shape, dtype=torch.float64)
    y.backward(g)
    expected = torch.zeros(2, 3, 64, dtype=torch.float64).scatter_(2, idx.flatten(2),
                                                                    g.flatten(2))
    assert torch.equal(x.grad, expected.view(x.shape))
    # the same indices unpool with torch's MaxUnpool2d
    assert torch.equal(torch.gather(x.detach().flatten(2), 2, idx.flatten(2)), y.flatten(2))


def test_stochastic_pool_seeding_follows_torch():
    x = torch.rand(2, 3, 16, 16)
    m = ct.StochasticPool2d(2)
    torch.manual_seed(3)
    a = m(x)
    torch.manual_seed(3)
    assert torch.equal(m(x), a)          # torch.manual_seed governs seed=None, as for dropout
    assert not torch.equal(m(x), a)      # and every forward samples afresh
    gen = torch.Generator().manual_seed(5)
    m = ct.StochasticPool2d(2, seed=gen)
    b = m(x)
    gen.manual_seed(5)
    assert torch.equal(m(x), b)
    m2 = ct.StochasticPool2d(2, seed=np.random.default_rng(4))
    m3 = ct.StochasticPool2d(2, seed=4)
    assert torch.equal(m2(x), m3(x)) and torch.equal(m2(x), m3(x))


def test_stochastic_pool_evaluation_has_no_gradient():
    x = torch.rand(1, 2, 4, 4, dtype=torch.float64, requires_grad=True)
    m = ct.StochasticPool2d(2).eval()
    y = m(x)                              # evaluating without no_grad works ...
    with pytest.raises(RuntimeError, match="evaluation mode"):
        y.sum().backward()                # ... differentiating it does not
    with pytest.raises(ValueError, match="return_indices"):
        ct.StochasticPool2d(2, return_indices=True).eval()(x)


# ----------------------------------------------------------------------------- all new modules

def _seeded(module, generator):
    """The module's forward with its torch Generator reseeded per call: a deterministic function
    of x, which gradcheck's finite differences need (the sampled cells then move only when a
    perturbation crosses a sampling boundary, and 1e-6 does not for these inputs)."""
    def f(x):
        generator.manual_seed(0)
        return module(x)
    return f


def _gradcheck_cases():
    gen = torch.Generator()
    return [
        ("LPPool1d p=2 ceil", ct.LPPool1d(2, 3, 2, ceil_mode=True), (2, 3, 9), False),
        ("LPPool1d p=3", ct.LPPool1d(3, 2), (2, 3, 8), True),
        ("LPPool2d p=1.5 ceil", ct.LPPool2d(1.5, (2, 3), (2, 1), ceil_mode=True), (2, 3, 7, 8),
         True),
        ("LPPool2d p=1", ct.LPPool2d(1, 2), (2, 3, 6, 5), False),
        ("StochasticPool2d", _seeded(ct.StochasticPool2d(2, seed=gen), gen), (2, 3, 6, 7), True),
        ("StochasticPool2d 3x3 s2", _seeded(ct.StochasticPool2d(3, 2, seed=gen), gen),
         (2, 3, 7, 7), False),
        ("BlurPool2d", ct.BlurPool2d(), (2, 3, 7, 6), False),
        ("BlurPool2d f4 s(1,2)", ct.BlurPool2d(4, (1, 2)), (2, 3, 6, 7), False),
        ("MaxBlurPool2d", ct.MaxBlurPool2d(), (2, 3, 7, 6), False),
        ("SpatialPyramidPool2d max", ct.SpatialPyramidPool2d((3, 2, 1)), (2, 3, 7, 6), False),
        ("SpatialPyramidPool2d avg", ct.SpatialPyramidPool2d((4, 1), "avg"), (2, 3, 7, 6), False),
    ]


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("case", range(len(_gradcheck_cases())))
def test_gradcheck_new_modules(case, channels_last):
    name, fn, shape, positive = _gradcheck_cases()[case]
    torch.manual_seed(case)
    x = torch.randn(shape, dtype=torch.float64)
    if positive:
        x = x.abs() + 0.1
    x = in_format(x, channels_last).requires_grad_(True)
    assert torch.autograd.gradcheck(fn, (x,)), name


def test_zero_copy_new_modules(monkeypatch):
    """cypool receives the tensor's memory and the output tensor is cypool's result."""
    seen = {}
    for name in ("lp_pool2d", "blur_pool2d", "stochastic_pool2d"):
        def spy(x, *args, _original=getattr(cypool, name), **kw):
            out = _original(x, *args, **kw)
            seen["in"] = x.__array_interface__["data"][0]
            first = out[0] if isinstance(out, tuple) else out
            seen["out"] = first.__array_interface__["data"][0]
            return out
        monkeypatch.setattr(cypool, name, spy)
    for module in (ct.LPPool2d(2, 2), ct.BlurPool2d(), ct.StochasticPool2d(2, seed=0)):
        for fmt in (torch.contiguous_format, torch.channels_last):
            seen.clear()
            x = torch.randn(2, 8, 16, 16).contiguous(memory_format=fmt)
            y = module(x)
            assert seen["in"] == x.data_ptr() and seen["out"] == y.data_ptr(), module
            assert y.is_contiguous(memory_format=fmt)


def test_lp_pool3d_is_cypool_lp_pool3d(monkeypatch):
    """The bridge's lp_pool3d runs cypool.lp_pool3d and its backward, as lp_pool1d/2d do, and
    agrees with torch's."""
    calls = []
    for name in ("lp_pool3d", "lp_pool3d_backward"):
        def spy(*args, _original=getattr(cypool, name), _name=name, **kw):
            calls.append(_name)
            return _original(*args, **kw)
        monkeypatch.setattr(cypool, name, spy)
    x = (torch.rand(2, 3, 5, 6, 7, dtype=torch.float64) + 0.1).requires_grad_(True)
    y = ct.lp_pool3d(x, 2, (2, 3, 2), stride=(1, 2, 2), ceil_mode=True)
    y.backward(torch.ones_like(y))
    assert calls == ["lp_pool3d", "lp_pool3d_backward"]
    xt = x.detach().clone().requires_grad_(True)
    yt = torch.nn.functional.lp_pool3d(xt, 2, (2, 3, 2), stride=(1, 2, 2), ceil_mode=True)
    yt.backward(torch.ones_like(yt))
    torch.testing.assert_close(y, yt)
    torch.testing.assert_close(x.grad, xt.grad)


@pytest.mark.parametrize("make, match, error", [
    (lambda: ct.LPPool2d(0, 2), "norm_type", ValueError),
    (lambda: ct.LPPool1d("2", 2), "norm_type", TypeError),
    (lambda: ct.LPPool2d(2, 0)(torch.ones(1, 1, 4, 4)), "stride should not be zero", ValueError),
    (lambda: ct.lp_pool2d(torch.ones(1, 1, 4, 4), -1, 2), "norm_type", ValueError),
    (lambda: ct.StochasticPool2d(0), "kernel_size", ValueError),
    (lambda: ct.StochasticPool2d(2, stride=(1, 2, 3)), "stride", TypeError),
    (lambda: ct.StochasticPool2d(2, seed=-1), "seed", TypeError),
    (lambda: ct.StochasticPool2d(2, seed="a"), "seed", TypeError),
    (lambda: ct.StochasticPool2d(2, return_indices="yes"), "return_indices", TypeError),
    (lambda: ct.stochastic_pool2d(torch.ones(1, 1, 4, 4), 2, training=False,
                                  return_indices=True), "return_indices", ValueError),
    (lambda: ct.StochasticPool2d(9)(torch.ones(1, 1, 4, 4)), "output size", ValueError),
    (lambda: ct.BlurPool2d(8), "filt_size", ValueError),
    (lambda: ct.BlurPool2d(2.5), "filt_size", TypeError),
    (lambda: ct.BlurPool2d(3, 0), "stride", ValueError),
    (lambda: ct.BlurPool2d(5)(torch.ones(1, 1, 2, 8)), "height", ValueError),
    (lambda: ct.MaxBlurPool2d(0), "kernel_size", ValueError),
    (lambda: ct.MaxBlurPool2d(2, 0), "filt_size", ValueError),
    (lambda: ct.SpatialPyramidPool2d((2, 0)), "levels", ValueError),
    (lambda: ct.SpatialPyramidPool2d("4"), "levels", TypeError),
    (lambda: ct.SpatialPyramidPool2d(mode="min"), "mode", ValueError),
    (lambda: ct.BlurPool2d()(torch.ones(1, 1, 4, 4, dtype=torch.int32)), "int32", TypeError),
    (lambda: ct.SpatialPyramidPool2d()(np.ones((1, 1, 4, 4))), "input", TypeError),
])
def test_new_modules_name_bad_arguments(make, match, error):
    with pytest.raises(error, match=match):
        make()


def test_new_modules_are_modules_and_registered():
    for name in ("StochasticPool2d", "BlurPool2d", "MaxBlurPool2d", "SpatialPyramidPool2d"):
        assert ct.MODULES[name] is getattr(ct, name)
        assert issubclass(ct.MODULES[name], nn.Module)
    assert issubclass(ct.LPPool2d, nn.LPPool2d) and issubclass(ct.LPPool1d, nn.LPPool1d)
    assert repr(ct.MaxBlurPool2d()) == "MaxBlurPool2d(kernel_size=2, filt_size=3, stride=2)"
    # a model built from them trains end to end, unbatched and float32 inputs included
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), ct.StochasticPool2d(2, seed=0),
                          ct.BlurPool2d(), ct.LPPool2d(2, 2), ct.SpatialPyramidPool2d((2, 1)),
                          nn.Linear(20, 3))
    out = model(torch.rand(4, 1, 16, 16))
    out.sum().backward()
    assert model[0].weight.grad is not None and out.shape == (4, 3)
    assert ct.BlurPool2d()(torch.rand(3, 8, 8)).shape == (3, 4, 4)


# ----------------------------------------------------------------------------- memory format

def _stride_patterns():
    """The same logical (2, 6, 7, 8) tensor in every stride pattern a model produces."""
    base = torch.randn(2, 6, 7, 8, dtype=torch.float64)
    cl = base.contiguous(memory_format=torch.channels_last)
    return {
        "contiguous": base, "channels_last": cl,
        "cl sliced channels": cl[:, ::2], "cf sliced channels": base[:, ::2],
        "cl sliced width": cl[..., ::2], "cf sliced height": base[:, :, ::2],
        "nhwc permuted": base.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2),
        "width-major": base.transpose(2, 3).contiguous().transpose(2, 3),
        "batch of one cl": cl[:1], "one channel": base[:, :1],
        "unbatched": base[0], "unbatched transposed": base[0].transpose(1, 2),
        "expanded": base[:, :1].expand(2, 6, 7, 8),
    }


MEMORY_FORMAT_CALLS = {
    "max_pool2d": lambda f, x: f.max_pool2d(x, 3, 2, 1, return_indices=True),
    "avg_pool2d": lambda f, x: f.avg_pool2d(x, 2, ceil_mode=True),
    "adaptive_avg_pool2d": lambda f, x: f.adaptive_avg_pool2d(x, (3, 5)),
    "adaptive_avg_pool2d 1x1": lambda f, x: f.adaptive_avg_pool2d(x, 1),
    "adaptive_max_pool2d": lambda f, x: f.adaptive_max_pool2d(x, (3, 5), return_indices=True),
    "lp_pool2d": lambda f, x: f.lp_pool2d(x.abs() + 0.1, 2, 2),
    "max_unpool2d": lambda f, x: f.max_unpool2d(*nn.functional.max_pool2d(
        x, 2, return_indices=True), 2, output_size=x.shape[-2:]),
}


@pytest.mark.parametrize("call", list(MEMORY_FORMAT_CALLS))
def test_outputs_have_torchs_strides_for_every_stride_pattern(call):
    fn = MEMORY_FORMAT_CALLS[call]
    for pattern, x in _stride_patterns().items():
        ours, theirs = fn(ct, x), fn(nn.functional, x)
        ours = ours if isinstance(ours, tuple) else (ours,)
        theirs = theirs if isinstance(theirs, tuple) else (theirs,)
        for a, b in zip(ours, theirs):
            assert a.shape == b.shape and a.stride() == b.stride(), (call, pattern)
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
        # and gradients have the input's layout, as torch's
        xa = x.detach().clone(memory_format=torch.preserve_format).requires_grad_(True)
        xb = x.detach().clone(memory_format=torch.preserve_format).requires_grad_(True)
        fn(ct, xa)[0].sum().backward() if len(ours) > 1 else fn(ct, xa).sum().backward()
        fn(nn.functional, xb)[0].sum().backward() if len(ours) > 1 else \
            fn(nn.functional, xb).sum().backward()
        torch.testing.assert_close(xa.grad, xb.grad, rtol=1e-12, atol=1e-12)


def test_zero_copy_for_a_sliced_channels_last_input(monkeypatch):
    """x[:, ::2] of a channels_last tensor: one copy into channels_last, then cypool's result is
    returned as it is (torch's channels_last strides)."""
    seen = {}
    original = cypool.max_pool2d

    def spy(x, *args, **kw):
        out = original(x, *args, **kw)
        seen["out"] = out[0].__array_interface__["data"][0]
        return out

    monkeypatch.setattr(cypool, "max_pool2d", spy)
    x = torch.randn(2, 16, 8, 8).contiguous(memory_format=torch.channels_last)[:, ::2]
    y = ct.max_pool2d(x, 2)
    assert y.data_ptr() == seen["out"] and y.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int8, torch.int16, torch.int32,
                                   torch.int64])
def test_integer_max_pooling(dtype):
    x = torch.randint(-100 if dtype != torch.uint8 else 0, 100, (2, 3, 9, 8)).to(dtype)
    for fmt in (torch.contiguous_format, torch.channels_last):
        x = x.contiguous(memory_format=fmt)
        y, i = ct.max_pool2d(x, 3, 2, 1, return_indices=True)
        ty, ti = nn.functional.max_pool2d(x, 3, 2, 1, return_indices=True)
        assert y.dtype == dtype and torch.equal(y, ty) and torch.equal(i, ti)
        assert y.stride() == ty.stride()
        with pytest.raises(NotImplementedError, match="max_unpool2d"):   # as torch's
            ct.max_unpool2d(y, i, 3, 2, 1, (9, 8))
    with pytest.raises(NotImplementedError, match="not implemented for 'Bool'"):
        ct.max_pool2d(x > 0, 2)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("channels_last", [False, True])
def test_half_precision_equals_torch(dtype, channels_last):
    """float16/bfloat16: forward values and strides equal torch's. Gradients of the operators
    with half-precision kernels (max and average pooling, every max-type backward) equal torch's
    bit for bit: they round each add as torch's half-precision backward does. Adaptive average
    pooling is computed through float32: its gradient equals the float32 gradient rounded to the
    dtype, torch's own suite's criterion (torch's accumulates in the half type and can differ
    from that by a few units in the last place)."""
    # bfloat16 reaches the half-precision kernels as ml_dtypes' dtype; without ml_dtypes the
    # bridge computes it through a float32 copy, as it does adaptive average pooling
    from cypool.torch import _convert
    native = dtype == torch.float16 or _convert._bfloat16() is not None
    torch.manual_seed(1)
    x = in_format(torch.randn(2, 8, 11, 10).to(dtype), channels_last)
    calls = [lambda f, v: f.max_pool2d(v, 3, 2, 1), lambda f, v: f.avg_pool2d(v, 3, 2, 1),
             lambda f, v: f.adaptive_avg_pool2d(v, (4, 3)),
             lambda f, v: f.adaptive_max_pool2d(v, (4, 3)),
             lambda f, v: f.max_pool1d(v.flatten(2), 3),
             lambda f, v: f.max_pool3d(v[None], (1, 2, 2))]
    for fn in calls:
        xa = x.detach().clone(memory_format=torch.preserve_format).requires_grad_(True)
        xb = x.detach().clone(memory_format=torch.preserve_format).requires_grad_(True)
        xf = x.detach().float().requires_grad_(True)
        a, b, f32 = fn(ct, xa), fn(nn.functional, xb), fn(nn.functional, xf)
        # without a gradient torch's 1-d max pooling takes another path, with another layout
        assert fn(ct, x).stride() == fn(nn.functional, x).stride()
        assert a.dtype == dtype and a.stride() == b.stride()
        torch.testing.assert_close(a, b, rtol=0, atol=0)
        g = torch.randn(b.shape).to(dtype)
        a.backward(g)
        f32.backward(g.float())
        b.backward(g)
        if fn is calls[2] or not native:   # computed through a float32 copy
            torch.testing.assert_close(xa.grad, xf.grad.to(dtype))
        else:
            torch.testing.assert_close(xa.grad, xb.grad, rtol=0, atol=0)


def _backward(y):
    y.sum().backward()


@pytest.mark.parametrize("make, match", [
    (lambda: ct.max_pool2d(torch.ones(1, 1, 4, 4), 2, 0), "stride should not be zero"),
    (lambda: ct.avg_pool2d(torch.ones(1, 1, 4, 4), 2, 2, 2), "pad should be at most half"),
    (lambda: ct.max_pool3d(torch.ones(1, 1, 2, 2, 2), 3), "too small"),
    (lambda: ct.max_pool2d(torch.ones(1, 0, 4, 4), 2), "Expected 3D or 4D"),
    (lambda: ct.adaptive_avg_pool2d(torch.ones(1, 4, 4, dtype=torch.int32), 2),
     "not implemented for 'Int'"),
    (lambda: _backward(ct.adaptive_max_pool2d(torch.ones(1, 2, 4, 4, requires_grad=True), 0)),
     "non-zero size for non-batch dimensions"),
    (lambda: ct.max_unpool2d(torch.ones(1, 1, 2, 2), torch.full((1, 1, 2, 2), 99), 2),
     "Found an invalid max index: 99"),
    (lambda: ct.max_unpool2d(torch.ones(1, 1, 2, 2), torch.zeros(1, 1, 2, 2, dtype=torch.long),
                             2, output_size=(9, 9)), "invalid output_size"),
    (lambda: ct.max_pool2d(torch.ones(1, 1, 4, 4), "a"), "kernel_size"),
    (lambda: ct.max_pool2d(np.ones((1, 1, 4, 4)), 2), "input must be a torch.Tensor"),
    (lambda: ct.lp_pool2d(torch.ones(1, 1, 4, 4), -1, 2), "norm_type"),
    (lambda: ct.fractional_max_pool2d(torch.ones(1, 1, 4, 4), 2, 9), "too large"),
    (lambda: ct.avg_pool3d(torch.ones(1, 1, 2, 2, 2).half(), 2), "not implemented for 'Half'"),
])
def test_errors_are_torchs_and_cypools(make, match):
    """Every refusal is torch's RuntimeError and cypool's ValueError or TypeError at once, with
    torch's words."""
    with pytest.raises(RuntimeError, match=match) as info:
        make()
    assert isinstance(info.value, (ValueError, TypeError)), type(info.value).__mro__
    assert isinstance(info.value, ct.PoolingError)
