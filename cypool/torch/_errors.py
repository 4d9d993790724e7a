"""The bridge's exceptions: each is torch's RuntimeError and the ValueError/TypeError cypool raises.

Code written for torch catches ``RuntimeError`` (or matches torch's wording); code written for
cypool's NumPy API catches ``ValueError``/``TypeError``. An error raised inside ``cypool.torch``
satisfies both: ``PoolingValueError`` derives from ``RuntimeError`` and ``ValueError``,
``PoolingTypeError`` from ``RuntimeError`` and ``TypeError``, ``PoolingNotImplementedError`` (an
unsupported dtype, torch's "not implemented for 'Int'") from ``NotImplementedError`` (itself a
``RuntimeError``) and ``TypeError``.
"""
from __future__ import annotations


class PoolingError(RuntimeError):
    """Base of every error raised by cypool.torch."""


class PoolingValueError(PoolingError, ValueError):
    """A bad argument value or shape (torch: RuntimeError; cypool: ValueError)."""


class PoolingTypeError(PoolingError, TypeError):
    """A bad argument type (torch: TypeError or RuntimeError; cypool: TypeError)."""


class PoolingNotImplementedError(PoolingError, NotImplementedError, TypeError):
    """A dtype the operator does not take (torch: NotImplementedError "... not implemented for
    'Int'"; cypool: TypeError)."""


def _translated(exc: BaseException) -> BaseException | None:
    if isinstance(exc, PoolingError):
        return None
    if isinstance(exc, NotImplementedError):
        return PoolingNotImplementedError(str(exc))
    if isinstance(exc, TypeError):
        return PoolingTypeError(str(exc))
    if isinstance(exc, (ValueError, RuntimeError, IndexError, OverflowError)):
        return PoolingValueError(str(exc))
    return None


class torch_errors:
    """Re-raise torch's and cypool's argument errors as the bridge's classes, same message:
    ``with torch_errors(): ...`` (a class, not a generator-based context manager, which costs more
    than a small pooling call's checks)."""

    __slots__ = ()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc is None or not isinstance(exc, Exception):
            return False
        new = _translated(exc)
        if new is None:
            return False
        raise new from exc
