# Fractional max pooling (Graham 2015): windows of a fixed size whose start positions advance by a
# pseudo-random mix of floor(a) and ceil(a) cells. The start positions of every plane are computed
# in Python (cypool/fractional.py, PyTorch's rule) and passed in as tables; the kernel only takes
# the max of each window. Ties keep the first cell, a NaN wins and a later NaN replaces an earlier
# one (PyTorch's `val > max || isnan(val)`), applied by compare and select, not by a branch:
# the maxima of real data are unpredictable, and a branch on them mispredicts every other cell
# (cypool_fractional_row_cf / _cell_cl, _reduce_fast.h). One thread owns a plane's output rows
# (channels-first) or a sample's output cells (channels-last), so writes never race.
from cython.parallel cimport prange
from libc.stdint cimport int64_t

from _types cimport floating_t
from _reduce_fast cimport *


def fractional_forward(const floating_t[::1] x, floating_t[::1] y, int64_t[::1] indices,
                       const int64_t[:, ::1] starts_t, const int64_t[:, ::1] starts_h,
                       const int64_t[:, ::1] starts_w, Py_ssize_t N, Py_ssize_t C, bint cl,
                       Py_ssize_t T, Py_ssize_t H, Py_ssize_t W, Py_ssize_t kT, Py_ssize_t kH,
                       Py_ssize_t kW, int n_threads):
    """x: (N, C, T, H, W) or, cl, (N, T, H, W, C) IN; y, indices: the same with (OT, OH, OW) OUT
    (indices None: not written). starts_*: (N * C, O*) window starts per plane, each within
    [0, size - k] (checked by the caller)."""
    cdef Py_ssize_t OT = starts_t.shape[1], OH = starts_h.shape[1], OW = starts_w.shape[1]
    cdef Py_ssize_t in_plane = T * H * W, out_plane = OT * OH * OW
    cdef Py_ssize_t r, p, n, ot, oh, ow, cell, o
    cdef int64_t* idx = &indices[0] if indices is not None else NULL
    cdef int64_t* io
    with nogil:
        if not cl:
            # one item per output row (plane p, ot, oh): the rows of a plane share its tables
            for r in prange(N * C * OT * OH, num_threads=n_threads, schedule="static"):
                p = r // (OT * OH)
                ot = (r // OH) % OT
                oh = r % OH
                io = idx + r * OW if idx != NULL else NULL
                if floating_t is float:
                    cypool_fractional_row_cf_f32(&x[p * in_plane], &y[r * OW], io, H, W,
                                                 starts_t[p, ot], kT, starts_h[p, oh], kH,
                                                 &starts_w[p, 0], kW, OW)
                else:
                    cypool_fractional_row_cf_f64(&x[p * in_plane], &y[r * OW], io, H, W,
                                                 starts_t[p, ot], kT, starts_h[p, oh], kH,
                                                 &starts_w[p, 0], kW, OW)
        else:
            # one item per output cell (n, ot, oh, ow), its C channels side by side
            for r in prange(N * out_plane, num_threads=n_threads, schedule="static"):
                n = r // out_plane
                cell = r % out_plane
                ot = cell // (OH * OW)
                oh = (cell // OW) % OH
                ow = cell % OW
                o = r * C
                io = idx + o if idx != NULL else NULL
                if floating_t is float:
                    cypool_fractional_cell_cl_f32(&x[n * in_plane * C], &y[o], io, C, H, W,
                                                  &starts_t[n * C, ot], OT, &starts_h[n * C, oh],
                                                  OH, &starts_w[n * C, ow], OW, kT, kH, kW)
                else:
                    cypool_fractional_cell_cl_f64(&x[n * in_plane * C], &y[o], io, C, H, W,
                                                  &starts_t[n * C, ot], OT, &starts_h[n * C, oh],
                                                  OH, &starts_w[n * C, ow], OW, kT, kH, kW)
