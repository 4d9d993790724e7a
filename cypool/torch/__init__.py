"""PyTorch bridge: torch's CPU pooling computed by cypool's kernels, as a drop-in.

Import it explicitly (``import cypool.torch``); ``import cypool`` never imports torch.

- ``cypool.torch.max_pool2d`` ... mirror ``torch.nn.functional`` (with the ``*_with_indices``
  names and ``lp_pool3d``); ``cypool.torch.MaxPool2d`` ... subclass torch's modules (same
  constructor, attributes and repr); ``replace_pooling(model)`` swaps a model's pooling modules.
- Checks and errors are torch's: the bridge refuses what torch refuses, with torch's message,
  as exceptions that are torch's RuntimeError and cypool's ValueError/TypeError at once
  (``PoolingError`` and subclasses).
- Memory format: outputs and indices have exactly the strides torch gives them (its
  ``suggest_memory_format`` rule); a tensor's memory is handed to cypool without a copy and the
  result comes back as a view whenever the layouts allow.
- Autograd: gradients of any order, forward-mode AD (``torch.func.jvp``), ``torch.func.vmap``;
  the operators are torch.library custom ops (``torch.ops.cypool.*``) so torch.compile
  (fullgraph), torch.export and TorchScript capture them.
- dtypes: float32, float64; float16 and bfloat16 read and written in half precision (no copy)
  by max and average pooling and every max-type backward, through a float32 copy elsewhere;
  integer max pooling.

The architecture: _convert.py (tensors to NumPy views and back), _references.py (torch's rules
without data, per operator), _kernels.py (cypool's NumPy call per operator), _function.py (the
one autograd Function and the routing of a call), _ops.py (the operator table, the custom-op
registration), _arguments.py, functional.py, modules.py. See docs/torch-bridge.md.
"""
from __future__ import annotations

from ._errors import (PoolingError, PoolingNotImplementedError, PoolingTypeError,
                      PoolingValueError)
from . import _ops  # noqa: F401  (fills OPS and defines torch.ops.cypool.*)
from ._function import OPS, PoolFunction
from .functional import *  # noqa: F401,F403
from .functional import __all__ as _functional_names
from .modules import (MODULES, BlurPool2d, MaxBlurPool2d, SpatialPyramidPool2d,  # noqa: F401
                      StochasticPool2d, replace_pooling)

MaxPool1d, MaxPool2d, MaxPool3d = (MODULES[f"MaxPool{r}d"] for r in (1, 2, 3))
AvgPool1d, AvgPool2d, AvgPool3d = (MODULES[f"AvgPool{r}d"] for r in (1, 2, 3))
AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveAvgPool3d = (
    MODULES[f"AdaptiveAvgPool{r}d"] for r in (1, 2, 3))
AdaptiveMaxPool1d, AdaptiveMaxPool2d, AdaptiveMaxPool3d = (
    MODULES[f"AdaptiveMaxPool{r}d"] for r in (1, 2, 3))
MaxUnpool1d, MaxUnpool2d, MaxUnpool3d = (MODULES[f"MaxUnpool{r}d"] for r in (1, 2, 3))
LPPool1d, LPPool2d, LPPool3d = (MODULES[f"LPPool{r}d"] for r in (1, 2, 3))
FractionalMaxPool2d, FractionalMaxPool3d = (MODULES[f"FractionalMaxPool{r}d"] for r in (2, 3))

__all__ = [*_functional_names, *MODULES, "MODULES", "OPS", "PoolFunction", "replace_pooling",
           "PoolingError", "PoolingValueError", "PoolingTypeError", "PoolingNotImplementedError"]
