"""Forward pooling: operator x data format x dtype x layer (shape and window).

The layers are headline layers of common networks (see common.CASES): VGG's 2x2/s2 max, the ResNet stem's
3x3/s2/p1 (only with CYPOOL_BENCH_SLOW=1, its input is 100 MB), a small 2x2, Inception's 3x3/s1/p1
average, a classifier head's global pool over 7x7 and a tiny 8x8 input where call overhead dominates.
Every layer is run with both operators, so "vgg-2x2s2" x "avg" is the headline 2x2 average.
"""
from .common import CASES, CF, CL, Pinned, cases, make_input, pool_call


class ForwardSuite(Pinned):
    """Time of one forward call on all cores (max: without indices, as inference runs it)."""

    param_names = ["op", "data_format", "dtype", "layer"]
    params = [["max", "avg"], [CF, CL], ["float32", "float64"], cases()]
    timeout = 180
    repeat = (3, 10, 2.0)

    def setup(self, op, data_format, dtype, layer):
        self.pin()
        shape, window = CASES[layer]
        self.x = make_input(shape, dtype, data_format)
        self.fn = pool_call(op, window, data_format)

    def time_forward(self, op, data_format, dtype, layer):
        self.fn(self.x)


class ForwardIndicesSuite(Pinned):
    """Max pooling that also returns int64 indices (what training keeps for the backward)."""

    param_names = ["data_format", "layer"]
    params = [[CF, CL], cases("vgg-2x2s2", "resnet-stem-3x3s2p1", "small-2x2s2", "head-global7")]
    timeout = 180
    repeat = (3, 10, 2.0)

    def setup(self, data_format, layer):
        self.pin()
        shape, window = CASES[layer]
        self.x = make_input(shape, "float32", data_format)
        self.fn = pool_call("max", window, data_format, return_indices=True)

    def time_max_with_indices(self, data_format, layer):
        self.fn(self.x)


class OtherRanksSuite(Pinned):
    """1-d and 3-d pooling and adaptive pooling to a size that does not divide the input."""

    param_names = ["function"]
    params = [["max_pool1d", "avg_pool1d", "max_pool3d", "avg_pool3d", "adaptive_avg_pool2d",
               "adaptive_max_pool2d"]]
    timeout = 120
    repeat = (3, 10, 2.0)

    def setup(self, function):
        import cypool
        self.pin()
        if function.endswith("1d"):
            self.x = make_input((32, 64, 4096))
            args = (3, 2, 1)
        elif function.endswith("3d"):
            self.x = make_input((4, 32, 32, 56, 56))
            args = (2,)
        else:
            self.x = make_input((32, 256, 14, 14))
            args = ((6, 6),)  # 14 -> 6: bins of uneven width
        f = getattr(cypool, function)
        self.fn = lambda: f(self.x, *args)

    def time_call(self, function):
        self.fn()


class SmallCallSuite(Pinned):
    """Repeated small calls, where a call's Python work (checks, geometry, layout) outweighs its
    pooling: the call plans of cypool._plan serve them. (1, 16, 8, 8) float32."""

    param_names = ["call", "data_format"]
    params = [["max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward",
               "adaptive_avg_pool2d", "adaptive_max_pool2d", "global_max_pool2d"], [CF, CL]]
    timeout = 60
    repeat = (3, 10, 2.0)

    def setup(self, call, data_format):
        import numpy as np

        import cypool
        self.pin()
        x = make_input((1, 16, 8, 8), "float32", data_format)
        y, idx = cypool.max_pool2d(x, 2, return_indices=True, data_format=data_format)
        g = np.ones_like(y)
        kw = dict(data_format=data_format)
        self.fn = {
            "max_pool2d": lambda: cypool.max_pool2d(x, 2, **kw),
            "max_pool2d_backward": lambda: cypool.max_pool2d_backward(g, idx, x.shape, **kw),
            "avg_pool2d": lambda: cypool.avg_pool2d(x, 2, **kw),
            "avg_pool2d_backward": lambda: cypool.avg_pool2d_backward(g, x.shape, 2, **kw),
            "adaptive_avg_pool2d": lambda: cypool.adaptive_avg_pool2d(x, 3, **kw),
            "adaptive_max_pool2d": lambda: cypool.adaptive_max_pool2d(x, 3, **kw),
            "global_max_pool2d": lambda: cypool.global_max_pool2d(x, **kw),
        }[call]

    def time_small_call(self, call, data_format):
        self.fn()


class OutSuite(Pinned):
    """A big 2x2/s2 max writing into a caller's array (out=) against returning a new one: the
    difference is the new array's first-touch page faults. 64 MB float32 input."""

    param_names = ["data_format", "out"]
    params = [[CF, CL], [False, True]]
    timeout = 120
    repeat = (3, 10, 2.0)

    def setup(self, data_format, out):
        import numpy as np

        import cypool
        self.pin()
        x = make_input((16, 64, 128, 128), "float32", data_format)
        y = np.empty_like(cypool.max_pool2d(x, 2, data_format=data_format)) if out else None
        self.fn = lambda: cypool.max_pool2d(x, 2, data_format=data_format, out=y)

    def time_max_2x2(self, data_format, out):
        self.fn()
