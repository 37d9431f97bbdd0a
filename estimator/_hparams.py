"""``params`` and the ``RunConfig`` of a training run, for TensorBoard's HParams tab.

Written once per ``train()`` call into the training events of ``model_dir``, as a session-start
summary of the HParams plugin; the plugin then lists the run with these values beside the
scalars of the run and its ``eval`` folder (``loss``, ``accuracy``, ...), so runs with other
settings can be compared in one table.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any, Dict, Mapping

_SCALARS = (bool, int, float, str)


def hparam_values(params: Mapping[str, Any], config: Any) -> Dict[str, Any]:
    """Flat ``name -> bool | number | str``: params by name, config fields as ``config/<name>``.

    Nested mappings are flattened with ``/``; other values are written as their ``repr``.

    >>> from estimator import RunConfig
    >>> values = hparam_values({"lr": 0.1, "layers": [64, 32]}, RunConfig(tf_random_seed=3))
    >>> values["lr"], values["layers"], values["config/tf_random_seed"]
    (0.1, '[64, 32]', 3)
    """
    values: Dict[str, Any] = {}
    _flatten(params, "", values)
    if dataclasses.is_dataclass(config):
        for field in dataclasses.fields(config):
            value = getattr(config, field.name)
            if field.name != "model_dir" and value is not None:
                values[f"config/{field.name}"] = _scalar(value)
    return values


def write_hparams(writer: Any, params: Mapping[str, Any], config: Any) -> None:
    """Write the session-start summary of :func:`hparam_values` with ``writer``."""
    from tensorboard.plugins.hparams import summary_v2

    trial = os.path.basename(os.path.normpath(getattr(writer, "log_dir", "") or "")) or None
    summary = summary_v2.hparams_pb(hparam_values(params, config), trial_id=trial,
                                    start_time_secs=time.time())
    writer.file_writer.add_summary(summary)


def _flatten(mapping: Mapping[str, Any], prefix: str, out: Dict[str, Any]) -> None:
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            _flatten(value, name + "/", out)
        elif value is not None:
            out[name] = _scalar(value)


def _scalar(value: Any) -> Any:
    if isinstance(value, _SCALARS):
        return value
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return value.item()
    return repr(value) if not hasattr(value, "type") else str(value)
