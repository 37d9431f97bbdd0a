"""Checks at the Estimator's boundary: its arguments, hooks and metric names, as TF makes them.

Each failure names the argument (or key), what was expected and what came, before any work
starts, instead of an unrelated error deep inside a step.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Callable, Dict, List, Mapping, Optional

from estimator._fn_args import fn_args
from estimator.hooks import SessionRunHook

logger = logging.getLogger("estimator")

VALID_MODEL_FN_ARGS = frozenset({"features", "labels", "mode", "params", "self", "config"})


def _name(fn: Any) -> str:
    return getattr(fn, "__name__", None) or repr(fn)


def check_model_fn(model_fn: Any, params: Any) -> None:
    """TF's ``_verify_model_fn_args``: ``features`` is required, ``params`` given needs a
    ``params`` argument, and no other argument names are allowed."""
    if model_fn is None:
        raise ValueError("model_fn must be provided to Estimator.")
    if not callable(model_fn):
        raise TypeError(f"model_fn must be callable, got {type(model_fn).__name__}")
    args = fn_args(model_fn)
    if "**" in args:  # takes **kwargs: every argument is welcome
        return
    if "features" not in args:
        raise ValueError(f"model_fn ({_name(model_fn)}) must include features argument "
                         f"(it takes {sorted(args)}).")
    if params is not None and "params" not in args:
        raise ValueError(f"model_fn ({_name(model_fn)}) does not include params argument, but "
                         f"params ({params!r}) is passed to Estimator.")
    if params is None and "params" in args:
        logger.warning("Estimator's model_fn (%s) includes params argument, but params are not "
                       "passed to Estimator.", _name(model_fn))
    unexpected = sorted(args - VALID_MODEL_FN_ARGS)
    if unexpected:
        raise ValueError(f"model_fn ({_name(model_fn)}) has following not expected args: "
                         f"{unexpected} (allowed: features, labels, mode, params, config)")


def check_params(params: Any) -> Dict[str, Any]:
    """``params`` must be a mapping (or ``None``); a copy is returned."""
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a dict (or None), got {type(params).__name__}: "
                        f"{params!r}")
    return dict(params)


def check_model_dir(model_dir: Any) -> Optional[str]:
    """``model_dir`` must be a ``str`` or ``os.PathLike`` (or ``None``)."""
    if model_dir is None:
        return None
    if isinstance(model_dir, bytes) or not isinstance(model_dir, (str, os.PathLike)):
        raise TypeError(f"model_dir must be a path (str or os.PathLike) or None, got "
                        f"{type(model_dir).__name__}: {model_dir!r}")
    path = os.fspath(model_dir)
    if not path:
        raise ValueError("model_dir must not be an empty string")
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"model_dir {path!r} exists and is not a directory")
    return path


def hook_list(hooks: Any, arg: str = "hooks") -> List[SessionRunHook]:
    """``hooks`` as a list: ``None``, one hook, or an iterable of hooks."""
    if hooks is None:
        return []
    if isinstance(hooks, SessionRunHook):
        return [hooks]
    if isinstance(hooks, (str, bytes, Mapping)) or not hasattr(hooks, "__iter__"):
        raise TypeError(f"{arg} must be a list of SessionRunHook instances, got "
                        f"{type(hooks).__name__}")
    hooks = list(hooks)
    for i, hook in enumerate(hooks):
        if not isinstance(hook, SessionRunHook):
            raise TypeError(f"Hooks must be a SessionRunHook, given: {hook!r} ({arg}[{i}] is a "
                            f"{type(hook).__name__})")
    return hooks


RESERVED_METRICS = ("loss", "global_step")


def check_metric_names(eval_metric_ops: Optional[Mapping[str, Any]]) -> None:
    """``loss`` and ``global_step`` are the Estimator's own results, as in TF."""
    for name in RESERVED_METRICS:
        if eval_metric_ops and name in eval_metric_ops:
            raise ValueError(f'Metric with name "{name}" is not allowed, because Estimator '
                             "already defines a default metric with the same name.")


def check_device(device: Any) -> Any:
    """A ``torch.device`` that exists on this machine; the error lists those that do."""
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as e:
        raise ValueError(f"RunConfig: device {device!r} is not a device name ({e}); use e.g. "
                         f"'cpu' or 'cuda:0'. {_devices()}") from None
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0 or (dev.index is not None and dev.index >= count):
            raise ValueError(f"RunConfig: device {device!r} does not exist on this machine. "
                             f"{_devices()}")
    elif dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ValueError(f"RunConfig: device {device!r} does not exist on this machine. "
                             f"{_devices()}")
    return dev


def _devices() -> str:
    import torch

    names = ["cpu"]
    if torch.cuda.is_available():
        names += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        names.append("mps")
    return f"Devices here: {', '.join(names)}."


def positive_int(name: str, value: Any) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
        raise ValueError(f"{name} must be a positive int or None, got {value!r}")


