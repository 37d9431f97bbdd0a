"""``RunConfig``: where and how often the Estimator saves, logs and runs."""

from __future__ import annotations

import dataclasses
from typing import Any, Optional, Union

import torch

_DEFAULT_SECS = 600


class _UseDefault:
    """Marks ``save_checkpoints_secs`` left at its default (so ``*_steps`` may turn it off)."""

    def __repr__(self) -> str:
        return "<default: 600>"


USE_DEFAULT: Any = _UseDefault()


def _positive_or_none(name: str, value: Optional[int]) -> None:
    if value is not None and (not isinstance(value, (int, float)) or value <= 0):
        raise ValueError(f"RunConfig: {name} must be a positive number or None, got {value!r}")


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Run settings, with TensorFlow's defaults.

    As in TF, giving ``save_checkpoints_steps`` turns the 600-second default of
    ``save_checkpoints_secs`` off; giving both explicitly is an error. ``device=None`` picks CUDA
    when it is available, else the CPU. ``intra_op_parallelism_threads`` (TF's session-config
    name) sets torch's intra-op threads during each call; ``None`` leaves half the cores to an
    input pipeline with parallel workers when the model also runs on the CPU (see
    ``estimator._threads``), and torch's setting alone otherwise. ``distribute`` says how to run
    under ``torchrun``: ``None`` (detect it), ``False`` (run alone), ``True`` (require it), a
    backend name or an ``est.DistributeConfig`` (see :mod:`estimator.distribute`); on CUDA each
    process then runs on ``cuda:LOCAL_RANK``.

    >>> RunConfig(save_checkpoints_steps=100).save_checkpoints_secs is None
    True
    >>> RunConfig().replace(save_summary_steps=10).save_summary_steps
    10
    """

    model_dir: Optional[str] = None
    tf_random_seed: Optional[int] = None
    save_summary_steps: Optional[int] = 100
    save_checkpoints_steps: Optional[int] = None
    save_checkpoints_secs: Optional[float] = USE_DEFAULT
    keep_checkpoint_max: int = 5
    log_step_count_steps: Optional[int] = 100
    device: Optional[Union[str, torch.device]] = None
    intra_op_parallelism_threads: Optional[int] = None
    distribute: Any = None

    def __post_init__(self) -> None:
        steps, secs = self.save_checkpoints_steps, self.save_checkpoints_secs
        if secs is USE_DEFAULT:
            secs = None if steps is not None else _DEFAULT_SECS
        elif steps is not None and secs is not None:
            raise ValueError(
                "RunConfig: give save_checkpoints_steps or save_checkpoints_secs, not both "
                f"(got steps={steps!r}, secs={secs!r}); set the other to None"
            )
        object.__setattr__(self, "save_checkpoints_secs", secs)
        for name in ("save_summary_steps", "save_checkpoints_steps", "save_checkpoints_secs",
                     "log_step_count_steps"):
            _positive_or_none(name, getattr(self, name))
        if not isinstance(self.keep_checkpoint_max, int) or self.keep_checkpoint_max < 0:
            raise ValueError(
                f"RunConfig: keep_checkpoint_max must be an int >= 0 (0 keeps all), got "
                f"{self.keep_checkpoint_max!r}"
            )
        threads = self.intra_op_parallelism_threads
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                    or threads < 1):
            raise ValueError(f"RunConfig: intra_op_parallelism_threads must be an int >= 1 or "
                             f"None, got {threads!r}")
        from estimator.distribute._config import as_distribute_config
        as_distribute_config(self.distribute)  # validates
        if self.model_dir is not None:
            object.__setattr__(self, "model_dir", str(self.model_dir))
        device = self.device
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        object.__setattr__(self, "device", torch.device(device))

    def replace(self, **changes: Any) -> "RunConfig":
        """A copy with ``changes`` applied (``dataclasses.replace``).

        Setting one of ``save_checkpoints_steps``/``save_checkpoints_secs`` clears the other,
        as TF's ``RunConfig.replace`` does.
        """
        if "save_checkpoints_steps" in changes and "save_checkpoints_secs" not in changes:
            changes["save_checkpoints_secs"] = USE_DEFAULT
        elif "save_checkpoints_secs" in changes and "save_checkpoints_steps" not in changes:
            changes["save_checkpoints_steps"] = None
        return dataclasses.replace(self, **changes)
