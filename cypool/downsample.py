"""The downsampling operators beyond max and average pooling gathered in one namespace, as
`import cypool.downsample` gave them before they moved to one module per operator family
(stochastic.py, lp.py, lp_backward.py, blur.py, spp.py, conv.py). New code imports them from `cypool`.
"""
from .blur import (  # noqa: F401
    binomial_filter, blur_pool2d, blur_pool2d_backward, max_blur_pool2d, max_blur_pool2d_backward,
)
from .conv import conv2d, conv2d_backward  # noqa: F401
from .lp import lp_pool1d, lp_pool2d, lp_pool3d  # noqa: F401
from .lp_backward import lp_pool1d_backward, lp_pool2d_backward, lp_pool3d_backward  # noqa: F401
from .spp import spatial_pyramid_pool, spatial_pyramid_pool_backward  # noqa: F401
from .stochastic import stochastic_pool2d, stochastic_pool2d_backward  # noqa: F401

# Argument checks cypool/torch.py calls before it reaches the operators (so its modules refuse
# bad arguments at construction, as PyTorch's do).
from .lp import _check_norm_type  # noqa: F401,E402
from .spp import _check_levels, _check_mode  # noqa: F401,E402
