"""Cross-checks against PyTorch 2.x on the CPU: forward values, indices and gradients, on 500+
seeded random configurations per operator, in both data formats. Skipped without torch."""
import numpy as np
import pytest

import cypool
from helpers import from_channels_last, random_data, random_pool_config, to_channels_last

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")
F = torch.nn.functional
torch.set_num_threads(1)

N_CONFIGS = 500
FORMATS = ["channels_first", "channels_last"]


def run(fn, x, data_format, *args, **kw):
    if data_format == "channels_last":
        out = fn(np.ascontiguousarray(to_channels_last(x)), *args, data_format=data_format, **kw)
        return tuple(from_channels_last(o) for o in out) if isinstance(out, tuple) else \
            from_channels_last(out)
    return fn(x, *args, data_format=data_format, **kw)


def fmt_arg(a, data_format):
    return np.ascontiguousarray(to_channels_last(a)) if data_format == "channels_last" else a


def shape_arg(shape, data_format):
    return (shape[0], *shape[2:], shape[1]) if data_format == "channels_last" else shape


def configs(seed, dilation=True):
    rng = np.random.default_rng(seed)
    for i in range(N_CONFIGS):
        rank = int(rng.integers(1, 4))
        yield rng, rank, random_pool_config(rng, rank, dilation=dilation, max_kernel=4)


def torch_fn(name, rank):
    return getattr(F, f"{name}{rank}d")


def cy_fn(name, rank, suffix=""):
    return getattr(cypool, f"{name}{rank}d{suffix}")


@pytest.mark.parametrize("data_format", FORMATS)
def test_max_pool_forward_indices_backward(data_format):
    for rng, rank, (spatial, k, s, p, d, ceil_mode) in configs(1):
        dtype = np.float32 if rng.random() < 0.5 else np.float64
        x = random_data(rng, (int(rng.integers(1, 3)), int(rng.integers(1, 4)), *spatial), dtype)
        xt = torch.from_numpy(x).requires_grad_(True)
        yt, it = torch_fn("max_pool", rank)(xt, k, s, p, d, ceil_mode, return_indices=True)
        y, i = run(cy_fn("max_pool", rank), x, data_format, k, s, p, d, ceil_mode,
                   return_indices=True)
        msg = f"rank={rank} shape={x.shape} k={k} s={s} p={p} d={d} ceil={ceil_mode}"
        np.testing.assert_array_equal(y, yt.detach().numpy(), err_msg=msg)
        np.testing.assert_array_equal(i, it.numpy(), err_msg=msg)
        # backward only where every window holds a real cell (torch's index is otherwise garbage)
        if np.all(i < np.prod(spatial)):
            g = rng.standard_normal(y.shape).astype(dtype)
            yt.backward(torch.from_numpy(g))
            gx = run(lambda g_, **kw: cy_fn("max_pool", rank, "_backward")(
                g_, fmt_arg(i, kw["data_format"]), shape_arg(x.shape, kw["data_format"]), **kw),
                g, data_format)
            np.testing.assert_allclose(gx, xt.grad.numpy(), rtol=1e-5, atol=1e-5, err_msg=msg)


@pytest.mark.parametrize("data_format", FORMATS)
def test_avg_pool_forward_backward(data_format):
    for rng, rank, (spatial, k, s, p, _, ceil_mode) in configs(2, dilation=False):
        x = random_data(rng, (int(rng.integers(1, 3)), int(rng.integers(1, 4)), *spatial),
                        np.float64, special=False)
        cip = bool(rng.integers(2))
        kw = {}
        if rank > 1 and rng.random() < 0.3:
            kw["divisor_override"] = int(rng.integers(1, 6))
        xt = torch.from_numpy(x).requires_grad_(True)
        try:
            yt = torch_fn("avg_pool", rank)(xt, k, s, p, ceil_mode, cip, **kw)
        except RuntimeError:  # where torch refuses, cypool raises ValueError
            with pytest.raises(ValueError):
                run(cy_fn("avg_pool", rank), x, data_format, k, s, p, ceil_mode, cip, **kw)
            continue
        y = run(cy_fn("avg_pool", rank), x, data_format, k, s, p, ceil_mode, cip, **kw)
        msg = f"rank={rank} shape={x.shape} k={k} s={s} p={p} ceil={ceil_mode} cip={cip} {kw}"
        np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-12, atol=1e-12, err_msg=msg)
        g = rng.standard_normal(y.shape)
        yt.backward(torch.from_numpy(g))
        gx = run(lambda g_, **kw2: cy_fn("avg_pool", rank, "_backward")(
            g_, shape_arg(x.shape, kw2["data_format"]), k, s, p, ceil_mode, cip, **kw, **kw2),
            g, data_format)
        np.testing.assert_allclose(gx, xt.grad.numpy(), rtol=1e-12, atol=1e-12, err_msg=msg)


@pytest.mark.parametrize("data_format", FORMATS)
def test_adaptive_forward_backward(data_format):
    rng = np.random.default_rng(3)
    for _ in range(N_CONFIGS):
        rank = int(rng.integers(1, 4))
        spatial = tuple(int(v) for v in rng.integers(1, 12 if rank < 3 else 7, rank))
        out = tuple(int(v) for v in rng.integers(1, 9, rank))
        x = random_data(rng, (int(rng.integers(1, 3)), int(rng.integers(1, 4)), *spatial),
                        np.float64)
        msg = f"rank={rank} shape={x.shape} out={out}"
        xt = torch.from_numpy(x).requires_grad_(True)
        yt = getattr(F, f"adaptive_avg_pool{rank}d")(xt, out)
        y = run(cy_fn("adaptive_avg_pool", rank), x, data_format, out)
        np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-12, atol=1e-12, err_msg=msg)
        g = rng.standard_normal(y.shape)
        yt.backward(torch.from_numpy(g))
        gx = run(lambda g_, **kw: cy_fn("adaptive_avg_pool", rank, "_backward")(
            g_, shape_arg(x.shape, kw["data_format"]), **kw), g, data_format)
        np.testing.assert_allclose(gx, xt.grad.numpy(), rtol=1e-12, atol=1e-12, err_msg=msg)

        xt = torch.from_numpy(x).requires_grad_(True)
        yt, it = getattr(F, f"adaptive_max_pool{rank}d")(xt, out, return_indices=True)
        y, i = run(cy_fn("adaptive_max_pool", rank), x, data_format, out, return_indices=True)
        np.testing.assert_array_equal(y, yt.detach().numpy(), err_msg=msg)
        np.testing.assert_array_equal(i, it.numpy(), err_msg=msg)
        yt.backward(torch.from_numpy(g))
        gx = run(lambda g_, **kw: cy_fn("adaptive_max_pool", rank, "_backward")(
            g_, fmt_arg(i, kw["data_format"]), shape_arg(x.shape, kw["data_format"]), **kw),
            g, data_format)
        np.testing.assert_allclose(gx, xt.grad.numpy(), rtol=1e-12, atol=1e-12, err_msg=msg)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("data_format", FORMATS)
def test_adaptive_avg_backward_is_torchs_bits(data_format, dtype):
    # torch's bin delta is grad / kd / kh / kw, rounded after each division: one division by
    # the bin's size differs in the last bit (13 -> 6: a third of the cells), so equality here
    rng = np.random.default_rng(11)
    # (channels past 256: the channels-last deltas are worked out 256 channels at a time)
    for spatial, out, ch in (((13, 13), (6, 6), 3), ((5, 13, 11), (3, 6, 4), 3), ((17,), (5,), 3),
                             ((7, 9), (3, 4), 3), ((100, 37), (7, 9), 3), ((6, 7, 5), (4, 3, 2), 3),
                             ((13, 13), (6, 6), 300)):
        rank = len(spatial)
        shape = (2, ch, *spatial)
        xt = torch.zeros(shape, dtype=torch.float32 if dtype == np.float32 else torch.float64,
                         requires_grad=True)
        yt = getattr(F, f"adaptive_avg_pool{rank}d")(xt, out)
        g = rng.standard_normal(tuple(yt.shape)).astype(dtype)
        yt.backward(torch.from_numpy(g))
        gx = run(lambda g_, **kw: cy_fn("adaptive_avg_pool", rank, "_backward")(
            g_, shape_arg(shape, kw["data_format"]), **kw), g, data_format)
        np.testing.assert_array_equal(gx, xt.grad.numpy(), err_msg=f"{shape} -> {out}")


@pytest.mark.parametrize("data_format", FORMATS)
def test_global_pooling(data_format):
    rng = np.random.default_rng(4)
    for _ in range(N_CONFIGS):
        rank = int(rng.integers(1, 4))
        spatial = tuple(int(v) for v in rng.integers(1, 9 if rank < 3 else 5, rank))
        x = random_data(rng, (int(rng.integers(1, 3)), int(rng.integers(1, 5)), *spatial),
                        np.float64)
        axes = tuple(range(2, 2 + rank))
        xt = torch.from_numpy(x)
        y = run(cy_fn("global_avg_pool", rank), x, data_format, keepdims=True)
        np.testing.assert_allclose(y, xt.mean(axes, keepdim=True).numpy(), rtol=1e-12,
                                   atol=1e-12)
        ym = run(cy_fn("global_max_pool", rank), x, data_format, keepdims=True)
        ref = getattr(F, f"adaptive_max_pool{rank}d")(xt, 1).numpy()
        np.testing.assert_array_equal(ym, ref)
        flat = cy_fn("global_avg_pool", rank)(fmt_arg(x, data_format), data_format=data_format)
        assert flat.shape == x.shape[:2]


@pytest.mark.parametrize("data_format", FORMATS)
def test_max_unpool(data_format):
    for rng, rank, (spatial, k, s, p, _, ceil_mode) in configs(5, dilation=False):
        x = random_data(rng, (int(rng.integers(1, 3)), int(rng.integers(1, 4)), *spatial),
                        np.float64, special=False)
        xt = torch.from_numpy(x)
        yt, it = torch_fn("max_pool", rank)(xt, k, s, p, 1, ceil_mode, return_indices=True)
        unpool = getattr(F, f"max_unpool{rank}d")
        out_size = spatial if rng.random() < 0.5 else None
        try:
            ut = unpool(yt, it, k, s, p, output_size=out_size)
        except (RuntimeError, ValueError):
            continue  # default size smaller than an index: torch refuses; checked elsewhere
        i = it.numpy()
        u = run(lambda v, **kw: cy_fn("max_unpool", rank)(
            v, fmt_arg(i, kw["data_format"]), k, s, p, out_size, **kw), yt.numpy(), data_format)
        np.testing.assert_array_equal(u, ut.numpy())
        if u.size == 0:
            continue  # torch's backward fails on an empty unpooled output
        g = rng.standard_normal(u.shape)
        utg = torch.from_numpy(yt.numpy()).requires_grad_(True)
        unpool(utg, it, k, s, p, output_size=out_size).backward(torch.from_numpy(g))
        gx = run(lambda g_, **kw: cy_fn("max_unpool", rank, "_backward")(
            g_, fmt_arg(i, kw["data_format"]), **kw), g, data_format)
        np.testing.assert_array_equal(gx, utg.grad.numpy())


@pytest.mark.parametrize("data_format", FORMATS)
def test_memory_format_channels_last_tensor(data_format):
    """torch's channels_last memory format and cypool's channels_last data format agree."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 8, 13, 11)).astype(np.float32)
    xt = torch.from_numpy(x).contiguous(memory_format=torch.channels_last)
    yt, it = F.max_pool2d(xt, 3, 2, 1, return_indices=True)
    y, i = run(cypool.max_pool2d, x, data_format, 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(y, yt.numpy())
    np.testing.assert_array_equal(i, it.numpy())
