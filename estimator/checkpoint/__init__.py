"""Checkpoints in ``model_dir``: save, find, load, warm start.

A checkpoint is one versioned dict written with ``torch.save`` to ``model.ckpt-<step>.pt`` and
read back with ``torch.load(weights_only=True)``, so loading one can never run code:

======================  ===================================================================
key                     value
======================  ===================================================================
``format_version``      ``int``, :data:`FORMAT_VERSION` (a newer one is refused clearly)
``global_step``         ``int``, the step the state was taken after
``model``               the root module's ``state_dict()``: key → tensor
``optimizers``          name → ``optimizer.state_dict()``
``rng``                 :func:`capture_rng_state` (torch CPU/CUDA, numpy, Python ``random``)
``input_state``         the input iterator's ``state_dict()`` (or ``None``)
``scope``               other scope data (no metric state: metrics restart each evaluation)
======================  ===================================================================

Values in ``input_state``/``scope``/``optimizers`` that ``weights_only`` cannot load, or
stores poorly (``bytes``, numpy arrays and scalars, namedtuples, sets, ``torch.Generator``), are
stored in a tagged form and restored on load (see :mod:`estimator.checkpoint._encode`); anything else
is refused at save time, naming where it sits in the state.

Model variable names are state_dict keys (``dense_1.kernel``); TF-style paths
(``dense_1/kernel``) are the same names with slashes.

Restore in this fixed order: ``model`` → ``optimizers`` → ``global_step`` → ``scope`` →
``input_state`` → ``rng`` last, so nothing done while restoring draws from the restored
generators before the first resumed step does.

Files: each checkpoint, its ``.sha256`` sidecar and then the TF-shaped text index ``checkpoint``
are written atomically (exclusive temp file in the same directory, fsync, ``os.replace``,
directory fsync), the index last, so a process killed at any moment leaves the previous
checkpoint loadable. Only the newest ``keep_max`` are kept, and only files this library wrote
inside ``model_dir`` are ever deleted or loaded from the index. A corrupt latest checkpoint
(unreadable, or its sha256 differs from the sidecar's) is reported with a warning naming it and
the previous valid one is used. Out of space: :class:`DiskFullError` naming the file and bytes.

>>> import tempfile, torch
>>> d = tempfile.mkdtemp()
>>> path = save(d, 10, {"model": {"w": torch.ones(2)}}, keep_max=5)
>>> latest_checkpoint(d) == path
True
>>> load(d)["global_step"]
10
"""

from __future__ import annotations

import logging
import os
from typing import Any, Callable, Dict, Iterable, Mapping, Optional, Tuple

import torch

from estimator.checkpoint._encode import encode
from estimator.checkpoint._files import (atomic_write, checkpoint_name, record_and_prune,
                                         remove_stale_temp_files, write_checksum)
from estimator.checkpoint._format import (FORMAT_VERSION, KEYS, CheckpointError,
                                          CheckpointFormatError, CheckpointMismatchError,
                                          CheckpointNotFoundError, CorruptCheckpointError,
                                          DiskFullError, PathLike, UnsafePathError, few)
from estimator.checkpoint._load import latest_checkpoint, load
from estimator.checkpoint._lock import ModelDirLock, ModelDirLockedError
from estimator.checkpoint._rng import capture_rng_state, restore_rng_state
from estimator.checkpoint._warm_start import WarmStartSettings, warm_start_state

__all__ = [
    "FORMAT_VERSION", "CheckpointError", "CheckpointFormatError", "CheckpointMismatchError",
    "CheckpointNotFoundError", "CorruptCheckpointError", "DiskFullError", "ModelDirLock",
    "ModelDirLockedError", "UnsafePathError", "WarmStartSettings", "capture_rng_state",
    "check_model_names", "latest_checkpoint", "load", "read_variables", "restore_rng_state",
    "save", "warm_start_state",
]

logger = logging.getLogger(__name__)


# -- saving ---------------------------------------------------------------------------------
def save(model_dir: PathLike, global_step: int, payload: Mapping[str, Any],
         keep_max: Optional[int] = None, keep_every_n_hours: Optional[float] = None) -> str:
    """Write ``model_dir/model.ckpt-<global_step>.pt`` atomically, index it, prune; return it.

    ``payload`` holds the keys of the format table (``model`` required; ``format_version`` and
    ``global_step`` are filled in). ``keep_max`` of ``None`` or 0 keeps every checkpoint;
    ``keep_every_n_hours`` also keeps one checkpoint per that many hours (see
    ``record_and_prune``).
    """
    model_dir = os.fspath(model_dir)
    step = _as_step(global_step)
    if keep_max is not None and (isinstance(keep_max, bool) or not isinstance(keep_max, int)
                                 or keep_max < 0):
        raise ValueError(f"keep_max must be None or an int >= 0 (0 keeps all), got {keep_max!r}")
    unknown = sorted(set(payload) - set(KEYS), key=str)
    if unknown:
        raise ValueError(f"checkpoint payload has unknown key(s) {unknown}; expected keys from "
                         f"{list(KEYS)} (put other data under 'scope')")
    if "model" not in payload or not isinstance(payload["model"], Mapping):
        raise ValueError("checkpoint payload needs 'model': the root module's state_dict()")
    if payload.get("format_version", FORMAT_VERSION) != FORMAT_VERSION:
        raise ValueError(f"payload format_version {payload['format_version']!r} differs from "
                         f"this library's FORMAT_VERSION {FORMAT_VERSION}; leave it out")
    if "global_step" in payload and _as_step(payload["global_step"]) != step:
        raise ValueError(f"payload global_step {payload['global_step']!r} differs from the "
                         f"global_step argument {step}")
    record = {
        "format_version": FORMAT_VERSION,
        "global_step": step,
        "model": _encode_model(payload["model"]),
        "optimizers": encode(dict(payload.get("optimizers") or {}), "optimizers"),
        "rng": encode(payload.get("rng"), "rng"),
        "input_state": encode(payload.get("input_state"), "input_state"),
        "scope": encode(dict(payload.get("scope") or {}), "scope"),
    }
    os.makedirs(model_dir, exist_ok=True)
    remove_stale_temp_files(model_dir)
    name = checkpoint_name(step)
    path = os.path.join(model_dir, name)
    atomic_write(path, lambda f: torch.save(record, f), size_hint=lambda: _size_of(record),
                 before_rename=lambda digest: write_checksum(path, digest))
    record_and_prune(model_dir, name, keep_max, keep_every_n_hours)
    logger.info("Saved checkpoint for step %d to %s", step, path)
    return path


def _size_of(value: Any) -> int:
    """Roughly the bytes ``torch.save`` writes for ``value`` (tensor data plus a margin)."""
    seen, total, stack = set(), 4096, [value]
    while stack:
        v = stack.pop()
        if isinstance(v, torch.Tensor):
            storage = v.untyped_storage()
            if storage.data_ptr() not in seen:
                seen.add(storage.data_ptr())
                total += storage.nbytes() + 256
        elif isinstance(v, Mapping):
            stack.extend(v.values())
            total += 16 * len(v)
        elif isinstance(v, (list, tuple)):
            stack.extend(v)
        elif isinstance(v, (str, bytes, bytearray)):
            total += len(v)
        else:
            total += 16
    return total


def _as_step(value: Any) -> int:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"global_step must be an int >= 0, got {value!r}")
    return int(value)


def _encode_model(model: Mapping[str, Any]) -> Mapping[str, Any]:
    # Tensors stay as they are (a state_dict loads under weights_only, with its metadata);
    # only extra state objects need checking.
    if all(isinstance(v, torch.Tensor) for v in model.values()):
        return model
    # The model's own mapping type (an OrderedDict state_dict), built from its items.
    same_type: Callable[[Iterable[Tuple[str, Any]]], Mapping[str, Any]] = type(model)
    return same_type((k, v if isinstance(v, torch.Tensor) else encode(v, f"model[{k!r}]"))
                     for k, v in model.items())


def read_variables(path_or_model_dir: PathLike) -> Dict[str, torch.Tensor]:
    """Model variables by name, plus ``global_step`` (as in TF's checkpoint variable list)."""
    payload = load(path_or_model_dir)
    variables = {k: v for k, v in payload["model"].items() if isinstance(v, torch.Tensor)}
    variables.setdefault("global_step", torch.tensor(payload["global_step"], dtype=torch.int64))
    return variables


# -- matching models ------------------------------------------------------------------------
def check_model_names(saved: Iterable[str], live: Iterable[str],
                      checkpoint: Optional[str] = None) -> None:
    """Raise :class:`CheckpointMismatchError` listing missing and unexpected names.

    ``saved``/``live`` are names or state dicts; when both are state dicts of tensors, shapes
    are compared too.
    """
    saved_list, live_list = list(saved), list(live)
    saved_set, live_set = set(saved_list), set(live_list)
    missing = [n for n in live_list if n not in saved_set]
    unexpected = [n for n in saved_list if n not in live_set]
    shapes = []
    if isinstance(saved, Mapping) and isinstance(live, Mapping):
        for name in live_list:
            a, b = saved.get(name), live[name]
            if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.shape != b.shape:
                shapes.append(f"{name}: checkpoint {tuple(a.shape)} vs model {tuple(b.shape)}")
    if not (missing or unexpected or shapes):
        return
    where = f"checkpoint {checkpoint}" if checkpoint else "the checkpoint"
    lines = [f"{where} does not match the model (written by a different model, or model_fn "
             "changed):"]
    if missing:
        lines.append(f"  missing from the checkpoint (in the model, not saved): {few(missing)}")
    if unexpected:
        lines.append(f"  unexpected in the checkpoint (saved, not in the model): "
                     f"{few(unexpected)}")
    if shapes:
        lines.append(f"  shape mismatch: {few(shapes)}")
    lines.append("Use a fresh model_dir for a different model, or warm_start_from="
                 "WarmStartSettings(..., vars_to_warm_start=...) to take only matching variables.")
    raise CheckpointMismatchError("\n".join(lines))
