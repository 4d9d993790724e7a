"""Speed of the operators off the fast paths (adaptive, global average of planes bigger than a
CNN head's, Lp, stochastic, blur, conv2d): ratios cypool/torch and cypool/cypool (stochastic/max,
blur/avg, lp/avg), the two calls of a ratio sampled alternately in one process, medians of 9
samples of >= 20 ms each.

    python -m benchmarks.operator_speed [threads] [case-prefix ...]     (from the source root)
    CLOCK=cpu python -m benchmarks.operator_speed 1        # the calling thread's CPU time

CLOCK=cpu times with time.thread_time: on a loaded machine it leaves out the time the process
waits for a core (single-threaded runs only). The record docs/records/2026-12-04-operator-speed.md
gives its results. Needs torch and threadpoolctl."""
import gc
import os
import statistics
import sys
import time

import numpy as np


def main():
    import torch
    import torch.nn.functional as F
    from threadpoolctl import threadpool_limits
    import cypool


    nt = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    only = sys.argv[2:]
    torch.set_num_threads(nt)
    rng = np.random.default_rng(0)

    def cl(a):   # NCHW -> NHWC contiguous
        return np.ascontiguousarray(a.transpose(0, 2, 3, 1))

    def tt(a, fmt):  # torch tensor in the format's memory layout
        t = torch.from_numpy(a)
        return t.contiguous(memory_format=torch.channels_last) if fmt == "cl" else t

    def grad_job(f, x):  # torch backward by autograd (one graph, retained)
        xr = x.detach().clone().requires_grad_(True)
        y = f(xr)
        g = torch.ones_like(y)
        return lambda: torch.autograd.grad(y, xr, g, retain_graph=True)

    cases = {}
    def torch_case(name, shape, fmt, cy_fwd, cy_bwd, t_fwd):
        x = rng.standard_normal(shape, dtype=np.float32)
        xa = cl(x) if fmt == "cl" else x
        df = "channels_last" if fmt == "cl" else "channels_first"
        xt = tt(x, fmt)
        cases[name + "-fwd"] = (lambda: cy_fwd(xa, df), lambda: t_fwd(xt))
        if cy_bwd is not None:
            y = cy_fwd(xa, df)
            cases[name + "-bwd"] = (cy_bwd(xa, y, df), grad_job(t_fwd, xt))

    S = (16, 64, 56, 56)
    for fmt in ("cf", "cl"):
        for out, shp in ((7, S), (6, S), (7, (16, 64, 20, 20))):
            torch_case(f"adaptive_avg {shp[2]}->{out} {fmt}", shp, fmt,
                       lambda a, df, o=out: cypool.adaptive_avg_pool2d(a, o, data_format=df),
                       lambda a, y, df, o=out: (lambda g=np.ones_like(y): cypool.adaptive_avg_pool2d_backward(g, a.shape, data_format=df)),
                       lambda t, o=out: F.adaptive_avg_pool2d(t, o))
            torch_case(f"adaptive_max {shp[2]}->{out} {fmt}", shp, fmt,
                       lambda a, df, o=out: cypool.adaptive_max_pool2d(a, o, data_format=df), None,
                       lambda t, o=out: F.adaptive_max_pool2d(t, o))
        for shp in ((16, 64, 56, 56), (16, 256, 28, 28), (16, 1024, 14, 14), (32, 512, 9, 9)):
            torch_case(f"global_avg {shp[1]}x{shp[2]}x{shp[3]} {fmt}", shp, fmt,
                       lambda a, df: cypool.global_avg_pool2d(a, data_format=df), None,
                       lambda t: F.adaptive_avg_pool2d(t, 1))
        torch_case(f"lp2 2x2s2 {fmt}", S, fmt,
                   lambda a, df: cypool.lp_pool2d(a, 2, 2, 2, data_format=df),
                   lambda a, y, df: (lambda g=np.ones_like(y): cypool.lp_pool2d_backward(g, a, 2, 2, 2, data_format=df)),
                   lambda t: F.lp_pool2d(t, 2, 2, 2))
        for k, p in ((2, 0), (3, 1)):
            C = 16
            w = (rng.standard_normal((C, C, k, k)) * 0.1).astype(np.float32)
            b = np.zeros(C, np.float32)
            wt, bt = torch.from_numpy(w), torch.from_numpy(b)
            x = rng.standard_normal((8, C, 64, 64), dtype=np.float32)
            xa = cl(x) if fmt == "cl" else x
            df = "channels_last" if fmt == "cl" else "channels_first"
            xt = tt(x, fmt)
            cases[f"conv{k}x{k}s2 {fmt}-fwd"] = (lambda xa=xa, df=df, w=w, b=b, p=p: cypool.conv2d(xa, w, b, 2, p, data_format=df),
                                                lambda xt=xt, wt=wt, bt=bt, p=p: F.conv2d(xt, wt, bt, 2, p))
            y = cypool.conv2d(xa, w, b, 2, p, data_format=df)
            g = np.ones_like(y)
            xr = xt.clone().requires_grad_(True); wr = wt.clone().requires_grad_(True); br = bt.clone().requires_grad_(True)
            yt = F.conv2d(xr, wr, br, 2, p); gt = torch.ones_like(yt)
            cases[f"conv{k}x{k}s2 {fmt}-bwd"] = (lambda g=g, xa=xa, w=w, df=df, p=p: cypool.conv2d_backward(g, xa, w, 2, p, data_format=df),
                                                lambda yt=yt, xr=xr, wr=wr, br=br, gt=gt: torch.autograd.grad(yt, (xr, wr, br), gt, retain_graph=True))

    # cypool against cypool (the compare input): stochastic / max, blur / avg, lp / avg
    x0 = rng.standard_normal((8, 16, 64, 64), dtype=np.float32)
    for fmt in ("cf", "cl"):
        xa = cl(x0) if fmt == "cl" else x0
        df = "channels_last" if fmt == "cl" else "channels_first"
        cases[f"stochastic/max {fmt}-fwd"] = (lambda xa=xa, df=df: cypool.stochastic_pool2d(xa, 2, seed=1, data_format=df),
                                             lambda xa=xa, df=df: cypool.max_pool2d(xa, 2, data_format=df))
        cases[f"blur/avg {fmt}-fwd"] = (lambda xa=xa, df=df: cypool.blur_pool2d(xa, 3, 2, data_format=df),
                                       lambda xa=xa, df=df: cypool.avg_pool2d(xa, 2, data_format=df))
        cases[f"lp/avg {fmt}-fwd"] = (lambda xa=xa, df=df: cypool.lp_pool2d(xa, 2, 2, data_format=df),
                                     lambda xa=xa, df=df: cypool.avg_pool2d(xa, 2, data_format=df))
        yb = cypool.blur_pool2d(xa, 3, 2, data_format=df); gb = np.ones_like(yb)
        ya = cypool.avg_pool2d(xa, 2, data_format=df); ga = np.ones_like(ya)
        cases[f"blur/avg {fmt}-bwd"] = (lambda gb=gb, xa=xa, df=df: cypool.blur_pool2d_backward(gb, xa.shape, 3, 2, data_format=df),
                                       lambda ga=ga, xa=xa, df=df: cypool.avg_pool2d_backward(ga, xa.shape, 2, data_format=df))
        cases[f"lp/avg {fmt}-bwd"] = (lambda gb=ga, xa=xa, df=df: cypool.lp_pool2d_backward(gb, xa, 2, 2, data_format=df),
                                     lambda ga=ga, xa=xa, df=df: cypool.avg_pool2d_backward(ga, xa.shape, 2, data_format=df))

    CLOCK = time.thread_time if os.environ.get("CLOCK") == "cpu" else time.perf_counter

    def interleaved(a, b, repeat=9, target=0.02):
        """Medians of per-call times of a and b, sampled alternately (a b a b ...); CLOCK=cpu: the
        calling thread's CPU time (robust on a loaded machine, single-threaded runs only)."""
        fns = [a, b]
        ms = []
        for f in fns:
            f(); f()
            t0 = CLOCK(); f(); dt = max(CLOCK() - t0, 1e-6)
            ms.append(max(1, int(target / dt)))
        out = [[], []]
        gc.disable()
        for _ in range(repeat):
            for k, f in enumerate(fns):
                t0 = CLOCK()
                for _ in range(ms[k]):
                    f()
                out[k].append((CLOCK() - t0) / ms[k])
        gc.enable()
        return {"a": out[0], "b": out[1]}

    sel = {k: v for k, v in cases.items() if not only or any(k.startswith(o) for o in only)}
    with cypool.threads(nt), threadpool_limits(nt):
        for name, (a, b) in sel.items():
            t = interleaved(a, b)
            ra = statistics.median(t["a"]); rb = statistics.median(t["b"])
            print(f"{name:34s} {ra*1e3:9.3f} ms {rb*1e3:9.3f} ms  ratio {ra/rb:6.2f}", flush=True)


if __name__ == "__main__":
    main()
