"""Shared test helpers: random window configurations, data-format conversions, subprocesses."""
import os

import numpy as np

import cypool


def python_env_for_subprocess(*extra_paths):
    """Environment under which a child `python` imports the cypool this test process imported
    (an installed package, or an in-place build in the source tree): run the child in a neutral
    directory with this, never with the source tree as its working directory, or a plain source
    tree without compiled kernels would shadow an installed cypool."""
    home = os.path.dirname(os.path.dirname(os.path.abspath(cypool.__file__)))
    paths = [*map(str, extra_paths), home, os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


def saved_under_each(tmp_path, name, text, variable, settings):
    """{setting: the arrays the script saved} of a script (its one argument: the .npz path to
    save to) run in a child process under each setting of an environment variable."""
    import subprocess
    import sys
    script = tmp_path / name
    script.write_text(text)
    results = {}
    for setting in settings:
        env = {**python_env_for_subprocess(), variable: setting}
        out = tmp_path / f"{script.stem}-{setting}.npz"
        p = subprocess.run([sys.executable, str(script), str(out)], cwd=str(tmp_path), env=env,
                           capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stderr
        results[setting] = np.load(out)
    return results


def to_channels_last(x):
    return np.moveaxis(x, 1, -1)


def from_channels_last(x):
    return np.moveaxis(x, -1, 1)


def random_data(rng, shape, dtype=np.float64, special=True):
    """Values with ties (small integers), and sometimes NaN and -inf."""
    kind = rng.integers(4)
    if kind == 0:
        x = rng.integers(-3, 4, size=shape).astype(dtype)
    else:
        x = rng.standard_normal(shape).astype(dtype)
    if special and np.dtype(dtype).kind == "f" and x.size:
        r = rng.random(shape)
        if rng.random() < 0.3:
            x[r < 0.05] = np.nan
        if rng.random() < 0.3:
            x[r > 0.9] = -np.inf
        if rng.random() < 0.1:
            x[...] = -np.inf
    return x


def random_pool_config(rng, rank, dilation=True, max_kernel=4, allow_string=False):
    """A valid (spatial, kernel, stride, padding, dilation, ceil_mode) for rank-d pooling."""
    k = tuple(int(v) for v in rng.integers(1, max_kernel + 1, rank))
    s = tuple(int(v) for v in rng.integers(1, 4, rank))
    d = tuple(int(v) for v in rng.integers(1, 3, rank)) if dilation else (1,) * rank
    p = tuple(int(rng.integers(0, kk // 2 + 1)) for kk in k)
    ceil_mode = bool(rng.integers(2))
    spatial = tuple(int(max(1, dd * (kk - 1) + 1 - 2 * pp) + rng.integers(0, 7))
                    for kk, dd, pp in zip(k, d, p))
    padding = p
    if allow_string and rng.random() < 0.25:
        padding = "same" if rng.random() < 0.5 else "valid"
        ceil_mode = False
        spatial = tuple(max(L, dd * (kk - 1) + 1) for L, kk, dd in zip(spatial, k, d))
    return spatial, k, s, padding, d, ceil_mode


def explicit_padding(spatial, k, s, padding, d):
    """Per-axis (lo, hi) padding of an int tuple or a Keras string."""
    from reference import same_padding
    if padding == "valid":
        return (0,) * len(k), (0,) * len(k)
    if padding == "same":
        lo, hi = zip(*(same_padding(L, kk, ss, dd) for L, kk, ss, dd in zip(spatial, k, s, d)))
        return lo, hi
    return tuple(padding), tuple(padding)


# (input spatial, output spatial) of max backward tiles: tiles 2 wide (2x2/s2; 33 outputs: two
# vectors of 16 and one more), wider, cells past the last tile (9 -> 4), 3-d, 1-d, one tile per
# plane (global), and rows wide enough for channels-last's one pass over both input rows of a
# 2x2 tile row (90 outputs of 37 channels: past 32 KiB of indices and gradient), with a row and
# a column past the tiles, in one depth plane and in two
TILE_CASES = [((8, 8), (4, 4)), ((9, 67), (4, 33)), ((12, 10), (3, 2)), ((5, 6, 7), (2, 3, 3)),
              ((9,), (4,)), ((7, 7), (1, 1)), ((7, 181), (3, 90)), ((2, 7, 181), (2, 3, 90))]


def tile_indices(rng, n, c, spatial, out):
    """(n, c, *out) indices naming, for each output, a random cell of its tile: the cells
    [o * s, o * s + s) along each axis, s = in // out."""
    steps = [i // o for i, o in zip(spatial, out)]
    coords = [rng.integers(0, s, (n, c, *out)) + np.arange(o).reshape(
                  [-1 if a == k else 1 for a in range(len(out))]) * s
              for k, (s, o) in enumerate(zip(steps, out))]
    return np.ravel_multi_index(coords, spatial).astype(np.int64)
