"""Finding and loading checkpoints: the index first, newest valid file, weights_only."""

from __future__ import annotations

import logging
import os
import warnings
from typing import Any, Dict, List, Mapping, Optional, Tuple

import torch

from estimator.checkpoint._encode import decode
from estimator.checkpoint._files import read_index, resolve, scan, step_of
from estimator.checkpoint._format import (FORMAT_VERSION, KEYS, CheckpointFormatError,
                                    CheckpointNotFoundError, CorruptCheckpointError, PathLike)

logger = logging.getLogger("estimator.checkpoint")


def _candidates(model_dir: str) -> List[str]:
    """Existing checkpoint paths, newest first: the index's, then older files it lost."""
    if not os.path.isdir(model_dir):
        return []
    state = read_index(model_dir)
    names: List[str] = []
    if state is not None:
        names = ([state.latest] if state.latest else []) + list(reversed(state.paths))
        if state.latest and not os.path.exists(resolve(model_dir, state.latest)):
            logger.warning("The checkpoint index in %s names %s, which does not exist; using "
                           "the newest checkpoint file that does.", model_dir, state.latest)
    indexed_steps = [s for s in map(step_of, names) if s is not None]
    newest = max(indexed_steps) if indexed_steps else None
    # A file newer than the index's latest was never committed (killed before the index write).
    names += [n for s, n in reversed(scan(model_dir)) if newest is None or s < newest]
    latest = names[:1]
    # After the latest, newest step first (the index's save order can mix in scanned files).
    rest = sorted(set(names[1:]) - set(latest), key=lambda n: -(step_of(n) or -1))
    paths = [resolve(model_dir, n) for n in latest + rest]
    return [p for p in paths if os.path.isfile(p)]


def latest_checkpoint(model_dir: PathLike) -> Optional[str]:
    """Path of the newest checkpoint in ``model_dir`` (index first), or ``None``.

    Never returns a path that does not exist; does not check that it loads.
    """
    candidates = _candidates(os.fspath(model_dir))
    return candidates[0] if candidates else None


def load(path_or_model_dir: PathLike, map_location: Any = "cpu") -> Dict[str, Any]:
    """Load a checkpoint file, or the newest valid checkpoint of a model_dir.

    For a model_dir, a corrupt newest checkpoint is skipped with a warning naming it and the
    previous valid one is loaded; with none loadable, :class:`CorruptCheckpointError` names the
    directory. For a file, corruption raises at once. ``global_step`` comes back as an int.
    """
    target = os.fspath(path_or_model_dir)
    if os.path.isdir(target):
        return _load_dir(target, map_location)
    if not os.path.exists(target) and os.path.isfile(target + ".pt"):
        target += ".pt"  # TF-style prefix "model_dir/model.ckpt-100"
    if not os.path.exists(target):
        raise CheckpointNotFoundError(f"checkpoint path {target!r} does not exist; pass a "
                                      "model.ckpt-<step>.pt file or a model_dir")
    return _load_file(target, map_location)


def _load_dir(model_dir: str, map_location: Any) -> Dict[str, Any]:
    candidates = _candidates(model_dir)
    if not candidates:
        raise CheckpointNotFoundError(
            f"no checkpoint in model_dir {model_dir!r}: expected a 'checkpoint' index or "
            "model.ckpt-<step>.pt files there")
    bad: List[Tuple[str, str]] = []
    for path in candidates:
        try:
            payload = _load_file(path, map_location)
        except CorruptCheckpointError as e:
            bad.append((path, str(e)))
            continue
        if bad:
            skipped = "; ".join(f"{p} ({reason})" for p, reason in bad)
            warnings.warn(f"Skipped unreadable checkpoint(s) in {model_dir}: {skipped}. "
                          f"Restored the previous valid checkpoint {path} instead.",
                          RuntimeWarning, stacklevel=3)
        logger.info("Restoring parameters from %s", path)
        return payload
    details = "\n".join(f"  {p}: {reason}" for p, reason in bad)
    raise CorruptCheckpointError(
        f"no loadable checkpoint in model_dir {model_dir!r}; every candidate failed:\n{details}\n"
        "Delete the broken files (or the directory) to start over, or restore a backup.")


def _load_file(path: str, map_location: Any) -> Dict[str, Any]:
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises many types for a bad zip/pickle stream
        text = str(e).strip().splitlines()[0].split(". ")[0] if str(e).strip() else ""
        if "weights only load failed" in str(e).lower():
            raise CorruptCheckpointError(
                f"refused to load {path}: it holds objects that would run code when unpickled "
                f"(torch.load(weights_only=True) rejected it: {_weights_only_reason(e)}). "
                "Only files written by estimator.checkpoint.save can be loaded.") from e
        raise CorruptCheckpointError(f"cannot read checkpoint {path}: it is truncated or "
                                     f"corrupt ({type(e).__name__}: {text})") from e
    _validate(obj, path)
    try:
        for key in ("optimizers", "rng", "input_state", "scope"):
            obj[key] = decode(obj[key])
        if not all(isinstance(v, torch.Tensor) for v in obj["model"].values()):
            obj["model"] = type(obj["model"])((k, decode(v)) for k, v in obj["model"].items())
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointFormatError(f"{path}: cannot decode its stored state: {e}") from e
    return obj


def _weights_only_reason(e: Exception) -> str:
    for line in str(e).splitlines():
        if "Unsupported" in line or "global" in line.lower():
            return line.strip()
    return type(e).__name__


def _validate(obj: Any, path: str) -> None:
    if not isinstance(obj, dict) or not isinstance(obj.get("format_version"), int):
        got = sorted(map(str, obj))[:8] if isinstance(obj, dict) else type(obj).__name__
        raise CheckpointFormatError(
            f"{path} is not a checkpoint written by estimator.checkpoint.save: expected a dict "
            f"with an int 'format_version', got {got}")
    version = obj["format_version"]
    if version > FORMAT_VERSION:
        raise CheckpointFormatError(
            f"{path} has format_version {version}, newer than this library reads "
            f"(up to {FORMAT_VERSION}); upgrade the library to load it")
    if version < 1:
        raise CheckpointFormatError(f"{path} has invalid format_version {version}")
    missing = [k for k in KEYS if k not in obj]
    if missing:
        raise CheckpointFormatError(f"{path} lacks the checkpoint key(s) {missing}")
    if not isinstance(obj["model"], Mapping):
        raise CheckpointFormatError(f"{path}: 'model' is a {type(obj['model']).__name__}, "
                                    "expected a state_dict mapping")
