"""The pooling operators (max, average, adaptive, global, unpooling) gathered in one namespace,
as `import cypool.pooling` gave them before they moved to one module per operator family and
direction (max.py, max_backward.py, avg.py, ...). New code imports them from `cypool`.
"""
from .adaptive import (  # noqa: F401
    adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d, adaptive_max_pool1d,
    adaptive_max_pool2d, adaptive_max_pool3d,
)
from .adaptive_backward import (  # noqa: F401
    adaptive_avg_pool1d_backward, adaptive_avg_pool2d_backward, adaptive_avg_pool3d_backward,
    adaptive_max_pool1d_backward, adaptive_max_pool2d_backward, adaptive_max_pool3d_backward,
)
from .avg import avg_pool1d, avg_pool2d, avg_pool3d  # noqa: F401
from .avg_backward import (  # noqa: F401
    avg_pool1d_backward, avg_pool2d_backward, avg_pool3d_backward,
)
from .global_pool import (  # noqa: F401
    global_avg_pool1d, global_avg_pool2d, global_avg_pool3d, global_max_pool1d, global_max_pool2d,
    global_max_pool3d,
)
from .global_pool_backward import (  # noqa: F401
    global_avg_pool1d_backward, global_avg_pool2d_backward, global_avg_pool3d_backward,
    global_max_pool1d_backward, global_max_pool2d_backward, global_max_pool3d_backward,
)
from .max import max_pool1d, max_pool2d, max_pool3d  # noqa: F401
from .max_backward import (  # noqa: F401
    max_pool1d_backward, max_pool2d_backward, max_pool3d_backward,
)
from .unpool import max_unpool1d, max_unpool2d, max_unpool3d  # noqa: F401
from .unpool_backward import (  # noqa: F401
    max_unpool1d_backward, max_unpool2d_backward, max_unpool3d_backward,
)
