"""show_config(): what this build of cypool is and how it will run."""
from __future__ import annotations

import os
import platform
import sysconfig

import numpy as np

from . import _threads


def config() -> dict:
    from . import __version__
    return {
        "cypool": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "compiler": sysconfig.get_config_var("CC") or "unknown",
        "platform": platform.platform(),
        "openmp": _threads.openmp_enabled(),
        "threads": _threads.get_num_threads(),
        "cpu_budget": _threads.cpu_budget(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "(unset)"),
    }


def show_config() -> None:
    """Print cypool's version, Python, NumPy, compiler, OpenMP status and thread counts.

    Examples
    --------
    >>> import cypool
    >>> cypool.show_config()  # doctest: +ELLIPSIS
              cypool: ...
    """
    for k, v in config().items():
        print(f"{k:>16}: {v}")
