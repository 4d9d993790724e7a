"""Hostile arguments found by the robustness audit: each raises ValueError or TypeError naming the
parameter (and its value), before any kernel runs; values PyTorch accepts are accepted alike."""
import numpy as np
import pytest

import cypool

X = np.zeros((1, 2, 8, 8), np.float32)
Y, IDX = cypool.max_pool2d(X, 2, return_indices=True)
G = np.zeros((1, 2, 4, 4), np.float32)

REFUSED = [
    # window arguments: PyTorch's C ints; beyond them the kernels' int64 products could overflow
    (lambda: cypool.max_pool2d(X, 2, 2**31), ValueError, "stride=2147483648"),
    (lambda: cypool.max_pool2d(X, 2, 2**70), ValueError, "stride"),
    (lambda: cypool.max_pool2d(X, 2**40, 1, 2**39), ValueError, "kernel_size"),
    (lambda: cypool.max_pool2d(X, 1, 1, 0, 2**70), ValueError, "dilation"),
    (lambda: cypool.avg_pool2d(X, 2, padding=2**31), ValueError, "padding"),
    (lambda: cypool.max_unpool2d(Y, IDX, 2**40), ValueError, "kernel_size"),
    (lambda: cypool.avg_pool2d(X, 2, divisor_override=2**70), ValueError, "divisor_override"),
    (lambda: cypool.avg_pool2d(X, 2, divisor_override=True), TypeError, "divisor_override"),
    (lambda: cypool.avg_pool2d(X, 2, divisor_override=np.float64(2)), TypeError,
     "divisor_override"),
    # types that are not ints
    (lambda: cypool.max_pool2d(X, np.float64(2)), TypeError, "kernel_size"),
    (lambda: cypool.max_pool2d(X, np.bool_(True)), TypeError, "kernel_size"),
    (lambda: cypool.max_pool2d(X, float("nan")), TypeError, "kernel_size"),
    (lambda: cypool.max_pool2d(X, np.array([2, 2])), TypeError, "kernel_size"),
    (lambda: cypool.max_pool2d(X, ()), TypeError, "kernel_size"),
    (lambda: cypool.max_pool2d(X, 2, padding=None), TypeError, "padding"),
    (lambda: cypool.max_pool2d(X, 2, padding=0.0), TypeError, "padding"),
    (lambda: cypool.max_pool2d(X, 2, dilation=True), TypeError, "dilation"),
    # bools and strings given as arrays or other objects
    (lambda: cypool.max_pool2d(X, 2, ceil_mode=np.array([True, False])), TypeError, "ceil_mode"),
    (lambda: cypool.max_pool2d(X, 2, ceil_mode=None), TypeError, "ceil_mode"),
    (lambda: cypool.max_pool2d(X, 2, ceil_mode=float("nan")), TypeError, "ceil_mode"),
    (lambda: cypool.max_pool2d(X, 2, return_indices="yes"), TypeError, "return_indices"),
    (lambda: cypool.avg_pool2d(X, 2, count_include_pad=2), TypeError, "count_include_pad"),
    (lambda: cypool.max_pool2d(X, 2, data_format=np.array(["channels_first"] * 2)), TypeError,
     "data_format"),
    (lambda: cypool.max_pool2d(X, 2, data_format=None), TypeError, "data_format"),
    (lambda: cypool.max_pool2d(X, 2, data_format="channels-last"), ValueError, "data_format"),
    # arrays
    (lambda: cypool.max_pool2d(np.array(1.0), 2), ValueError, "x.shape=()"),
    (lambda: cypool.max_pool2d(np.zeros((1, 1, 8, 8), "datetime64[s]"), 2), TypeError, "dtype"),
    (lambda: cypool.max_pool2d(np.zeros((1, 1, 8, 8), np.uint64), 2), TypeError, "uint64"),
    (lambda: cypool.max_pool2d(np.zeros((1, 1, 8, 8), np.longdouble), 2), TypeError, "float128"),
    (lambda: cypool.max_pool2d(np.zeros((1, 1, 8, 8), [("a", "f4")]), 2), TypeError, "dtype"),
    (lambda: cypool.avg_pool2d(np.zeros((1, 1, 8, 8), bool), 2), TypeError, "bool"),
    (lambda: cypool.max_pool2d(np.zeros((1, 1, 8, 0)), 1), ValueError, "non-zero spatial"),
    # adaptive output sizes
    (lambda: cypool.adaptive_avg_pool2d(X, 2**62), ValueError, "output_size"),
    (lambda: cypool.adaptive_avg_pool2d(X, 2**70), ValueError, "output_size"),
    (lambda: cypool.adaptive_avg_pool2d(X, True), TypeError, "output_size"),
    (lambda: cypool.adaptive_avg_pool2d(X, 2.0), TypeError, "output_size"),
    (lambda: cypool.adaptive_max_pool2d(X, (1, 2, 3)), TypeError, "output_size"),
    (lambda: cypool.adaptive_max_pool2d(X, ()), TypeError, "output_size"),
    # backward: gradients, indices, input_shape
    (lambda: cypool.max_pool2d_backward(G, IDX, (1, 2, 2**40, 2**40)), ValueError, "input_shape"),
    (lambda: cypool.max_pool2d_backward(G, IDX, (1, 2, 2**70, 8)), ValueError, "input_shape"),
    (lambda: cypool.max_pool2d_backward(G, IDX, (1, 2, True, 8)), TypeError, "input_shape"),
    (lambda: cypool.max_pool2d_backward(G, IDX, (1, 2, 8.0, 8)), TypeError, "input_shape"),
    (lambda: cypool.max_pool2d_backward(G, IDX, np.array(X.shape)), TypeError, "input_shape"),
    (lambda: cypool.max_pool2d_backward(G, IDX, (1, 2, 0, 8)), ValueError, "input_shape"),
    (lambda: cypool.max_pool2d_backward(G, IDX, (1, 2, 1, 1)), ValueError, "outside [0, 1)"),
    (lambda: cypool.max_pool2d_backward(G, IDX - 1, X.shape), ValueError, "outside [0, 64)"),
    (lambda: cypool.max_pool2d_backward(G, IDX.astype(np.uint64), X.shape), TypeError, "int64"),
    (lambda: cypool.max_pool2d_backward(G.astype(bool), IDX, X.shape), TypeError, "grad_output"),
    (lambda: cypool.max_pool2d_backward(G.tolist(), IDX, X.shape), TypeError, "grad_output"),
    (lambda: cypool.avg_pool2d_backward(G[0], X.shape, 2), ValueError, "input_shape"),
    (lambda: cypool.avg_pool2d_backward(G, (1, 2, 2**40, 2**40), 2), ValueError, "input_shape"),
    (lambda: cypool.adaptive_avg_pool2d_backward(G, (1, 2, 2**31, 2**31)), ValueError,
     "input_shape"),
    (lambda: cypool.global_avg_pool2d_backward(np.zeros((1, 3), np.float32), X.shape),
     ValueError, "input_shape"),
    (lambda: cypool.global_max_pool2d_backward(np.zeros((1, 2), np.float32), [[0, 0]], X.shape),
     TypeError, "indices"),
    # unpooling
    (lambda: cypool.max_unpool2d(Y, IDX, 2, output_size=(5, 5, 5, 8, 8)), ValueError,
     "output_size"),
    (lambda: cypool.max_unpool2d(Y, IDX, 2, output_size=(2, 8, 8)), ValueError, "output_size"),
    (lambda: cypool.max_unpool2d(Y, IDX, 2, output_size=np.array([8, 8])), TypeError,
     "output_size"),
    (lambda: cypool.max_unpool2d(Y, IDX, 2, padding=5), ValueError, "negative"),
    (lambda: cypool.max_unpool2d(Y, IDX - 1, 2), ValueError, "outside [0, 64)"),
    (lambda: cypool.max_unpool2d(Y, IDX.astype(bool), 2), TypeError, "int64"),
    (lambda: cypool.max_unpool2d_backward(X, IDX + 2**40), ValueError, "outside"),
    (lambda: cypool.max_unpool2d_backward(X.astype(np.int32), IDX), TypeError, "grad_output"),
    (lambda: cypool.max_unpool2d_backward(np.zeros((2, 2, 8, 8), np.float32), IDX), ValueError,
     "indices.shape"),
    # thread settings
    (lambda: cypool.set_num_threads(0), ValueError, "0"),
    (lambda: cypool.set_num_threads(2.0), TypeError, "2.0"),
    (lambda: cypool.set_num_threads(True), TypeError, "True"),
    (lambda: cypool.threads(-1).__enter__(), ValueError, "-1"),
]

ACCEPTED = [
    # what PyTorch accepts too, with the same result
    (lambda: cypool.max_pool2d(X, np.int64(2)), lambda: cypool.max_pool2d(X, 2)),
    (lambda: cypool.max_pool2d(X, (np.int32(2), 2)), lambda: cypool.max_pool2d(X, 2)),
    (lambda: cypool.max_pool2d(X, 2, ()), lambda: cypool.max_pool2d(X, 2)),
    (lambda: cypool.max_pool2d(X, 2, 2**31 - 1), lambda: cypool.max_pool2d(X, 2, 8)[..., :1, :1]),
    (lambda: cypool.avg_pool2d(X + 1, 2, divisor_override=-2), lambda: -cypool.avg_pool2d(
        X + 1, 2, divisor_override=2)),
    (lambda: cypool.avg_pool2d(X, 2, divisor_override=np.int64(3)),
     lambda: cypool.avg_pool2d(X, 2, divisor_override=3)),
    (lambda: cypool.max_pool2d(X, 2, ceil_mode=np.bool_(True)),
     lambda: cypool.max_pool2d(X, 2, ceil_mode=True)),
    (lambda: cypool.adaptive_avg_pool2d(X, np.int64(3)), lambda: cypool.adaptive_avg_pool2d(X, 3)),
    (lambda: cypool.max_unpool2d(Y, IDX, 2, output_size=(1, 2, 9, 9)),
     lambda: cypool.max_unpool2d(Y, IDX, 2, output_size=(9, 9))),
]


@pytest.mark.parametrize("i", range(len(REFUSED)))
def test_refused(i):
    call, exc, text = REFUSED[i]
    with pytest.raises(exc) as info:
        call()
    assert text in str(info.value), str(info.value)


@pytest.mark.parametrize("i", range(len(ACCEPTED)))
def test_accepted_like_torch(i):
    got, want = ACCEPTED[i][0](), ACCEPTED[i][1]()
    assert got.dtype == want.dtype and np.array_equal(got, want)


def test_results_are_native_endian():
    y = cypool.max_pool2d(X.astype(">f4"), 2)
    assert y.dtype == np.float32 and y.dtype.isnative
