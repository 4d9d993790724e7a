"""The bench's cases: Case (a layer: operator, shape, window), CASES (the default table),
OPERATOR_CASES (``--all``: every operator family), their seeded inputs in either data format, and
Row (one measured case, direction and format)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

import cypool


CF, CL = "channels_first", "channels_last"
FORMATS = (CF, CL)
SEED = 1234
SMOKE_SAMPLE_SECONDS = 1e-3
PEERS = ("torch", "tensorflow", "jax")


@dataclass(frozen=True)
class Case:
    name: str
    op: str                     # what operators._operator calls ("max", "avg", "gap", "lp", ...)
    shape: tuple                # logical (N, C, *spatial) of the forward input (unpool: its output)
    kernel: int = 0
    stride: int = 0
    padding: int = 0
    directions: tuple = ("fwd", "bwd")
    dtype: str = "float32"
    return_indices: bool = False
    headline: bool = True       # a layer of a common network (enters the geometric mean)
    arg: object = None          # the operator's own parameter: adaptive output size, Lp norm,
    #                             SPP levels, blur filter size, conv output channels, fractional
    #                             output size

    @property
    def rank(self) -> int:
        return len(self.shape) - 2

    def window(self) -> str:
        op, k, s, a = self.op, self.kernel, self.stride, self.arg
        if op in ("gap", "global_avg", "global_max"):
            return "global"
        if op in ("adaptive_avg", "adaptive_max"):
            return f"-> {a}x{a}"
        if op == "spp":
            return "levels " + ",".join(map(str, a))
        if op == "blur":
            return f"filter {a} s{s}"
        if op == "maxblur":
            return f"{k}x{k} s1, filter {a} s{s}"
        if op == "fractional":
            return f"{k}x{k} -> {a}x{a}"
        w = f"{k}x" * (self.rank - 1) + f"{k} s{s}"
        w += f" p{self.padding}" if self.padding else ""
        if op == "lp":
            return f"L{a:g} {w}"
        if op == "conv":
            return f"{w}, {a} out ch"
        return w

CASES = [
    Case("vgg-max2", "max", (16, 64, 112, 112), 2, 2),
    Case("resnet-stem-max3", "max", (32, 64, 112, 112), 3, 2, 1),
    Case("small-max2", "max", (64, 32, 28, 28), 2, 2),
    Case("avg2", "avg", (16, 64, 112, 112), 2, 2),
    Case("inception-avg3s1", "avg", (8, 256, 56, 56), 3, 1, 1),
    Case("head-gap", "gap", (32, 512, 7, 7), directions=("fwd",)),
    Case("tiny-max2", "max", (1, 16, 8, 8), 2, 2, directions=("fwd",)),
    # Extra rows for generality (not in the geometric mean).
    Case("max2-indices", "max", (16, 64, 56, 56), 2, 2, directions=("fwd",), return_indices=True,
         headline=False),
    Case("max2-float64", "max", (16, 64, 56, 56), 2, 2, dtype="float64", headline=False),
    # half precision: the shapes of vgg-max2 and avg2, to read against their float32 rows
    Case("half-max2", "max", (16, 64, 112, 112), 2, 2, dtype="float16", headline=False),
    Case("half-max3s2p1", "max", (16, 64, 112, 112), 3, 2, 1, dtype="float16", headline=False),
    Case("half-avg2", "avg", (16, 64, 112, 112), 2, 2, dtype="float16", headline=False),
    # bfloat16 (NumPy arrays of ml_dtypes' type: rows skipped where it is not installed)
    Case("bf16-max2", "max", (16, 64, 112, 112), 2, 2, dtype="bfloat16", headline=False),
    Case("bf16-max3s2p1", "max", (16, 64, 112, 112), 3, 2, 1, dtype="bfloat16", headline=False),
    Case("bf16-avg2", "avg", (16, 64, 112, 112), 2, 2, dtype="bfloat16", headline=False),
    Case("odd-max3s2", "max", (8, 48, 55, 55), 3, 2, headline=False),
    Case("odd-avg3s2p1", "avg", (8, 48, 57, 57), 3, 2, 1, headline=False),
    Case("1d-max3s2p1", "max", (32, 64, 4096), 3, 2, 1, directions=("fwd",), headline=False),
    Case("3d-max2", "max", (4, 32, 32, 56, 56), 2, 2, directions=("fwd",), headline=False),
    Case("3d-avg3s1p1", "avg", (2, 32, 16, 28, 28), 3, 1, 1, directions=("fwd",), headline=False),
    # late layers: small planes, many channels
    Case("late-max2", "max", (32, 256, 14, 14), 2, 2, headline=False),
    Case("late-avg3s1p1", "avg", (32, 512, 7, 7), 3, 1, 1, headline=False),
]


# The operator table (--all): every operator family, forward and backward, not in the geometric
# mean. The 2-d max and average rows are the cases above.
OPERATOR_CASES = [
    Case("op-max1d", "max", (32, 64, 4096), 3, 2, 1, headline=False),
    Case("op-avg1d", "avg", (32, 64, 4096), 3, 2, 1, headline=False),
    Case("op-max3d", "max", (4, 32, 32, 56, 56), 2, 2, headline=False),
    Case("op-avg3d", "avg", (4, 32, 32, 56, 56), 2, 2, headline=False),
    Case("adaptive-avg-56to7", "adaptive_avg", (16, 128, 56, 56), arg=7, headline=False),
    Case("adaptive-avg-13to6", "adaptive_avg", (32, 256, 13, 13), arg=6, headline=False),
    Case("adaptive-avg-7to1", "adaptive_avg", (32, 512, 7, 7), arg=1, headline=False),
    Case("adaptive-max-56to7", "adaptive_max", (16, 128, 56, 56), arg=7, headline=False),
    Case("adaptive-max-13to6", "adaptive_max", (32, 256, 13, 13), arg=6, headline=False),
    Case("adaptive-max-7to1", "adaptive_max", (32, 512, 7, 7), arg=1, headline=False),
    Case("global-avg", "global_avg", (32, 512, 7, 7), headline=False),
    # a squeeze-and-excitation block's global average: planes longer than a network head's
    Case("global-avg-28", "global_avg", (16, 256, 28, 28), headline=False),
    Case("global-max", "global_max", (32, 512, 7, 7), headline=False),
    Case("unpool2", "unpool", (16, 64, 112, 112), 2, 2, headline=False),
    Case("lp2", "lp", (16, 64, 112, 112), 2, 2, arg=2.0, headline=False),
    Case("blur3", "blur", (16, 64, 112, 112), stride=2, arg=3, headline=False),
    Case("maxblur", "maxblur", (8, 64, 112, 112), 2, 2, arg=3, headline=False),
    Case("stochastic2", "stochastic", (16, 64, 112, 112), 2, 2, headline=False),
    Case("spp-4-2-1", "spp", (16, 256, 13, 13), arg=(4, 2, 1), headline=False),
    Case("conv3x3", "conv", (8, 32, 56, 56), 3, 1, 1, arg=32, headline=False),
    Case("fractional2", "fractional", (8, 64, 112, 112), 2, arg=56, headline=False),
]

ALL_CASES = CASES + OPERATOR_CASES
BIG_SHAPE = (16, 64, 256, 256)   # 256 MiB of float32
BIG_MB = 8                       # --processes: rows whose call returns at least this many MB


def _smoke_shape(shape: tuple) -> tuple:
    """A tiny shape of the same rank and spatial parity (for tests)."""
    n, c, *spatial = shape
    return (min(n, 2), min(c, 4), *(min(L, 12 + L % 2) for L in spatial))


def find_case(name: str) -> Case:
    for case in ALL_CASES:
        if case.name == name:
            return case
    raise ValueError(f"unknown case {name!r}; known: {', '.join(c.name for c in ALL_CASES)}")


def case_dtype(name: str):
    """The NumPy dtype a case's dtype name stands for: bfloat16 is ml_dtypes' (None when
    ml_dtypes is not installed)."""
    if name == "bfloat16":
        try:
            import ml_dtypes
        except ImportError:
            return None
        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(name)


def is_bfloat16(dtype) -> bool:
    """Whether dtype is ml_dtypes' bfloat16 (never when ml_dtypes is absent: a NumPy dtype
    compares equal to None as float64 does)."""
    bf = case_dtype("bfloat16")
    return bf is not None and np.dtype(dtype) == bf


def _selected(only, all_ops: bool) -> list:
    """The cases to run: those named (only), else the table or every case; a case whose dtype
    this installation lacks (bfloat16 without ml_dtypes) is left out."""
    cases = ALL_CASES if all_ops or only else CASES
    return [c for c in cases
            if (not only or c.name in only) and case_dtype(c.dtype) is not None]


def _stored(shape: tuple, fmt: str) -> tuple:
    return (shape[0], *shape[2:], shape[1]) if fmt == CL else tuple(shape)


def _random(rng, shape, fmt, dtype) -> np.ndarray:
    """Seeded uniform [-0.5, 0.5) data, C-contiguous in the memory order of fmt."""
    dt = case_dtype(dtype) if isinstance(dtype, str) else np.dtype(dtype)
    if dt.itemsize < 4:   # NumPy draws float32 and float64 only
        return (rng.random(_stored(shape, fmt), dtype=np.float32) - 0.5).astype(dt)
    x = rng.random(_stored(shape, fmt), dtype=dt)
    x -= 0.5
    return x


def _torch_view(torch, a: np.ndarray, fmt: str):
    """The same memory as a logical (N, C, *spatial) tensor (channels_last memory format for CL)."""
    if is_bfloat16(a.dtype):   # torch takes no NumPy bfloat16: the same bits
        t = torch.from_numpy(a.view(np.int16)).view(torch.bfloat16)
    else:
        t = torch.from_numpy(a)
    if fmt == CL:
        t = t.movedim(-1, 1)
    return t


def _cypool_fn(name: str, rank: int):
    return getattr(cypool, f"{name}{rank}d")


def _nbytes(result) -> int:
    if isinstance(result, (tuple, list)):
        return sum(_nbytes(r) for r in result)
    return result.nbytes


def case_nc(x: np.ndarray, fmt: str) -> tuple:
    return (x.shape[0], x.shape[-1]) if fmt == CL else x.shape[:2]


def _spatial(x: np.ndarray, fmt: str) -> tuple:
    return x.shape[1:-1] if fmt == CL else x.shape[2:]


@dataclass
class Row:
    case: Case
    direction: str
    fmt: str
    nbytes: int
    threads: int
    shape: tuple = ()
    times: dict = field(default_factory=dict)    # candidate -> seconds per call
    check: str = ""
    out_nbytes: int = 0                          # bytes of the arrays cypool's call returns

    def ratio(self, other: str):
        if "cypool" in self.times and other in self.times:
            return self.times["cypool"] / self.times[other]
        return None

    def best_peer(self):
        """cypool's time over the fastest installed peer's (torch, tensorflow, jax)."""
        peers = [self.times[p] for p in PEERS if p in self.times]
        return self.times["cypool"] / min(peers) if peers and "cypool" in self.times else None

    @property
    def gbs(self):
        return self.nbytes / self.times["cypool"] / 1e9 if "cypool" in self.times else None
