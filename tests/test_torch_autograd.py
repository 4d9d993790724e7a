"""cypool.torch's autograd beyond first order: gradcheck and gradgradcheck (float64, both
memory formats) with forward-mode AD checked too, torch.func.jvp/vmap against torch, and the
operators captured by torch.compile(fullgraph=True), torch.export and TorchScript. Skipped
without torch."""
import math

import pytest

torch = pytest.importorskip("torch")
ct = pytest.importorskip("cypool.torch")
nn, F = torch.nn, torch.nn.functional
torch.set_num_threads(1)


def in_format(x, channels_last):
    if not channels_last:
        return x.contiguous()
    if x.dim() == 3:
        return x.transpose(1, 2).contiguous().transpose(1, 2)
    return x.contiguous(memory_format=torch.channels_last if x.dim() == 4
                        else torch.channels_last_3d)


def _unpool(rank, pooled, lib=None):
    """Unpooling of x (the pooled shape) at the indices of a fixed input's max pooling."""
    g = torch.Generator().manual_seed(rank)
    src = torch.randn(pooled[:2] + tuple(2 * v for v in pooled[2:]), generator=g,
                      dtype=torch.double)
    _, idx = getattr(F, f"max_pool{rank}d")(src, 2, return_indices=True)

    def f(v):
        return getattr(lib or ct, f"max_unpool{rank}d")(
            v, idx if v.is_contiguous() else in_format(idx, True), 2)
    return f


SAMPLES2 = torch.rand(2, 3, 2, generator=torch.Generator().manual_seed(0), dtype=torch.double)
SAMPLES3 = torch.rand(1, 2, 3, generator=torch.Generator().manual_seed(1), dtype=torch.double)

# (name, function of x, shape, positive input)
CASES = [
    ("max_pool1d", lambda v: ct.max_pool1d(v, 3, 2, 1, ceil_mode=True), (2, 3, 9), False),
    ("max_pool2d", lambda v: ct.max_pool2d(v, 3, 2, 1, dilation=(1, 2)), (2, 3, 9, 8), False),
    ("max_pool3d", lambda v: ct.max_pool3d(v, 2, (1, 2, 2)), (1, 2, 4, 5, 4), False),
    ("avg_pool1d", lambda v: ct.avg_pool1d(v, 3, 2, 1, ceil_mode=True), (2, 3, 9), False),
    ("avg_pool2d", lambda v: ct.avg_pool2d(v, 3, 2, 1, count_include_pad=False),
     (2, 3, 7, 8), False),
    ("avg_pool2d div", lambda v: ct.avg_pool2d(v, 2, divisor_override=3), (2, 3, 6, 5), False),
    ("avg_pool3d", lambda v: ct.avg_pool3d(v, 2, 1, 1, ceil_mode=True), (1, 2, 4, 5, 4), False),
    ("adaptive_avg_pool1d", lambda v: ct.adaptive_avg_pool1d(v, 4), (2, 3, 9), False),
    ("adaptive_avg_pool2d", lambda v: ct.adaptive_avg_pool2d(v, (3, 4)), (2, 3, 7, 9), False),
    ("adaptive_avg_pool3d", lambda v: ct.adaptive_avg_pool3d(v, 2), (1, 2, 5, 4, 3), False),
    ("adaptive_max_pool1d", lambda v: ct.adaptive_max_pool1d(v, 4), (2, 3, 9), False),
    ("adaptive_max_pool2d", lambda v: ct.adaptive_max_pool2d(v, (3, 4)), (2, 3, 7, 9), False),
    ("adaptive_max_pool3d", lambda v: ct.adaptive_max_pool3d(v, 2), (1, 2, 5, 4, 3), False),
    ("max_unpool1d", _unpool(1, (2, 3, 4)), (2, 3, 4), False),
    ("max_unpool2d", _unpool(2, (2, 3, 3, 3)), (2, 3, 3, 3), False),
    ("max_unpool3d", _unpool(3, (1, 2, 2, 2, 2)), (1, 2, 2, 2, 2), False),
    ("lp_pool1d p=2", lambda v: ct.lp_pool1d(v, 2, 3, 2, ceil_mode=True), (2, 3, 9), True),
    ("lp_pool2d p=1.5", lambda v: ct.lp_pool2d(v, 1.5, (2, 3), (2, 1)), (2, 3, 7, 8), True),
    ("lp_pool2d p=3", lambda v: ct.lp_pool2d(v, 3, 2, ceil_mode=True), (2, 3, 5, 5), True),
    ("lp_pool3d p=2", lambda v: ct.lp_pool3d(v, 2, 2), (1, 2, 4, 4, 4), True),
    ("lp_pool2d inf", lambda v: ct.lp_pool2d(v, math.inf, 2), (2, 3, 6, 6), False),
    ("fractional_max_pool2d", lambda v: ct.fractional_max_pool2d(
        v, 2, (3, 4), _random_samples=SAMPLES2), (2, 3, 7, 8), False),
    ("fractional_max_pool3d", lambda v: ct.fractional_max_pool3d(
        v, (2, 1, 2), (2, 3, 2), _random_samples=SAMPLES3), (1, 2, 4, 5, 4), False),
    ("blur_pool2d", lambda v: ct.blur_pool2d(v, 3, 2), (2, 3, 7, 6), False),
    ("max_blur_pool2d", lambda v: ct.max_blur_pool2d(v), (2, 3, 7, 6), False),
    ("spatial_pyramid max", lambda v: ct.spatial_pyramid_pool(v, (3, 1)), (2, 3, 7, 6), False),
    ("spatial_pyramid avg", lambda v: ct.spatial_pyramid_pool(v, (2, 1), "avg"), (2, 3, 7, 6),
     False),
]


def _input(shape, positive, channels_last, seed):
    g = torch.Generator().manual_seed(seed)
    # distinct values: max pooling is differentiable away from ties
    x = torch.randperm(math.prod(shape), generator=g).double().view(shape) / 7.0
    x = x - x.mean()
    if positive:
        x = x.abs() + 0.5
    return in_format(x, channels_last).requires_grad_(True)


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("case", range(len(CASES)), ids=[c[0] for c in CASES])
def test_gradcheck_gradgradcheck_forward_ad(case, channels_last):
    name, fn, shape, positive = CASES[case]
    x = _input(shape, positive, channels_last, case)
    assert torch.autograd.gradcheck(fn, (x,), check_forward_ad=True), name
    assert torch.autograd.gradgradcheck(fn, (x,)), name


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("case", range(len(CASES) - 4), ids=[c[0] for c in CASES[:-4]])
def test_double_backward_equals_torch(case, channels_last):
    """A gradient penalty through the bridge equals the same through torch's pooling."""
    name, fn, shape, positive = CASES[case]
    torch_fn = _torch_twin(name)
    x = _input(shape, positive, channels_last, case)
    results = []
    for f in (fn, torch_fn):
        y = f(x)
        (g,) = torch.autograd.grad((y * y).sum(), x, create_graph=True)
        (h,) = torch.autograd.grad((g * g).sum(), x)
        results.append((y, g, h))
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)


def _torch_twin(name):
    """The same call on torch's functions (the cases' arguments, by name)."""
    twins = {
        "max_pool1d": lambda v: F.max_pool1d(v, 3, 2, 1, ceil_mode=True),
        "max_pool2d": lambda v: F.max_pool2d(v, 3, 2, 1, dilation=(1, 2)),
        "max_pool3d": lambda v: F.max_pool3d(v, 2, (1, 2, 2)),
        "avg_pool1d": lambda v: F.avg_pool1d(v, 3, 2, 1, ceil_mode=True),
        "avg_pool2d": lambda v: F.avg_pool2d(v, 3, 2, 1, count_include_pad=False),
        "avg_pool2d div": lambda v: F.avg_pool2d(v, 2, divisor_override=3),
        "avg_pool3d": lambda v: F.avg_pool3d(v, 2, 1, 1, ceil_mode=True),
        "adaptive_avg_pool1d": lambda v: F.adaptive_avg_pool1d(v, 4),
        "adaptive_avg_pool2d": lambda v: F.adaptive_avg_pool2d(v, (3, 4)),
        "adaptive_avg_pool3d": lambda v: F.adaptive_avg_pool3d(v, 2),
        "adaptive_max_pool1d": lambda v: F.adaptive_max_pool1d(v, 4),
        "adaptive_max_pool2d": lambda v: F.adaptive_max_pool2d(v, (3, 4)),
        "adaptive_max_pool3d": lambda v: F.adaptive_max_pool3d(v, 2),
        "lp_pool1d p=2": lambda v: F.lp_pool1d(v, 2, 3, 2, ceil_mode=True),
        "lp_pool2d p=1.5": lambda v: F.lp_pool2d(v, 1.5, (2, 3), (2, 1)),
        "lp_pool2d p=3": lambda v: F.lp_pool2d(v, 3, 2, ceil_mode=True),
        "lp_pool2d inf": lambda v: F.lp_pool2d(v, math.inf, 2),
        "lp_pool3d p=2": lambda v: F.lp_pool3d(v, 2, 2),
        "max_unpool1d": _unpool(1, (2, 3, 4), F),
        "max_unpool2d": _unpool(2, (2, 3, 3, 3), F),
        "max_unpool3d": _unpool(3, (1, 2, 2, 2, 2), F),
        "fractional_max_pool2d": lambda v: F.fractional_max_pool2d(
            v, 2, (3, 4), _random_samples=SAMPLES2),
        "fractional_max_pool3d": lambda v: F.fractional_max_pool3d(
            v, (2, 1, 2), (2, 3, 2), _random_samples=SAMPLES3),
    }
    return twins[name]


def test_allow_unused_gives_values_not_none():
    """The input gradient of a gradient depends on x through the pooling: never a silent None."""
    x = torch.randn(1, 2, 6, 6, dtype=torch.double, requires_grad=True)
    for fn in (lambda v: ct.avg_pool2d(v, 2) ** 2, lambda v: ct.max_pool2d(v, 2) ** 2,
               lambda v: ct.adaptive_avg_pool2d(v, 3) ** 2):
        (g,) = torch.autograd.grad(fn(x).sum(), x, create_graph=True)
        (h,) = torch.autograd.grad(g.sum(), x, allow_unused=True)
        assert h is not None and h.abs().sum() > 0


@pytest.mark.parametrize("case", range(len(CASES) - 4), ids=[c[0] for c in CASES[:-4]])
def test_func_jvp_equals_torch(case):
    name, fn, shape, positive = CASES[case]
    x = _input(shape, positive, False, case).detach()
    t = torch.randn(shape, dtype=torch.double)
    ours = torch.func.jvp(fn, (x,), (t,))
    theirs = torch.func.jvp(_torch_twin(name), (x,), (t,))
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("case", range(len(CASES)), ids=[c[0] for c in CASES])
def test_vmap_equals_loop(case):
    name, fn, shape, positive = CASES[case]
    xs = torch.stack([_input(shape, positive, False, case + i).detach() for i in range(3)])
    got = torch.func.vmap(fn)(xs)
    expected = torch.stack([fn(v) for v in xs])
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)
    # vmap over the unbatched form and over a non-leading dimension
    got = torch.func.vmap(fn, in_dims=1, out_dims=1)(xs.movedim(0, 1))
    torch.testing.assert_close(got, expected.movedim(0, 1), rtol=1e-12, atol=1e-12)


def test_vmap_of_grad_per_sample_gradients():
    x = torch.randn(4, 3, 8, 8, dtype=torch.double)

    def loss(v):
        return (ct.max_pool2d(v, 2) ** 2).sum() + ct.adaptive_avg_pool2d(v, 3).sum()

    got = torch.func.vmap(torch.func.grad(loss))(x)
    expected = torch.stack([torch.func.grad(loss)(v) for v in x])
    torch.testing.assert_close(got, expected)


def test_stochastic_evaluation_has_no_derivatives():
    x = torch.rand(1, 2, 4, 4, dtype=torch.double)
    with pytest.raises(RuntimeError, match="evaluation mode"):
        torch.func.jvp(lambda v: ct.stochastic_pool2d(v, 2, training=False), (x,), (x,))


# ----------------------------------------------------------------------------- compile, export

class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.pool1 = ct.MaxPool2d(3, 2, 1)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.pool2 = ct.AvgPool2d(2, ceil_mode=True)
        self.pool3 = ct.LPPool2d(2, 2)
        self.gap = ct.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        x = self.pool1(torch.relu(self.conv1(x)))
        x = self.pool2(torch.relu(self.conv2(x)))
        x = ct.adaptive_max_pool2d(x, 4) + ct.max_unpool2d(
            *ct.max_pool2d(x, 2, return_indices=True), 2)[..., :4, :4]
        x = x + ct.fractional_max_pool2d(F.pad(x, (1, 0, 1, 0)), 2, 4, _random_samples=torch.full(
            (x.shape[0], x.shape[1], 2), 0.5, dtype=x.dtype))
        x = self.pool3(torch.relu(x) + 0.1)
        return self.fc(self.gap(x).flatten(1))


@pytest.fixture(scope="module")
def cnn():
    torch.manual_seed(0)
    return SmallCNN()


@pytest.mark.parametrize("channels_last", [False, True])
def test_compile_fullgraph_matches_eager(cnn, channels_last):
    torch._dynamo.reset()
    x = in_format(torch.randn(2, 3, 16, 16), channels_last).requires_grad_(True)
    x2 = x.detach().clone(memory_format=torch.preserve_format).requires_grad_(True)
    eager = cnn(x)
    eager.sum().backward()
    g_eager = x.grad.clone()
    compiled = torch.compile(cnn, fullgraph=True, backend="aot_eager")(x2)
    compiled.sum().backward()
    torch.testing.assert_close(compiled, eager)
    torch.testing.assert_close(x2.grad, g_eager)


def test_compile_inductor_fullgraph(cnn):
    torch._dynamo.reset()
    x = torch.randn(2, 3, 16, 16)
    try:
        compiled = torch.compile(cnn, fullgraph=True)
        out = compiled(x)
    except Exception as exc:  # no C compiler for inductor's generated code
        if "compiler" in str(exc).lower() and "cypool" not in str(exc):
            pytest.skip(f"inductor cannot build here: {exc}")
        raise
    torch.testing.assert_close(out, cnn(x))


def test_export_matches_eager(cnn):
    x = torch.randn(2, 3, 16, 16)
    ep = torch.export.export(cnn, (x,))
    targets = {str(n.target) for n in ep.graph.nodes if n.op == "call_function"}
    assert any(t.startswith("cypool.") for t in targets), targets
    torch.testing.assert_close(ep.module()(x), cnn(x))


def test_torchscript_calls_the_custom_ops():
    @torch.jit.script
    def pool(x: torch.Tensor) -> torch.Tensor:
        y, idx = torch.ops.cypool.max_pool(x, 2, [2, 2], [2, 2], [0, 0], [1, 1], False, "",
                                           True)
        return torch.ops.cypool.avg_pool(y, 2, [2, 2], [], [0, 0], False, True, None, "")

    x = torch.randn(2, 3, 8, 8)
    torch.testing.assert_close(pool(x), F.avg_pool2d(F.max_pool2d(x, 2), 2))
