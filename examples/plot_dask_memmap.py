"""
Pooling an array larger than memory with Dask
=============================================

``cypool.dask`` pools a chunked dask array block by block, so the data never has to fit in
memory: here an array stored on disk as a ``np.memmap`` is max-pooled into another memmap, and
the Python heap never holds more than a few chunks.

The array is kept small (64 MiB) so that the example runs in seconds; the mechanism is the same
for arrays of any size (``examples/dask_large_memmap.py`` in the source tree pools 3 GiB on
workers limited to 1 GiB each). Needs ``dask[array]``.
"""

import os
import tempfile
import tracemalloc

import dask
import dask.array as da
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle
from skimage import data, transform

import cypool
import cypool.dask

# %%
# The input: a float32 array of shape (2, 8, 1024, 1024) written to a file with ``np.memmap``,
# one image plane at a time, so it is never in memory as a whole. Every plane is the "camera"
# photograph scaled up, with a different brightness.

folder = tempfile.mkdtemp(prefix="cypool-gallery-")
shape = (2, 8, 1024, 1024)
photo = transform.resize(data.camera(), shape[2:], order=1).astype(np.float32)
src = np.lib.format.open_memmap(os.path.join(folder, "input.npy"), mode="w+",
                                dtype=np.float32, shape=shape)
for n in range(shape[0]):
    for c in range(shape[1]):
        src[n, c] = photo * (1 + 0.1 * c) + n
src.flush()
del src
print(f"input on disk: {os.path.getsize(os.path.join(folder, 'input.npy')) / 2**20:.0f} MiB")

# %%
# Read it lazily: ``dask.array.from_array`` on a read-only memmap, in chunks of one sample,
# 8 channels and 256 x 256 pixels (2 MiB each).

x_disk = np.load(os.path.join(folder, "input.npy"), mmap_mode="r")
x = da.from_array(x_disk, chunks=(1, 8, 256, 256))
print(x)

# %%
# Max pooling, 3 x 3 windows with stride 2 and padding 1: the windows overlap, so every chunk
# boundary is crossed by windows that need cells of the next chunk. ``cypool.dask`` gives each
# output block the input slice its windows read, its chunk plus a thin halo;
# :func:`cypool.dask.block_plan` shows those slices per spatial axis as
# (output start, output stop, input start, input stop).

y = cypool.dask.max_pool2d(x, 3, stride=2, padding=1)
print(y)
for axis, blocks in zip("HW", cypool.dask.block_plan(x, 2, 3, stride=2, padding=1)):
    print(axis, blocks)

# %%
# Compute the result into another memmap on disk, block by block. Dask's threaded scheduler
# runs two blocks at a time, so each cypool call gets one thread (no oversubscription).
# ``tracemalloc`` sees NumPy's allocations: the peak stays at a few chunks, not the 64 MiB of the
# input or the 16 MiB of the output.

out = np.lib.format.open_memmap(os.path.join(folder, "output.npy"), mode="w+",
                                dtype=np.float32, shape=y.shape)
cypool.set_num_threads(1)
tracemalloc.start()
with dask.config.set(scheduler="threads", num_workers=2):
    da.store(y, out, lock=False)
_, peak = tracemalloc.get_traced_memory()
tracemalloc.stop()
cypool.set_num_threads(None)          # back to the default thread count
out.flush()
print(f"output {out.shape}, peak traced memory while pooling: {peak / 2**20:.1f} MiB")

# %%
# The result equals in-memory cypool on the same data, bit for bit: checked here on one sample.

expected = cypool.max_pool2d(np.asarray(x_disk[1:2]), 3, stride=2, padding=1)
print("equal to the in-memory call:", np.array_equal(out[1:2], expected))

# %%
# The input's chunks (left, one channel) and the output's blocks (right): the output is cut where
# the input is cut, each output going with the chunk that holds its window's first cell.

fig, axes = plt.subplots(1, 2, figsize=(10, 5))
axes[0].imshow(x_disk[0, 0], cmap="gray")
axes[0].set_title("input channel: 1024 x 1024, chunks of 256")
axes[1].imshow(out[0, 0], cmap="gray")
axes[1].set_title("max pooled: 512 x 512, one block per chunk")
for ax, chunks in [(axes[0], x.chunks), (axes[1], y.chunks)]:
    top = 0
    for h in chunks[2]:
        left = 0
        for w in chunks[3]:
            ax.add_patch(Rectangle((left - 0.5, top - 0.5), w, h, fill=False, ec="tab:red", lw=1))
            left += w
        top += h
    ax.set_axis_off()
fig.tight_layout()
plt.show()

del x_disk, out
for name in ("input.npy", "output.npy"):
    os.remove(os.path.join(folder, name))
os.rmdir(folder)
