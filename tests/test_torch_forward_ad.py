"""Forward-mode AD and vmap of every cypool.torch operator, through the functional forms and through
direct calls of the custom ops (``torch.ops.cypool.*``): tangents from ``torch.func.jvp`` and from
``torch.autograd.forward_ad`` against torch's own pooling (float64, both memory formats), the
forward-over-reverse derivatives, and ``torch.func.vmap``. Skipped without torch."""
import math

import pytest

torch = pytest.importorskip("torch")
ct = pytest.importorskip("cypool.torch")
import cypool  # noqa: E402
import torch.autograd.forward_ad as fwAD  # noqa: E402

F = torch.nn.functional
ops = torch.ops.cypool
torch.set_num_threads(1)


def in_format(x, channels_last):
    if not channels_last:
        return x.contiguous()
    if x.dim() == 3:
        return x.transpose(1, 2).contiguous().transpose(1, 2)
    return x.contiguous(memory_format=torch.channels_last if x.dim() == 4
                        else torch.channels_last_3d)


def distinct(shape, seed, positive=False):
    """float64 values without ties (max pooling is differentiable away from ties)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randperm(math.prod(shape), generator=g).double().view(shape) / 7.0
    x = x - x.mean()
    return x.abs() + 0.5 if positive else x


def torch_blur(v, filt_size, stride):
    """Blur pooling in torch's own operators: reflect padding ((f-1)//2 before, f//2 after), then
    the depthwise convolution with the outer product of the binomial filter."""
    f = filt_size
    b = torch.tensor(cypool.binomial_filter(f), dtype=v.dtype)
    kernel = torch.outer(b, b).expand(v.shape[1], 1, f, f)
    padded = F.pad(v, ((f - 1) // 2, f // 2, (f - 1) // 2, f // 2), mode="reflect")
    return F.conv2d(padded, kernel, stride=stride, groups=v.shape[1])


def torch_unpool(rank, pooled):
    """(indices of a fixed input's 2x max pooling, for the pooled shape) in both formats."""
    src = distinct(pooled[:2] + tuple(2 * v for v in pooled[2:]), 100 + rank)
    _, idx = getattr(F, f"max_pool{rank}d")(src, 2, return_indices=True)
    return idx


SAMPLES2 = torch.rand(2, 3, 2, generator=torch.Generator().manual_seed(0), dtype=torch.double)
SAMPLES3 = torch.rand(1, 2, 3, generator=torch.Generator().manual_seed(1), dtype=torch.double)
IDX = {r: torch_unpool(r, s) for r, s in ((1, (2, 3, 4)), (2, (2, 3, 3, 3)),
                                          (3, (1, 2, 2, 2, 2)))}

# ----------------------------------------------------------------------------- functional forms
# (name, cypool.torch call, torch's call, input shape, positive input)
FUNCTIONAL = [
    ("max_pool1d", lambda v: ct.max_pool1d(v, 3, 2, 1, ceil_mode=True),
     lambda v: F.max_pool1d(v, 3, 2, 1, ceil_mode=True), (2, 3, 9), False),
    ("max_pool2d", lambda v: ct.max_pool2d(v, 3, 2, 1, dilation=(1, 2)),
     lambda v: F.max_pool2d(v, 3, 2, 1, dilation=(1, 2)), (2, 3, 9, 8), False),
    ("max_pool3d", lambda v: ct.max_pool3d(v, 2, (1, 2, 2)),
     lambda v: F.max_pool3d(v, 2, (1, 2, 2)), (1, 2, 4, 5, 4), False),
    ("max_pool2d_with_indices", lambda v: ct.max_pool2d_with_indices(v, 2)[0],
     lambda v: F.max_pool2d_with_indices(v, 2)[0], (2, 3, 6, 5), False),
    ("avg_pool1d", lambda v: ct.avg_pool1d(v, 3, 2, 1, ceil_mode=True),
     lambda v: F.avg_pool1d(v, 3, 2, 1, ceil_mode=True), (2, 3, 9), False),
    ("avg_pool2d", lambda v: ct.avg_pool2d(v, 3, 2, 1, count_include_pad=False),
     lambda v: F.avg_pool2d(v, 3, 2, 1, count_include_pad=False), (2, 3, 7, 8), False),
    ("avg_pool2d divisor", lambda v: ct.avg_pool2d(v, 2, divisor_override=3),
     lambda v: F.avg_pool2d(v, 2, divisor_override=3), (2, 3, 6, 5), False),
    ("avg_pool3d", lambda v: ct.avg_pool3d(v, 2, 1, 1, ceil_mode=True),
     lambda v: F.avg_pool3d(v, 2, 1, 1, ceil_mode=True), (1, 2, 4, 5, 4), False),
    ("adaptive_avg_pool1d", lambda v: ct.adaptive_avg_pool1d(v, 4),
     lambda v: F.adaptive_avg_pool1d(v, 4), (2, 3, 9), False),
    ("adaptive_avg_pool2d", lambda v: ct.adaptive_avg_pool2d(v, (3, 4)),
     lambda v: F.adaptive_avg_pool2d(v, (3, 4)), (2, 3, 7, 9), False),
    ("adaptive_avg_pool3d", lambda v: ct.adaptive_avg_pool3d(v, 2),
     lambda v: F.adaptive_avg_pool3d(v, 2), (1, 2, 5, 4, 3), False),
    ("adaptive_max_pool1d", lambda v: ct.adaptive_max_pool1d(v, 4),
     lambda v: F.adaptive_max_pool1d(v, 4), (2, 3, 9), False),
    ("adaptive_max_pool2d", lambda v: ct.adaptive_max_pool2d(v, (3, 4)),
     lambda v: F.adaptive_max_pool2d(v, (3, 4)), (2, 3, 7, 9), False),
    ("adaptive_max_pool3d", lambda v: ct.adaptive_max_pool3d(v, 2),
     lambda v: F.adaptive_max_pool3d(v, 2), (1, 2, 5, 4, 3), False),
    *[(f"max_unpool{r}d", lambda v, r=r: getattr(ct, f"max_unpool{r}d")(
        v, in_format(IDX[r], not v.is_contiguous()), 2),
       lambda v, r=r: getattr(F, f"max_unpool{r}d")(v, IDX[r], 2), tuple(IDX[r].shape), False)
      for r in (1, 2, 3)],
    ("lp_pool1d p=2", lambda v: ct.lp_pool1d(v, 2, 3, 2, ceil_mode=True),
     lambda v: F.lp_pool1d(v, 2, 3, 2, ceil_mode=True), (2, 3, 9), True),
    ("lp_pool2d p=1.5", lambda v: ct.lp_pool2d(v, 1.5, (2, 3), (2, 1)),
     lambda v: F.lp_pool2d(v, 1.5, (2, 3), (2, 1)), (2, 3, 7, 8), True),
    ("lp_pool2d p=3", lambda v: ct.lp_pool2d(v, 3, 2, ceil_mode=True),
     lambda v: F.lp_pool2d(v, 3, 2, ceil_mode=True), (2, 3, 5, 5), True),
    ("lp_pool2d p=inf", lambda v: ct.lp_pool2d(v, math.inf, 2),
     lambda v: F.lp_pool2d(v, math.inf, 2), (2, 3, 6, 6), False),
    ("lp_pool3d p=2", lambda v: ct.lp_pool3d(v, 2, 2),
     lambda v: F.lp_pool3d(v, 2, 2), (1, 2, 4, 4, 4), True),
    ("fractional_max_pool2d", lambda v: ct.fractional_max_pool2d(
        v, 2, (3, 4), _random_samples=SAMPLES2),
     lambda v: F.fractional_max_pool2d(v, 2, (3, 4), _random_samples=SAMPLES2),
     (2, 3, 7, 8), False),
    ("fractional_max_pool3d", lambda v: ct.fractional_max_pool3d(
        v, (2, 1, 2), (2, 3, 2), _random_samples=SAMPLES3),
     lambda v: F.fractional_max_pool3d(v, (2, 1, 2), (2, 3, 2), _random_samples=SAMPLES3),
     (1, 2, 4, 5, 4), False),
    ("blur_pool2d", lambda v: ct.blur_pool2d(v, 3, 2), lambda v: torch_blur(v, 3, 2),
     (2, 3, 7, 6), False),
    ("max_blur_pool2d", lambda v: ct.max_blur_pool2d(v),
     lambda v: torch_blur(F.max_pool2d(v, 2, 1), 3, 2), (2, 3, 7, 6), False),
    ("spatial_pyramid_pool max", lambda v: ct.spatial_pyramid_pool(v, (3, 1)),
     lambda v: torch.cat([F.adaptive_max_pool2d(v, lv).flatten(1) for lv in (3, 1)], 1),
     (2, 3, 7, 6), False),
    ("spatial_pyramid_pool avg", lambda v: ct.spatial_pyramid_pool(v, (2, 1), "avg"),
     lambda v: torch.cat([F.adaptive_avg_pool2d(v, lv).flatten(1) for lv in (2, 1)], 1),
     (2, 3, 7, 6), False),
    ("MaxPool2d module", lambda v: ct.MaxPool2d(2, 1)(v), lambda v: F.max_pool2d(v, 2, 1),
     (2, 3, 5, 5), False),
    ("AvgPool3d module", lambda v: ct.AvgPool3d(2)(v), lambda v: F.avg_pool3d(v, 2),
     (1, 2, 4, 4, 4), False),
]


# ----------------------------------------------------------------------------- direct custom ops
# Each takes (v, cl): the differentiated tensor and whether the case runs in channels-last memory
# (the companion tensors, indices and fixed inputs, are given in the same memory format).

def _fixed(shape, seed=7, positive=False):
    return distinct(shape, seed, positive)


def _torch_vjp(fn, x0):
    """v -> the gradient of fn at x0 for the output gradient v (torch's backward, differentiable
    in v and, through torch.func, in x0)."""
    return lambda v: torch.func.vjp(fn, x0)[1](v)[0]


def _max_backward_case(rank, shape, fn):
    x0 = _fixed(shape)
    _, idx = fn(x0)
    out_shape = tuple(idx.shape)
    name = "adaptive_max_pool_backward" if "adaptive" in fn.__name__ else "max_pool_backward"
    return (f"{name} {rank}d", lambda v, cl: getattr(ops, name)(
        v, in_format(idx, cl), list(shape), rank, cl),
        _torch_vjp(lambda s: fn(s)[0], x0), out_shape, False)


def _max_idx(rank):
    def max_with_indices(s):
        return getattr(F, f"max_pool{rank}d")(s, 2, return_indices=True)
    return max_with_indices


def _adaptive_idx(rank):
    def adaptive_max_with_indices(s):
        return getattr(F, f"adaptive_max_pool{rank}d")(s, 3, return_indices=True)
    return adaptive_max_with_indices


def _gather_case(rank, shape):
    src_shape = shape[:2] + tuple(2 * v for v in shape[2:])
    _, idx = getattr(F, f"max_pool{rank}d")(_fixed(src_shape), 2, return_indices=True)

    def theirs(v):
        flat = v.flatten(2).gather(2, idx.flatten(2))
        return flat.view(idx.shape)
    return (f"gather {rank}d", lambda v, cl: ops.gather(v, in_format(idx, cl), rank, cl), theirs,
            src_shape, False)


def _avg_backward_case(rank, shape, params):
    ks, st, pad, ceil, cip, div = params
    x0 = _fixed(shape)
    out_shape = tuple(getattr(F, f"avg_pool{rank}d")(x0, ks, st, pad, ceil, cip, *(
        [div] if rank > 1 else [])).shape)
    return (f"avg_pool_backward {rank}d", lambda v, cl: ops.avg_pool_backward(
        v, list(shape), rank, ks, st, pad, ceil, cip, div, "", cl),
        _torch_vjp(lambda s: getattr(F, f"avg_pool{rank}d")(s, ks, st, pad, ceil, cip, *(
            [div] if rank > 1 else [])), x0), out_shape, False)


def _adaptive_avg_backward_case(rank, shape):
    x0 = _fixed(shape)
    fn = getattr(F, f"adaptive_avg_pool{rank}d")
    return (f"adaptive_avg_pool_backward {rank}d", lambda v, cl: ops.adaptive_avg_pool_backward(
        v, list(shape), rank, cl), _torch_vjp(lambda s: fn(s, 3), x0),
        tuple(fn(x0, 3).shape), False)


def _lp_backward_cases(rank, shape, p, ks, st, ceil):
    fn = getattr(F, f"lp_pool{rank}d")
    torch_ks = ks[0] if rank == 1 else tuple(ks)
    x0 = _fixed(shape, positive=True)
    g0 = _fixed(tuple(fn(x0, p, torch_ks, st, ceil).shape), seed=8)
    return [
        (f"lp_pool_backward {rank}d p={p}, in the input", lambda v, cl: ops.lp_pool_backward(
            in_format(g0, cl), v, rank, float(p), ks, st, ceil, cl),
         lambda v: torch.func.vjp(lambda s: fn(s, p, torch_ks, st, ceil), v)[1](g0)[0],
         shape, True),
        (f"lp_pool_backward {rank}d p={p}, in the gradient", lambda v, cl: ops.lp_pool_backward(
            v, in_format(x0, cl), rank, float(p), ks, st, ceil, cl),
         _torch_vjp(lambda s: fn(s, p, torch_ks, st, ceil), x0), tuple(g0.shape), False),
    ]


def _blur_backward_case(shape):
    x0 = _fixed(shape)
    out_shape = tuple(torch_blur(x0, 3, 2).shape)
    return ("blur_pool_backward", lambda v, cl: ops.blur_pool_backward(v, list(shape), 3, [2, 2],
                                                                       cl),
            _torch_vjp(lambda s: torch_blur(s, 3, 2), x0), out_shape, False)


DIRECT = [
    ("max_pool 1d", lambda v, cl: ops.max_pool(v, 1, [3], [2], [1], [1], True, "", True)[0],
     lambda v: F.max_pool1d(v, 3, 2, 1, ceil_mode=True), (2, 3, 9), False),
    ("max_pool 2d", lambda v, cl: ops.max_pool(v, 2, [3, 3], [2, 2], [1, 1], [1, 2], False, "",
                                               True)[0],
     lambda v: F.max_pool2d(v, 3, 2, 1, dilation=(1, 2)), (2, 3, 9, 8), False),
    ("max_pool 3d", lambda v, cl: ops.max_pool(v, 3, [2, 2, 2], [1, 2, 2], [0, 0, 0],
                                               [1, 1, 1], False, "", False)[0],
     lambda v: F.max_pool3d(v, 2, (1, 2, 2)), (1, 2, 4, 5, 4), False),
    ("avg_pool 1d", lambda v, cl: ops.avg_pool(v, 1, [3], [2], [1], True, True, None, ""),
     lambda v: F.avg_pool1d(v, 3, 2, 1, ceil_mode=True), (2, 3, 9), False),
    ("avg_pool 2d", lambda v, cl: ops.avg_pool(v, 2, [3, 3], [2, 2], [1, 1], False, False, None,
                                               ""),
     lambda v: F.avg_pool2d(v, 3, 2, 1, count_include_pad=False), (2, 3, 7, 8), False),
    ("avg_pool 3d", lambda v, cl: ops.avg_pool(v, 3, [2, 2, 2], [], [0, 0, 0], False, True, 3,
                                               ""),
     lambda v: F.avg_pool3d(v, 2, divisor_override=3), (1, 2, 4, 5, 4), False),
    *[(f"adaptive_avg_pool {r}d", lambda v, cl, r=r: ops.adaptive_avg_pool(v, r, [3] * r),
       lambda v, r=r: getattr(F, f"adaptive_avg_pool{r}d")(v, 3), s, False)
      for r, s in ((1, (2, 3, 8)), (2, (2, 3, 7, 5)), (3, (1, 2, 5, 4, 4)))],
    *[(f"adaptive_max_pool {r}d", lambda v, cl, r=r: ops.adaptive_max_pool(v, r, [3] * r)[0],
       lambda v, r=r: getattr(F, f"adaptive_max_pool{r}d")(v, 3), s, False)
      for r, s in ((1, (2, 3, 8)), (2, (2, 3, 7, 5)), (3, (1, 2, 5, 4, 4)))],
    *[(f"max_unpool {r}d", lambda v, cl, r=r: ops.max_unpool(
        v, in_format(IDX[r], cl), r, [2] * r, [2] * r, [0] * r, [2 * n for n in IDX[r].shape[2:]]),
       lambda v, r=r: getattr(F, f"max_unpool{r}d")(v, IDX[r], 2), tuple(IDX[r].shape), False)
      for r in (1, 2, 3)],
    ("lp_pool 1d p=2", lambda v, cl: ops.lp_pool(v, 1, 2.0, [3], [2], True),
     lambda v: F.lp_pool1d(v, 2, 3, 2, ceil_mode=True), (2, 3, 9), True),
    ("lp_pool 2d p=1.5", lambda v, cl: ops.lp_pool(v, 2, 1.5, [2, 3], [2, 1], False),
     lambda v: F.lp_pool2d(v, 1.5, (2, 3), (2, 1)), (2, 3, 7, 8), True),
    ("lp_pool 3d p=3", lambda v, cl: ops.lp_pool(v, 3, 3.0, [2, 2, 2], [], False),
     lambda v: F.lp_pool3d(v, 3, 2), (1, 2, 4, 4, 4), True),
    ("fractional_max_pool 2d", lambda v, cl: ops.fractional_max_pool(
        v, SAMPLES2, 2, [2, 2], [3, 4])[0],
     lambda v: F.fractional_max_pool2d(v, 2, (3, 4), _random_samples=SAMPLES2),
     (2, 3, 7, 8), False),
    ("fractional_max_pool 3d", lambda v, cl: ops.fractional_max_pool(
        v, SAMPLES3, 3, [2, 1, 2], [2, 3, 2])[0],
     lambda v: F.fractional_max_pool3d(v, (2, 1, 2), (2, 3, 2), _random_samples=SAMPLES3),
     (1, 2, 4, 5, 4), False),
    ("blur_pool", lambda v, cl: ops.blur_pool(v, 3, [2, 2]), lambda v: torch_blur(v, 3, 2),
     (2, 3, 7, 6), False),
    *[_max_backward_case(r, s, _max_idx(r))
      for r, s in ((1, (2, 3, 8)), (2, (2, 3, 6, 4)), (3, (1, 2, 4, 4, 6)))],
    *[_max_backward_case(r, s, _adaptive_idx(r))
      for r, s in ((1, (2, 3, 8)), (2, (2, 3, 7, 5)), (3, (1, 2, 5, 4, 4)))],
    *[_gather_case(r, s) for r, s in ((1, (2, 3, 4)), (2, (2, 3, 3, 3)), (3, (1, 2, 2, 2, 2)))],
    _avg_backward_case(1, (2, 3, 9), ([3], [2], [1], True, True, None)),
    _avg_backward_case(2, (2, 3, 7, 8), ([3, 3], [2, 2], [1, 1], False, False, None)),
    _avg_backward_case(3, (1, 2, 4, 5, 4), ([2, 2, 2], [1, 1, 1], [1, 1, 1], True, True, 5)),
    *[_adaptive_avg_backward_case(r, s)
      for r, s in ((1, (2, 3, 8)), (2, (2, 3, 7, 5)), (3, (1, 2, 5, 4, 4)))],
    *_lp_backward_cases(1, (2, 3, 9), 2, [3], [2], True),
    *_lp_backward_cases(2, (2, 3, 7, 8), 1.5, [2, 3], [2, 1], False),
    *_lp_backward_cases(3, (1, 2, 4, 4, 4), 3, [2, 2, 2], [], False),
    _blur_backward_case((2, 3, 7, 6)),
]


# ----------------------------------------------------------------------------- the two modes

def func_jvp(fn, x, t):
    return torch.func.jvp(fn, (x,), (t,))


def dual_jvp(fn, x, t):
    """forward-mode AD with dual tensors; a missing tangent fails (it would be a silent zero)."""
    with fwAD.dual_level():
        out = fwAD.unpack_dual(fn(fwAD.make_dual(x, t)))
    assert out.tangent is not None, "no tangent: forward-mode AD did not reach the operator"
    return out.primal, out.tangent


MODES = {"torch.func.jvp": func_jvp, "forward_ad": dual_jvp}


def _check(ours, theirs, shape, positive, channels_last, mode, seed):
    x = in_format(distinct(shape, seed, positive), channels_last)
    t = in_format(torch.randn(shape, dtype=torch.double,
                              generator=torch.Generator().manual_seed(seed + 1)), channels_last)
    got = MODES[mode](ours, x, t)
    expected = torch.func.jvp(theirs, (x,), (t,))
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)
    assert got[1].abs().sum() > 0


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("channels_last", [False, True], ids=["cf", "cl"])
@pytest.mark.parametrize("case", range(len(FUNCTIONAL)), ids=[c[0] for c in FUNCTIONAL])
def test_functional_jvp_equals_torch(case, channels_last, mode):
    name, ours, theirs, shape, positive = FUNCTIONAL[case]
    _check(ours, theirs, shape, positive, channels_last, mode, case)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("channels_last", [False, True], ids=["cf", "cl"])
@pytest.mark.parametrize("case", range(len(DIRECT)), ids=[c[0] for c in DIRECT])
def test_custom_op_jvp_equals_torch(case, channels_last, mode):
    name, ours, theirs, shape, positive = DIRECT[case]
    _check(lambda v: ours(v, channels_last), theirs, shape, positive, channels_last, mode,
           100 + case)


def test_every_custom_op_has_a_jvp_case():
    named = {c[0].split()[0] for c in DIRECT}
    assert named == {name for name, op in ct.OPS.items() if op.schema}


@pytest.mark.parametrize("case", range(len(DIRECT)), ids=[c[0] for c in DIRECT])
def test_custom_op_vmap_equals_loop(case):
    name, ours, _, shape, positive = DIRECT[case]
    xs = torch.stack([distinct(shape, 200 + case + i, positive) for i in range(3)])
    expected = torch.stack([ours(v, False) for v in xs])
    torch.testing.assert_close(torch.func.vmap(lambda v: ours(v, False))(xs), expected,
                               rtol=1e-12, atol=1e-12)
    got = torch.func.vmap(lambda v: ours(v, False), in_dims=1, out_dims=1)(xs.movedim(0, 1))
    torch.testing.assert_close(got, expected.movedim(0, 1), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", range(len(DIRECT)), ids=[c[0] for c in DIRECT])
def test_custom_op_backward_equals_torch(case):
    """A direct call of the op has the functional forms' backward (torch's gradient)."""
    name, ours, theirs, shape, positive = DIRECT[case]
    x = distinct(shape, 300 + case, positive).requires_grad_(True)
    g = torch.randn(ours(x.detach(), False).shape, dtype=torch.double)
    (got,) = torch.autograd.grad(ours(x, False), x, g)
    (expected,) = torch.autograd.grad(theirs(x), x, g)
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-9)


# ----------------------------------------------------------------------------- forward over reverse

LP = [
    ("lp_pool1d p=2", lambda m: lambda v: m.lp_pool1d(v, 2, 3, 2, ceil_mode=True), (2, 3, 9)),
    ("lp_pool2d p=1.5", lambda m: lambda v: m.lp_pool2d(v, 1.5, (2, 3), (2, 1)), (2, 3, 7, 8)),
    ("lp_pool2d p=3", lambda m: lambda v: m.lp_pool2d(v, 3, 2, ceil_mode=True), (2, 3, 5, 5)),
    ("lp_pool2d p=1", lambda m: lambda v: m.lp_pool2d(v, 1, 2), (2, 3, 6, 6)),
    ("lp_pool3d p=2", lambda m: lambda v: m.lp_pool3d(v, 2, 2), (1, 2, 4, 4, 4)),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("channels_last", [False, True], ids=["cf", "cl"])
@pytest.mark.parametrize("case", range(len(LP)), ids=[c[0] for c in LP])
def test_lp_forward_over_reverse_equals_torch(case, channels_last, mode):
    """The jvp of the Lp backward: the Hessian-vector product of a loss through Lp pooling."""
    name, make, shape = LP[case]

    def hvp_fn(m):
        pool = make(m)
        return torch.func.grad(lambda v: (pool(v) ** 3).sum())

    x = in_format(distinct(shape, case, positive=True), channels_last)
    t = in_format(torch.randn(shape, dtype=torch.double), channels_last)
    if mode == "forward_ad":
        pool = make(ct)
        with fwAD.dual_level():
            xd = fwAD.make_dual(x, t).requires_grad_(True)
            (g,) = torch.autograd.grad((pool(xd) ** 3).sum(), xd, create_graph=True)
            got = fwAD.unpack_dual(g)
        got = (got.primal, got.tangent)
    else:
        got = torch.func.jvp(hvp_fn(ct), (x,), (t,))
    expected = torch.func.jvp(hvp_fn(F), (x,), (t,))
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("channels_last", [False, True], ids=["cf", "cl"])
@pytest.mark.parametrize("case", range(len(FUNCTIONAL)), ids=[c[0] for c in FUNCTIONAL])
def test_gradcheck_forward_over_reverse(case, channels_last):
    """torch's own check of the forward-over-reverse derivative (gradgradcheck's fwd_over_rev)."""
    name, ours, _, shape, positive = FUNCTIONAL[case]
    x = in_format(distinct(shape, case, positive), channels_last).requires_grad_(True)
    # reverse-over-reverse runs in tests/test_torch_autograd.py
    assert torch.autograd.gradgradcheck(ours, (x,), check_fwd_over_rev=True,
                                        check_rev_over_rev=False, check_undefined_grad=False)


# ----------------------------------------------------------------------------- registration

def _opcheck_cases():
    x = distinct((2, 3, 6, 6), 400, positive=True)
    _, idx = F.max_pool2d(x, 2, return_indices=True)
    _, aidx = F.adaptive_max_pool2d(x, 3, return_indices=True)
    g = distinct((2, 3, 3, 3), 401)
    shape = [2, 3, 6, 6]
    return {
        "max_pool": (x, 2, [2, 2], [2, 2], [0, 0], [1, 1], False, "", True),
        "fractional_max_pool": (distinct((2, 3, 7, 8), 402), SAMPLES2, 2, [2, 2], [3, 4]),
        "max_pool_backward": (g, idx, shape, 2, False),
        "gather": (x, idx, 2, False),
        "avg_pool": (x, 2, [3, 3], [2, 2], [1, 1], True, False, None, ""),
        "avg_pool_backward": (g, shape, 2, [2, 2], [], [0, 0], False, True, None, "", False),
        "adaptive_avg_pool": (x, 2, [4, 5]),
        "adaptive_avg_pool_backward": (g, shape, 2, False),
        "adaptive_max_pool": (x, 2, [4, 5]),
        "adaptive_max_pool_backward": (g, aidx, shape, 2, False),
        "max_unpool": (g, idx, 2, [2, 2], [2, 2], [0, 0], [6, 6]),
        "lp_pool": (x, 2, 1.5, [2, 2], [], False),
        "lp_pool_backward": (g, x, 2, 1.5, [2, 2], [], False, False),
        "blur_pool": (x, 3, [2, 2]),
        "blur_pool_backward": (g, shape, 3, [2, 2], False),
    }


@pytest.mark.parametrize("name", sorted(_opcheck_cases()))
def test_custom_op_registration(name):
    """torch.library.opcheck: schema, fake implementation against the kernel, the autograd
    registration and AOT dispatch (torch.compile's path) of every custom op."""
    args = tuple(a.clone().requires_grad_(a.is_floating_point()) if isinstance(a, torch.Tensor)
                 else a for a in _opcheck_cases()[name])
    results = torch.library.opcheck(getattr(ops, name).default, args)
    assert set(results.values()) == {"SUCCESS"}, results


def test_every_custom_op_is_opchecked():
    assert set(_opcheck_cases()) == {name for name, op in ct.OPS.items() if op.schema}
