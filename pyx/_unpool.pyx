# Max unpooling: the inverse of max pooling given its indices. Forward scatters each value to the
# cell its index names in a zero-filled output (a later duplicate index overwrites an earlier one,
# as in PyTorch's CPU kernel); backward gathers. One thread owns a plane (or a block of channels of
# a sample in channels-last), so writes never race.
from cython.parallel cimport prange
from libc.stdint cimport int64_t
from libc.string cimport memset

from _types cimport maxable_t


def unpool_forward_cf(const maxable_t[::1] x, const int64_t[::1] indices, maxable_t[::1] y,
                      Py_ssize_t n_planes, Py_ssize_t in_plane, Py_ssize_t out_plane,
                      int n_threads):
    """x, indices: (n_planes * in_plane,) IN; y: (n_planes * out_plane,) OUT.
    Returns the number of indices outside [0, out_plane), which are skipped."""
    cdef Py_ssize_t p, i, j, bad = 0
    with nogil:
        for p in prange(n_planes, num_threads=n_threads, schedule="static"):
            memset(&y[p * out_plane], 0, out_plane * sizeof(maxable_t))
            for i in range(in_plane):
                j = indices[p * in_plane + i]
                if <size_t>j < <size_t>out_plane:
                    y[p * out_plane + j] = x[p * in_plane + i]
                else:
                    bad += 1
    return bad


def unpool_forward_cl(const maxable_t[::1] x, const int64_t[::1] indices, maxable_t[::1] y,
                      Py_ssize_t n_samples, Py_ssize_t C, Py_ssize_t in_plane,
                      Py_ssize_t out_plane, int n_threads):
    cdef Py_ssize_t n, i, j, ch, bad = 0
    with nogil:
        for n in prange(n_samples, num_threads=n_threads, schedule="static"):
            memset(&y[n * out_plane * C], 0, out_plane * C * sizeof(maxable_t))
            for i in range(in_plane):
                for ch in range(C):
                    j = indices[(n * in_plane + i) * C + ch]
                    if <size_t>j < <size_t>out_plane:
                        y[(n * out_plane + j) * C + ch] = x[(n * in_plane + i) * C + ch]
                    else:
                        bad += 1
    return bad


def unpool_backward_cf(const maxable_t[::1] grad_out, const int64_t[::1] indices,
                       maxable_t[::1] grad_in, Py_ssize_t n_planes, Py_ssize_t in_plane,
                       Py_ssize_t out_plane, int n_threads):
    """grad_in[p, i] = grad_out[p, indices[p, i]]; returns the count of out-of-range indices."""
    cdef Py_ssize_t k, j, bad = 0
    with nogil:
        for k in prange(n_planes * in_plane, num_threads=n_threads, schedule="static"):
            j = indices[k]
            if <size_t>j < <size_t>out_plane:
                grad_in[k] = grad_out[(k // in_plane) * out_plane + j]
            else:
                grad_in[k] = 0
                bad += 1
    return bad


def unpool_backward_cl(const maxable_t[::1] grad_out, const int64_t[::1] indices,
                       maxable_t[::1] grad_in, Py_ssize_t n_samples, Py_ssize_t C,
                       Py_ssize_t in_plane, Py_ssize_t out_plane, int n_threads):
    cdef Py_ssize_t k, j, n, ch, bad = 0
    with nogil:
        for k in prange(n_samples * in_plane * C, num_threads=n_threads, schedule="static"):
            j = indices[k]
            ch = k % C
            n = k // (in_plane * C)
            if <size_t>j < <size_t>out_plane:
                grad_in[k] = grad_out[(n * out_plane + j) * C + ch]
            else:
                grad_in[k] = 0
                bad += 1
    return bad
