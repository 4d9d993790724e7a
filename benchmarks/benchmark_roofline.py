"""Achieved memory bandwidth, and its ratio to a streaming-copy roofline on the same machine.

Pooling is memory-bound: a forward reads the input once and writes the output (and the indices), so
its best possible time is bytes / bandwidth. `track_achieved_gbs` reports bytes moved / time.
`track_roofline_fraction` times the pooling call and a streaming copy of a buffer of the input's
size interleaved in one process and reports achieved GB/s over the copy's GB/s (a copy moves
2 x nbytes: one read, one write). The copy is `cypool._stream`'s when that probe is built into the
package, otherwise NumPy's `copyto` split into one chunk per core (run in threads); `track_stream_gbs` reports the roofline itself, so a change of
machine is told apart from a change of cypool. All run on every usable core."""
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .common import (CASES, CF, CL, Pinned, cases, interleaved_times, make_input, n_cores,
                     pool_call, safe_import)


_pool = None


def _numpy_parallel_copy(src, dst):
    """np.copyto over one contiguous chunk per usable core, in threads (copyto releases the GIL),
    so the roofline uses as many cores as the pooling call it is compared with."""
    global _pool
    n = n_cores()
    if n == 1:
        np.copyto(dst, src)
        return
    if _pool is None:
        _pool = ThreadPoolExecutor(n)
    s, d = src.reshape(-1), dst.reshape(-1)
    bounds = np.linspace(0, s.size, n + 1).astype(int)
    list(_pool.map(lambda i: np.copyto(d[bounds[i]:bounds[i + 1]], s[bounds[i]:bounds[i + 1]]),
                   range(n)))


def streaming_copy():
    """(copy(src, dst), name): cypool's compiled streaming probe when present, else NumPy's
    copyto split over the usable cores."""
    stream = safe_import("cypool._stream")
    for name in ("stream_copy", "copy"):
        fn = getattr(stream, name, None)
        if callable(fn):
            return fn, f"cypool._stream.{name}"
    return _numpy_parallel_copy, "numpy.copyto x threads"


LAYERS = cases("vgg-2x2s2", "inception-3x3s1p1", "head-global7")


class RooflineSuite(Pinned):
    param_names = ["op", "data_format", "layer"]
    params = [["max", "avg"], [CF, CL], LAYERS]
    timeout = 180

    def setup(self, op, data_format, layer):
        self.pin()
        shape, window = CASES[layer]
        self.x = make_input(shape, "float32", data_format)
        self.fn = pool_call(op, window, data_format)
        y = self.fn(self.x)
        self.bytes = self.x.nbytes + y.nbytes
        self.copy, self.copy_name = streaming_copy()
        self.dst = np.empty_like(self.x)

    def _pool(self):
        self.fn(self.x)

    def _stream(self):
        self.copy(self.x, self.dst)

    def track_achieved_gbs(self, op, data_format, layer):
        (t,) = interleaved_times([self._pool])
        return self.bytes / t / 1e9

    track_achieved_gbs.unit = "GB/s"

    def track_roofline_fraction(self, op, data_format, layer):
        t_pool, t_copy = interleaved_times([self._pool, self._stream])
        achieved = self.bytes / t_pool
        roofline = 2 * self.x.nbytes / t_copy
        return achieved / roofline

    track_roofline_fraction.unit = "fraction of streaming-copy GB/s"


class StreamSuite(Pinned):
    """The roofline: streaming-copy bandwidth for the layers' input sizes."""

    param_names = ["layer"]
    params = [LAYERS]
    timeout = 120

    def setup(self, layer):
        self.pin()
        self.x = make_input(CASES[layer][0], "float32")
        self.dst = np.empty_like(self.x)
        self.copy, _ = streaming_copy()

    def track_stream_gbs(self, layer):
        (t,) = interleaved_times([lambda: self.copy(self.x, self.dst)])
        return 2 * self.x.nbytes / t / 1e9

    track_stream_gbs.unit = "GB/s"
