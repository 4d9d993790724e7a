"""The bridge's exceptions: each is torch's RuntimeError and the ValueError/TypeError cypool raises.

Code written for torch catches ``RuntimeError`` (or matches torch's wording); code written for
cypool's NumPy API catches ``ValueError``/``TypeError``. An error raised inside ``cypool.torch``
satisfies both: ``PoolingValueError`` derives from ``RuntimeError`` and ``ValueError``,
``PoolingTypeError`` from ``RuntimeError`` and ``TypeError``, ``PoolingNotImplementedError`` (an
unsupported dtype, torch's "not implemented for 'Int'") from ``NotImplementedError`` (itself a
``RuntimeError``) and ``TypeError``.
"""
from __future__ import annotations

import contextlib


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


@contextlib.contextmanager
def torch_errors():
    """Re-raise torch's and cypool's argument errors as the bridge's classes, same message."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - only the classes _translated knows are converted
        new = _translated(exc)
        if new is None:
            raise
        raise new from exc
