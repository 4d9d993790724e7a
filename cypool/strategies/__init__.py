"""The strategy registry: every way of downsampling that `cypool compare` and the asv suite run.

    available()          -> {name: Strategy}: built-ins, registered ones, then plugins
    register(strategy)   -> add a Strategy instance for this process

Third parties join through the entry-point group "cypool.strategies" of their own package, e.g. in
pyproject.toml:

    [project.entry-points."cypool.strategies"]
    median2x2 = "my_pkg:median_pool"

The object loaded may be a Strategy instance, a zero-argument factory returning one (a Strategy
subclass counts), or a plain function f(x) -> y on a channels-first float32 (N, C, H, W) array, in
which case the entry point's name becomes the strategy's name. A plugin that fails to load, or
loads something else, is reported with warnings.warn and skipped; built-in names cannot be taken.
"""
from __future__ import annotations

import inspect
import warnings
from importlib import metadata

from ._base import FunctionStrategy, Strategy
from .builtin import builtin_strategies, torch_available

ENTRY_POINT_GROUP = "cypool.strategies"
_registered: dict = {}

__all__ = ["Strategy", "FunctionStrategy", "available", "register", "unregister",
           "ENTRY_POINT_GROUP", "torch_available"]

_INTERFACE = ("name", "description", "forward", "backward", "n_params", "cost")


def register(strategy: Strategy, replace: bool = False) -> Strategy:
    """Add a Strategy instance to the registry of this process (its `name` is the key)."""
    _check_strategy(strategy, "strategy")
    builtin_names = {s.name for s in builtin_strategies()}
    if strategy.name in builtin_names:
        raise ValueError(f"strategy name {strategy.name!r} is a built-in strategy's name")
    if strategy.name in _registered and not replace:
        raise ValueError(f"a strategy named {strategy.name!r} is already registered "
                         f"(pass replace=True to replace it)")
    _registered[strategy.name] = strategy
    return strategy


def unregister(name: str) -> None:
    _registered.pop(name, None)


def _check_strategy(obj, what: str) -> None:
    missing = [a for a in _INTERFACE if not hasattr(obj, a)]
    if missing:
        raise TypeError(f"{what} must be a cypool.strategies.Strategy (missing {missing}), got "
                        f"{type(obj).__name__}")
    if not isinstance(obj.name, str) or not obj.name:
        raise TypeError(f"{what}.name must be a non-empty str, got {obj.name!r}")


def _required_positional(fn) -> int | None:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    return sum(1 for p in sig.parameters.values()
               if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))


def _from_entry_point(ep) -> Strategy:
    obj = ep.load()
    if isinstance(obj, Strategy) or (not callable(obj) and hasattr(obj, "forward")):
        strategy = obj
    elif isinstance(obj, type) and issubclass(obj, Strategy):
        strategy = obj()
    elif callable(obj):
        n_required = _required_positional(obj)
        if n_required == 0:
            strategy = obj()
            if not isinstance(strategy, Strategy):
                raise TypeError(f"factory returned {type(strategy).__name__}, not a Strategy")
        elif n_required == 1:
            strategy = FunctionStrategy(ep.name, obj)
        else:
            raise TypeError(f"{obj!r} takes {n_required} required arguments; expected a "
                            f"zero-argument factory or a function f(x) -> y")
    else:
        raise TypeError(f"loaded {type(obj).__name__}, not a Strategy, factory or function")
    _check_strategy(strategy, f"plugin {ep.name!r}")
    return strategy


def _entry_points():
    eps = metadata.entry_points()
    if hasattr(eps, "select"):
        return list(eps.select(group=ENTRY_POINT_GROUP))
    return list(eps.get(ENTRY_POINT_GROUP, []))  # Python < 3.10


def plugin_strategies(taken=()) -> list:
    """Strategies from the entry-point group; broken plugins are reported and skipped."""
    out, names = [], set(taken)
    for ep in _entry_points():
        try:
            strategy = _from_entry_point(ep)
        except Exception as exc:  # a plugin must never break cypool
            warnings.warn(f"cypool: skipping strategy plugin {ep.name!r} ({ep.value}): "
                          f"{type(exc).__name__}: {exc}", RuntimeWarning, stacklevel=2)
            continue
        if strategy.name in names:
            warnings.warn(f"cypool: skipping strategy plugin {ep.name!r}: the name "
                          f"{strategy.name!r} is already taken", RuntimeWarning, stacklevel=2)
            continue
        names.add(strategy.name)
        out.append(strategy)
    return out


def available(plugins: bool = True) -> dict:
    """{name: Strategy} of every strategy: fresh built-in instances (torch references only when
    torch is importable), strategies added with register(), and entry-point plugins."""
    result = {s.name: s for s in builtin_strategies()}
    for name, s in _registered.items():
        result.setdefault(name, s)
    if plugins:
        for s in plugin_strategies(result):
            result[s.name] = s
    return result
