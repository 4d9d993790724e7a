"""Layers for training loops written in NumPy: `y = layer(x)` keeps what the backward pass needs,
`layer.backward(grad_y)` returns the gradient with respect to x. Arguments are those of the
matching functions of cypool (and of PyTorch's modules of the same name); each layer calls the
public function of its rank (`self._fn()` is cypool.max_pool2d for MaxPool2d).
"""
from __future__ import annotations

import numpy as np

from . import pooling


class _Layer:
    """`y = layer(x)` runs forward and keeps what backward needs; `layer.backward(grad_y)` returns
    the gradient with respect to the last forward's input."""
    _rank = 2
    _family = ""       # the layer's public functions: {family}{rank}d and {family}{rank}d_backward
    _indexed = False   # max families: the gradient is routed by the forward's indices

    def __init__(self, **args):
        self._args = args
        self._input_shape = self._indices = None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._args.items())
        return f"{type(self).__name__}({args})"

    def _fn(self, backward: bool = False):
        """The public function `{family}{rank}d[_backward]` of this layer's rank."""
        return getattr(pooling, f"{self._family}{self._rank}d" + ("_backward" if backward else ""))

    def forward(self, x):
        if self._indexed:
            y, self._indices = self._fn()(x, return_indices=True, **self._args)
        else:
            y = self._fn()(x, **self._args)
        self._input_shape = x.shape
        return y

    def backward(self, grad_output):
        if self._input_shape is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        shapes = (self._indices, self._input_shape) if self._indexed else (self._input_shape,)
        # average pooling's gradient takes the window arguments again; the others only the format
        kw = (self._args if self._family == "avg_pool"
              else {"data_format": self._args["data_format"]})
        return self._fn(True)(grad_output, *shapes, **kw)


class _MaxPoolNd(_Layer):
    """{r}-d layer over cypool.max_pool{r}d; same arguments."""
    _family, _indexed = "max_pool", True

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                 data_format="channels_first"):
        super().__init__(kernel_size=kernel_size, stride=stride, padding=padding,
                         dilation=dilation, ceil_mode=ceil_mode, data_format=data_format)


class _AvgPoolNd(_Layer):
    """{r}-d layer over cypool.avg_pool{r}d; same arguments."""
    _family = "avg_pool"

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None, data_format="channels_first"):
        super().__init__(kernel_size=kernel_size, stride=stride, padding=padding,
                         ceil_mode=ceil_mode, count_include_pad=count_include_pad,
                         divisor_override=divisor_override, data_format=data_format)


class _AvgPool1d(_Layer):
    """1-d layer over cypool.avg_pool1d; same arguments (no divisor_override, as in PyTorch's
    AvgPool1d and avg_pool1d)."""
    _family = "avg_pool"

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, data_format="channels_first"):
        super().__init__(kernel_size=kernel_size, stride=stride, padding=padding,
                         ceil_mode=ceil_mode, count_include_pad=count_include_pad,
                         data_format=data_format)


class _AdaptiveAvgPoolNd(_Layer):
    """{r}-d layer over cypool.adaptive_avg_pool{r}d; same arguments."""
    _family = "adaptive_avg_pool"

    def __init__(self, output_size, data_format="channels_first"):
        super().__init__(output_size=output_size, data_format=data_format)


class _AdaptiveMaxPoolNd(_Layer):
    """{r}-d layer over cypool.adaptive_max_pool{r}d; same arguments."""
    _family, _indexed = "adaptive_max_pool", True

    def __init__(self, output_size, data_format="channels_first"):
        super().__init__(output_size=output_size, data_format=data_format)


class _GlobalAvgPoolNd(_Layer):
    """{r}-d layer over cypool.global_avg_pool{r}d; same arguments."""
    _family = "global_avg_pool"

    def __init__(self, keepdims=False, data_format="channels_first"):
        super().__init__(keepdims=keepdims, data_format=data_format)


class _GlobalMaxPoolNd(_Layer):
    """{r}-d layer over cypool.global_max_pool{r}d; same arguments."""
    _family, _indexed = "global_max_pool", True

    def __init__(self, keepdims=False, data_format="channels_first"):
        super().__init__(keepdims=keepdims, data_format=data_format)


def _ranked(base, rank, name):
    doc = base.__doc__.format(r=rank) + "\n\n" + _Layer.__doc__
    cls = type(name, (base,), {"_rank": rank, "__doc__": doc})
    cls.__module__ = __name__
    return cls


MaxPool1d, MaxPool2d, MaxPool3d = (_ranked(_MaxPoolNd, r, f"MaxPool{r}d") for r in (1, 2, 3))
AvgPool1d = _ranked(_AvgPool1d, 1, "AvgPool1d")
AvgPool2d, AvgPool3d = (_ranked(_AvgPoolNd, r, f"AvgPool{r}d") for r in (2, 3))
AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveAvgPool3d = (
    _ranked(_AdaptiveAvgPoolNd, r, f"AdaptiveAvgPool{r}d") for r in (1, 2, 3))
AdaptiveMaxPool1d, AdaptiveMaxPool2d, AdaptiveMaxPool3d = (
    _ranked(_AdaptiveMaxPoolNd, r, f"AdaptiveMaxPool{r}d") for r in (1, 2, 3))
GlobalAvgPool1d, GlobalAvgPool2d, GlobalAvgPool3d = (
    _ranked(_GlobalAvgPoolNd, r, f"GlobalAvgPool{r}d") for r in (1, 2, 3))
GlobalMaxPool1d, GlobalMaxPool2d, GlobalMaxPool3d = (
    _ranked(_GlobalMaxPoolNd, r, f"GlobalMaxPool{r}d") for r in (1, 2, 3))
