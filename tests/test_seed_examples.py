"""The worked examples of the product's source documents (shared/reference/seed-examples.md), literally."""
import numpy as np
import pytest

import cypool


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_keras_max_2x2_stride2(dtype):
    x = np.array([[1, 3, 2, 4], [5, 6, 7, 8], [9, 1, 2, 3], [4, 5, 6, 7]], dtype)
    expected = np.array([[6, 8], [9, 7]], dtype)
    np.testing.assert_array_equal(cypool.max_pool2d(x[None, None], 2, 2)[0, 0], expected)
    # Keras' default layout: (N, H, W, C)
    y = cypool.max_pool2d(x[None, :, :, None], (2, 2), 2, data_format="channels_last")
    np.testing.assert_array_equal(y[0, :, :, 0], expected)


def test_textbook_pool2d_stride1():
    X = np.array([[0, 1, 2], [3, 4, 5], [6, 7, 8]], np.float32)[None, None]
    np.testing.assert_array_equal(cypool.max_pool2d(X, 2, 1)[0, 0], [[4, 5], [7, 8]])
    np.testing.assert_array_equal(cypool.avg_pool2d(X, 2, 1)[0, 0], [[2, 3], [5, 6]])


def test_pytorch_maxpool2d_examples():
    X = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    np.testing.assert_array_equal(cypool.max_pool2d(X, 3), [[[[10]]]])
    np.testing.assert_array_equal(cypool.max_pool2d(X, 3, padding=1, stride=2),
                                  [[[[5, 7], [13, 15]]]])
    np.testing.assert_array_equal(cypool.max_pool2d(X, (2, 4), padding=(1, 2), stride=(2, 3)),
                                  [[[[1, 3], [9, 11], [13, 15]]]])
    layer = cypool.MaxPool2d(3, padding=1, stride=2)
    np.testing.assert_array_equal(layer(X), [[[[5, 7], [13, 15]]]])


def test_multichannel_keeps_channel_count():
    X = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    X2 = np.concatenate([X, X + 1], axis=1)
    y = cypool.max_pool2d(X2, 3, padding=1, stride=2)
    np.testing.assert_array_equal(y, [[[[5, 7], [13, 15]], [[6, 8], [14, 16]]]])
    y_last = cypool.max_pool2d(np.moveaxis(X2, 1, -1), 3, padding=1, stride=2,
                               data_format="channels_last")
    np.testing.assert_array_equal(np.moveaxis(y_last, -1, 1), y)


@pytest.mark.parametrize("size", [28, 27])
def test_keras_cnn_front_end_halves_height_and_width(size, rng):
    # Conv2D(32, (3, 3), activation='relu', padding='same') keeps H and W and gives 32 channels;
    # MaxPooling2D(pool_size=(2, 2), strides=2) halves them (Keras "valid": floor; "same": ceil).
    conv_out = np.maximum(rng.standard_normal((1, size, size, 32)), 0).astype(np.float32)
    y = cypool.max_pool2d(conv_out, (2, 2), 2, data_format="channels_last")
    assert y.shape == (1, size // 2, size // 2, 32)
    y_same = cypool.max_pool2d(conv_out, (2, 2), 2, padding="same", data_format="channels_last")
    assert y_same.shape == (1, -(-size // 2), -(-size // 2), 32)
