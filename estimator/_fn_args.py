"""Call ``model_fn`` and ``input_fn`` by argument name, as tf.estimator does."""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Dict, FrozenSet


def fn_args(fn: Callable[..., Any]) -> FrozenSet[str]:
    """Names ``fn`` accepts; contains ``"**"`` when it takes ``**kwargs``."""
    if isinstance(fn, functools.partial):
        bound = set(fn.keywords)
        return frozenset(a for a in fn_args(fn.func) if a not in bound)
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError) as e:
        raise TypeError(f"cannot inspect the arguments of {fn!r}: {e}") from e
    names = set()
    for p in params:
        if p.kind is p.VAR_KEYWORD:
            names.add("**")
        elif p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            names.add(p.name)
    return frozenset(names)


def _select(args: FrozenSet[str], available: Dict[str, Any]) -> Dict[str, Any]:
    if "**" in args:
        return dict(available)
    return {k: v for k, v in available.items() if k in args}


def bind_model_fn(model_fn: Callable[..., Any], mode: str, params: Any,
                  config: Any) -> Callable[[Any, Any], Any]:
    """A fast ``call(features, labels)`` for ``model_fn`` in ``mode``.

    ``model_fn`` must take ``features``; it may take ``labels``, ``mode``, ``params`` and
    ``config`` by name, in any order.
    """
    args = fn_args(model_fn)
    if "features" not in args and "**" not in args:
        raise ValueError(
            f"model_fn {getattr(model_fn, '__name__', model_fn)!r} must take an argument named "
            f"'features' (it takes {sorted(args)})"
        )
    fixed = _select(args, {"mode": mode, "params": params, "config": config})
    takes_labels = "labels" in args or "**" in args
    name = getattr(model_fn, "__name__", repr(model_fn))

    def call(features: Any, labels: Any) -> Any:
        if takes_labels:
            return model_fn(features=features, labels=labels, **fixed)
        if labels is not None:
            raise ValueError(
                f"model_fn {name!r} does not take 'labels', but the input yields labels; add a "
                "labels argument or make input_fn yield features only"
            )
        return model_fn(features=features, **fixed)

    return call


def call_input_fn(input_fn: Callable[..., Any], mode: str, params: Any, config: Any,
                  input_context: Any = None) -> Any:
    """Call ``input_fn`` with whichever of ``mode``, ``params``, ``config`` and
    ``input_context`` it names."""
    if not callable(input_fn):
        raise TypeError(f"input_fn must be callable, got {type(input_fn).__name__}")
    args = fn_args(input_fn)
    available = {"mode": mode, "params": params, "config": config}
    if input_context is not None:
        available["input_context"] = input_context
    return input_fn(**_select(args, available))
