# Max unpooling: the inverse of max pooling given its indices. Forward scatters each value to the
# cell its index names in a zero-filled output (a later duplicate index overwrites an earlier one,
# as in PyTorch's CPU kernel); one thread owns a plane (a sample in channels-last), so writes never
# race. Backward gathers: each input gradient cell is written once, by one work item.
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


# Cells of grad_in per parallel work item of the backward gather: a work item's division of its
# number into (plane, cells) is paid once, not per element, and items are many enough to balance.
cdef enum:
    GATHER_BLOCK = 16384


cdef inline Py_ssize_t _gather(const maxable_t* go, const int64_t* idx, maxable_t* gi,
                               Py_ssize_t i0, Py_ssize_t i1, Py_ssize_t C,
                               Py_ssize_t out_plane) noexcept nogil:
    # Cells [i0, i1) of one plane (channels-first: C = 1) or one sample of C interleaved
    # channels; go, idx, gi start at that plane or sample.
    cdef Py_ssize_t i, k, ch, j, bad = 0
    if C == 1:
        for k in range(i0, i1):
            j = idx[k]
            if <size_t>j < <size_t>out_plane:
                gi[k] = go[j]
            else:
                gi[k] = 0
                bad += 1
        return bad
    for i in range(i0, i1):
        for ch in range(C):
            k = i * C + ch
            j = idx[k]
            if <size_t>j < <size_t>out_plane:
                gi[k] = go[j * C + ch]
            else:
                gi[k] = 0
                bad += 1
    return bad


cdef Py_ssize_t _gather_all(const maxable_t* go, const int64_t* idx, maxable_t* gi,
                            Py_ssize_t n_groups, Py_ssize_t C, Py_ssize_t in_plane,
                            Py_ssize_t out_plane, int n_threads) noexcept nogil:
    # grad_in of n_groups planes (C = 1) or samples, split into work items of about GATHER_BLOCK
    # elements; each element is written by one item, so any schedule gives the same result.
    cdef Py_ssize_t cells = GATHER_BLOCK // C if C < GATHER_BLOCK else 1
    cdef Py_ssize_t per = (in_plane + cells - 1) // cells
    cdef Py_ssize_t item, g, i0, i1, bad = 0
    if n_threads == 1:
        # no OpenMP region: for a small call it costs about as much as the work
        for g in range(n_groups):
            bad += _gather(go + g * out_plane * C, idx + g * in_plane * C,
                           gi + g * in_plane * C, 0, in_plane, C, out_plane)
        return bad
    for item in prange(n_groups * per, num_threads=n_threads, schedule="guided"):
        g = item // per
        i0 = (item % per) * cells
        i1 = i0 + cells if i0 + cells < in_plane else in_plane
        bad += _gather(go + g * out_plane * C, idx + g * in_plane * C, gi + g * in_plane * C,
                       i0, i1, C, out_plane)
    return bad


def unpool_backward_cf(const maxable_t[::1] grad_out, const int64_t[::1] indices,
                       maxable_t[::1] grad_in, Py_ssize_t n_planes, Py_ssize_t in_plane,
                       Py_ssize_t out_plane, int n_threads):
    """grad_in[p, i] = grad_out[p, indices[p, i]]; returns the count of out-of-range indices."""
    cdef Py_ssize_t bad
    with nogil:
        bad = _gather_all(&grad_out[0], &indices[0], &grad_in[0], n_planes, 1, in_plane,
                          out_plane, n_threads)
    return bad


def unpool_backward_cl(const maxable_t[::1] grad_out, const int64_t[::1] indices,
                       maxable_t[::1] grad_in, Py_ssize_t n_samples, Py_ssize_t C,
                       Py_ssize_t in_plane, Py_ssize_t out_plane, int n_threads):
    """grad_in[n, i, c] = grad_out[n, indices[n, i, c], c]; returns the count of out-of-range
    indices."""
    cdef Py_ssize_t bad
    with nogil:
        bad = _gather_all(&grad_out[0], &indices[0], &grad_in[0], n_samples, C, in_plane,
                          out_plane, n_threads)
    return bad
