"""Pool an on-disk array larger than the memory given to the workers, with cypool.dask.

    python examples/dask_large_memmap.py [--dir /tmp] [--shape 3 16 4096 4096] [--keep]

1. Writes a float32 (N, C, H, W) array to DIR/cypool-input.npy (3 x 16 x 4096 x 4096 = 3.0 GiB by
   default), slab by slab, without holding it in memory.
2. Starts a dask.distributed LocalCluster: 2 worker processes, 1 thread each, memory_limit=1GiB each
   (so the input is 1.5x all the workers' memory together).
3. Reads it lazily in 64 MiB chunks (each task opens the file with np.memmap and copies its chunk),
   max-pools it with cypool.dask.max_pool2d(kernel 3, stride 2, padding 1: overlapping windows
   crossing every chunk boundary) and stores the result into DIR/cypool-output.npy (also a memmap),
   block by block on the workers.
4. Prints the wall time, every worker's peak RSS (VmHWM) and the driver's, and checks a few
   random regions of the output against in-memory cypool on the matching input slab.
"""
from __future__ import annotations

import argparse
import os
import resource
import time

import numpy as np


def peak_rss_mib() -> float:
    """This process's peak resident set (VmHWM). Not getrusage's ru_maxrss: on Linux that keeps
    the peak of the forking parent across fork+exec, so spawned workers would report the
    driver's peak."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss() -> None:
    """Reset VmHWM (Linux >= 4.0), so the driver's figure excludes writing the input."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def read_block(path, block_info=None):
    """One input chunk, copied out of the memory map (the map is dropped before returning)."""
    loc = block_info[None]["array-location"]
    mm = np.load(path, mmap_mode="r")
    block = np.array(mm[tuple(slice(a, b) for a, b in loc)])
    del mm
    return block


class NpyWriter:
    """A da.store target that opens the output .npy memmap in whichever process writes a block
    (pickles as a path, not as data)."""

    def __init__(self, path):
        self.path = path

    def __setitem__(self, index, value):
        mm = np.load(self.path, mmap_mode="r+")
        mm[index] = value
        mm.flush()
        del mm


def write_input(path, shape, seed=0):
    mm = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=shape)
    rng = np.random.default_rng(seed)
    for n in range(shape[0]):
        for c in range(shape[1]):
            mm[n, c] = rng.standard_normal(shape[2:], dtype=np.float32)
    mm.flush()
    del mm


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default="/tmp")
    ap.add_argument("--shape", type=int, nargs=4, default=(3, 16, 4096, 4096))
    ap.add_argument("--chunk", type=int, default=1024, help="spatial chunk edge")
    ap.add_argument("--memory-limit", default="1GiB")
    ap.add_argument("--keep", action="store_true", help="keep the .npy files")
    args = ap.parse_args()

    import dask.array as da
    import distributed

    import cypool
    import cypool.dask

    src = os.path.join(args.dir, "cypool-input.npy")
    dst = os.path.join(args.dir, "cypool-output.npy")
    shape = tuple(args.shape)
    t0 = time.perf_counter()
    write_input(src, shape)
    reset_peak_rss()
    print(f"input  {src}: shape {shape} float32, {os.path.getsize(src) / 2**30:.2f} GiB, "
          f"written in {time.perf_counter() - t0:.1f} s")

    chunks = (1, shape[1], args.chunk, args.chunk)
    x = da.map_blocks(read_block, src, chunks=da.core.normalize_chunks(chunks, shape),
                      dtype=np.float32, meta=np.empty((0, 0, 0, 0), np.float32))
    y = cypool.dask.max_pool2d(x, 3, stride=2, padding=1)
    out = np.lib.format.open_memmap(dst, mode="w+", dtype=np.float32, shape=y.shape)
    del out
    print(f"output {dst}: shape {y.shape}, {np.prod(y.shape) * 4 / 2**30:.2f} GiB; "
          f"{x.npartitions} input chunks of {np.prod(chunks) * 4 / 2**20:.0f} MiB -> "
          f"{y.npartitions} output blocks")

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  memory_limit=args.memory_limit,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        t0 = time.perf_counter()
        da.store(y, NpyWriter(dst), lock=False, compute=True)
        elapsed = time.perf_counter() - t0
        rss = client.run(peak_rss_mib)
    print(f"pooled on 2 workers x 1 thread, memory_limit={args.memory_limit} each: "
          f"{elapsed:.1f} s, {np.prod(shape) * 4 / 2**20 / elapsed:.0f} MiB/s of input")
    for w, r in sorted(rss.items()):
        print(f"  worker {w}: peak RSS {r:.0f} MiB")
    print(f"  driver (after writing the input): peak RSS {peak_rss_mib():.0f} MiB")

    mm_in, mm_out = np.load(src, mmap_mode="r"), np.load(dst, mmap_mode="r")
    rng = np.random.default_rng(1)
    for _ in range(4):   # regions that straddle chunk boundaries
        n, c = int(rng.integers(shape[0])), int(rng.integers(shape[1]))
        h0 = int(rng.integers(1, shape[2] // 2 - 300))
        w0 = int(rng.integers(1, shape[3] // 2 - 300))
        slab = np.array(mm_in[n, c, 2 * h0 - 1:2 * h0 + 600, 2 * w0 - 1:2 * w0 + 600])
        expected = cypool.max_pool2d(slab[None, None], 3, stride=2)[0, 0, :300, :300]
        assert np.array_equal(mm_out[n, c, h0:h0 + 300, w0:w0 + 300], expected)
    print("checked 4 random 300x300 output regions against in-memory cypool: equal")
    if not args.keep:
        os.remove(src)
        os.remove(dst)


if __name__ == "__main__":
    main()
