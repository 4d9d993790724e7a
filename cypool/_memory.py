"""Where big results live: the cache of mapped blocks behind every result of 4 MiB or more.

See pyx/_buffers.pyx for why. The cache's size comes from CYPOOL_OUTPUT_CACHE (bytes, or a number
with K, M or G; 0 turns the cache off) or defaults to 512 MiB, at most an eighth of the memory.
"""
from __future__ import annotations

import os

import numpy as np

from . import _buffers

empty = _buffers.empty


def allocator(nbytes: int):
    """The function that allocates a result of nbytes: np.empty below the cache's threshold,
    the cache's empty from it on (a plan picks it once)."""
    return _buffers.empty if nbytes >= _buffers.BIG_BYTES else np.empty

_DEFAULT_BYTES = 512 << 20
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def _parse_bytes(text: str) -> int:
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    unit = t[-1:] if t[-1:] in _UNITS and t[-1:] != "" else ""
    number = t[:-1] if unit else t
    try:
        value = int(float(number) * _UNITS[unit])
    except ValueError:
        raise ValueError(f"CYPOOL_OUTPUT_CACHE must be a size in bytes such as 0, 268435456 or "
                         f"256M, got {text!r}") from None
    if value < 0:
        raise ValueError(f"CYPOOL_OUTPUT_CACHE must be >= 0, got {text!r}")
    return value


def _default_limit() -> int:
    env = os.environ.get("CYPOOL_OUTPUT_CACHE")
    if env is not None:
        return _parse_bytes(env)
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not every platform names these
        return _DEFAULT_BYTES
    return min(_DEFAULT_BYTES, physical // 8)


def set_output_cache(max_bytes: int) -> int:
    """Set how many bytes of freed big results cypool keeps mapped for reuse.

    Results of 4 MiB or more are written into blocks that return to a cache when the last array
    using them is freed; the next result of the same size reuses a block, so its pages need no
    first-touch faults. This makes repeated calls (a training loop) as fast as passing ``out=``
    and takes the process-to-process swing of page faults out of their time.

    Parameters
    ----------
    max_bytes : int
        The most the cache may hold; 0 turns it off and frees what it holds.

    Returns
    -------
    int
        The previous limit.

    Raises
    ------
    TypeError
        If `max_bytes` is not an int.
    ValueError
        If `max_bytes` is negative.

    Examples
    --------
    >>> import cypool
    >>> old = cypool.set_output_cache(0)        # every result in fresh memory
    >>> cypool.set_output_cache(old)
    0
    """
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int):
        raise TypeError(f"max_bytes must be an int, got {max_bytes!r}")
    if max_bytes < 0:
        raise ValueError(f"max_bytes must be >= 0, got {max_bytes}")
    return _buffers.set_limit(max_bytes)


def output_cache_info() -> dict:
    """The output cache's state.

    Returns
    -------
    dict
        ``held_bytes`` and ``blocks`` (freed results kept for reuse), ``limit_bytes``, ``hits``
        (results that reused a block) and ``misses`` (results in fresh memory).

    Examples
    --------
    >>> import cypool
    >>> sorted(cypool.output_cache_info())
    ['blocks', 'held_bytes', 'hits', 'limit_bytes', 'misses']
    """
    return _buffers.info()


_buffers.set_limit(_default_limit())
