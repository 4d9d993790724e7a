"""The two image-classification datasets `cypool compare` trains networks on. Both are built only
from data bundled with installed packages (nothing is downloaded), are seeded, and leave room to
move the test images:

``digits``    scikit-learn's 1,797 handwritten digits (10 classes). Each 8x8 digit is enlarged to
              16x16 (bilinear) and pasted on a black canvas. The 70/30 split is stratified with
              seed 0 (1,257 train / 540 test digits). A training image is a 32x32 canvas with the
              digit at a uniformly random position (top-left corner in 0..16 on each axis); a test
              image is a 40x40 canvas with the digit's corner in 8..16, so every 32x32 window at
              offsets 0..8 holds the whole digit at a position the training set also covers.
``textures``  five textures cut from scikit-image's bundled images: brick, grass, gravel, moon
              (its cratered surface) and hubble_deep_field (stars and galaxies, grayscale). Each
              image is converted to grayscale, halved (2x2 means: more texture per crop); its top
              70 % of rows gives the training crops, the bottom 30 % the test crops, so no pixel is
              in both. 320 training crops (32x32) and 100 test crops (40x40) per class at seeded
              random positions. Every crop is standardised (mean 0, standard deviation 1): the
              class is in the texture, not in the brightness.

A test image is classified through `view(dy, dx)`: its 32x32 window at offset (dy, dx), 0 <= dy,
dx <= MAX_SHIFT; view(0, 0) against view(dy, dx) is the image moved by (dy, dx) pixels.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SIZE = 32       # input size of the networks
MAX_SHIFT = 8   # test canvases are SIZE + MAX_SHIFT on each side
NAMES = ("digits", "textures")
TEXTURES = ("brick", "grass", "gravel", "moon", "hubble_deep_field")
TEXTURE_TRAIN, TEXTURE_TEST = 320, 100   # crops per class


@dataclass
class ShiftDataset:
    """Training images (N, 1, SIZE, SIZE) and test canvases (M, 1, SIZE + MAX_SHIFT, ...),
    float32, with int64 labels."""
    name: str
    classes: tuple
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    def view(self, dy: int, dx: int, index=None) -> np.ndarray:
        """The SIZE x SIZE window of the test canvases at offset (dy, dx) (all canvases, or those
        at `index`). dy and dx may be arrays of one offset per selected canvas."""
        x = self.x_test if index is None else self.x_test[index]
        dy, dx = np.broadcast_to(dy, len(x)), np.broadcast_to(dx, len(x))
        if np.any((dy < 0) | (dy > MAX_SHIFT) | (dx < 0) | (dx > MAX_SHIFT)):
            raise ValueError(f"offsets must be in 0..{MAX_SHIFT}, got dy={dy}, dx={dx}")
        rows = dy[:, None] + np.arange(SIZE)          # (M, SIZE)
        cols = dx[:, None] + np.arange(SIZE)
        return x[np.arange(len(x))[:, None, None], 0, rows[:, :, None], cols[:, None, :]][:, None]

    def subset(self, n_train: int | None) -> "ShiftDataset":
        """The first n_train training images (a smaller run; the test set is kept)."""
        if n_train is None:
            return self
        return ShiftDataset(self.name, self.classes, self.x_train[:n_train],
                            self.y_train[:n_train], self.x_test, self.y_test)


def _paste(patches: np.ndarray, canvas: int, lo: int, hi: int, rng) -> np.ndarray:
    """Each (h, w) patch pasted on a zero canvas x canvas at a random corner in lo..hi."""
    n, h, w = patches.shape
    out = np.zeros((n, 1, canvas, canvas), np.float32)
    corners = rng.integers(lo, hi + 1, size=(n, 2))
    for i, (r, c) in enumerate(corners):
        out[i, 0, r:r + h, c:c + w] = patches[i]
    return out


def digits(seed: int = 0) -> ShiftDataset:
    """scikit-learn's digits on 32x32 training canvases and 40x40 test canvases (see the module
    docstring). Deterministic for a given seed."""
    from skimage.transform import resize
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    d = load_digits()
    big = np.stack([resize(im / 16.0, (16, 16), order=1, mode="edge", anti_aliasing=False)
                    for im in d.images]).astype(np.float32)
    i_tr, i_te = train_test_split(np.arange(len(big)), test_size=0.3, random_state=seed,
                                  stratify=d.target)
    rng = np.random.default_rng(seed)
    x_tr = _paste(big[i_tr], SIZE, 0, SIZE - 16, rng)
    x_te = _paste(big[i_te], SIZE + MAX_SHIFT, MAX_SHIFT, SIZE - 16, rng)
    return ShiftDataset("digits", tuple(str(i) for i in range(10)), x_tr,
                        d.target[i_tr].astype(np.int64), x_te, d.target[i_te].astype(np.int64))


def _texture_image(name: str) -> np.ndarray:
    """A bundled scikit-image image as grayscale float32, halved by 2x2 means."""
    from skimage import color, data
    img = getattr(data, name)()
    if img.ndim == 3:
        img = color.rgb2gray(img[..., :3])
    img = np.asarray(img, np.float64)
    h, w = img.shape[0] // 2 * 2, img.shape[1] // 2 * 2
    return img[:h, :w].reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3)).astype(np.float32)


def _crops(img: np.ndarray, n: int, size: int, rng) -> np.ndarray:
    h, w = img.shape
    r = rng.integers(0, h - size + 1, n)
    c = rng.integers(0, w - size + 1, n)
    out = np.stack([img[i:i + size, j:j + size] for i, j in zip(r, c)])
    out = out - out.mean(axis=(1, 2), keepdims=True)
    out /= np.maximum(out.std(axis=(1, 2), keepdims=True), 1e-6)
    return out[:, None].astype(np.float32)


def textures(seed: int = 0) -> ShiftDataset:
    """Five bundled scikit-image textures as 32x32 training crops and 40x40 test crops from
    disjoint rows (see the module docstring). Deterministic for a given seed."""
    rng = np.random.default_rng(seed)
    xs_tr, ys_tr, xs_te, ys_te = [], [], [], []
    for label, name in enumerate(TEXTURES):
        img = _texture_image(name)
        split = int(round(0.7 * img.shape[0]))
        xs_tr.append(_crops(img[:split], TEXTURE_TRAIN, SIZE, rng))
        xs_te.append(_crops(img[split:], TEXTURE_TEST, SIZE + MAX_SHIFT, rng))
        ys_tr.append(np.full(TEXTURE_TRAIN, label, np.int64))
        ys_te.append(np.full(TEXTURE_TEST, label, np.int64))
    order = rng.permutation(TEXTURE_TRAIN * len(TEXTURES))  # subset(n) keeps every class
    return ShiftDataset("textures", TEXTURES, np.concatenate(xs_tr)[order],
                        np.concatenate(ys_tr)[order], np.concatenate(xs_te),
                        np.concatenate(ys_te))


def load(name: str, seed: int = 0) -> ShiftDataset:
    """The dataset called `name` (one of NAMES)."""
    if name == "digits":
        return digits(seed)
    if name == "textures":
        return textures(seed)
    raise ValueError(f"dataset must be one of {NAMES}, got {name!r}")
