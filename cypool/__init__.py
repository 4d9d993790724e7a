"""cypool: fast, exact CPU pooling for NumPy arrays.

Typed Cython kernels parallelised with OpenMP, PyTorch 2.x semantics, both data formats.
"""
try:
    from . import _openmp_info  # noqa: F401  (a compiled extension module)
except ImportError as exc:  # pragma: no cover - depends on how cypool was imported
    raise ImportError(
        "cypool's compiled kernels were not found next to " + __file__ + ". This happens when "
        "Python imports the source tree (e.g. `python -m cypool` run inside the project folder) "
        "instead of the installed package: run from another folder, use the `cypool` command, or "
        "build in place with `pip install -e .` / `python setup.py build_ext --inplace`.") from exc

from ._threads import get_num_threads, openmp_enabled, set_num_threads, threads
from ._config import show_config
from ._memory import output_cache_info, set_output_cache
from .max import max_pool1d, max_pool2d, max_pool3d
from .max_backward import max_pool1d_backward, max_pool2d_backward, max_pool3d_backward
from .avg import avg_pool1d, avg_pool2d, avg_pool3d
from .avg_backward import avg_pool1d_backward, avg_pool2d_backward, avg_pool3d_backward
from .adaptive import (
    adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d, adaptive_max_pool1d,
    adaptive_max_pool2d, adaptive_max_pool3d,
)
from .adaptive_backward import (
    adaptive_avg_pool1d_backward, adaptive_avg_pool2d_backward, adaptive_avg_pool3d_backward,
    adaptive_max_pool1d_backward, adaptive_max_pool2d_backward, adaptive_max_pool3d_backward,
)
from .global_pool import (
    global_avg_pool1d, global_avg_pool2d, global_avg_pool3d, global_max_pool1d, global_max_pool2d,
    global_max_pool3d,
)
from .global_pool_backward import (
    global_avg_pool1d_backward, global_avg_pool2d_backward, global_avg_pool3d_backward,
    global_max_pool1d_backward, global_max_pool2d_backward, global_max_pool3d_backward,
)
from .unpool import max_unpool1d, max_unpool2d, max_unpool3d
from .unpool_backward import max_unpool1d_backward, max_unpool2d_backward, max_unpool3d_backward
from .stochastic import stochastic_pool2d, stochastic_pool2d_backward
from .lp import lp_pool1d, lp_pool2d, lp_pool3d
from .lp_backward import lp_pool1d_backward, lp_pool2d_backward, lp_pool3d_backward
from .blur import (
    binomial_filter, blur_pool2d, blur_pool2d_backward, max_blur_pool2d, max_blur_pool2d_backward,
)
from .spp import spatial_pyramid_pool, spatial_pyramid_pool_backward
from .conv import conv2d, conv2d_backward
from . import downsample, pooling  # noqa: F401  (the former module names, kept as namespaces)
from .fractional import (
    fractional_max_pool2d, fractional_max_pool2d_backward, fractional_max_pool3d,
    fractional_max_pool3d_backward,
)
from .layers import (
    AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveAvgPool3d, AdaptiveMaxPool1d, AdaptiveMaxPool2d,
    AdaptiveMaxPool3d, AvgPool1d, AvgPool2d, AvgPool3d, GlobalAvgPool1d, GlobalAvgPool2d,
    GlobalAvgPool3d, GlobalMaxPool1d, GlobalMaxPool2d, GlobalMaxPool3d, MaxPool1d, MaxPool2d,
    MaxPool3d,
)

__version__ = "0.1.0"  # the one place the version is written: pyproject.toml reads it

# The public API: what `from cypool import *` gives and what the documentation's API reference
# lists (tests/test_docs_site.py checks docs/api/ against this list).
__all__ = [
    # max and average pooling, adaptive, global and unpooling, forward and backward
    "max_pool1d", "max_pool2d", "max_pool3d",
    "max_pool1d_backward", "max_pool2d_backward", "max_pool3d_backward",
    "avg_pool1d", "avg_pool2d", "avg_pool3d",
    "avg_pool1d_backward", "avg_pool2d_backward", "avg_pool3d_backward",
    "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
    "adaptive_max_pool1d_backward", "adaptive_max_pool2d_backward", "adaptive_max_pool3d_backward",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
    "adaptive_avg_pool1d_backward", "adaptive_avg_pool2d_backward", "adaptive_avg_pool3d_backward",
    "global_max_pool1d", "global_max_pool2d", "global_max_pool3d",
    "global_max_pool1d_backward", "global_max_pool2d_backward", "global_max_pool3d_backward",
    "global_avg_pool1d", "global_avg_pool2d", "global_avg_pool3d",
    "global_avg_pool1d_backward", "global_avg_pool2d_backward", "global_avg_pool3d_backward",
    "max_unpool1d", "max_unpool2d", "max_unpool3d",
    "max_unpool1d_backward", "max_unpool2d_backward", "max_unpool3d_backward",
    # other downsampling operators
    "lp_pool1d", "lp_pool2d", "lp_pool3d", "lp_pool1d_backward", "lp_pool2d_backward",
    "lp_pool3d_backward",
    "stochastic_pool2d", "stochastic_pool2d_backward",
    "blur_pool2d", "blur_pool2d_backward", "max_blur_pool2d", "max_blur_pool2d_backward",
    "binomial_filter",
    "spatial_pyramid_pool", "spatial_pyramid_pool_backward",
    "fractional_max_pool2d", "fractional_max_pool3d",
    "fractional_max_pool2d_backward", "fractional_max_pool3d_backward",
    "conv2d", "conv2d_backward",
    # layers for NumPy training loops
    "MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d",
    "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d",
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d",
    "GlobalMaxPool1d", "GlobalMaxPool2d", "GlobalMaxPool3d",
    "GlobalAvgPool1d", "GlobalAvgPool2d", "GlobalAvgPool3d",
    # threads and build configuration
    "set_num_threads", "get_num_threads", "threads", "openmp_enabled", "show_config",
    "set_output_cache", "output_cache_info",
]
