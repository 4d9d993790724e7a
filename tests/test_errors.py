"""Bad input raises ValueError or TypeError naming the parameter and the value."""
import numpy as np
import pytest

import cypool

X = np.zeros((1, 2, 8, 8), np.float32)
Y, IDX = cypool.max_pool2d(X, 2, return_indices=True)

BAD = [
    # (call, exception, text the message must contain)
    (lambda: cypool.max_pool2d([[1.0]], 2), TypeError, "x must be a numpy.ndarray"),
    (lambda: cypool.max_pool2d(np.zeros((8, 8)), 2), ValueError, "x.shape=(8, 8)"),
    (lambda: cypool.max_pool2d(np.zeros((1, 1, 1, 8, 8)), 2), ValueError, "dimensions"),
    (lambda: cypool.max_pool2d(X.astype(complex), 2), TypeError, "complex128"),
    (lambda: cypool.max_pool2d(X.astype(object), 2), TypeError, "object"),
    (lambda: cypool.max_pool2d(np.full((1, 1, 2, 2), "a"), 2), TypeError, "dtype"),
    (lambda: cypool.avg_pool2d(X.astype(np.int32), 2), TypeError, "int32"),
    (lambda: cypool.max_pool2d(X, 0), ValueError, "kernel_size=0"),
    (lambda: cypool.max_pool2d(X, -1), ValueError, "kernel_size=-1"),
    (lambda: cypool.max_pool2d(X, 2.0), TypeError, "kernel_size"),
    (lambda: cypool.max_pool2d(X, True), TypeError, "kernel_size"),
    (lambda: cypool.max_pool2d(X, (2, 2, 2)), TypeError, "kernel_size"),
    (lambda: cypool.max_pool2d(X, 2, 0), ValueError, "stride=0"),
    (lambda: cypool.max_pool2d(X, 2, (1, 1.5)), TypeError, "stride"),
    (lambda: cypool.max_pool2d(X, 2, dilation=0), ValueError, "dilation=0"),
    (lambda: cypool.max_pool2d(X, 2, padding=2), ValueError, "padding=2"),
    (lambda: cypool.max_pool2d(X, 2, padding=-1), ValueError, "padding=-1"),
    (lambda: cypool.max_pool2d(X, 2, padding="full"), ValueError, "'full'"),
    (lambda: cypool.max_pool2d(X, 2, padding="same", ceil_mode=True), ValueError, "ceil_mode"),
    (lambda: cypool.max_pool2d(X, 9), ValueError, "output size is too small"),
    (lambda: cypool.max_pool2d(X, 3, dilation=4), ValueError, "output size is too small"),
    (lambda: cypool.max_pool2d(X, 2, data_format="NHWC"), ValueError, "data_format"),
    (lambda: cypool.max_pool2d(X, 2, ceil_mode="yes"), TypeError, "ceil_mode"),
    (lambda: cypool.max_pool2d(np.zeros((1, 1, 0, 4)), 1), ValueError, "non-zero spatial"),
    (lambda: cypool.avg_pool2d(X, 2, divisor_override=0), ValueError, "divisor_override"),
    (lambda: cypool.avg_pool2d(X, 2, divisor_override=1.5), TypeError, "divisor_override"),
    (lambda: cypool.avg_pool3d(np.zeros((1, 1, 2, 8, 8)), 3, padding=1), ValueError,
     "smaller than kernel_size"),
    (lambda: cypool.adaptive_avg_pool2d_backward(np.ones((2, 3, 0, 2), np.float32), (2, 3, 8, 8)),
     ValueError, "grad_output"),
    (lambda: cypool.adaptive_avg_pool2d(X, (2, -1)), ValueError, "output_size"),
    (lambda: cypool.adaptive_max_pool2d(X, "2"), TypeError, "output_size"),
    (lambda: cypool.max_pool2d_backward(Y, IDX, (1, 2, 8, 9)), None, None),  # ok: 9 >= pooled
    (lambda: cypool.max_pool2d_backward(Y, IDX.astype(np.int32), X.shape), TypeError, "int64"),
    (lambda: cypool.max_pool2d_backward(Y, IDX[:, :1], X.shape), ValueError, "indices.shape"),
    (lambda: cypool.max_pool2d_backward(Y, IDX + 64, X.shape), ValueError, "outside [0, 64)"),
    (lambda: cypool.max_pool2d_backward(Y, IDX - 1000, X.shape), ValueError, "outside"),
    (lambda: cypool.max_pool2d_backward(Y.astype(np.int64), IDX, X.shape), TypeError, "grad"),
    (lambda: cypool.max_pool2d_backward(Y, IDX, (1, 3, 8, 8)), ValueError, "input_shape"),
    (lambda: cypool.max_pool2d_backward(Y, IDX, (1, 2, 8)), ValueError, "input_shape"),
    (lambda: cypool.max_pool2d_backward(Y, IDX, "shape"), TypeError, "input_shape"),
    (lambda: cypool.avg_pool2d_backward(Y, (1, 2, 9, 9), 2), None, None),
    (lambda: cypool.avg_pool2d_backward(Y, (1, 2, 7, 7), 2), ValueError, "grad_output.shape"),
    (lambda: cypool.avg_pool2d_backward(Y, (1, 2, 8, 8), 3), ValueError, "grad_output.shape"),
    (lambda: cypool.adaptive_avg_pool2d_backward(Y, (2, 2, 8, 8)), ValueError, "input_shape"),
    (lambda: cypool.max_unpool2d(Y, IDX + 64, 2), ValueError, "outside"),
    (lambda: cypool.max_unpool2d(Y, IDX, 2, output_size=(20, 20)), ValueError, "output_size"),
    (lambda: cypool.max_unpool2d(Y, IDX.astype(float), 2), TypeError, "int64"),
    (lambda: cypool.global_avg_pool2d(X, keepdims="no"), TypeError, "keepdims"),
]


@pytest.mark.parametrize("i", range(len(BAD)))
def test_bad_input(i):
    call, exc, text = BAD[i]
    if exc is None:
        call()
        return
    with pytest.raises(exc) as info:
        call()
    assert text in str(info.value), str(info.value)


def test_errors_leave_no_partial_state():
    layer = cypool.MaxPool2d(2)
    with pytest.raises(ValueError):
        layer(np.zeros((1, 1, 1, 1)))
    with pytest.raises(RuntimeError):
        layer.backward(np.zeros((1, 1, 1, 1)))


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_empty_outputs_as_torch(rank):
    """PyTorch returns empty results (without checking indices) for adaptive output_size 0 and for
    unpooling whose default output plane is empty; so does cypool."""
    x = np.ones((2, 3) + (5,) * rank, np.float32)
    sizes = (0,) + (2,) * (rank - 1)
    assert getattr(cypool, f"adaptive_avg_pool{rank}d")(x, sizes).shape == (2, 3, 0) + (2,) * (rank - 1)
    y, i = getattr(cypool, f"adaptive_max_pool{rank}d")(x, 0, return_indices=True)
    assert y.shape == i.shape == (2, 3) + (0,) * rank
    one = np.ones((1, 1) + (1,) * rank, np.float32)
    u = getattr(cypool, f"max_unpool{rank}d")(one, np.full(one.shape, 7, np.int64), 2, 2, 1)
    assert u.shape == (1, 1) + (0,) * rank
