"""Warm start: initialize a new model from another run's variables (TF's WarmStartSettings)."""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Union

import torch

from estimator.checkpoint._format import CheckpointMismatchError, PathLike, few
from estimator.checkpoint._load import load


@dataclasses.dataclass(frozen=True)
class WarmStartSettings:
    """Which checkpoint, and which of its variables, initialize a new model (TF's settings).

    ``vars_to_warm_start`` is a regex, or a list of names/regexes, each matched from the start
    of a variable name (``re.match``, as TF's collection scopes); ``None`` takes only the
    variables in ``var_name_to_prev_var_name`` (new name → name in the checkpoint).
    Parameters and buffers (batch-norm statistics) are both variables here. Names may be
    written as TF paths (``dense_1/kernel``) or state_dict keys (``dense_1.kernel``); a regex
    selects a variable when it matches either spelling.

    >>> WarmStartSettings("/tmp/old_model", vars_to_warm_start="conv2d.*").vars_to_warm_start
    'conv2d.*'
    """

    ckpt_to_initialize_from: PathLike
    vars_to_warm_start: Union[str, Sequence[str], None] = ".*"
    var_name_to_prev_var_name: Optional[Mapping[str, str]] = None

    def __post_init__(self) -> None:
        if not isinstance(self.ckpt_to_initialize_from, (str, os.PathLike)):
            raise TypeError("ckpt_to_initialize_from must be a model_dir or checkpoint path, "
                            f"got {type(self.ckpt_to_initialize_from).__name__}")
        v = self.vars_to_warm_start
        if not (v is None or isinstance(v, str)
                or (isinstance(v, Sequence) and all(isinstance(p, str) for p in v))):
            raise TypeError("vars_to_warm_start must be a regex string, a list of names/regexes "
                            f"or None, got {v!r}")

    def patterns(self) -> List["re.Pattern[str]"]:
        v = self.vars_to_warm_start
        raw = [] if v is None else [v] if isinstance(v, str) else list(v)
        try:
            return [re.compile(p) for p in raw]
        except re.error as e:
            raise ValueError(f"vars_to_warm_start has an invalid regex: {e}") from None


def warm_start_state(warm_start_from: Union[PathLike, WarmStartSettings],
                     current_names: Optional[Iterable[str]] = None) -> Dict[str, torch.Tensor]:
    """Model variables to initialize from another run: ``{state_dict key: tensor}``, never its
    global step or optimizer state.

    ``warm_start_from`` is a model_dir, a checkpoint file or :class:`WarmStartSettings`. With
    ``current_names`` (the live model's names) the result holds exactly the selected live
    names, and a selected name absent from the checkpoint is an error, as in TF.
    """
    settings = (warm_start_from if isinstance(warm_start_from, WarmStartSettings)
                else WarmStartSettings(warm_start_from))
    source = os.fspath(settings.ckpt_to_initialize_from)
    saved = {k: v for k, v in load(source)["model"].items() if isinstance(v, torch.Tensor)}
    patterns = settings.patterns()
    renames = {_key(n): _key(o) for n, o in (settings.var_name_to_prev_var_name or {}).items()}

    def selected(key: str) -> bool:
        path = key.replace(".", "/")
        return key in renames or any(p.match(key) or p.match(path) for p in patterns)

    if current_names is None:
        result = {n: t for n, t in saved.items() if selected(n)}
        for new, old in renames.items():
            if old not in saved:
                raise CheckpointMismatchError(
                    f"var_name_to_prev_var_name maps {new!r} to {old!r}, which checkpoint "
                    f"{source} does not hold; it holds: {few(sorted(saved))}")
            result.pop(old, None)
            result[new] = saved[old]
    else:
        wanted = [n for n in map(_key, current_names) if selected(n)]
        absent = [n for n in wanted if renames.get(n, n) not in saved]
        if absent:
            raise CheckpointMismatchError(
                f"warm start from {source}: variables {few(absent)} match vars_to_warm_start="
                f"{settings.vars_to_warm_start!r} but are not in the checkpoint, which holds: "
                f"{few(sorted(saved))}. Narrow vars_to_warm_start or map names with "
                "var_name_to_prev_var_name.")
        result = {n: saved[renames.get(n, n)] for n in wanted}
    if not result:
        raise ValueError(
            f"warm start from {source}: vars_to_warm_start={settings.vars_to_warm_start!r} "
            f"selects no variable; the checkpoint holds: {few(sorted(saved))}")
    return result


def _key(name: str) -> str:
    """A variable name in the checkpoint's (state_dict) spelling: ``dense_1/kernel`` ->
    ``dense_1.kernel``."""
    return name.replace("/", ".")
