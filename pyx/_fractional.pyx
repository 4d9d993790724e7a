# Fractional max pooling (Graham 2015): windows of a fixed size whose start positions advance by a
# pseudo-random mix of floor(a) and ceil(a) cells. The start positions of every plane are computed
# in Python (cypool/fractional.py, PyTorch's rule) and passed in as tables; the kernel only takes
# the max of each window. Ties keep the first cell, a NaN wins and a later NaN replaces an earlier
# one (PyTorch's `val > max || isnan(val)`). One thread owns a plane (channels-first) or a sample's
# rows (channels-last), so writes never race.
from cython.parallel cimport prange
from libc.math cimport INFINITY
from libc.stdint cimport int64_t

from _types cimport floating_t


cdef inline void _window(const floating_t* x, Py_ssize_t t0, Py_ssize_t h0, Py_ssize_t w0,
                         Py_ssize_t kT, Py_ssize_t kH, Py_ssize_t kW, Py_ssize_t H, Py_ssize_t W,
                         Py_ssize_t step, floating_t* y, int64_t* idx) noexcept nogil:
    """Max of one window of a plane whose cell (t, h, w) sits at x[((t*H + h)*W + w) * step]."""
    cdef floating_t best = -INFINITY, v
    cdef int64_t where = (t0 * H + h0) * W + w0, cell
    cdef Py_ssize_t t, h, w
    for t in range(t0, t0 + kT):
        for h in range(h0, h0 + kH):
            for w in range(w0, w0 + kW):
                cell = (t * H + h) * W + w
                v = x[cell * step]
                if v > best or v != v:
                    best = v
                    where = cell
    y[0] = best
    idx[0] = where


def fractional_forward(const floating_t[::1] x, floating_t[::1] y, int64_t[::1] indices,
                       const int64_t[:, ::1] starts_t, const int64_t[:, ::1] starts_h,
                       const int64_t[:, ::1] starts_w, Py_ssize_t N, Py_ssize_t C, bint cl,
                       Py_ssize_t T, Py_ssize_t H, Py_ssize_t W, Py_ssize_t kT, Py_ssize_t kH,
                       Py_ssize_t kW, int n_threads):
    """x: (N, C, T, H, W) or, cl, (N, T, H, W, C) IN; y, indices: the same with (OT, OH, OW) OUT.
    starts_*: (N * C, O*) window starts per plane, each within [0, size - k] (checked by the
    caller)."""
    cdef Py_ssize_t OT = starts_t.shape[1], OH = starts_h.shape[1], OW = starts_w.shape[1]
    cdef Py_ssize_t in_plane = T * H * W, out_plane = OT * OH * OW
    cdef Py_ssize_t p, n, c, ot, oh, ow, o
    with nogil:
        if not cl:
            for p in prange(N * C, num_threads=n_threads, schedule="static"):
                for ot in range(OT):
                    for oh in range(OH):
                        for ow in range(OW):
                            o = p * out_plane + (ot * OH + oh) * OW + ow
                            _window(&x[p * in_plane], starts_t[p, ot], starts_h[p, oh],
                                    starts_w[p, ow], kT, kH, kW, H, W, 1, &y[o], &indices[o])
        else:
            for n in prange(N, num_threads=n_threads, schedule="static"):
                for ot in range(OT):
                    for oh in range(OH):
                        for ow in range(OW):
                            for c in range(C):
                                p = n * C + c
                                o = (n * out_plane + (ot * OH + oh) * OW + ow) * C + c
                                _window(&x[n * in_plane * C + c], starts_t[p, ot],
                                        starts_h[p, oh], starts_w[p, ow], kT, kH, kW, H, W, C,
                                        &y[o], &indices[o])
