"""show_config(): what this build of cypool is and how it will run."""
from __future__ import annotations

import os
import platform
import sysconfig

import numpy as np

from . import _openmp_info, _threads


def openmp_runtime() -> str:
    """The OpenMP runtime library loaded in this process (a wheel bundles its own copy, e.g.
    cypool.libs/libgomp-*.so), read from /proc/self/maps; "unknown" where that file does not exist."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "/" in line}
    except OSError:
        return "unknown"
    names = ("libgomp", "libomp", "libiomp")
    found = sorted(p for p in paths if os.path.basename(p).startswith(names))
    return ", ".join(found) or "none loaded"


def config() -> dict:
    from . import __version__
    return {
        "cypool": __version__,
        "location": os.path.dirname(os.path.abspath(__file__)),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "python_compiler": sysconfig.get_config_var("CC") or "unknown",
        "platform": platform.platform(),
        "openmp": _threads.openmp_enabled(),
        "openmp_runtime": openmp_runtime(),
        "vector_clones": _openmp_info.vector_clones(),
        "threads": _threads.get_num_threads(),
        "cpu_budget": _threads.cpu_budget(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "(unset)"),
    }


def show_config() -> None:
    """Print cypool's version, Python, NumPy, compiler, OpenMP status, whether the kernels have
    AVX2/AVX-512 clones chosen per CPU, and thread counts.

    Examples
    --------
    >>> import cypool
    >>> cypool.show_config()  # doctest: +ELLIPSIS
              cypool: ...
    """
    for k, v in config().items():
        print(f"{k:>16}: {v}")
