"""
Max, average, blur and strided convolution on a photograph
==========================================================

Four ways for a network to halve a feature map, applied to a photograph so that their
differences can be seen: 2x2 max pooling, 2x2 average pooling, anti-aliased blur pooling
(a binomial 3x3 blur, then stride 2; Zhang 2019) and a 3x3 convolution with stride 2.

Each is applied three times (512 -> 64 pixels), where aliasing shows most. The convolution's
weights are seeded random numbers, as a network's are before training: what it learns is the
business of training, and ``cypool compare`` measures it on a small CNN.
"""

import matplotlib.pyplot as plt
import numpy as np
from skimage import data

import cypool

# %%
# The photograph: scikit-image's bundled 512 x 512 "camera" image, as a float32
# (N, C, H, W) array with one image and one channel.

img = data.camera().astype(np.float32) / 255.0
x = img[None, None]
print(x.shape, x.dtype)

# %%
# The four operators, each a cypool function on the channels-first array.

rng = np.random.default_rng(0)
weight = (rng.standard_normal((1, 1, 3, 3)) / 3.0).astype(np.float32)

strategies = {
    "max 2x2": lambda a: cypool.max_pool2d(a, 2),
    "average 2x2": lambda a: cypool.avg_pool2d(a, 2),
    "blur, stride 2": lambda a: cypool.blur_pool2d(a, filt_size=3, stride=2),
    "conv 3x3, stride 2": lambda a: cypool.conv2d(a, weight, stride=2, padding=1),
}

results = {}
for name, fn in strategies.items():
    y = x
    for _ in range(3):
        y = fn(y)
    results[name] = y[0, 0]
    print(f"{name:20s} -> {y.shape}")


# %%
# How much of the photograph survives: each result is scaled back to 512 x 512 (each pixel
# repeated 8 x 8), fitted to the photograph by least squares (``a * y + b``, which makes the
# random convolution's arbitrary scale and sign irrelevant) and compared by PSNR.

def psnr_after_upsampling(y, ref):
    up = np.repeat(np.repeat(y, 8, axis=0), 8, axis=1).astype(np.float64)
    design = np.stack([up.ravel(), np.ones(up.size)], axis=1)
    coef, *_ = np.linalg.lstsq(design, ref.ravel().astype(np.float64), rcond=None)
    err = design @ coef - ref.ravel()
    return 10 * np.log10(1.0 / np.mean(err ** 2))


for name, y in results.items():
    print(f"{name:20s} PSNR {psnr_after_upsampling(y, img):5.2f} dB")

# %%
# Side by side: max pooling keeps bright details (and grows them), average pooling and the
# blur keep the image smooth, the untrained convolution is an arbitrary filter.

fig, axes = plt.subplots(1, 5, figsize=(13, 3.2))
axes[0].imshow(img, cmap="gray")
axes[0].set_title("photograph, 512 x 512")
for ax, (name, y) in zip(axes[1:], results.items()):
    ax.imshow(y, cmap="gray", interpolation="nearest")
    ax.set_title(f"{name}\n3 times: 64 x 64")
for ax in axes:
    ax.set_axis_off()
fig.tight_layout()

# %%
# A crop of the tripod and the grass after one halving: max pooling thickens the bright legs and
# keeps the grass's speckle, average pooling and the blur smooth the grass.

crop = (slice(150, 230), slice(90, 170))           # in the once-halved image
fig, axes = plt.subplots(1, 4, figsize=(11, 3))
for ax, (name, fn) in zip(axes, strategies.items()):
    ax.imshow(fn(x)[0, 0][crop], cmap="gray", interpolation="nearest")
    ax.set_title(name)
    ax.set_axis_off()
fig.tight_layout()
plt.show()
