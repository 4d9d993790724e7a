"""Hypothesis fuzzing of every operator, forward and backward, ranks 1-3, both data formats.

Each example draws arrays and arguments, valid or hostile (wrong rank, non-arrays, unsupported
dtypes, zero/negative/float/bool/NaN/huge/wrong-length window arguments, bad strings, wrong
gradient shapes or dtypes, indices of the wrong dtype or shape or outside the plane, inconsistent
input_shape, ...). The test's own specification (`spec_*` below: the accepted argument forms and
PyTorch's rules, written independently of cypool) decides whether the call is valid:
- invalid: cypool must raise ValueError or TypeError, nothing else;
- valid: cypool must return exactly what the plain-loop reference (reference.py,
  reference_backward.py) returns (averages to rounding of the kernel's float64 accumulator).
Where torch is importable, the specification itself is checked against torch for the window
forwards: torch refuses exactly the float inputs with C >= 1 the specification refuses.

Example counts: CYPOOL_FUZZ_EXAMPLES (default 3000) is split over the operator table; setting it also
makes the run random instead of derandomized, e.g. a long campaign:
    CYPOOL_FUZZ_EXAMPLES=60000 python -m pytest -q tests/test_fuzz.py
Adding an operator = one line in OPS (its argument names, dtype family and reference).
"""
import math
import os
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

import cypool
import reference as R
import reference_backward as RB

try:   # (no torch.set_num_threads here: torch may share cypool's libgomp and lower its limit)
    import torch
except ImportError:  # the cross-check against torch is optional
    torch = None

TOTAL_EXAMPLES = int(os.environ.get("CYPOOL_FUZZ_EXAMPLES", "3000"))
STATS = Counter()   # outcome counts, printed at the end of the module (pytest -s)
DOCUMENTED_ERRORS = (ValueError, TypeError)
INT32_MAX = 2**31 - 1


class Invalid(Exception):
    """The specification refuses this call: cypool must raise ValueError or TypeError."""


# ----------------------------------------------------------------------------- the specification

def spec_int(v):
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise Invalid(f"not an int: {v!r}")
    return int(v)


def spec_ints(v, rank, minimum=1):
    """An int or a list/tuple of 1 or `rank` ints, each in [minimum, 2**31 - 1] (PyTorch's C int)."""
    if isinstance(v, (list, tuple)):
        v = tuple(v) * rank if len(v) == 1 else tuple(v)
        if len(v) != rank:
            raise Invalid(f"length {len(v)} != {rank}")
        t = tuple(spec_int(e) for e in v)
    else:
        t = (spec_int(v),) * rank
    if any(e < minimum or e > INT32_MAX for e in t):
        raise Invalid(f"out of range: {t}")
    return t


def spec_bool(v):
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, np.ndarray) and v.dtype == np.bool_ and v.ndim == 0:
        return bool(v)
    if isinstance(v, (int, np.integer)) and v in (0, 1):
        return bool(v)
    raise Invalid(f"not a bool: {v!r}")


def spec_data_format(v):
    if not isinstance(v, str) or v not in ("channels_first", "channels_last"):
        raise Invalid(f"data_format {v!r}")
    return v


def spec_window(spatial, a, rank, dilation=True):
    """kernel/stride/padding/dilation/ceil_mode as PyTorch (and Keras strings) define them."""
    k = spec_ints(a["kernel_size"], rank)
    s = a.get("stride")
    s = k if s is None or (isinstance(s, (tuple, list)) and len(s) == 0) else spec_ints(s, rank)
    d = spec_ints(a.get("dilation", 1), rank) if dilation else (1,) * rank
    ceil_mode = spec_bool(a.get("ceil_mode", False))
    p = a.get("padding", 0)
    if isinstance(p, str):
        if p.lower() not in ("same", "valid") or ceil_mode:
            raise Invalid(f"padding {p!r}")
        if p.lower() == "valid":
            lo = hi = (0,) * rank
        else:
            lo, hi = zip(*(R.same_padding(L, kk, ss, dd) for L, kk, ss, dd in zip(spatial, k, s, d)))
    else:
        lo = hi = spec_ints(p, rank, minimum=0)
        if any(2 * pp > kk for pp, kk in zip(lo, k)):
            raise Invalid("padding > kernel/2")
    # cheap exact bound before the reference's counting loop: windows must fit somewhere
    slack = [ss - 1 if ceil_mode else 0 for ss in s]
    if any(dd * (kk - 1) + 1 > L + l_ + h_ + sl
           for L, kk, dd, l_, h_, sl in zip(spatial, k, d, lo, hi, slack)):
        raise Invalid("output size < 1")
    out = [R.out_size(L, kk, ss, l_, h_, dd, ceil_mode)
           for L, kk, ss, l_, h_, dd in zip(spatial, k, s, lo, hi, d)]
    if min(out) < 1:
        raise Invalid("output size < 1")
    return k, s, lo, hi, d, ceil_mode, isinstance(p, str)


def spec_output_size(v, spatial, rank):
    if isinstance(v, (list, tuple)) and len(v) in (1, rank):
        v = tuple(v) * (rank if len(v) == 1 else 1)
        out = tuple(L if e is None else spec_int(e) for e, L in zip(v, spatial))
    else:
        out = (spec_int(v),) * rank
    if any(o < 0 or o * L >= 2**62 for o, L in zip(out, spatial)):  # 0: empty, as torch
        raise Invalid(f"output_size {out}")
    return out


def spec_array(x, rank, family, name="x"):
    """Returns (cf array (N, C, *spatial) with N, batched). family: 'max', 'float' or 'index'."""
    if not isinstance(x, np.ndarray) or x.ndim not in (rank + 1, rank + 2):
        raise Invalid(f"{name}: not an array of rank {rank}+1/2")
    native = x.dtype.newbyteorder("=") if x.dtype.byteorder in "<>" else x.dtype
    accepted = {"max": (np.float16, np.float32, np.float64, np.int8, np.uint8, np.int16, np.uint16,
                        np.int32, np.uint32, np.int64, np.bool_),
                "float": (np.float16, np.float32, np.float64), "index": (np.int64,)}[family]
    if native not in [np.dtype(t) for t in accepted]:
        raise Invalid(f"{name}: dtype {x.dtype}")
    return x


def to_cf(x, data_format, rank):
    """(N, C, *spatial) float64/int view of a caller-layout array (N added when unbatched)."""
    batched = x.ndim == rank + 2
    if not batched:
        x = x[None]
    if data_format == "channels_last":
        x = np.moveaxis(x, -1, 1)
    return x, batched


def from_cf(y, data_format, batched):
    if data_format == "channels_last":
        y = np.moveaxis(y, 1, -1)
    return y if batched else y[0]


def spec_input_shape(shape, g, rank, data_format):
    if not isinstance(shape, (tuple, list)) or not all(
            isinstance(e, (int, np.integer)) and not isinstance(e, (bool, np.bool_)) for e in shape):
        raise Invalid("input_shape type")
    if len(shape) not in (rank + 1, rank + 2) or any(e < 0 for e in shape):
        raise Invalid("input_shape length/sign")
    if any(e >= 2**62 for e in shape) or math.prod(shape) >= 2**62:
        raise Invalid("input_shape beyond 64-bit indexing")
    full = tuple(shape) if len(shape) == rank + 2 else (1, *shape)
    n, c, *sp = full if data_format == "channels_first" else (full[0], full[-1], *full[1:-1])
    if min(sp) < 1:
        raise Invalid("input_shape spatial")
    g_cf, g_batched = to_cf(g, data_format, rank)
    if (len(shape) == rank + 2) != g_batched or (n, c) != g_cf.shape[:2]:
        raise Invalid("input_shape vs grad_output")
    return tuple(sp)


# ----------------------------------------------------------------------------- drawing arguments

HOSTILE = [0, -1, -5, 2**31, 2**63, 2**70, 2.0, 1.5, float("nan"), float("inf"), True, False, None,
           "2", b"2", np.float64(2.0), np.float32(1.0), np.bool_(True), np.array(2), np.array([2, 2]),
           (), (2, 2, 2, 2), [1, 2.0], complex(2), object()]


def draw_window_value(draw, rank, lo, hi, hostile):
    kind = draw(st.integers(0, 24 if hostile else 18))
    if kind < 9:
        return draw(st.integers(lo, hi))
    if kind < 17:
        return tuple(draw(st.integers(lo, hi)) for _ in range(rank))
    if kind == 17:
        return np.int64(draw(st.integers(lo, hi)))
    if kind == 18:
        return [np.int32(draw(st.integers(lo, hi)))]
    if kind == 19:
        return tuple(draw(st.integers(lo, hi)) for _ in range(rank + 1))
    if kind == 20:
        return draw(st.integers(-2, 2**31 + 2).filter(lambda v: v > 2**31 - 3 or v <= 0))
    return draw(st.sampled_from(HOSTILE))


def draw_bool(draw, hostile):
    if hostile and draw(st.integers(0, 5)) == 0:
        return draw(st.sampled_from([None, "yes", 2, 1, 0, np.bool_(True), np.array(True),
                                     np.array([True, False]), 0.0, float("nan")]))
    return draw(st.booleans())


# argument name -> drawer(draw, rank, hostile); hostile=False keeps to the documented forms (the
# values may still break the rules, e.g. padding > kernel / 2 or an empty output).
ARG_DRAWERS = {
    "kernel_size": lambda draw, rank, h: draw_window_value(draw, rank, 1, 4, h),
    "stride": lambda draw, rank, h: None if draw(st.integers(0, 4)) == 0 else
    draw_window_value(draw, rank, 1, 3, h),
    "padding": lambda draw, rank, h: draw(st.sampled_from(
        ["same", "valid", "SAME"] + (["full", "", "same "] if h else [])))
    if draw(st.integers(0, 5)) == 0 else draw_window_value(draw, rank, 0, 2, h),
    "dilation": lambda draw, rank, h: draw_window_value(draw, rank, 1, 2, h),
    "ceil_mode": lambda draw, rank, h: draw_bool(draw, h),
    "return_indices": lambda draw, rank, h: draw_bool(draw, h),
    "count_include_pad": lambda draw, rank, h: draw_bool(draw, h),
    "keepdims": lambda draw, rank, h: draw_bool(draw, h),
    "divisor_override": lambda draw, rank, h: draw(st.sampled_from(
        [None, None, None, 1, 2, 3, 5, -2] + ([0, 2.5, True, 2**70, np.int32(3), "3"] if h else []))),
    "output_size": lambda draw, rank, h: draw(st.one_of(
        st.integers(1, 5),
        st.tuples(*[st.one_of(st.none(), st.integers(1, 5))] * rank),
        *([st.sampled_from([0, -1, 2.0, True, (), (1,) * (rank + 1), "2", 2**70, [3],
                            np.int64(2)])] if h else []))),
}

VALUE_DTYPES = {
    "max": [np.float32, np.float64, np.float16, np.int8, np.uint8, np.int16, np.uint16, np.int32,
            np.uint32, np.int64, np.bool_],
    "float": [np.float32, np.float64, np.float16],
}
HOSTILE_DTYPES = [np.complex64, np.complex128, object, "U1", "datetime64[s]", np.uint64,
                  np.longdouble, np.int32, np.bool_, ">f4", ">i2"]


def draw_values(draw, shape, dtype):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    dt = np.dtype(dtype)
    if dt.kind == "f":
        x = (rng.integers(-3, 4, shape) if rng.random() < 0.4 else rng.standard_normal(shape))
        x = x.astype(dt)
        r = rng.random(shape)
        if rng.random() < 0.3:
            x[r < 0.1] = np.nan
        if rng.random() < 0.3:
            x[r > 0.85] = -np.inf
        return x
    if dt.kind == "b":
        return rng.random(shape) < 0.5
    if dt.kind in "iu":
        info = np.iinfo(dt)
        x = rng.integers(info.min, info.max, shape, dtype=dt, endpoint=True)
        if rng.random() < 0.5:
            x[rng.random(shape) < 0.5] = info.min   # the max identity itself
        return x
    return np.zeros(shape, dt)


def draw_array(draw, rank, family, data_format, hostile, allow_empty=True):
    """A caller-layout array for the operator (or something hostile), plus its cf twin."""
    max_sp = 4 if rank == 3 else 6
    n = draw(st.integers(0 if allow_empty else 1, 2))
    c = draw(st.integers(0 if allow_empty else 1, 3))
    spatial = tuple(draw(st.integers(1, max_sp)) for _ in range(rank))
    if hostile and draw(st.integers(0, 10)) == 0:
        spatial = spatial[:-1] + (0,)
    hostile = draw(st.integers(0, 6)) if hostile else 99
    dtype = draw(st.sampled_from(HOSTILE_DTYPES)) if hostile == 0 else \
        draw(st.sampled_from(VALUE_DTYPES[family]))
    try:
        x = draw_values(draw, (n, c, *spatial), dtype)
    except (TypeError, ValueError):
        x = np.zeros((n, c, *spatial), dtype)
    if data_format == "channels_last" and x.ndim >= 2:
        x = np.moveaxis(x, 1, -1)
        if draw(st.booleans()):
            x = np.ascontiguousarray(x)
    if draw(st.integers(0, 4)) == 0 and n == 1:
        x = x[0]                                             # unbatched
    if hostile == 1:
        x = x.tolist()                                       # not an array
    elif hostile == 2:
        x = x[..., None]                                     # wrong rank
    elif hostile == 3:
        x = x.reshape(-1)                                   # flat: wrong rank
    return x


# ----------------------------------------------------------------------------- references

def ref_max_pool(x, a, rank):
    k, s, lo, hi, d, ceil_mode, _ = spec_window(x.shape[2:], a, rank)
    ri = spec_bool(a.get("return_indices", False))
    y, idx = R.max_pool(x, k, s, lo, hi, d, ceil_mode)
    return (y, idx) if ri else y


def ref_avg_pool(x, a, rank):
    k, s, lo, hi, _, ceil_mode, string_pad = spec_window(x.shape[2:], a, rank, dilation=False)
    if rank == 3 and any(L < kk for L, kk in zip(x.shape[2:], k)):
        raise Invalid("avg_pool3d input smaller than kernel")
    cip = spec_bool(a.get("count_include_pad", True)) and not string_pad
    div = a.get("divisor_override")
    if div is not None:
        div = spec_int(div)
        if div == 0 or abs(div) >= 2**63:
            raise Invalid("divisor_override")
    return R.avg_pool(x.astype(np.float64), k, s, lo, hi, ceil_mode, cip, div).astype(x.dtype)


def ref_adaptive_avg(x, a, rank):
    out = spec_output_size(a["output_size"], x.shape[2:], rank)
    return R.adaptive_avg(x.astype(np.float64), out).astype(x.dtype)


def ref_adaptive_max(x, a, rank):
    out = spec_output_size(a["output_size"], x.shape[2:], rank)
    ri = spec_bool(a.get("return_indices", False))
    y, idx = R.adaptive_max(x, out)
    return (y, idx) if ri else y


def ref_global_avg(x, a, rank):
    spec_bool(a["keepdims"])
    return R.adaptive_avg(x.astype(np.float64), (1,) * rank).astype(x.dtype)


def ref_global_max(x, a, rank):
    spec_bool(a["keepdims"])
    ri = spec_bool(a["return_indices"])
    y, idx = R.adaptive_max(x, (1,) * rank)
    return (y, idx) if ri else y


@dataclass
class Op:
    """One forward operator: cypool.<name>{rank}d(x, **args, data_format=...)."""
    name: str
    family: str                      # dtypes accepted: "max" (ints, bool, floats) or "float"
    args: tuple                      # keyword arguments, drawn by ARG_DRAWERS
    reference: object                # (x_cf, args, rank) -> result(s) in cf, or raise Invalid
    ranks: tuple = (1, 2, 3)
    rank_args: dict = field(default_factory=dict)  # rank -> args to leave out (e.g. 1-d divisor)
    torch_name: str | None = None    # torch.nn.functional twin, for the validity cross-check


OPS = [
    Op("max_pool", "max", ("kernel_size", "stride", "padding", "dilation", "ceil_mode",
                           "return_indices"), ref_max_pool, torch_name="max_pool"),
    Op("avg_pool", "float", ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad",
                             "divisor_override"), ref_avg_pool,
       rank_args={1: ("divisor_override",)}, torch_name="avg_pool"),
    Op("adaptive_avg_pool", "float", ("output_size",), ref_adaptive_avg),
    Op("adaptive_max_pool", "max", ("output_size", "return_indices"), ref_adaptive_max),
    Op("global_avg_pool", "float", ("keepdims",), ref_global_avg),
    Op("global_max_pool", "max", ("keepdims", "return_indices"), ref_global_max),
]


# ----------------------------------------------------------------------------- checking

def assert_same(got, want, dtype_kind):
    assert type(got) is type(want), (type(got), type(want))
    if isinstance(want, tuple):
        assert len(got) == len(want)
        for g_, w_ in zip(got, want):
            assert_same(g_, w_, dtype_kind)
        return
    assert got.shape == want.shape, (got.shape, want.shape)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    if dtype_kind == "exact" or got.dtype.kind != "f":
        np.testing.assert_array_equal(got, want)
    else:
        rtol = {2: 2e-3, 4: 1e-6, 8: 1e-12}[got.dtype.itemsize]
        np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=rtol,
                                   atol=rtol)


def call_cypool(fn, *args, **kwargs):
    """(result, None) or (None, exception); anything but ValueError/TypeError fails the test."""
    try:
        return fn(*args, **kwargs), None
    except DOCUMENTED_ERRORS as e:
        return None, e


def check(expected_fn, got, err, exact):
    """expected_fn() gives the reference result or raises Invalid."""
    try:
        want = expected_fn()
    except Invalid as why:
        assert err is not None, f"cypool accepted an invalid call ({why})"
        STATS["refused (ValueError/TypeError) as specified"] += 1
        return False
    assert err is None, f"cypool refused a valid call: {err!r}"
    assert_same(got, want, exact)
    STATS["valid, equal to the reference"] += 1
    return True


@pytest.fixture(scope="module", autouse=True)
def report_stats():
    yield
    print(f"\nfuzz outcomes: {dict(STATS)}")


def torch_refuses(op, x, a, rank):
    fn = getattr(torch.nn.functional, f"{op.torch_name}{rank}d")
    kw = dict(a)
    if isinstance(kw.get("padding"), str):
        return None                                           # not expressible in torch
    try:
        with np.errstate(all="ignore"):
            fn(torch.from_numpy(np.ascontiguousarray(x)), **kw)
        return False
    except (RuntimeError, ValueError, TypeError, OverflowError, IndexError):
        return True


BOOL_ARGS = ("ceil_mode", "return_indices", "count_include_pad", "keepdims")


def torch_expressible(x, a):
    """Plain Python ints/tuples/bools that torch's argument parser takes as such."""
    def is_int(e):
        return isinstance(e, int) and not isinstance(e, bool) and -2**63 <= e < 2**63

    def ok(name, v):
        if name in BOOL_ARGS:
            return isinstance(v, bool)
        if name == "stride" and v is None or name == "divisor_override" and v is None:
            return True
        return is_int(v) or isinstance(v, tuple) and all(is_int(e) for e in v)
    return x.shape[1] >= 1 and min(x.shape[2:]) >= 1 and all(ok(k, v) for k, v in a.items())


def draw_layout(draw, hostile):
    return draw(st.sampled_from(["channels_first", "channels_last"])) \
        if not hostile or draw(st.integers(0, 10)) else draw(st.sampled_from(
            ["NHWC", "channels-last", None, 1, ["channels_first"]]))


def fuzz_settings(n_ops):
    long_run = "CYPOOL_FUZZ_EXAMPLES" in os.environ
    return settings(max_examples=max(1, TOTAL_EXAMPLES // n_ops), deadline=None,
                    derandomize=not long_run, database=None,
                    suppress_health_check=list(HealthCheck))


N_TABLE = len(OPS) + 8   # forward table + the backward cases below share the example budget


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
@fuzz_settings(N_TABLE)
@given(data=st.data())
def test_forward(op, data):
    draw = data.draw
    rank = draw(st.sampled_from(op.ranks))
    hostile = draw(st.integers(0, 2)) == 0       # a third of the examples try hostile forms
    data_format = draw_layout(draw, hostile)
    fmt = data_format if data_format in ("channels_first", "channels_last") else "channels_first"
    x = draw_array(draw, rank, op.family, fmt, hostile)
    skip = op.rank_args.get(rank, ())
    a = {name: ARG_DRAWERS[name](draw, rank, hostile) for name in op.args if name not in skip}
    fn = getattr(cypool, f"{op.name}{rank}d")
    note(f"{op.name}{rank}d(x: {getattr(x, 'shape', type(x))} {getattr(x, 'dtype', '')}, {a}, "
         f"data_format={data_format!r})")
    got, err = call_cypool(fn, x, **a, data_format=data_format)
    note(f"cypool: {'raised ' + repr(err) if err else 'returned'}")

    def expected():
        spec_data_format(data_format)
        spec_array(x, rank, op.family)
        x_cf, batched = to_cf(x, data_format, rank)
        if min(x_cf.shape[2:]) < 1:
            raise Invalid("zero spatial size")
        want = op.reference(x_cf.astype(x_cf.dtype.newbyteorder("=")), a, rank)
        if op.name.startswith("global"):
            keep = spec_bool(a["keepdims"])
            fix = (lambda r: r) if keep else (lambda r: r.reshape(r.shape[:2]))
            want = tuple(fix(w) for w in want) if isinstance(want, tuple) else fix(want)
            if not keep:
                return tuple(w if batched else w[0] for w in want) if isinstance(want, tuple) \
                    else (want if batched else want[0])
        if isinstance(want, tuple):
            return tuple(from_cf(w, data_format, batched) for w in want)
        return from_cf(want, data_format, batched)

    valid = check(expected, got, err, "close" if "avg" in op.name else "exact")
    try:   # the geometry's validity, checked against torch on the same values as float64
        spec_data_format(data_format)
        x_cf = to_cf(spec_array(x, rank, op.family), data_format, rank)[0].astype(np.float64)
    except Invalid:
        x_cf = None
    if torch is not None and op.torch_name and x_cf is not None and torch_expressible(x_cf, a):
        refused = torch_refuses(op, x_cf, a, rank)
        if refused is not None:
            assert refused == (not valid), f"torch refused={refused}, specification valid={valid}"
            STATS[f"torch agreed ({'refused' if refused else 'accepted'})"] += 1


# ----------------------------------------------------------------------------- backward cases

def draw_grad_like(draw, shape, data_format):
    """A float gradient of `shape` (caller layout), sometimes of the wrong dtype or shape."""
    kind = draw(st.integers(0, 25))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    dtype = draw(st.sampled_from([np.float32, np.float64, np.float16]))
    g = rng.standard_normal(shape).astype(dtype)
    if kind == 0:
        g = g.astype(draw(st.sampled_from([np.int32, np.complex64, object, np.bool_])))
    elif kind == 1 and g.ndim:
        g = g[..., :-1] if g.shape[-1] > 1 else g[..., None]
    elif kind == 2:
        g = g.tolist()
    elif kind == 3 and g.ndim > 1:
        g = g[:1] if g.shape[0] > 1 else np.concatenate([g, g])
    return g


def draw_indices_like(draw, idx, plane):
    kind = draw(st.integers(0, 25))
    idx = idx.copy()
    if kind == 0:
        return idx.astype(draw(st.sampled_from([np.int32, np.float64, np.uint64])))
    if kind == 1 and idx.size:
        idx.reshape(-1)[draw(st.integers(0, idx.size - 1))] = draw(
            st.sampled_from([-1, plane, plane + 7, -2**62, 2**62, np.iinfo(np.int64).min]))
    if kind == 2 and idx.ndim:
        return idx[..., :1] if idx.shape[-1] > 1 else idx[..., None]
    if kind == 3:
        return idx.tolist()
    return idx


def draw_input_shape(draw, shape):
    kind = draw(st.integers(0, 30))
    shape = tuple(shape)
    if kind == 0:
        return list(shape)
    if kind == 1:
        return shape[:-1]
    if kind == 2:
        return shape[:-1] + (float(shape[-1]),)
    if kind == 3:
        return shape[:-1] + (-1,)
    if kind == 4:
        return (shape[0] + 1,) + shape[1:]
    if kind == 5:
        return shape[:1] + (shape[1] + 1,) + shape[2:]
    if kind == 6:
        return shape[:-1] + (True,)
    if kind == 7:
        return np.array(shape)
    if kind == 8:
        return shape[:-1] + (2**63,)
    return shape


def valid_window_args(draw, rank, spatial, dilation):
    """Window arguments that pool `spatial` (drawn until valid; hostile ones come from
    draw_window_value in the forward test)."""
    while True:
        k = tuple(draw(st.integers(1, 3)) for _ in range(rank))
        s = tuple(draw(st.integers(1, 3)) for _ in range(rank))
        p = tuple(draw(st.integers(0, kk // 2)) for kk in k)
        d = tuple(draw(st.integers(1, 2)) for _ in range(rank)) if dilation else (1,) * rank
        ceil_mode = draw(st.booleans())
        a = dict(kernel_size=k, stride=s, padding=p, ceil_mode=ceil_mode)
        if dilation:
            a["dilation"] = d
        try:
            spec_window(spatial, a, rank, dilation)
        except Invalid:
            spatial = tuple(L + 2 for L in spatial)
            continue
        return a, spatial


def draw_float_input(draw, rank, data_format, family="float"):
    n, c = draw(st.integers(0, 2)), draw(st.integers(0, 3))
    spatial = tuple(draw(st.integers(1, 4 if rank == 3 else 6)) for _ in range(rank))
    return n, c, spatial


def caller_shape(n, c, spatial, data_format):
    return (n, *spatial, c) if data_format == "channels_last" else (n, c, *spatial)


def caller(a_cf, data_format):
    return np.ascontiguousarray(np.moveaxis(a_cf, 1, -1)) if data_format == "channels_last" \
        else a_cf


# case -> the public function it fuzzes ({r}: rank)
BACKWARD_CASES = {"max_pool": "max_pool{r}d_backward", "avg_pool": "avg_pool{r}d_backward",
                  "adaptive_avg_pool": "adaptive_avg_pool{r}d_backward",
                  "adaptive_max_pool": "adaptive_max_pool{r}d_backward",
                  "global_avg_pool": "global_avg_pool{r}d_backward",
                  "global_max_pool": "global_max_pool{r}d_backward",
                  "max_unpool": "max_unpool{r}d", "max_unpool_backward": "max_unpool{r}d_backward"}


@pytest.mark.parametrize("case", list(BACKWARD_CASES))
@fuzz_settings(N_TABLE)
@given(data=st.data())
def test_backward(case, data):
    draw = data.draw
    rank = draw(st.sampled_from((1, 2, 3)))
    data_format = draw(st.sampled_from(["channels_first", "channels_last"]))
    n, c, spatial = draw_float_input(draw, rank, data_format)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    fwd = {}
    # forward geometry (valid), then hostile gradients/indices/shapes
    if case in ("max_pool", "avg_pool"):
        fwd, spatial = valid_window_args(draw, rank, spatial, dilation=case == "max_pool")
        if case == "avg_pool" and rank == 3:
            spatial = tuple(max(L, kk) for L, kk in zip(spatial, fwd["kernel_size"]))
    x_cf = rng.standard_normal((n, c, *spatial))
    x_cf[rng.random(x_cf.shape) < 0.2] = 1.0  # ties
    out_size = tuple(draw(st.integers(1, 4)) for _ in range(rank))
    plane = math.prod(spatial)
    in_shape = caller_shape(n, c, spatial, data_format)
    fd = dict(data_format=data_format)
    if case == "max_unpool" or case == "max_unpool_backward":
        k = tuple(draw(st.integers(1, 3)) for _ in range(rank))
        unpooled = tuple((L - 1) * kk + kk for L, kk in zip(spatial, k))
        idx_cf = rng.integers(0, math.prod(unpooled), (n, c, *spatial))
        if case == "max_unpool":
            idx = draw_indices_like(draw, caller(idx_cf, data_format), math.prod(unpooled))
            x = caller(x_cf, data_format).astype(draw(st.sampled_from(VALUE_DTYPES["max"])))
            got, err = call_cypool(getattr(cypool, f"max_unpool{rank}d"), x, idx, k, **fd)

            def expected():
                ix = spec_array(idx, rank, "index", "indices")
                if ix.shape != x.shape:
                    raise Invalid("indices shape")
                i_cf, _ = to_cf(ix, data_format, rank)
                if i_cf.size and (i_cf.min() < 0 or i_cf.max() >= math.prod(unpooled)):
                    raise Invalid("index outside the plane")
                x5, _ = to_cf(x, data_format, rank)
                return caller(R.unpool(x5, i_cf, unpooled), data_format)
            check(expected, got, err, "exact")
            return
        g_cf = rng.standard_normal((n, c, *unpooled))
        g = draw_grad_like(draw, caller(g_cf, data_format).shape, data_format)
        if isinstance(g, np.ndarray) and g.shape == caller(g_cf, data_format).shape \
                and g.dtype.kind == "f":
            g = caller(g_cf, data_format).astype(g.dtype)
        idx = draw_indices_like(draw, caller(idx_cf, data_format), math.prod(unpooled))
        got, err = call_cypool(getattr(cypool, f"max_unpool{rank}d_backward"), g, idx, **fd)

        def expected():
            gg = spec_array(g, rank, "float", "grad_output")
            ix = spec_array(idx, rank, "index", "indices")
            g5, gb = to_cf(gg, data_format, rank)
            i5, ib = to_cf(ix, data_format, rank)
            if gb != ib or g5.shape[:2] != i5.shape[:2]:
                raise Invalid("indices vs grad_output")
            if i5.size and (i5.min() < 0 or i5.max() >= math.prod(g5.shape[2:])):
                raise Invalid("index outside the plane")
            return caller(RB.unpool_backward(g5, i5), data_format)
        check(expected, got, err, "exact")
        return

    base = case
    if case == "max_pool":
        y_cf, idx_cf = R.max_pool(x_cf, fwd["kernel_size"], fwd["stride"], fwd["padding"],
                                  fwd["padding"], fwd["dilation"], fwd["ceil_mode"])
    elif case == "avg_pool":
        y_cf = R.avg_pool(x_cf, fwd["kernel_size"], fwd["stride"], fwd["padding"],
                          fwd["padding"], fwd["ceil_mode"], True, None)
        idx_cf = None
    elif case in ("adaptive_avg_pool", "adaptive_max_pool"):
        y_cf, idx_cf = R.adaptive_max(x_cf, out_size)
        idx_cf = idx_cf if "max" in case else None
    else:
        y_cf, idx_cf = R.adaptive_max(x_cf, (1,) * rank)
        idx_cf = idx_cf if "max" in case else None
    g = draw_grad_like(draw, caller(y_cf, data_format).shape, data_format)
    shape_arg = draw_input_shape(draw, in_shape)
    args = [g]
    idx = None
    if idx_cf is not None:
        idx = draw_indices_like(draw, caller(idx_cf, data_format), plane)
        args.append(idx)
    args.append(shape_arg)
    kw = dict(fd)
    if case == "avg_pool":
        kw.update(fwd)
    global_drop = case.startswith("global") and draw(st.booleans())
    is_global = case.startswith("global")
    if global_drop:   # the keepdims=False form of a global gradient: (N, C)
        args = [a.reshape(a.shape[:1] + a.shape[-1:] if data_format == "channels_last"
                          else a.shape[:2]) if isinstance(a, np.ndarray) and a.ndim == rank + 2
                and all(e == 1 for e in (a.shape[1:-1] if data_format == "channels_last"
                                         else a.shape[2:])) else a
                for a in args[:-1]] + args[-1:]
    note(f"{base}{rank}d_backward({[getattr(v, 'shape', v) for v in args]}, "
         f"{[getattr(v, 'dtype', None) for v in args]}, {kw})")
    got, err = call_cypool(getattr(cypool, f"{base}{rank}d_backward"), *args, **kw)
    note(f"cypool: {'raised ' + repr(err) if err else 'returned'}")

    def expected():
        gg, ix = args[0], (args[1] if idx is not None else None)
        if is_global and isinstance(shape_arg, (tuple, list)):
            # the documented rule: a gradient (and indices) with len(input_shape) - rank dims is
            # the keepdims=False form and gets its size-1 spatial axes back
            ones = (1,) * rank

            def fix(a):
                if not isinstance(a, np.ndarray) or a.ndim != len(shape_arg) - rank:
                    return a
                return a.reshape(a.shape[:-1] + ones + a.shape[-1:]) \
                    if data_format == "channels_last" else a.reshape(a.shape + ones)
            gg = fix(gg)
            ix = fix(ix) if ix is not None else None
        gg = spec_array(gg, rank, "float", "grad_output")
        if ix is not None:
            ix = spec_array(ix, rank, "index", "indices")
            if ix.shape != gg.shape:
                raise Invalid("indices shape")
        sp = spec_input_shape(shape_arg, gg, rank, data_format)
        g5, gb = to_cf(gg, data_format, rank)
        if ix is not None:
            i5, _ = to_cf(ix, data_format, rank)
            if i5.size and (i5.min() < 0 or i5.max() >= math.prod(sp)):
                raise Invalid("index outside the plane")
            gx = R.scatter_by_index(g5.astype(np.float64), i5, sp)
        elif case == "avg_pool":
            if max(sp) > 10**4:   # pooled size cannot be the small grad_output's
                raise Invalid("grad_output vs pooled size")
            k, s, lo, hi, _, cm, _ = spec_window(sp, fwd, rank, dilation=False)
            if rank == 3 and any(L < kk for L, kk in zip(sp, k)):
                raise Invalid("avg_pool3d input smaller than kernel")
            outs = tuple(R.out_size(L, kk, ss, l_, h_, 1, cm)
                         for L, kk, ss, l_, h_ in zip(sp, k, s, lo, hi))
            if g5.shape[2:] != outs:
                raise Invalid("grad_output vs pooled size")
            gx = RB.avg_pool_backward(g5, sp, k, s, lo, hi, cm, True, None)
        else:
            gx = RB.adaptive_avg_backward(g5, sp)
        return from_cf(gx.astype(gg.dtype), data_format, gb)

    check(expected, got, err, "close")


def test_table_covers_every_public_operator():
    """New public operators must join the fuzz table (forward OPS or a backward case)."""
    fuzzed = {f"{op.name}{r}d" for op in OPS for r in op.ranks}
    fuzzed |= {f.format(r=r) for f in BACKWARD_CASES.values() for r in (1, 2, 3)}
    public = {name for name in dir(cypool) if callable(getattr(cypool, name))
              and name[0].islower() and (name.endswith(("1d", "2d", "3d")) or
                                         name.endswith(("1d_backward", "2d_backward",
                                                        "3d_backward")))}
    missing = sorted(public - fuzzed)
    assert not missing, f"operators missing from the fuzz table: {missing}"
