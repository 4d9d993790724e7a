"""cypool.torch: gradcheck, equality with torch's own modules in both memory formats, zero-copy
hand-over, errors, and a small CNN that trains. Skipped without torch."""
import numpy as np
import pytest

import cypool
from helpers import random_data, random_pool_config

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
    original = cypool.pooling.max_pool2d

    def spy(x, *args, **kw):
        out = original(x, *args, **kw)
        seen["in"] = x.__array_interface__["data"][0]
        seen["out"] = out[0].__array_interface__["data"][0]
        return out

    monkeypatch.setattr(cypool.pooling, "max_pool2d", spy)
    for fmt in (torch.contiguous_format, torch.channels_last):
        x = torch.randn(2, 8, 16, 16).contiguous(memory_format=fmt)
        y = ct.max_pool2d(x, 2)
        assert seen["in"] == x.data_ptr()
        assert seen["out"] == y.data_ptr()
        assert y.is_contiguous(memory_format=fmt)


def test_errors():
    with pytest.raises(ValueError, match="CPU tensors only"):
        ct.max_pool2d(torch.zeros(1, 1, 4, 4, device="meta"), 2)
    with pytest.raises(TypeError, match="bfloat16"):
        ct.MaxPool2d(2)(torch.zeros(1, 1, 4, 4, dtype=torch.bfloat16))
    with pytest.raises(TypeError, match="int64"):
        ct.AvgPool2d(2)(torch.zeros(1, 1, 4, 4, dtype=torch.int64))
    with pytest.raises(ValueError, match="padding"):
        ct.MaxPool2d(2, padding=2)(torch.zeros(1, 1, 4, 4))
    x = torch.randn(1, 1, 4, 4, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(ct.max_pool2d(x, 2).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError):   # first-order gradients only
        g.sum().backward()


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
    np.testing.assert_allclose(ours, theirs, rtol=1e-3)
