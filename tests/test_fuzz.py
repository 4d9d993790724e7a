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
import itertools
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


N_TABLE = len(OPS) + 8 + 12   # forward table, backward and downsample cases share the budget


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
    if valid and op.name in ("max_pool", "avg_pool"):
        check_out(draw, fn, x, a, data_format, got)
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


def check_out(draw, fn, x, a, data_format, got):
    """The same valid call again with out=: a fitting array (any layout, or a subclass) receives
    exactly the result and is returned; anything else (not an array, wrong shape or dtype,
    read-only, overlapping x) is refused with ValueError or TypeError."""
    y = got[0] if isinstance(got, tuple) else got
    kind = draw(st.sampled_from(["fit", "fit", "fortran", "strided", "shape", "dtype", "list",
                                 "readonly", "overlap"]))
    if kind == "fit":
        out = np.full(y.shape, 3, y.dtype)
    elif kind == "fortran":
        out = np.asfortranarray(np.full(y.shape, 3, y.dtype))
    elif kind == "strided":
        out = np.full(y.shape + (2,), 3, y.dtype)[..., 1]
    elif kind == "shape":
        out = np.empty(y.shape[:-1] + (y.shape[-1] + 1,), y.dtype)
    elif kind == "dtype":
        out = np.empty(y.shape, np.float64 if y.dtype != np.float64 else np.float32)
    elif kind == "list":
        out = y.tolist()
    elif kind == "readonly":
        out = np.empty(y.shape, y.dtype)
        out.flags.writeable = False
    else:
        if not isinstance(x, np.ndarray) or x.size == 0 or y.size == 0:
            return
        out = np.asarray(x).reshape(-1).view(np.uint8)[:y.nbytes]
        if out.size < y.nbytes:
            return
        out = out.view(y.dtype).reshape(y.shape)
        if not np.shares_memory(out, x):   # x was not contiguous: reshape(-1) copied it
            return
    note(f"out: {kind}")
    res, err = call_cypool(fn, x, **a, data_format=data_format, out=out)
    if kind in ("fit", "fortran", "strided"):
        assert err is None, f"out={kind} refused: {err!r}"
        r = res[0] if isinstance(res, tuple) else res
        assert r is out
        assert_same(out, y, "exact")
        if isinstance(got, tuple):
            np.testing.assert_array_equal(res[1], got[1])
        STATS["out= filled"] += 1
    else:
        assert isinstance(err, DOCUMENTED_ERRORS), f"out={kind}: {err!r}"
        STATS["out= refused as specified"] += 1


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


# ----------------------------------------------------------------------------- downsample operators
# Lp, blur, max-blur, stochastic pooling and conv2d (cypool/downsample.py), forward and backward.
# Each case draws its own arguments, valid or hostile, and decides validity with the spec_* rules
# above plus the operator's documented ones; valid calls are compared with the loop references,
# and with torch where torch has the operator (Lp pooling, conv2d; blur = reflect pad + depthwise
# conv2d, max-blur = max_pool2d(k, stride 1) + blur, as tests/test_downsample.py builds them).
# Stochastic pooling is checked against its documented contract: one uniform per window from the
# seed's Generator in (N, C, OH, OW) order (so a seed fixes the result), the sampled cell lies in
# its window and y is its value; evaluation mode draws nothing and is deterministic.

EPS = {2: 2.0**-10, 4: 2.0**-23, 8: 2.0**-52}
MAX_CHECKED = 4000   # valid calls whose result or padded input is bigger are not made (memory)


class KnownBug(Exception):
    """A valid or invalid call on which cypool is known to deviate (reported): any ValueError,
    TypeError or result is tolerated and counted, never a crash or another exception (but the
    ones named in `tolerate`)."""

    def __init__(self, why, tolerate=()):
        super().__init__(why)
        self.tolerate = tolerate


def compute_eps(*dtypes):
    """Unit roundoff of the kernels' compute dtype (float16 is computed in float32)."""
    return max(EPS[max(np.dtype(d).itemsize, 4)] for d in dtypes)


def assert_within(got, want, atol):
    """Same type/shape/dtype; NaN where want is NaN, want's infinities exactly, finite values
    within atol (an array bound, or a scalar) plus 4 output ulps."""
    assert type(got) is type(want), (type(got), type(want))
    if isinstance(want, tuple):
        assert len(got) == len(want)
        for g_, w_, a_ in zip(got, want, atol):
            assert_within(g_, w_, a_)
        return
    assert got.shape == want.shape, (got.shape, want.shape)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    if got.dtype.kind != "f":
        np.testing.assert_array_equal(got, want)
        return
    g64, w64 = got.astype(np.float64), want.astype(np.float64)
    np.testing.assert_array_equal(np.isnan(g64), np.isnan(w64), err_msg="NaN positions")
    fin = np.isfinite(w64)
    np.testing.assert_array_equal(g64[~fin & ~np.isnan(w64)], w64[~fin & ~np.isnan(w64)])
    tol = np.broadcast_to(np.asarray(atol, np.float64), w64.shape)[fin] \
        + 4 * EPS[got.dtype.itemsize] * np.abs(w64[fin])
    err = np.abs(g64[fin] - w64[fin])
    assert np.all(err <= tol), f"max excess {np.max(err - tol)} (err {err.max()}, got {got}, " \
        f"want {want})"


def out_round(got, ref):
    """Rounding of a float64 value (torch's) to got's dtype, 4 ulps."""
    return 4 * EPS[got.dtype.itemsize] * np.abs(np.nan_to_num(ref, posinf=0, neginf=0)) + 1e-12


def spec_float_input(x, rank, data_format):
    """The caller's float array as native cf (N, C, *spatial) and whether it was batched."""
    spec_data_format(data_format)
    spec_array(x, rank, "float")
    x_cf, batched = to_cf(x, data_format, rank)
    if min(x_cf.shape[2:]) < 1:
        raise Invalid("zero spatial size")
    return x_cf.astype(x_cf.dtype.newbyteorder("=")), batched


def spec_real(v, name):
    """norm_type: a Python/NumPy int or float (not a bool), finite and positive."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise Invalid(f"{name}: not a real number: {v!r}")
    if isinstance(v, (int, np.integer)) and abs(int(v)) > 2**1000:
        raise Invalid(f"{name}: beyond the float range: {v!r}")
    if not math.isfinite(float(v)) or float(v) <= 0:
        raise Invalid(f"{name}: not finite and positive: {v!r}")
    return float(v)


def spec_filt_size(v):
    f = spec_int(v)
    if not 1 <= f <= 7:
        raise Invalid(f"filt_size {f}")
    return f


def spec_blur(spatial, f, s):
    """Reflect padding (f-1)//2 before, f//2 after must stay below each size (PyTorch's reflect
    rule); the output has ceil(L / s) cells per axis."""
    if f > 1 and any(f // 2 >= L for L in spatial):
        raise Invalid("reflect padding >= input size")
    return tuple((L - 1) // ss + 1 for L, ss in zip(spatial, s))


def spec_seed(v):
    if v is None or isinstance(v, np.random.Generator):
        return v
    if spec_int(v) < 0:
        raise Invalid("negative seed")
    return v


def spec_same_batch(g_cf, g_batched, n, c, batched, what):
    if g_batched != batched or g_cf.shape[:2] != (n, c):
        raise Invalid(f"grad_output vs {what}")


def too_big(*shapes):
    return any(math.prod(s) > MAX_CHECKED for s in shapes)


NORM_TYPES = [1, 2, 3, 1.5, 0.5, 4.0, np.float32(2.0), np.int64(3), 2**70]
HOSTILE_NORM_TYPES = [0, -1, -2.5, float("nan"), float("inf"), -float("inf"), "2", None, True,
                      False, complex(2), np.array(2.0), [2], np.bool_(True), 10**400, 0.0,
                      np.float64(-0.0)]
HOSTILE_FILT = [0, 8, -1, 3.0, True, "3", None, 2**70, (3,), float("nan"), np.float64(3)]
HOSTILE_SEEDS = [-1, 1.5, "a", True, np.random.RandomState(0), object(), np.float64(2),
                 np.array(3), [1]]


def draw_norm_type(draw, hostile):
    if hostile and draw(st.integers(0, 2)) == 0:
        return draw(st.sampled_from(HOSTILE_NORM_TYPES))
    return draw(st.sampled_from(NORM_TYPES))


def draw_filt_size(draw, hostile):
    if hostile and draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(HOSTILE_FILT))
    return draw(st.one_of(st.integers(1, 7), st.sampled_from([np.int64(3), np.int8(2)])))


def draw_seed(draw, hostile):
    """An int seed to build equal Generators from, and the seed argument itself."""
    if hostile and draw(st.integers(0, 3)) == 0:
        return None, draw(st.sampled_from(HOSTILE_SEEDS))
    seed = draw(st.integers(0, 2**64))
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return None, None                                     # fresh entropy: contract only
    if kind == 1:
        return seed, np.random.default_rng(seed)
    if kind == 2:
        return seed % 2**64, np.uint64(seed % 2**64)
    return seed, seed


def torch_blur(xt, f, s):
    """Blur pooling built from torch ops: reflect pad + depthwise conv2d with the binomial filter."""
    F = torch.nn.functional
    a = torch.tensor([math.comb(f - 1, i) for i in range(f)], dtype=xt.dtype)
    filt = a[:, None] * a[None, :]
    filt = (filt / filt.sum())[None, None].repeat(xt.shape[1], 1, 1, 1)
    lo, hi = (f - 1) // 2, f // 2
    return F.conv2d(F.pad(xt, [lo, hi, lo, hi], mode="reflect"), filt, stride=s,
                    groups=xt.shape[1])


def torch_grads(build, arrays, g):
    """Forward value and gradients of build(*tensors) in float64 autograd."""
    ts = [torch.tensor(np.asarray(a, np.float64), requires_grad=True) for a in arrays]
    y = build(*ts)
    y.backward(torch.tensor(np.asarray(g, np.float64)))
    return y.detach().numpy(), [t.grad.numpy() for t in ts]


def torch_ok(*arrays):
    """Cross-check with torch only on non-empty batches and channels."""
    return torch is not None and all(a.shape[0] >= 1 and a.shape[1] >= 1 for a in arrays)


def run_case(draw, fn, args, kwargs, expected, compare, too_large=lambda want: False):
    """Decide validity first (so that valid calls too big to check are not made), then call
    cypool and check it: refused iff invalid, else compare(got, want). (NaN/inf arithmetic
    warnings are silenced: NaN and inf inputs are drawn on purpose.)"""
    with np.errstate(all="ignore"):
        return _run_case(fn, args, kwargs, expected, compare, too_large)


def _run_case(fn, args, kwargs, expected, compare, too_large):
    try:
        want = expected()
    except Invalid as why:
        note(f"specification: invalid ({why})")
        got, err = call_cypool(fn, *args, **kwargs)
        assert err is not None, f"cypool accepted an invalid call ({why})"
        STATS["refused (ValueError/TypeError) as specified"] += 1
        return None
    except KnownBug as why:
        try:
            got, err = call_cypool(fn, *args, **kwargs)
        except why.tolerate as e:
            err = e
        STATS[f"known deviation ({why}): "
              f"{type(err).__name__ if err else 'returned'}"] += 1
        return None
    if too_large(want):
        STATS["valid but too large to check: not called"] += 1
        return None
    got, err = call_cypool(fn, *args, **kwargs)
    assert err is None, f"cypool refused a valid call: {err!r}"
    compare(got, want)
    STATS["valid, equal to the reference"] += 1
    return got, want


def grad_for(draw, shape_cf, data_format, batched):
    """A gradient for an output of cf shape `shape_cf` in the caller's layout (maybe hostile);
    a small wrong one when that output would be too large to check."""
    if math.prod(shape_cf) > MAX_CHECKED:
        shape_cf = (1, 1) + (2,) * (len(shape_cf) - 2)
    shape = caller_shape(shape_cf[0], shape_cf[1], shape_cf[2:], data_format)
    if not batched and shape[0] == 1:
        shape = shape[1:]
    return draw_grad_like(draw, shape, data_format)


def draw_window_args(draw, rank, hostile, names):
    return {name: ARG_DRAWERS[name](draw, rank, hostile) for name in names}


def lp_window(spatial, a, rank):
    k, s, _, _, _, ceil_mode, _ = spec_window(spatial, dict(a, padding=0), rank, dilation=False)
    return k, s, ceil_mode


def lp_atol(x_cf, p, k, s, ceil_mode, rank, dtypes):
    """Error bound of the Lp forward: its sum of x**p can lose eps * sum(|x|**p) to rounding,
    which (S + d) ** (1/p) turns into the bound below (cancellation of odd powers included)."""
    ref = {1: R.lp_pool1d, 2: R.lp_pool2d, 3: R.lp_pool3d}[rank]
    with np.errstate(all="ignore"):
        s_abs = ref(np.abs(x_cf.astype(np.float64)), p, k, s, ceil_mode) ** p
        d = 64 * compute_eps(*dtypes) * s_abs
        bound = ((s_abs + d) ** (1 / p) - s_abs ** (1 / p)) + d ** (1 / p)
    return np.where(np.isfinite(bound), bound, 0.0)


def sqrt_of_minus_inf(p, x_cf):
    if p == 0.5 and np.isneginf(x_cf).any():
        raise KnownBug("lp_pool norm_type=0.5 of -inf: torch (sqrt) gives NaN, cypool (pow) inf")


def fuzz_lp_pool(draw, rank, backward):
    hostile = draw(st.integers(0, 2)) == 0
    data_format = draw_layout(draw, hostile)
    fmt = data_format if data_format in ("channels_first", "channels_last") else "channels_first"
    x = draw_array(draw, rank, "float", fmt, hostile)
    p = draw_norm_type(draw, hostile)
    a = draw_window_args(draw, rank, hostile, ("kernel_size", "stride", "ceil_mode"))
    ref = {1: R.lp_pool1d, 2: R.lp_pool2d, 3: R.lp_pool3d}[rank]
    ref_b = {1: RB.lp_pool1d_backward, 2: RB.lp_pool2d_backward, 3: RB.lp_pool3d_backward}[rank]

    def forward_spec():
        pp = spec_real(p, "norm_type")          # first: cypool checks it before x
        x_cf, batched = spec_float_input(x, rank, data_format)
        k, s, cm = lp_window(x_cf.shape[2:], a, rank)
        if rank == 3 and any(L < kk for L, kk in zip(x_cf.shape[2:], k)):
            raise Invalid("input smaller than the window (PyTorch's lp_pool3d: avg_pool3d)")
        return x_cf, batched, pp, k, s, cm

    try:   # a well-shaped gradient for the backward when the forward is valid
        x_cf, batched, pp, k, s, cm = forward_spec()
        out_cf = (*x_cf.shape[:2], *(R.out_size(L, kk, ss, 0, 0, 1, cm)
                                      for L, kk, ss in zip(x_cf.shape[2:], k, s)))
    except (Invalid, KnownBug):
        out_cf = (1, 1) + tuple(draw(st.integers(1, 3)) for _ in range(rank))
        batched = True
    g = grad_for(draw, out_cf, fmt, batched) if backward else None
    note(f"lp_pool{rank}d{'_backward' if backward else ''}(x: {getattr(x, 'shape', type(x))} "
         f"{getattr(x, 'dtype', '')}, g: {getattr(g, 'shape', type(g))} {getattr(g, 'dtype', '')}"
         f", norm_type={p!r}, {a}, data_format={data_format!r})")

    def expected():
        x_cf, batched, pp, k, s, cm = forward_spec()
        with np.errstate(all="ignore"):
            if not backward:
                sqrt_of_minus_inf(pp, x_cf)
                y = ref(x_cf, pp, k, s, cm)
                return from_cf(y.astype(x_cf.dtype), data_format, batched), (x_cf, pp, k, s, cm)
            gg = spec_array(g, rank, "float", "grad_output")
            g_cf, gb = to_cf(gg, data_format, rank)
            spec_same_batch(g_cf, gb, *x_cf.shape[:2], batched, "x")
            if g_cf.shape[2:] != tuple(out_cf[2:]):
                raise Invalid("grad_output vs the pooled size")
            sqrt_of_minus_inf(pp, x_cf)
            gx = ref_b(g_cf.astype(np.float64), x_cf, pp, k, s, cm)
            return from_cf(gx.astype(gg.dtype.newbyteorder("=")), data_format, batched), \
                (x_cf, pp, k, s, cm, g_cf)

    def compare(got, want):
        want, ctx = want
        x_cf, pp, k, s, cm = ctx[:5]
        if not backward:
            atol = from_cf(lp_atol(x_cf, pp, k, s, cm, rank, (x_cf.dtype,)), data_format,
                           want.ndim == rank + 2)
            assert_within(got, want, atol)
        else:   # the gradient's sensitivity is unbounded near a zero sum: relative check
            t = 1e-4 if compute_eps(x_cf.dtype, ctx[5].dtype) > 1e-10 else 1e-9
            fin = want[np.isfinite(want)]
            assert_within(got, want, t * (np.abs(want) + (np.abs(fin).max() if fin.size else 0)))
        if torch_ok(x_cf) and np.all(np.isfinite(x_cf)) and float(pp) in (1, 2, 3, 4, 1.5, 0.5):
            tf = getattr(torch.nn.functional, f"lp_pool{rank}d")
            g_cf = ctx[5] if backward else np.ones((*x_cf.shape[:2], *(
                R.out_size(L, kk, ss, 0, 0, 1, cm) for L, kk, ss in zip(x_cf.shape[2:], k, s))))
            tk, ts = (k[0], s[0]) if rank == 1 else (k, s)   # torch's 1-d form takes ints
            ty, (tgx,) = torch_grads(lambda xt: tf(xt, pp, tk, ts, ceil_mode=cm), [x_cf], g_cf)
            mine = to_cf(got, data_format, rank)[0].astype(np.float64)
            theirs = tgx if backward else ty
            scale = np.nanmax(np.abs(np.where(np.isfinite(theirs), theirs, 0)), initial=0)
            # compute dtype and the result's (grad_output's in the backward) rounding
            t = 1e-3 if compute_eps(x_cf.dtype, got.dtype) > 1e-10 else 1e-8
            if float(pp) < 1 or (backward and np.any(x_cf == 0)):
                return   # x**(p-1) at 0 or tiny sums: torch's autograd NaN/inf rules differ
            np.testing.assert_allclose(mine, theirs, rtol=t, atol=t * (1 + scale),
                                       equal_nan=True)
            STATS["torch agreed (values)"] += 1

    fn = getattr(cypool, f"lp_pool{rank}d{'_backward' if backward else ''}")
    if backward:
        run_case(draw, fn, (g, x, p), dict(a, data_format=data_format), expected, compare)
    else:
        run_case(draw, fn, (x, p), dict(a, data_format=data_format), expected, compare)


def blur_atol(x_cf, f, s, dtypes):
    """A convex combination: rounding error below ~f*f eps times the blur of |x|."""
    with np.errstate(all="ignore"):
        b = R.blur_pool2d(np.abs(x_cf.astype(np.float64)), f, s) * 4 * f * f * compute_eps(*dtypes)
    return np.where(np.isfinite(b), b, 0.0)


def fuzz_blur_pool(draw):
    hostile = draw(st.integers(0, 2)) == 0
    data_format = draw_layout(draw, hostile)
    fmt = data_format if data_format in ("channels_first", "channels_last") else "channels_first"
    x = draw_array(draw, 2, "float", fmt, hostile)
    f = draw_filt_size(draw, hostile)
    s = draw_window_value(draw, 2, 1, 3, hostile)
    note(f"blur_pool2d(x: {getattr(x, 'shape', type(x))} {getattr(x, 'dtype', '')}, "
         f"filt_size={f!r}, stride={s!r}, data_format={data_format!r})")

    def expected():
        x_cf, batched = spec_float_input(x, 2, data_format)
        ff, ss = spec_filt_size(f), spec_ints(s, 2)
        spec_blur(x_cf.shape[2:], ff, ss)
        y = R.blur_pool2d(x_cf, ff, ss)
        return from_cf(y.astype(x_cf.dtype), data_format, batched), (x_cf, ff, ss, batched)

    def compare(got, want):
        want, (x_cf, ff, ss, batched) = want
        assert_within(got, want, from_cf(blur_atol(x_cf, ff, ss, (x_cf.dtype,)), data_format,
                                         batched))
        if torch_ok(x_cf):
            with torch.no_grad():
                ty = torch_blur(torch.tensor(x_cf.astype(np.float64)), ff, ss).numpy()
            assert_within(to_cf(got, data_format, 2)[0].astype(np.float64), ty,
                          blur_atol(x_cf, ff, ss, (x_cf.dtype,)) + out_round(got, ty))
            STATS["torch agreed (values)"] += 1

    run_case(draw, cypool.blur_pool2d, (x, f, s), dict(data_format=data_format), expected,
             compare)


def fuzz_blur_pool_backward(draw):
    hostile = draw(st.integers(0, 2)) == 0
    data_format = draw(st.sampled_from(["channels_first", "channels_last"]))
    n, c, spatial = draw_float_input(draw, 2, data_format)
    f = draw_filt_size(draw, hostile)
    s = draw_window_value(draw, 2, 1, 3, hostile)
    if isinstance(f, int) and 1 <= f <= 7 and draw(st.integers(0, 3)):
        spatial = tuple(max(L, f // 2 + 1) for L in spatial)     # mostly big enough to reflect
    try:
        out = spec_blur(spatial, spec_filt_size(f), spec_ints(s, 2))
    except Invalid:
        out = tuple(draw(st.integers(1, 3)) for _ in range(2))
    batched = not (n == 1 and draw(st.integers(0, 4)) == 0)
    g = grad_for(draw, (n, c, *out), data_format, batched)
    in_shape = caller_shape(n, c, spatial, data_format)
    shape_arg = draw_input_shape(draw, in_shape if batched else in_shape[1:])
    note(f"blur_pool2d_backward(g: {getattr(g, 'shape', type(g))} {getattr(g, 'dtype', '')}, "
         f"input_shape={shape_arg!r}, filt_size={f!r}, stride={s!r}, {data_format})")

    def expected():
        gg = spec_array(g, 2, "float", "grad_output")
        sp = spec_input_shape(shape_arg, gg, 2, data_format)
        ff, ss = spec_filt_size(f), spec_ints(s, 2)
        g_cf, gb = to_cf(gg, data_format, 2)
        if g_cf.shape[2:] != spec_blur(sp, ff, ss):
            raise Invalid("grad_output vs the blurred size")
        if too_big(sp):
            return None, None
        gx = RB.blur_pool2d_backward(g_cf.astype(np.float64), sp, ff, ss)
        return from_cf(gx.astype(gg.dtype.newbyteorder("=")), data_format, gb), (g_cf, ff, ss, gb)

    def compare(got, want):
        want, (g_cf, ff, ss, gb) = want
        sp = to_cf(want, data_format, 2)[0].shape[2:]
        atol = RB.blur_pool2d_backward(np.abs(g_cf.astype(np.float64)), sp, ff, ss) * 4 * ff * ff \
            * compute_eps(g_cf.dtype)
        assert_within(got, want, from_cf(atol, data_format, gb))
        if torch_ok(g_cf):
            _, (tgx,) = torch_grads(lambda xt: torch_blur(xt, ff, ss),
                                    [np.zeros((*g_cf.shape[:2], *sp))], g_cf)
            assert_within(to_cf(got, data_format, 2)[0].astype(np.float64), tgx,
                          atol + out_round(got, tgx))
            STATS["torch agreed (values)"] += 1

    run_case(draw, cypool.blur_pool2d_backward, (g, shape_arg, f, s),
             dict(data_format=data_format), expected, compare,
             too_large=lambda want: want[0] is None)


def fuzz_max_blur_pool(draw):
    hostile = draw(st.integers(0, 2)) == 0
    data_format = draw_layout(draw, hostile)
    fmt = data_format if data_format in ("channels_first", "channels_last") else "channels_first"
    x = draw_array(draw, 2, "float", fmt, hostile)
    if hostile and draw(st.integers(0, 5)) == 0:
        x = draw_array(draw, 2, "max", fmt, False)      # integer input: max accepts, blur not
    k = ARG_DRAWERS["kernel_size"](draw, 2, hostile)
    f = draw_filt_size(draw, hostile)
    s = draw_window_value(draw, 2, 1, 3, hostile)
    ri = draw_bool(draw, hostile)
    note(f"max_blur_pool2d(x: {getattr(x, 'shape', type(x))} {getattr(x, 'dtype', '')}, "
         f"kernel_size={k!r}, filt_size={f!r}, stride={s!r}, return_indices={ri!r}, "
         f"{data_format!r})")

    def expected():
        x_cf, batched = spec_float_input(x, 2, data_format)
        kk = spec_window(x_cf.shape[2:], dict(kernel_size=k, stride=1), 2, dilation=False)[0]
        ff, ss, rr = spec_filt_size(f), spec_ints(s, 2), spec_bool(ri)
        dense, idx = R.max_pool(x_cf, kk, (1, 1), (0, 0), (0, 0), (1, 1), False)
        spec_blur(dense.shape[2:], ff, ss)
        y = from_cf(R.blur_pool2d(dense, ff, ss).astype(x_cf.dtype), data_format, batched)
        ctx = (dense, ff, ss, batched)
        return ((y, from_cf(idx, data_format, batched)) if rr else y), ctx

    def compare(got, want):
        want, (dense, ff, ss, batched) = want
        atol = from_cf(blur_atol(dense, ff, ss, (dense.dtype,)), data_format, batched)
        assert_within(got, want, (atol, 0) if isinstance(want, tuple) else atol)
        if torch_ok(dense):
            x_cf = to_cf(x, data_format, 2)[0].astype(np.float64)
            with torch.no_grad():
                xt = torch.tensor(x_cf)
                kk = dense.shape[2:]
                kk = tuple(L - D + 1 for L, D in zip(x_cf.shape[2:], kk))
                td, ti = torch.nn.functional.max_pool2d(xt, kk, 1, return_indices=True)
                ty = torch_blur(td, ff, ss).numpy()
            y = got[0] if isinstance(got, tuple) else got
            assert_within(to_cf(y, data_format, 2)[0].astype(np.float64), ty,
                          blur_atol(dense, ff, ss, (dense.dtype,)) + out_round(y, ty))
            if isinstance(got, tuple):
                np.testing.assert_array_equal(to_cf(got[1], data_format, 2)[0], ti.numpy())
            STATS["torch agreed (values)"] += 1

    run_case(draw, cypool.max_blur_pool2d, (x, k, f, s, ri), dict(data_format=data_format),
             expected, compare)


def fuzz_max_blur_pool_backward(draw):
    hostile = draw(st.integers(0, 2)) == 0
    data_format = draw(st.sampled_from(["channels_first", "channels_last"]))
    n, c, spatial = draw_float_input(draw, 2, data_format)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    k = tuple(draw(st.integers(1, 3)) for _ in range(2))
    f = draw_filt_size(draw, hostile)
    s = draw_window_value(draw, 2, 1, 3, hostile)
    big = f // 2 + 1 if isinstance(f, int) and 1 <= f <= 7 and draw(st.integers(0, 3)) else 1
    spatial = tuple(max(L, kk + big - 1) for L, kk in zip(spatial, k))
    x_cf = rng.standard_normal((n, c, *spatial))
    x_cf[rng.random(x_cf.shape) < 0.2] = 1.0
    dense, idx_cf = R.max_pool(x_cf, k, (1, 1), (0, 0), (0, 0), (1, 1), False)
    try:
        out = spec_blur(dense.shape[2:], spec_filt_size(f), spec_ints(s, 2))
    except Invalid:
        out = tuple(draw(st.integers(1, 3)) for _ in range(2))
    g = grad_for(draw, (n, c, *out), data_format, True)
    idx = draw_indices_like(draw, caller(idx_cf, data_format), math.prod(spatial))
    shape_arg = draw_input_shape(draw, caller_shape(n, c, spatial, data_format))
    note(f"max_blur_pool2d_backward(g: {getattr(g, 'shape', type(g))} {getattr(g, 'dtype', '')},"
         f" indices: {getattr(idx, 'shape', type(idx))} {getattr(idx, 'dtype', '')}, "
         f"input_shape={shape_arg!r}, filt_size={f!r}, stride={s!r}, {data_format})")

    def expected():
        gg = spec_array(g, 2, "float", "grad_output")
        ix = spec_array(idx, 2, "index", "indices")
        dense_sp = spec_input_shape(ix.shape, gg, 2, data_format)
        ff, ss = spec_filt_size(f), spec_ints(s, 2)
        g_cf, gb = to_cf(gg, data_format, 2)
        if g_cf.shape[2:] != spec_blur(dense_sp, ff, ss):
            raise Invalid("grad_output vs the blurred size")
        sp = spec_input_shape(shape_arg, ix, 2, data_format)
        i_cf, _ = to_cf(ix, data_format, 2)
        if i_cf.size and (i_cf.min() < 0 or i_cf.max() >= math.prod(sp)):
            raise Invalid("index outside the plane")
        if too_big(sp):
            return None, None
        # the composition of the public steps: the dense gradient is rounded to grad's dtype
        gd = RB.blur_pool2d_backward(g_cf.astype(np.float64), dense_sp, ff, ss).astype(gg.dtype)
        gx = R.scatter_by_index(gd.astype(np.float64), i_cf, sp)
        atol = R.scatter_by_index(RB.blur_pool2d_backward(np.abs(g_cf.astype(np.float64)),
                                                          dense_sp, ff, ss), i_cf, sp) \
            * (4 * ff * ff + 8) * compute_eps(gg.dtype)
        return from_cf(gx.astype(gg.dtype.newbyteorder("=")), data_format, gb), \
            from_cf(atol, data_format, gb)

    run_case(draw, cypool.max_blur_pool2d_backward, (g, idx, shape_arg, f, s),
             dict(data_format=data_format), expected,
             lambda got, want: assert_within(got, want[0], want[1]),
             too_large=lambda want: want[0] is None)


def check_stochastic_contract(x_cf, y_cf, idx_cf, k, s):
    """Training without a known seed: each index names a cell of its window, y is that cell's
    value, a window with a NaN picks its first NaN, and one with positive weights a positive
    cell."""
    N, C, H, W = x_cf.shape
    for n, c, i, j in itertools.product(range(N), range(C), *map(range, y_cf.shape[2:])):
        cells = [h * W + w for h in range(i * s[0], i * s[0] + k[0])
                 for w in range(j * s[1], j * s[1] + k[1])]
        vals = x_cf[n, c].reshape(-1)[cells].astype(np.float64)
        t = int(idx_cf[n, c, i, j])
        assert t in cells, f"index {t} outside its window {cells}"
        v = x_cf[n, c].reshape(-1)[t]
        assert y_cf[n, c, i, j] == v or (np.isnan(v) and np.isnan(y_cf[n, c, i, j]))
        if np.isnan(vals).any():
            assert t == cells[int(np.argmax(np.isnan(vals)))]
        elif (vals > 0).any():
            assert v > 0, f"sampled a zero-weight cell: {vals}, {t}"


def fuzz_stochastic_pool(draw):
    hostile = draw(st.integers(0, 2)) == 0
    data_format = draw_layout(draw, hostile)
    fmt = data_format if data_format in ("channels_first", "channels_last") else "channels_first"
    x = draw_array(draw, 2, "float", fmt, hostile)
    a = draw_window_args(draw, 2, hostile, ("kernel_size", "stride"))
    a["training"] = draw_bool(draw, hostile)
    a["return_indices"] = draw_bool(draw, hostile) if draw(st.booleans()) else False
    seed_int, a["seed"] = draw_seed(draw, hostile)
    gen_before = a["seed"].bit_generator.state if isinstance(a["seed"], np.random.Generator) \
        else None
    note(f"stochastic_pool2d(x: {getattr(x, 'shape', type(x))} {getattr(x, 'dtype', '')}, {a}, "
         f"data_format={data_format!r})")

    def expected():
        x_cf, batched = spec_float_input(x, 2, data_format)
        k, s, _, _, _, _, _ = spec_window(x_cf.shape[2:], dict(a, padding=0), 2, dilation=False)
        training, ri = spec_bool(a["training"]), spec_bool(a["return_indices"])
        if ri and not training:
            raise Invalid("return_indices needs training")
        spec_seed(a["seed"])
        out = tuple((L - kk) // ss + 1 for L, kk, ss in zip(x_cf.shape[2:], k, s))
        ctx = (x_cf, k, s, training, ri, batched, out)
        if not training:
            return from_cf(R.stochastic_pool2d(x_cf, k, s).astype(x_cf.dtype), data_format,
                           batched), ctx
        if seed_int is None:
            return None, ctx
        u = R.stochastic_uniforms(seed_int, (*x_cf.shape[:2], *out))
        y, idx = R.stochastic_pool2d(x_cf, k, s, u)
        y = from_cf(y.astype(x_cf.dtype), data_format, batched)
        return ((y, from_cf(idx, data_format, batched)) if ri else y), ctx

    def compare(got, want):
        want, (x_cf, k, s, training, ri, batched, out) = want
        if not training:    # all weights >= 0: a ratio of sums without cancellation
            assert_within(got, want, 16 * compute_eps(x_cf.dtype) * np.abs(want.astype(float)))
            y2 = cypool.stochastic_pool2d(x, **a, data_format=data_format)
            np.testing.assert_array_equal(got, y2)          # evaluation is deterministic
        elif want is not None:
            assert_same(got, want, "exact")                 # the sampled cells' values
        else:
            y, idx = got if ri else (got, None)
            y_cf = to_cf(y, data_format, 2)[0]
            assert y_cf.shape == (*x_cf.shape[:2], *out) and y.dtype == x_cf.dtype
            if idx is not None:
                check_stochastic_contract(x_cf, y_cf, to_cf(idx, data_format, 2)[0], k, s)
        if isinstance(a["seed"], np.random.Generator):
            # one 64-bit key drawn in training (the uniforms' seed), nothing in evaluation
            ref_gen = np.random.Generator(type(a["seed"].bit_generator)())
            ref_gen.bit_generator.state = gen_before
            if training:
                ref_gen.integers(2**64, dtype=np.uint64)
            assert a["seed"].random() == ref_gen.random(), "draws != one key per training call"

    run_case(draw, cypool.stochastic_pool2d, (x,), dict(a, data_format=data_format), expected,
             compare)


def fuzz_stochastic_pool_backward(draw):
    data_format = draw(st.sampled_from(["channels_first", "channels_last"]))
    n, c, spatial = draw_float_input(draw, 2, data_format)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    k = tuple(draw(st.integers(1, 3)) for _ in range(2))
    s = tuple(draw(st.integers(1, 3)) for _ in range(2))
    spatial = tuple(max(L, kk) for L, kk in zip(spatial, k))
    x_cf = rng.standard_normal((n, c, *spatial))
    out = tuple((L - kk) // ss + 1 for L, kk, ss in zip(spatial, k, s))
    _, idx_cf = R.stochastic_pool2d(x_cf, k, s, rng.random((n, c, *out)))
    g = grad_for(draw, (n, c, *out), data_format, True)
    idx = draw_indices_like(draw, caller(idx_cf, data_format), math.prod(spatial))
    shape_arg = draw_input_shape(draw, caller_shape(n, c, spatial, data_format))
    note(f"stochastic_pool2d_backward(g: {getattr(g, 'shape', type(g))} "
         f"{getattr(g, 'dtype', '')}, indices: {getattr(idx, 'shape', type(idx))} "
         f"{getattr(idx, 'dtype', '')}, input_shape={shape_arg!r}, {data_format})")

    def expected():   # the index scatter of max pooling
        gg = spec_array(g, 2, "float", "grad_output")
        ix = spec_array(idx, 2, "index", "indices")
        if ix.shape != gg.shape:
            raise Invalid("indices shape")
        sp = spec_input_shape(shape_arg, gg, 2, data_format)
        g_cf, gb = to_cf(gg, data_format, 2)
        i_cf, _ = to_cf(ix, data_format, 2)
        if i_cf.size and (i_cf.min() < 0 or i_cf.max() >= math.prod(sp)):
            raise Invalid("index outside the plane")
        if too_big(sp):
            return None
        gx = R.scatter_by_index(g_cf.astype(np.float64), i_cf, sp)
        return from_cf(gx.astype(gg.dtype.newbyteorder("=")), data_format, gb)

    run_case(draw, cypool.stochastic_pool2d_backward, (g, idx, shape_arg),
             dict(data_format=data_format), expected,
             lambda got, want: assert_same(got, want, "close"),
             too_large=lambda want: want is None)


def draw_conv_weight(draw, c, hostile):
    """(weight, bias) for c input channels; hostile forms break one rule."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    o, kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dtype = draw(st.sampled_from([np.float64, np.float32, np.float16, ">f8"]))
    kind = draw(st.integers(0, 14)) if hostile else 99
    shape = [o, c + (kind == 2), kh if kind != 1 else 0, kw]
    if kind == 0:
        shape[0] = 0
    w = rng.standard_normal(shape).astype(dtype)
    if kind == 3:
        w = w.astype(draw(st.sampled_from([np.int32, np.complex64, np.bool_, object])))
    elif kind == 4:
        w = w.tolist()
    elif kind == 5:
        w = w[0]
    elif kind == 6:
        w = w[None]
    b = None if draw(st.booleans()) else rng.standard_normal(o).astype(
        draw(st.sampled_from([np.float64, np.float32, np.float16, ">f4"])))
    if kind == 7:
        b = rng.standard_normal(o + 1)
    elif kind == 8:
        b = np.arange(o)
    elif kind == 9:
        b = [0.0] * o
    elif kind == 10:
        b = np.zeros((1, o))
    return w, b


def spec_conv(x, w, b, stride, padding, data_format):
    """torch.nn.functional.conv2d's rules for cypool.conv2d's accepted forms. Returns
    (x_cf, batched, w, b, s, p, (oh, ow))."""
    spec_data_format(data_format)
    spec_array(x, 2, "float")
    x_cf, batched = to_cf(x, data_format, 2)
    x_cf = x_cf.astype(x_cf.dtype.newbyteorder("="))
    if not isinstance(w, np.ndarray) or w.ndim != 4:
        raise Invalid("weight not a 4-d array")
    spec_array(w, 2, "float", "weight")
    if w.shape[1] != x_cf.shape[1] or min(w.shape[0], w.shape[2], w.shape[3]) < 1:
        raise Invalid(f"weight shape {w.shape}")
    if b is not None:
        if not isinstance(b, np.ndarray) or b.shape != (w.shape[0],):
            raise Invalid("bias shape")
        spec_array(b[None, None], 1, "float", "bias")
    s, p = spec_ints(stride, 2), spec_ints(padding, 2, minimum=0)
    out = tuple((L + 2 * pp - kk) // ss + 1 for L, pp, kk, ss in zip(x_cf.shape[2:], p,
                                                                         w.shape[2:], s))
    if min(out) < 1:
        raise Invalid("output size < 1")
    if min(x_cf.shape[2:]) < 1:
        raise Invalid("conv2d on a zero-size spatial axis (torch refuses)")
    return x_cf, batched, w.astype(w.dtype.newbyteorder("=")), \
        None if b is None else b.astype(b.dtype.newbyteorder("=")), s, p, out


def conv_too_big(x_cf, p, out, o):
    n, c, h, w = x_cf.shape
    return too_big((n, c, h + 2 * p[0], w + 2 * p[1]), (n, o, *out))


def torch_conv_refuses(x_cf, w, b, s, p):
    F = torch.nn.functional
    try:
        F.conv2d(torch.from_numpy(x_cf.astype(np.float64)), torch.from_numpy(
            w.astype(np.float64)), None if b is None else torch.from_numpy(b.astype(np.float64)),
            s, p)
        return False
    except (RuntimeError, ValueError, TypeError, OverflowError, IndexError):
        return True


def conv_torch_expressible(x, w, b, s, p, data_format):
    def small(v):
        return isinstance(v, int) and not isinstance(v, bool) and -3 <= v <= 50

    def arr(a):
        return isinstance(a, np.ndarray) and a.dtype.kind == "f"
    return (torch is not None and data_format in ("channels_first", "channels_last")
            and arr(x) and x.ndim in (3, 4) and arr(w) and (b is None or arr(b))
            and all(small(v) or isinstance(v, tuple) and all(small(e) for e in v)
                    for v in (s, p)))


def conv_atol(x_cf, w, b, s, p, dtypes):
    terms = w.shape[1] * w.shape[2] * w.shape[3] + 2
    with np.errstate(all="ignore"):
        bound = R.conv2d(np.abs(x_cf.astype(np.float64)), np.abs(w.astype(np.float64)),
                         None if b is None else np.abs(b.astype(np.float64)), s, p) \
            * 2 * terms * compute_eps(*dtypes)
    return np.where(np.isfinite(bound), bound, 0.0)


def fuzz_conv2d(draw):
    hostile = draw(st.integers(0, 2)) == 0
    data_format = draw_layout(draw, hostile)
    fmt = data_format if data_format in ("channels_first", "channels_last") else "channels_first"
    x = draw_array(draw, 2, "float", fmt, hostile)
    c = (x.shape[-1] if fmt == "channels_last" else x.shape[-3]) \
        if isinstance(x, np.ndarray) and x.ndim >= 3 else 2
    w, b = draw_conv_weight(draw, c, hostile)
    s = draw_window_value(draw, 2, 1, 3, hostile)
    p = draw(st.sampled_from(["same", "valid", None])) if hostile and draw(
        st.integers(0, 8)) == 0 else draw_window_value(draw, 2, 0, 3, hostile)
    note(f"conv2d(x: {getattr(x, 'shape', type(x))} {getattr(x, 'dtype', '')}, weight: "
         f"{getattr(w, 'shape', type(w))} {getattr(w, 'dtype', '')}, bias: "
         f"{getattr(b, 'shape', b)}, stride={s!r}, padding={p!r}, {data_format!r})")

    def expected():
        x_cf, batched, ww, bb, ss, pp, out = spec_conv(x, w, b, s, p, data_format)
        if conv_too_big(x_cf, pp, out, ww.shape[0]):
            return None, None
        y = R.conv2d(x_cf, ww, bb, ss, pp)
        atol = conv_atol(x_cf, ww, bb, ss, pp, (x_cf.dtype,))
        return from_cf(y.astype(x_cf.dtype), data_format, batched), (x_cf, ww, bb, ss, pp, atol,
                                                                     batched)

    def compare(got, want):
        want, (x_cf, ww, bb, ss, pp, atol, batched) = want
        assert_within(got, want, from_cf(atol, data_format, batched))
        if torch_ok(x_cf):
            with torch.no_grad():
                ty = torch.nn.functional.conv2d(
                    torch.tensor(x_cf.astype(np.float64)), torch.tensor(ww.astype(np.float64)),
                    None if bb is None else torch.tensor(bb.astype(np.float64)), ss, pp).numpy()
            mine = to_cf(got, data_format, 2)[0]
            assert_within(mine.astype(np.float64), ty, atol + 4 * EPS[mine.dtype.itemsize]
                          * np.abs(np.nan_to_num(ty, posinf=0, neginf=0)) + 1e-12)
            STATS["torch agreed (values)"] += 1

    res = run_case(draw, cypool.conv2d, (x, w, b, s, p), dict(data_format=data_format), expected,
                   compare, too_large=lambda want: want[0] is None)
    if conv_torch_expressible(x, w, b, s, p, data_format):
        try:
            x_cf = to_cf(x, data_format, 2)[0]
            spec_conv(x, w, b, s, p, data_format)
            valid = True
        except Invalid:
            valid = False
        except KnownBug:
            return
        if valid and res is None:   # too large to call
            return
        refused = torch_conv_refuses(x_cf, w, b, s, p)
        assert refused == (not valid), f"torch refused={refused}, specification valid={valid}"
        STATS[f"torch agreed ({'refused' if refused else 'accepted'})"] += 1


def fuzz_conv2d_backward(draw):
    hostile = draw(st.integers(0, 2)) == 0
    data_format = draw_layout(draw, hostile)
    fmt = data_format if data_format in ("channels_first", "channels_last") else "channels_first"
    x = draw_array(draw, 2, "float", fmt, hostile, allow_empty=draw(st.booleans()))
    c = (x.shape[-1] if fmt == "channels_last" else x.shape[-3]) \
        if isinstance(x, np.ndarray) and x.ndim >= 3 else 2
    w, _ = draw_conv_weight(draw, c, hostile)
    s = draw_window_value(draw, 2, 1, 3, hostile)
    p = draw_window_value(draw, 2, 0, 3, hostile)
    try:
        x_cf, batched, ww, _, ss, pp, out = spec_conv(x, w, None, s, p, data_format)
        out_cf = (x_cf.shape[0], ww.shape[0], *out)
    except (Invalid, KnownBug):
        out_cf, batched = (1, 2, draw(st.integers(1, 3)), draw(st.integers(1, 3))), True
    g = grad_for(draw, out_cf, fmt, batched)
    if hostile and draw(st.integers(0, 6)) == 0 and isinstance(g, np.ndarray):
        g = g[None] if not batched else (g[0] if g.shape[0] == 1 else g)   # batchedness flipped
    note(f"conv2d_backward(g: {getattr(g, 'shape', type(g))} {getattr(g, 'dtype', '')}, x: "
         f"{getattr(x, 'shape', type(x))} {getattr(x, 'dtype', '')}, weight: "
         f"{getattr(w, 'shape', type(w))} {getattr(w, 'dtype', '')}, stride={s!r}, "
         f"padding={p!r}, {data_format!r})")

    def expected():
        x_cf, batched, ww, _, ss, pp, out = spec_conv(x, w, None, s, p, data_format)
        gg = spec_array(g, 2, "float", "grad_output")
        g_cf, gb = to_cf(gg, data_format, 2)
        if g_cf.shape != (x_cf.shape[0], ww.shape[0], *out):
            raise Invalid("grad_output shape")
        if gb != batched:
            raise Invalid("grad_output batched unlike x")
        if conv_too_big(x_cf, pp, out, ww.shape[0]):
            return None, None
        gx, gw, gbias = RB.conv2d_backward(g_cf.astype(np.float64), x_cf, ww, ss, pp)
        a64 = [np.abs(v.astype(np.float64)) for v in (g_cf, x_cf, ww)]
        terms = 2 * (ww.shape[0] * ww.shape[2] * ww.shape[3] + g_cf.shape[0]
                     * math.prod(g_cf.shape[2:]) + 2) * compute_eps(x_cf.dtype)
        with np.errstate(all="ignore"):
            bounds = [np.where(np.isfinite(v), v * terms, 0.0)
                      for v in RB.conv2d_backward(*a64, ss, pp)]
        wdt = ww.dtype
        want = (from_cf(gx.astype(x_cf.dtype), data_format, batched), gw.astype(wdt),
                gbias.astype(wdt))
        atol = (from_cf(bounds[0], data_format, batched), bounds[1], bounds[2])
        return want, (atol, x_cf, ww, g_cf, ss, pp)

    def compare(got, want):
        want, (atol, x_cf, ww, g_cf, ss, pp) = want
        assert_within(got, want, atol)
        if torch_ok(x_cf) and np.all(np.isfinite(x_cf)):
            F = torch.nn.functional
            _, (tgx, tgw) = torch_grads(lambda xt, wt: F.conv2d(xt, wt, None, ss, pp),
                                        [x_cf, ww], g_cf)
            mine = to_cf(got[0], data_format, 2)[0]
            for m, t, a_ in ((mine, tgx, to_cf(atol[0], data_format, 2)[0]),
                             (got[1], tgw, atol[1])):
                assert_within(m.astype(np.float64), t, a_ + 4 * EPS[m.dtype.itemsize]
                              * np.abs(np.nan_to_num(t, posinf=0, neginf=0)) + 1e-12)
            STATS["torch agreed (values)"] += 1

    run_case(draw, cypool.conv2d_backward, (g, x, w, s, p), dict(data_format=data_format),
             expected, compare, too_large=lambda want: want[0] is None)


def _fractional_reference(x_cf, kernel, out, u):
    """Plain loops: PyTorch's window starts (in the samples' dtype) and first-max / last-NaN."""
    rank = len(kernel)
    dt = u.dtype.type
    n, c, spatial = x_cf.shape[0], x_cf.shape[1], x_cf.shape[2:]
    order = (1, 0) if rank == 2 else (0, 1, 2)
    y = np.empty((n, c) + tuple(out), x_cf.dtype)
    idx = np.empty((n, c) + tuple(out), np.int64)
    for a, b in itertools.product(range(n), range(c)):
        starts = []
        for axis, (L, O, k) in enumerate(zip(spatial, out, kernel)):
            smp = dt(u[a, b, order[axis]])
            seq = []
            if O > 1:
                alpha = dt(L - k) / dt(O - 1)
                seq = [int(float(dt(dt(i) + smp) * alpha)) - int(float(smp * alpha))
                       for i in range(O - 1)]
            starts.append(seq + [L - k] if O > 0 else [])
        for pos in np.ndindex(*out):
            lo = [starts[j][pos[j]] for j in range(rank)]
            best, where = -np.inf, np.ravel_multi_index(lo, spatial)
            for cell in np.ndindex(*kernel):
                q = tuple(lo[j] + cell[j] for j in range(rank))
                v = x_cf[(a, b) + q]
                if v > best or np.isnan(v):
                    best, where = v, np.ravel_multi_index(q, spatial)
            y[(a, b) + pos] = best
            idx[(a, b) + pos] = where
    return y, idx


def fuzz_fractional(draw, rank):
    hostile = draw(st.integers(0, 2)) == 0
    data_format = draw_layout(draw, hostile)
    fmt = data_format if data_format in ("channels_first", "channels_last") else "channels_first"
    x = draw_array(draw, rank, "float", fmt, hostile)
    ints = st.integers(-1, 5) if hostile else st.integers(1, 4)
    kernel = draw(st.one_of(ints, st.tuples(*[ints] * rank),
                            st.sampled_from([(2,), 2.0, "2", None])) if hostile else ints)
    if draw(st.booleans()):
        output_size, output_ratio = draw(st.one_of(st.integers(-1, 6),
                                                   st.tuples(*[st.integers(0, 6)] * rank))), None
    else:
        output_size = None
        output_ratio = draw(st.sampled_from([0.5, 0.3, 0.75, 1.5, 0.0, "half"]) if hostile
                            else st.sampled_from([0.5, 0.3, 0.75]))
    if hostile and draw(st.integers(0, 5)) == 0:
        output_size, output_ratio = (draw(st.integers(0, 3)), None) if draw(st.booleans()) \
            else (None, None) if draw(st.booleans()) else (2, 0.5)
    x_shape = getattr(x, "shape", ())
    batched = len(x_shape) == rank + 2
    n = x_shape[0] if batched else 1
    c = (x_shape[-1] if fmt == "channels_last" else x_shape[1 if batched else 0]) \
        if len(x_shape) >= rank + 1 else 1
    sdtype = draw(st.sampled_from([np.float32, np.float64]))
    samples = np.asarray(draw(st.lists(st.floats(0, 0.999), min_size=n * c * rank,
                                       max_size=n * c * rank)), sdtype).reshape(n, c, rank) \
        if n * c * rank < 400 else None
    if hostile and samples is not None and draw(st.integers(0, 4)) == 0:
        samples = draw(st.sampled_from([samples[:, :, :1], samples.astype(np.int64),
                                        np.full_like(samples, np.nan), samples.tolist()]))
    seed = draw(st.integers(0, 2**16)) if samples is None else None
    note(f"fractional_max_pool{rank}d(x: {x_shape} {getattr(x, 'dtype', '')}, {kernel!r}, "
         f"output_size={output_size!r}, output_ratio={output_ratio!r}, samples: "
         f"{getattr(samples, 'shape', type(samples))}, data_format={data_format!r})")

    def expected():
        x_cf, xb = spec_float_input(x, rank, data_format)
        if isinstance(kernel, bool) or not (
                isinstance(kernel, int) or (isinstance(kernel, tuple) and len(kernel) == rank
                                            and all(isinstance(v, int) for v in kernel))):
            raise Invalid("kernel_size: an int or a tuple of rank ints")
        k = (kernel,) * rank if isinstance(kernel, int) else kernel
        if min(k) < 1:
            raise Invalid("kernel_size < 1")
        if (output_size is None) == (output_ratio is None):
            raise Invalid("neither or both of output_size and output_ratio")
        if output_size is not None:
            out = (output_size,) * rank if isinstance(output_size, int) else output_size
            if min(out) < 0:
                raise Invalid("output_size < 0")
        else:
            if not isinstance(output_ratio, float) or not 0 < output_ratio < 1:
                raise Invalid("output_ratio")
            out = tuple(int(L * output_ratio) for L in x_cf.shape[2:])
        for L, kk, o in zip(x_cf.shape[2:], k, out):
            if o + kk - 1 > L - (rank == 3):
                raise Invalid("window too large for the output size")
        if samples is None:
            return ("drawn", x_cf)
        if not isinstance(samples, np.ndarray) or samples.dtype.kind != "f":
            raise Invalid("random_samples: not a floating ndarray")
        if samples.shape != (x_cf.shape[0], x_cf.shape[1], rank) and not (
                not xb and samples.shape == (1, x_cf.shape[1], rank)):
            raise Invalid("random_samples shape")
        if not np.isfinite(samples).all():
            raise Invalid("random_samples not finite")
        if math.prod(out) * x_cf.shape[0] * x_cf.shape[1] * math.prod(k) > MAX_CHECKED:
            return "too large"
        y, i = _fractional_reference(x_cf, k, out, samples)
        return (from_cf(y, data_format, xb), from_cf(i, data_format, xb))

    def compare(got, want):
        if isinstance(want[0], str):    # drawn samples: each value is the input at its index
            x_cf = want[1]
            y, i = (to_cf(a, data_format, rank)[0] for a in got)
            planes = x_cf.reshape(x_cf.shape[0], x_cf.shape[1], -1)
            at = np.take_along_axis(planes, i.reshape(*i.shape[:2], -1), axis=2)
            np.testing.assert_array_equal(y.reshape(at.shape), at.astype(y.dtype))
            return
        np.testing.assert_array_equal(got[0], want[0].astype(got[0].dtype))
        np.testing.assert_array_equal(got[1], want[1])

    f = getattr(cypool, f"fractional_max_pool{rank}d")
    kwargs = dict(output_size=output_size, output_ratio=output_ratio, return_indices=True,
                  random_samples=samples, seed=seed, data_format=data_format)
    run_case(draw, f, (x, kernel), kwargs, expected, compare,
             too_large=lambda want: isinstance(want, str))


def fuzz_fractional_backward(draw, rank):
    """The backward is max pooling's index scatter: fuzzed through it with fractional indices."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((2, 3) + (6,) * rank)
    f = getattr(cypool, f"fractional_max_pool{rank}d")
    fb = getattr(cypool, f"fractional_max_pool{rank}d_backward")
    y, i = f(x, 2, output_size=draw(st.integers(1, 4)), return_indices=True,
             seed=draw(st.integers(0, 99)))
    g = rng.standard_normal(y.shape)
    want = np.zeros(x.size)
    planes = x.shape[0] * x.shape[1]
    for p, (gp, ip) in enumerate(zip(g.reshape(planes, -1), i.reshape(planes, -1))):
        np.add.at(want, p * (x.size // planes) + ip, gp)
    np.testing.assert_allclose(fb(g, i, x.shape).reshape(-1), want, rtol=0, atol=1e-12)
    STATS["valid, equal to the reference"] += 1


# case -> (the public functions it fuzzes, its fuzz function(draw))
DOWNSAMPLE_CASES = {
    "lp_pool1d": (("lp_pool1d",), lambda draw: fuzz_lp_pool(draw, 1, False)),
    "lp_pool2d": (("lp_pool2d",), lambda draw: fuzz_lp_pool(draw, 2, False)),
    "lp_pool1d_backward": (("lp_pool1d_backward",), lambda draw: fuzz_lp_pool(draw, 1, True)),
    "lp_pool2d_backward": (("lp_pool2d_backward",), lambda draw: fuzz_lp_pool(draw, 2, True)),
    "lp_pool3d": (("lp_pool3d",), lambda draw: fuzz_lp_pool(draw, 3, False)),
    "lp_pool3d_backward": (("lp_pool3d_backward",), lambda draw: fuzz_lp_pool(draw, 3, True)),
    "blur_pool2d": (("blur_pool2d",), fuzz_blur_pool),
    "blur_pool2d_backward": (("blur_pool2d_backward",), fuzz_blur_pool_backward),
    "max_blur_pool2d": (("max_blur_pool2d",), fuzz_max_blur_pool),
    "max_blur_pool2d_backward": (("max_blur_pool2d_backward",), fuzz_max_blur_pool_backward),
    "stochastic_pool2d": (("stochastic_pool2d",), fuzz_stochastic_pool),
    "stochastic_pool2d_backward": (("stochastic_pool2d_backward",),
                                   fuzz_stochastic_pool_backward),
    "conv2d": (("conv2d",), fuzz_conv2d),
    "conv2d_backward": (("conv2d_backward",), fuzz_conv2d_backward),
    "fractional_max_pool2d": (("fractional_max_pool2d",), lambda draw: fuzz_fractional(draw, 2)),
    "fractional_max_pool3d": (("fractional_max_pool3d",), lambda draw: fuzz_fractional(draw, 3)),
    "fractional_max_pool2d_backward": (("fractional_max_pool2d_backward",),
                                       lambda draw: fuzz_fractional_backward(draw, 2)),
    "fractional_max_pool3d_backward": (("fractional_max_pool3d_backward",),
                                       lambda draw: fuzz_fractional_backward(draw, 3)),
}


@pytest.mark.parametrize("case", list(DOWNSAMPLE_CASES))
@fuzz_settings(N_TABLE)
@given(data=st.data())
def test_downsample(case, data):
    DOWNSAMPLE_CASES[case][1](data.draw)


def test_table_covers_every_public_operator():
    """New public operators must join the fuzz table (forward OPS or a backward case)."""
    fuzzed = {f"{op.name}{r}d" for op in OPS for r in op.ranks}
    fuzzed |= {f.format(r=r) for f in BACKWARD_CASES.values() for r in (1, 2, 3)}
    fuzzed |= {name for names, _ in DOWNSAMPLE_CASES.values() for name in names}
    public = {name for name in dir(cypool) if callable(getattr(cypool, name))
              and name[0].islower() and (name.endswith(("1d", "2d", "3d")) or
                                         name.endswith(("1d_backward", "2d_backward",
                                                        "3d_backward")))}
    missing = sorted(public - fuzzed)
    assert not missing, f"operators missing from the fuzz table: {missing}"
