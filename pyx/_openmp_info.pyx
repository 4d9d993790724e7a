# Run-time facts about the OpenMP build, read by cypool/_threads.py and show_config().
from _openmp cimport CYPOOL_OPENMP_ENABLED, omp_get_max_threads


def openmp_enabled():
    """True when the kernels were compiled with OpenMP."""
    return bool(CYPOOL_OPENMP_ENABLED)


def openmp_max_threads():
    """omp_get_max_threads(): OMP_NUM_THREADS, or what threadpoolctl last set, or the core count."""
    return omp_get_max_threads()
