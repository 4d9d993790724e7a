# The one OpenMP shim: kernels cimport the omp_* API only from here. Without OpenMP the calls become
# serial stand-ins, so every kernel builds and runs in both configurations.
cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #define CYPOOL_OPENMP_ENABLED 1
    #else
    #define CYPOOL_OPENMP_ENABLED 0
    static int omp_get_max_threads(void) { return 1; }
    static int omp_get_thread_num(void) { return 0; }
    #endif
    """
    bint CYPOOL_OPENMP_ENABLED
    int omp_get_max_threads() noexcept nogil
    int omp_get_thread_num() noexcept nogil
