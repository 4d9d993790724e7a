"""
Shift consistency of the downsampling strategies
================================================

Pooling is said to make a network robust to small shifts of its input. A downsampler with stride
2 cannot be exactly shift-invariant: moving the input by one pixel moves the output by half a
pixel, and what the output then shows depends on how much the operator aliases. Zhang (2019)
showed that blurring before subsampling makes networks more shift-consistent.

This example measures it on a photograph for every strategy of the registry
(:func:`cypool.strategies.available`), with the measure ``cypool compare`` reports: how much the
output changes, in % of its norm, when the input moves by 1 to 4 pixels, after resampling the
first output by the expected shift.
"""

import matplotlib.pyplot as plt
import numpy as np
from skimage import data

import cypool
import cypool.strategies
from cypool.compare.metrics import shift_change

# %%
# A crop of scikit-image's "astronaut" photograph, as a channels-first float32 batch: one image,
# three colour channels.

img = data.astronaut()[100:356, 150:406].astype(np.float32) / 255.0
x = np.ascontiguousarray(img.transpose(2, 0, 1)[None])
print(x.shape)

# %%
# One pixel of shift, seen through 2x2 max pooling and through blur pooling. The input moves by
# one pixel, so the output should move by half a pixel: the first output, resampled half a pixel
# further (linear interpolation), is compared with the output of the moved input.


def half_pixel_error(fn):
    base = fn(x[..., :-2, :-2])
    moved = fn(x[..., 1:-1, :-2])                 # the input moved down by one pixel
    keep = moved.shape[2] - 2
    expected = 0.5 * (base[:, :, :keep] + base[:, :, 1:keep + 1])
    return np.abs(moved[:, :, :keep] - expected).mean(axis=(0, 1))


err_max = half_pixel_error(lambda a: cypool.max_pool2d(a, 2))
err_blur = half_pixel_error(lambda a: cypool.blur_pool2d(a, filt_size=3, stride=2))

fig, axes = plt.subplots(1, 3, figsize=(11, 4), layout="constrained")
axes[0].imshow(img)
axes[0].set_title("input (256 x 256)")
vmax = float(max(err_max.max(), err_blur.max()))
for ax, err, name in [(axes[1], err_max, "max 2x2"), (axes[2], err_blur, "blur, stride 2")]:
    im = ax.imshow(err, cmap="magma", vmin=0, vmax=vmax)
    ax.set_title(f"{name}: change after a\n1-pixel shift (mean {err.mean():.4f})")
for ax in axes:
    ax.set_axis_off()
fig.colorbar(im, ax=axes[1:], shrink=0.8)

# %%
# Every strategy of the registry, with the measure of ``cypool compare`` (shifts of 1 to 4
# pixels, down and right). The spatial pyramid returns a vector, not a map, and PyTorch's
# references duplicate cypool's own strategies, so both are left out.

registry = cypool.strategies.available()
changes = {}
for name, strategy in registry.items():
    if name == "spp" or name.startswith("torch-"):
        continue
    changes[name] = shift_change(strategy, x)
    print(f"{name:12s} {changes[name]:5.2f} % change")

# %%
# Lower is more shift-consistent. The blur-based strategies (max-blur, blur) change least, the
# averaging ones (average, Lp, stochastic pooling in evaluation mode) next; max pooling sits
# between them and plain subsampling, and the untrained strided convolutions change most.

order = sorted(changes, key=changes.get)
fig, ax = plt.subplots(figsize=(7, 3.6))
ax.barh(order, [changes[n] for n in order], color="tab:blue")
ax.invert_yaxis()
ax.set_xlabel("output change after a 1-4 pixel shift (% of its norm)")
ax.set_title("shift consistency on a photograph (lower is better)")
fig.tight_layout()
plt.show()
