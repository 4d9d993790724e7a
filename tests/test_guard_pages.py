"""No kernel reads or writes outside its arrays: every operator runs on inputs, gradients,
indices and `out=` arrays placed against an inaccessible page (PROT_NONE), once ending exactly
where the page starts and once starting exactly where one ends. A read or write of even one
byte beyond an array (a vector load past the last element, a 32-bit gather of the last 16-bit
element, a masked tail done as a full load) faults. The calls run in a child process so that a
fault fails the test with the case's name instead of ending the test run (children run in a
neutral folder: they import the cypool under test). Linux only (mmap and mprotect through
ctypes)."""
import subprocess
import sys
import textwrap

import pytest
from helpers import python_env_for_subprocess

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="guard pages through mmap/mprotect: Linux only")

GUARD = textwrap.dedent(r'''
    import ctypes, mmap, sys
    import numpy as np
    import cypool

    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    PAGE = mmap.PAGESIZE
    KEEP = []

    def guarded(a, where):
        """A copy of a whose bytes end where a PROT_NONE page begins ('end') or begin where one
        ends ('start')."""
        a = np.ascontiguousarray(a)
        n = max(a.nbytes, 1)
        pages = -(-n // PAGE)
        buf = mmap.mmap(-1, (pages + 2) * PAGE)
        base = ctypes.addressof(ctypes.c_char.from_buffer(buf))
        KEEP.append(buf)
        for p in (base, base + (pages + 1) * PAGE):
            if libc.mprotect(p, PAGE, 0) != 0:
                raise OSError(ctypes.get_errno(), "mprotect")
        off = (pages + 1) * PAGE - a.nbytes if where == "end" else PAGE
        g = np.frombuffer(buf, np.uint8, a.nbytes, off).view(a.dtype).reshape(a.shape)
        g[...] = a
        return g
''')

CHILD = GUARD + textwrap.dedent(r'''
    def cl(shape):  # (N, C, *S) -> stored channels-last shape
        return (shape[0], *shape[2:], shape[1])

    rng = np.random.default_rng(0)
    def data(shape, dtype):
        return (rng.standard_normal(shape).astype(np.float32) * 4).astype(dtype)

    half = [np.float16]
    try:
        import ml_dtypes
        half.append(np.dtype(ml_dtypes.bfloat16))
    except ImportError:
        pass

    def cases():
        for dtype in (np.float32, np.float64, *half):
            for fmt in ("channels_first", "channels_last"):
                for shape, k, s, p in (((2, 3, 9, 11), 2, 2, 0), ((1, 17, 10, 7), 3, 2, 1),
                                       ((1, 16, 8, 8), 3, 1, 1), ((1, 33, 5, 13), 2, 1, 0),
                                       ((1, 1, 1, 1), 1, 1, 0), ((2, 64, 9, 9), 3, 2, 0),
                                       ((1, 8, 6, 70), 2, 2, 0), ((1, 40, 12, 40), 3, 1, 1),
                                       ((1, 3, 9, 37), 3, 2, 1), ((1, 2, 4, 41), 2, 2, 0),
                                       ((1, 2, 7, 45), 4, 2, 1), ((1, 2, 5, 75), 3, 2, 1)):
                    yield ("max2d", dtype, fmt, shape, k, s, p)
                    yield ("avg2d", dtype, fmt, shape, k, s, p)
                for shape in ((2, 5, 33), (1, 16, 17)):
                    yield ("max1d", dtype, fmt, shape, 3, 2, 1)
                    yield ("avg1d", dtype, fmt, shape, 3, 2, 1)
                yield ("max3d", dtype, fmt, (1, 5, 5, 6, 7), 2, 2, 0)
                yield ("avg3d", dtype, fmt, (1, 5, 5, 6, 7), 3, 1, 1)
        for dtype in (np.float32, np.float64):
            for fmt in ("channels_first", "channels_last"):
                for shape, size in (((2, 5, 13, 11), 6), ((1, 128, 56, 56), 7),
                                    ((1, 256, 28, 28), 4), ((2, 7, 7, 7), 1), ((1, 3, 5, 5), 7)):
                    yield ("adaptive", dtype, fmt, shape, size, 0, 0)
                yield ("global", dtype, fmt, (2, 19, 7, 9), 0, 0, 0)
                yield ("lp", dtype, fmt, (2, 5, 9, 11), 3, 2, 0)
                yield ("blur", dtype, fmt, (2, 5, 9, 11), 3, 2, 0)
                yield ("unpool", dtype, fmt, (2, 5, 10, 11), 2, 2, 0)
                yield ("spp", dtype, fmt, (2, 5, 13, 11), 0, 0, 0)
                yield ("fractional", dtype, fmt, (2, 5, 13, 11), 2, 0, 0)
                yield ("stochastic", dtype, fmt, (2, 5, 9, 11), 2, 2, 0)
                yield ("conv", dtype, fmt, (2, 5, 9, 11), 3, 2, 1)
                yield ("conv", dtype, fmt, (1, 16, 21, 19), 3, 1, 1)

    def run(op, dtype, fmt, shape, k, s, p, where):
        G = lambda a: guarded(a, where)
        stored = cl(shape) if fmt == "channels_last" else shape
        x = G(data(stored, dtype))
        kw = dict(data_format=fmt)
        rank = len(shape) - 2
        if op[:3] in ("max", "avg") and op[-2:] in ("1d", "2d", "3d"):
            name = op[:3] + "_pool" + op[-2:]
            f = getattr(cypool, name)
            if op.startswith("max"):
                y, idx = f(x, k, s, p, return_indices=True, **kw)
                out = G(np.zeros_like(y))
                f(x, k, s, p, out=out, **kw)
                assert np.array_equal(out, y, equal_nan=True) or y.dtype.kind == "V"
                g = G(data(y.shape, dtype))
                gx = getattr(cypool, name + "_backward")(g, G(idx), x.shape, **kw)
                o2 = G(np.zeros_like(gx))
                getattr(cypool, name + "_backward")(g, G(idx), x.shape, out=o2, **kw)
            else:
                y = f(x, k, s, p, **kw)
                out = G(np.zeros_like(y))
                f(x, k, s, p, out=out, **kw)
                g = G(data(y.shape, dtype))
                gx = getattr(cypool, name + "_backward")(g, x.shape, k, s, p, **kw)
                o2 = G(np.zeros_like(gx))
                getattr(cypool, name + "_backward")(g, x.shape, k, s, p, out=o2, **kw)
        elif op == "adaptive":
            y = cypool.adaptive_avg_pool2d(x, k, **kw)
            cypool.adaptive_avg_pool2d_backward(G(data(y.shape, dtype)), x.shape, **kw)
            y, idx = cypool.adaptive_max_pool2d(x, k, return_indices=True, **kw)
            cypool.adaptive_max_pool2d_backward(G(data(y.shape, dtype)), G(idx), x.shape, **kw)
        elif op == "global":
            y = cypool.global_avg_pool2d(x, **kw)
            cypool.global_avg_pool2d_backward(G(data(y.shape, dtype)), x.shape, **kw)
            y, idx = cypool.global_max_pool2d(x, return_indices=True, **kw)
            cypool.global_max_pool2d_backward(G(data(y.shape, dtype)), G(idx), x.shape, **kw)
        elif op == "lp":
            y = cypool.lp_pool2d(x, 2.0, k, s, **kw)
            cypool.lp_pool2d_backward(G(data(y.shape, dtype)), x, 2.0, k, s, **kw)
        elif op == "blur":
            y = cypool.blur_pool2d(x, k, s, **kw)
            cypool.blur_pool2d_backward(G(data(y.shape, dtype)), x.shape, k, s, **kw)
        elif op == "unpool":
            y, idx = cypool.max_pool2d(x, k, s, return_indices=True, **kw)
            u = cypool.max_unpool2d(G(y), G(idx), k, s, output_size=shape[2:], **kw)
            cypool.max_unpool2d_backward(G(data(u.shape, dtype)), G(idx), **kw)
        elif op == "spp":
            y = cypool.spatial_pyramid_pool(x, (4, 2, 1), mode="avg", **kw)
            cypool.spatial_pyramid_pool_backward(G(data(y.shape, dtype)), x.shape, (4, 2, 1),
                                                 mode="avg", **kw)
            y, idx = cypool.spatial_pyramid_pool(x, (4, 2, 1), return_indices=True, **kw)
            cypool.spatial_pyramid_pool_backward(G(data(y.shape, dtype)), x.shape, (4, 2, 1),
                                                 indices=[G(i) for i in idx], **kw)
        elif op == "fractional":
            y, idx = cypool.fractional_max_pool2d(x, k, output_size=(6, 5), return_indices=True,
                                                  seed=0, **kw)
            cypool.fractional_max_pool2d_backward(G(data(y.shape, dtype)), G(idx), x.shape, **kw)
        elif op == "stochastic":
            y, idx = cypool.stochastic_pool2d(G(np.abs(x)), k, s, return_indices=True,
                                              seed=0, **kw)
            cypool.stochastic_pool2d_backward(G(data(y.shape, dtype)), G(idx), x.shape, **kw)
        elif op == "conv":
            c = shape[1]
            w = G(data((4, c, k, k), dtype))
            y = cypool.conv2d(x, w, stride=s, padding=p, **kw)
            cypool.conv2d_backward(G(data(y.shape, dtype)), x, w, stride=s, padding=p, **kw)

    n = 0
    for case in cases():
        for where in ("end", "start"):
            print(*map(str, case), where, flush=True)
            for threads in (1, 2):
                cypool.set_num_threads(threads)
                run(*case, where)
            n += 1
    print("DONE", n, flush=True)
''')


@pytest.mark.parametrize("where", ["end", "start"])
def test_the_guard_page_faults(where, tmp_path):
    # the test below can fail: one byte read past the end (or before the start) of a guarded
    # array kills the process
    probe = GUARD + textwrap.dedent(f"""
        a = guarded(np.ones(10, np.float32), "{where}")
        print(ctypes.string_at(a.ctypes.data + a.nbytes - 1, 1), flush=True)  # inside: fine
        ctypes.string_at(a.ctypes.data + {"a.nbytes" if where == "end" else "-1"}, 1)
        print("NO FAULT", flush=True)
    """)
    env = python_env_for_subprocess()
    # under tools/asan_test.sh: the probe's fault is meant, not a report for AddressSanitizer
    env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":handle_segv=0"
    p = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env,
                       cwd=tmp_path, timeout=120)
    assert p.returncode < 0 and "NO FAULT" not in p.stdout and p.stdout.strip(), (p.returncode,
                                                                                 p.stderr)


def test_no_operator_touches_memory_beside_its_arrays(tmp_path):
    p = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                       env=python_env_for_subprocess(), cwd=tmp_path, timeout=900)
    lines = p.stdout.strip().splitlines()
    assert p.returncode == 0 and lines and lines[-1].startswith("DONE"), (
        f"exit status {p.returncode} during the case {lines[-1] if lines else '(none)'}:\n"
        f"{p.stderr[-3000:]}")
