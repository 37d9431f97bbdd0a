"""What ``python -m estimator inspect MODEL_DIR`` prints: TF's ``inspect_checkpoint``, here.

The checkpoints in a model_dir (step, size, which is the latest), then one checkpoint's
variables with shape and dtype, its optimizers, and a summary of the saved input position.
"""

from __future__ import annotations

import os
from typing import Any, Iterator, List, Optional

import torch

from estimator import checkpoint
from estimator.checkpoint._files import step_of


def describe(target: str, checkpoint_path: Optional[str] = None,
             tensor_name: Optional[str] = None, all_tensors: bool = False) -> str:
    """The report for a model_dir or a checkpoint file ``target``, as text."""
    lines: List[str] = []
    if os.path.isdir(target):
        lines += _list_checkpoints(target)
        path = checkpoint_path or checkpoint.latest_checkpoint(target)
        if path is None:
            raise checkpoint.CheckpointNotFoundError(
                f"no checkpoint in model_dir {target!r}: expected a 'checkpoint' index or "
                "model.ckpt-<step>.pt files there")
    else:
        path = checkpoint_path or target
    payload = checkpoint.load(path)
    lines += ["", f"checkpoint {path}", f"  global_step: {payload['global_step']}"]
    model = payload.get("model") or {}
    if tensor_name is not None:
        if tensor_name not in model:
            raise KeyError(f"no variable {tensor_name!r} in {path}; it holds: "
                           f"{', '.join(sorted(model)) or 'nothing'}")
        lines += [f"  {tensor_name}:", _indent(repr(model[tensor_name]), 4)]
        return "\n".join(lines)
    total = sum(t.numel() for t in model.values() if isinstance(t, torch.Tensor))
    lines.append(f"  variables: {len(model)} ({total:,} values)")
    width = max((len(name) for name in model), default=0)
    for name, value in sorted(model.items()):
        lines.append(f"    {name.ljust(width)}  {_shape(value)}")
        if all_tensors and isinstance(value, torch.Tensor):
            lines.append(_indent(repr(value), 6))
    optimizers = payload.get("optimizers") or {}
    lines.append(f"  optimizers: {', '.join(sorted(optimizers)) or 'none'}")
    for name, state in sorted(optimizers.items()):
        groups = state.get("param_groups", []) if isinstance(state, dict) else []
        settings = {k: v for k, v in (groups[0].items() if groups else ())
                    if k != "params" and isinstance(v, (int, float, bool, str))}
        shown = ", ".join(f"{k}={v}" for k, v in sorted(settings.items()))
        lines.append(f"    {name}: {len(groups)} param group(s){'; ' + shown if shown else ''}")
    input_state = payload.get("input_state")
    if input_state is None:
        lines.append("  input_state: none (the next train() starts its input afresh)")
    else:
        lines.append("  input_state:")
        lines += [f"    {line}" for line in _summarise(input_state)]
    return "\n".join(lines)


def _list_checkpoints(model_dir: str) -> List[str]:
    latest = checkpoint.latest_checkpoint(model_dir)
    files = sorted((step, name) for name in os.listdir(model_dir)
                   if (step := step_of(name)) is not None)
    lines = [f"model_dir {model_dir}: {len(files)} checkpoint(s)"]
    for step, name in files:
        path = os.path.join(model_dir, name)
        mark = "  (latest)" if latest and os.path.samefile(path, latest) else ""
        lines.append(f"  {name}  step {step}  {os.path.getsize(path):,} bytes{mark}")
    return lines


def _shape(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        dtype = str(value.dtype).replace("torch.", "")
        return f"{dtype}{list(value.shape)}"
    return type(value).__name__


def _summarise(state: Any, prefix: str = "", depth: int = 0) -> Iterator[str]:
    """One line per leaf of the iterator state (tensors by shape), nested keys joined by '/'."""
    if isinstance(state, dict) and depth < 12:
        if not state:
            yield f"{prefix or '.'}: {{}}"
        for key, value in state.items():
            yield from _summarise(value, f"{prefix}/{key}" if prefix else str(key), depth + 1)
    elif isinstance(state, (list, tuple)) and len(state) > 8:
        yield f"{prefix}: {type(state).__name__} of {len(state)} items"
    elif isinstance(state, (list, tuple)) and depth < 12:
        for i, value in enumerate(state):
            yield from _summarise(value, f"{prefix}[{i}]", depth + 1)
    elif isinstance(state, torch.Tensor):
        small = state.numel() <= 4
        yield f"{prefix}: {_shape(state)}" + (f" = {state.tolist()}" if small else "")
    else:
        text = repr(state)
        yield f"{prefix}: {text if len(text) <= 60 else text[:57] + '...'}"


def _indent(text: str, spaces: int) -> str:
    return "\n".join(" " * spaces + line for line in text.splitlines())
