"""Half precision against float32: each operator's time on float16 and bfloat16 data over its
time on the same values in float32, the three calls sampled alternately in one process (medians
of the ratios of 11 samples). Memory-bound operators that read and write 16-bit values should
take about half float32's time; operators computed in float32 pay for widening the input and
rounding the result.

    python -m benchmarks.half_speed [threads] [operator-prefix ...]     (from the source root)

Needs ml_dtypes for the bfloat16 column."""
import sys

import numpy as np


def main():
    import ml_dtypes
    import cypool
    from cypool.commands.timing import time_interleaved

    nt = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    only = sys.argv[2:]
    cypool.set_num_threads(nt)
    rng = np.random.default_rng(0)
    n, c, h = 16, 64, 56

    def grad_shape(df, side):
        return (n, c, side, side) if df == "channels_first" else (n, side, side, c)

    ops = {  # name: (call(array, data_format), spatial size of the array it takes)
        "max 2x2s2 fwd": (lambda a, df: cypool.max_pool2d(a, 2, data_format=df), h),
        "avg 2x2s2 fwd": (lambda a, df: cypool.avg_pool2d(a, 2, data_format=df), h),
        "avg 2x2s2 bwd": (lambda g, df: cypool.avg_pool2d_backward(
            g, grad_shape(df, h), 2, data_format=df), h // 2),
        "adaptive_avg 7 fwd": (lambda a, df: cypool.adaptive_avg_pool2d(a, 7, df), h),
        "adaptive_avg 7 bwd": (lambda g, df: cypool.adaptive_avg_pool2d_backward(
            g, grad_shape(df, h), df), 7),
        "adaptive_max 7 fwd": (lambda a, df: cypool.adaptive_max_pool2d(a, 7, data_format=df), h),
        "global_avg fwd": (lambda a, df: cypool.global_avg_pool2d(a, data_format=df), h),
        "global_max fwd": (lambda a, df: cypool.global_max_pool2d(a, data_format=df), h),
        "lp 2x2s2 fwd": (lambda a, df: cypool.lp_pool2d(a, 2.0, 2, data_format=df), h),
        "blur fwd": (lambda a, df: cypool.blur_pool2d(a, data_format=df), h),
    }
    print(f"{nt} threads; (N, C) = ({n}, {c}); input {h}x{h}", flush=True)
    for name, (call, side) in ops.items():
        if only and not any(name.startswith(p) for p in only):
            continue
        for df in ("channels_first", "channels_last"):
            x32 = rng.standard_normal(grad_shape(df, side)).astype(np.float32)
            calls = {k: (lambda a=x32.astype(t), f=call, d=df: f(a, d)) for k, t in
                     (("f32", np.float32), ("f16", np.float16), ("bf16", ml_dtypes.bfloat16))}
            t = time_interleaved(calls, repeat=11, samples=True)
            r = {k: np.median([a / b for a, b in zip(t[k], t["f32"])]) for k in ("f16", "bf16")}
            print(f"{name:20s} {df:15s} float16 {r['f16']:5.2f}  bfloat16 {r['bf16']:5.2f}  "
                  f"(float32 {min(t['f32']) * 1e3:.2f} ms)", flush=True)


if __name__ == "__main__":
    main()
