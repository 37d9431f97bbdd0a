"""Finding and loading checkpoints: the index first, newest valid file, weights_only."""

from __future__ import annotations

import logging
import os
import warnings
from typing import Any, Dict, List, Mapping, Optional, Tuple

import torch

from estimator.checkpoint._encode import decode
from estimator.checkpoint._files import (CHECKSUM_SUFFIX, file_sha256, own_index, read_checksum,
                                         read_index, scan, step_of)
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
        state = own_index(model_dir, state)  # entries pointing elsewhere: warned, never loaded
        names = ([state.latest] if state.latest else []) + list(reversed(state.paths))
        if state.latest and not os.path.exists(os.path.join(model_dir, state.latest)):
            logger.warning("The checkpoint index in %s names %s, which does not exist; using "
                           "the newest checkpoint file that does.", model_dir, state.latest)
    indexed_steps = [s for s in map(step_of, names) if s is not None]
    newest = max(indexed_steps) if indexed_steps else None
    # A file newer than the index's latest was never committed (killed before the index write).
    names += [n for s, n in reversed(scan(model_dir)) if newest is None or s < newest]
    latest = names[:1]
    # After the latest, newest step first (the index's save order can mix in scanned files).
    rest = sorted(set(names[1:]) - set(latest), key=lambda n: -(step_of(n) or -1))
    paths = [os.path.join(model_dir, n) for n in latest + rest]
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
    _verify_checksum(path)
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


def _verify_checksum(path: str) -> None:
    expected = read_checksum(path)
    if expected is None:  # written before checksums, or copied without its sidecar
        return
    if not expected:
        raise CorruptCheckpointError(f"cannot verify checkpoint {path}: its checksum file "
                                     f"{path}{CHECKSUM_SUFFIX} is unreadable or malformed")
    try:
        actual = file_sha256(path)
    except OSError as e:
        raise CorruptCheckpointError(f"cannot read checkpoint {path}: {e}") from e
    if actual != expected:
        raise CorruptCheckpointError(
            f"checkpoint {path} is corrupt: its sha256 is {actual}, but {path}{CHECKSUM_SUFFIX} "
            f"recorded {expected} when it was written (bit rot, a partial copy, or an edit)")


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
    _validate_values(obj, path)


def _bad(path: str, key: str, expected: str, value: Any) -> CheckpointFormatError:
    shown = repr(value) if not isinstance(value, torch.Tensor) else \
        f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return CheckpointFormatError(f"checkpoint {path}: key {key} must be {expected}, got "
                                 f"{type(value).__name__} {shown}")


def _validate_values(obj: Dict[str, Any], path: str) -> None:
    """Type and range checks of every top-level entry, so a bad value fails here, naming the
    file and key, not later at save time or deep in a restore."""
    step = obj["global_step"]
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise _bad(path, "'global_step'", "an int >= 0", step)
    model = obj["model"]
    if not isinstance(model, Mapping):
        raise _bad(path, "'model'", "a state_dict mapping", model)
    for name, value in model.items():
        if not isinstance(name, str):
            raise _bad(path, f"'model' key {name!r}", "a str variable name", name)
        if not isinstance(value, torch.Tensor) and not name.endswith("_extra_state"):
            raise _bad(path, f"'model'[{name!r}]", "a tensor", value)
    optimizers = obj["optimizers"]
    if not isinstance(optimizers, Mapping):
        raise _bad(path, "'optimizers'", "a mapping of name to optimizer state_dict", optimizers)
    for name, value in optimizers.items():
        where = f"'optimizers'[{name!r}]"
        if not isinstance(value, Mapping):
            raise _bad(path, where, "an optimizer state_dict", value)
        if not isinstance(value.get("state", {}), Mapping):
            raise _bad(path, f"{where}['state']", "a mapping", value.get("state"))
        groups = value.get("param_groups", [])
        if not isinstance(groups, list) or not all(isinstance(g, Mapping) for g in groups):
            raise _bad(path, f"{where}['param_groups']", "a list of dicts", groups)
    for key in ("input_state", "rng"):
        if obj[key] is not None and not isinstance(obj[key], Mapping):
            raise _bad(path, repr(key), "a dict or None", obj[key])
    if not isinstance(obj["scope"], Mapping):
        raise _bad(path, "'scope'", "a dict", obj["scope"])
    threads = obj["scope"].get("model_threads")
    if threads is not None and (type(threads) is not int or not 1 <= threads <= 4096):
        raise _bad(path, "'scope'['model_threads']", "an int in [1, 4096]", threads)
    _validate_rng(obj["rng"] or {}, path)


def _validate_rng(rng: Mapping[str, Any], path: str) -> None:
    def tensor(key: str, value: Any, dtype: torch.dtype, numel: Optional[int] = None) -> None:
        if not isinstance(value, torch.Tensor) or value.dtype != dtype or \
                (numel is not None and value.numel() != numel):
            size = "" if numel is None else f" of {numel} elements"
            raise _bad(path, key, f"a {dtype} tensor{size}", value)

    if rng.get("torch") is not None:
        tensor("'rng'['torch']", rng["torch"], torch.uint8)
    cuda = rng.get("cuda") or []
    if not isinstance(cuda, (list, tuple)):
        raise _bad(path, "'rng'['cuda']", "a list of uint8 tensors", cuda)
    for i, value in enumerate(cuda):
        tensor(f"'rng'['cuda'][{i}]", value, torch.uint8)
    for key, numel, fields in (("numpy", 624, ("bit_generator", "pos", "has_gauss",
                                                "cached_gaussian")),
                               ("python", 625, ("version", "gauss_next"))):
        part = rng.get(key)
        if part is None:
            continue
        if not isinstance(part, Mapping):
            raise _bad(path, f"'rng'[{key!r}]", "a dict", part)
        missing = [f for f in fields + ("keys" if key == "numpy" else "state",) if f not in part]
        if missing:
            raise CheckpointFormatError(f"checkpoint {path}: key 'rng'[{key!r}] lacks {missing}")
        tensor(f"'rng'[{key!r}][{'keys' if key == 'numpy' else 'state'!r}]",
               part["keys" if key == "numpy" else "state"], torch.int64, numel)
