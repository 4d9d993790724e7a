# Run-time facts about the build (OpenMP, vector clones), read by cypool/_threads.py and
# show_config().
from cython.parallel cimport prange
from _openmp cimport CYPOOL_OPENMP_ENABLED, omp_get_max_threads, omp_get_thread_num

cdef extern from *:
    """
    #if defined(CYPOOL_TARGET_CLONES)
    #define CYPOOL_CLONES_BUILT 1
    #else
    #define CYPOOL_CLONES_BUILT 0
    #endif
    """
    int CYPOOL_CLONES_BUILT


def vector_clones():
    """True when the hot loops were built for the baseline ISA, AVX2 and AVX-512, the widest the
    running CPU has picked at load time (pyx/_clones.h; setup.py's probe decides)."""
    return bool(CYPOOL_CLONES_BUILT)


def openmp_enabled():
    """True when the kernels were compiled with OpenMP."""
    return bool(CYPOOL_OPENMP_ENABLED)


def openmp_max_threads():
    """omp_get_max_threads(): OMP_NUM_THREADS, or what threadpoolctl last set, or the core count."""
    return omp_get_max_threads()


def prange_team_size(int n_threads):
    """How many OpenMP threads a `prange(num_threads=n_threads)` (the form every kernel uses)
    actually ran on: a test aid showing that the count cypool chooses reaches the runtime."""
    cdef int seen[1024]
    cdef int i, used = 0
    cdef int n_items = 64 * max(1, min(n_threads, 1024))
    for i in range(1024):
        seen[i] = 0
    with nogil:
        for i in prange(n_items, num_threads=n_threads, schedule="static"):
            seen[omp_get_thread_num() % 1024] = 1  # every thread stores the same value
    for i in range(1024):
        used += seen[i]
    return used
