"""The data `cypool compare` runs single strategies on: synthetic speed tensors, feature maps made
from photographs, and the photographs bundled with scikit-image. All seeded. (The datasets the
trained networks learn are in datasets.py.)"""
from __future__ import annotations

import numpy as np

PHOTOS = ("camera", "astronaut", "coffee", "brick")  # bundled with scikit-image, no download
SPEED_BATCH, SPEED_CHANNELS = 8, 16


def speed_input(size: int, seed: int = 0) -> np.ndarray:
    """(8, 16, size, size) float32 non-negative activations (ReLU of a normal)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((SPEED_BATCH, SPEED_CHANNELS, size, size), dtype=np.float32)
    return np.maximum(x, 0, out=x)


def photo(name: str) -> np.ndarray:
    """A bundled scikit-image photograph as grayscale float32 in [0, 1]."""
    from skimage import color, data
    img = getattr(data, name)()
    if img.ndim == 3:
        img = color.rgb2gray(img[..., :3])
    img = np.asarray(img, np.float64)
    if img.max() > 1:
        img = img / 255.0
    return img.astype(np.float32)


def photos(size: int = 256) -> dict:
    """Centre crops (size x size) of the bundled photographs."""
    out = {}
    for name in PHOTOS:
        img = photo(name)
        h, w = img.shape
        t, l = (h - size) // 2, (w - size) // 2
        out[name] = np.ascontiguousarray(img[t:t + size, l:l + size])
    return out


def feature_maps(size: int = 64, channels: int = 16, seed: int = 0) -> np.ndarray:
    """Realistic first-layer activations: ReLU(conv3x3(photo crops)) with seeded random filters,
    (len(PHOTOS), channels, size, size) float32."""
    from ..downsample import conv2d
    rng = np.random.default_rng(seed)
    crops = np.stack([img[None, :size + 2, :size + 2] for img in photos(size + 2).values()])
    w = (rng.standard_normal((channels, 1, 3, 3)) / 3.0).astype(np.float32)
    return np.maximum(conv2d(crops, w), 0).astype(np.float32)
