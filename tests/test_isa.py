"""The kernels picked at run time by the CPU's vector instructions give the same bits at every
width: CYPOOL_ISA=avx2 or =baseline caps the hand-dispatched kernels (_clones.h), so an AVX-512
machine also runs the AVX2 ones (the channels-first 2x2/s2 max pairs, the channels-last max
kernels) and the portable loops, and the kernels AVX-512 has alone (the channels-last adaptive
average's window sums) meet the ones they replace."""
import numpy as np

from helpers import saved_under_each

SCRIPT = r"""
import sys
import numpy as np
import cypool

rng = np.random.default_rng(3)
out = {}


def cl(a):
    return np.ascontiguousarray(np.moveaxis(a, 1, -1))


# 2x2/s2 max, channels-first: rows of 8 to 4100 outputs (the last vector overlapping), NaN
# payloads of both signs, +-0 and ties (the rule's first maximum, last NaN)
for shape in [(2, 3, 24, 24), (1, 5, 26, 30), (2, 7, 28, 28), (1, 3, 56, 56), (1, 2, 6, 4100),
              (3, 9, 16, 34), (1, 1, 2, 8200), (2, 4, 10, 18)]:
    x = rng.standard_normal(shape).astype(np.float32)
    ties = np.round(x)
    nan = x.copy()
    bits = nan.view(np.uint32)
    m = rng.random(shape) < 0.1
    bits[m] = 0x7fc00000 | rng.integers(0, 1 << 22, m.sum()).astype(np.uint32)
    bits[rng.random(shape) < 0.05] |= 0x80000000
    zeros = np.where(rng.random(shape) < 0.5, np.float32(0.0), np.float32(-0.0))
    for kind, a in (("n", x), ("t", ties), ("nan", nan), ("z", zeros)):
        for nt in (1, 2):
            with cypool.threads(nt):
                out[f"max{shape}{kind}{nt}"] = cypool.max_pool2d(a, 2)
# adaptive average, channels-last: channels multiples of 8 and 4 and neither
for shape, o in [((2, 128, 56, 56), 7), ((2, 36, 13, 13), 6), ((1, 20, 17, 23), (5, 4)),
                 ((2, 64, 7, 7), 3), ((1, 12, 30, 30), (1, 7)), ((1, 44, 9, 9), 9),
                 ((2, 8, 20, 20), (3, 8)), ((1, 33, 12, 12), 5)]:
    x = (rng.standard_normal(shape) * 100).astype(np.float32)
    out[f"adaptive{shape}{o}"] = cypool.adaptive_avg_pool2d(cl(x), o, "channels_last")
# global average (long and short planes), blur and Lp pooling, both formats
for shape in [(2, 67, 14, 14), (3, 17, 28, 28), (1, 9, 1, 300), (2, 20, 33, 40), (2, 5, 7, 7)]:
    x = rng.standard_normal(shape).astype(np.float32)
    for df, a in (("channels_first", x), ("channels_last", cl(x))):
        out[f"gap{shape}{df}"] = cypool.global_avg_pool2d(a, data_format=df)
        if shape[2] >= 3:
            out[f"blur{shape}{df}"] = cypool.blur_pool2d(a, data_format=df)
            out[f"lp{shape}{df}"] = cypool.lp_pool2d(a, 2.0, 3, 2, data_format=df)
np.savez(sys.argv[1], **{k: np.asarray(v).view(np.uint8) for k, v in out.items()})
"""


def test_every_vector_width_gives_the_same_bits(tmp_path):
    results = saved_under_each(tmp_path, "isa.py", SCRIPT, "CYPOOL_ISA",
                               ("best", "avx2", "baseline"))
    assert len(results["best"].files) == 8 * 4 * 2 + 8 + 5 * 2 + 4 * 2 * 2
    for setting in ("avx2", "baseline"):
        for key in results["best"].files:
            np.testing.assert_array_equal(results[setting][key], results["best"][key],
                                          f"{key}, {setting}")
