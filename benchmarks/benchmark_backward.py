"""Backward pooling: the gradient with respect to the input, given the output's gradient.

Max routes gradients through the int64 indices of the forward; average spreads them over the window.
Both formats run their own deterministic kernel (parallel over planes or blocks of channels)."""
from .common import CASES, CF, CL, Pinned, cases, make_input, pool_call

import cypool


def _backward_call(op, window, data_format, x):
    """(function computing grad_x from grad_y, y) for one layer; the indices are made here, once."""
    shape = x.shape
    if window == "global":
        if op == "max":
            y, idx = cypool.global_max_pool2d(x, keepdims=True, return_indices=True,
                                              data_format=data_format)
            fn = lambda g: cypool.global_max_pool2d_backward(g, idx, shape,  # noqa: E731
                                                              data_format=data_format)
        else:
            y = cypool.global_avg_pool2d(x, keepdims=True, data_format=data_format)
            fn = lambda g: cypool.global_avg_pool2d_backward(g, shape,  # noqa: E731
                                                              data_format=data_format)
        return fn, y
    k, s, p = window
    if op == "max":
        y, idx = pool_call("max", window, data_format, return_indices=True)(x)
        fn = lambda g: cypool.max_pool2d_backward(g, idx, shape,  # noqa: E731
                                                  data_format=data_format)
    else:
        y = pool_call("avg", window, data_format)(x)
        fn = lambda g: cypool.avg_pool2d_backward(g, shape, k, s, p,  # noqa: E731
                                                  data_format=data_format)
    return fn, y


class BackwardSuite(Pinned):
    """Time of one backward call on all cores, float32."""

    param_names = ["op", "data_format", "layer"]
    params = [["max", "avg"], [CF, CL], cases()]
    timeout = 180
    repeat = (3, 10, 2.0)

    def setup(self, op, data_format, layer):
        self.pin()
        shape, window = CASES[layer]
        x = make_input(shape, "float32", data_format)
        self.fn, y = _backward_call(op, window, data_format, x)
        self.grad = make_input(y.shape, "float32", seed=7)

    def time_backward(self, op, data_format, layer):
        self.fn(self.grad)


class LayerRoundTripSuite(Pinned):
    """A NumPy training step's share: layer forward then backward (MaxPool2d keeps its indices)."""

    param_names = ["layer_class", "data_format"]
    params = [["MaxPool2d", "AvgPool2d"], [CF, CL]]
    timeout = 120
    repeat = (3, 10, 2.0)

    def setup(self, layer_class, data_format):
        self.pin()
        self.x = make_input((16, 64, 56, 56), "float32", data_format)
        self.layer = getattr(cypool, layer_class)(3, 2, 1, data_format=data_format)
        self.grad = make_input(self.layer(self.x).shape, "float32", seed=7)

    def time_forward_backward(self, layer_class, data_format):
        self.layer(self.x)
        self.layer.backward(self.grad)
