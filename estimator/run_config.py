"""``RunConfig``: where and how often the Estimator saves, logs and runs."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Dict, Mapping, Optional, Union

import torch

from estimator._modules import compile_options
from estimator._precision import autocast_dtype

logger = logging.getLogger("estimator")

_DEFAULT_SECS = 600


class _UseDefault:
    """Marks ``save_checkpoints_secs`` left at its default (so ``*_steps`` may turn it off)."""

    def __repr__(self) -> str:
        return "<default: 600>"


USE_DEFAULT: Any = _UseDefault()


def _positive_or_none(name: str, value: Optional[int], zero_ok: bool = False) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or
                              value < 0 or (value == 0 and not zero_ok)):
        expected = "a number >= 0 (0 turns it off)" if zero_ok else "a positive number"
        raise ValueError(f"RunConfig: {name} should be {expected} or None, got {value!r}")


_SESSION_KEYS = ("intra_op_parallelism_threads", "inter_op_parallelism_threads", "device_count")
_warned_session_keys: set = set()


def _session_settings(session_config: Any) -> Dict[str, Any]:
    """What ``session_config`` (a dict, or an object such as TF's ``ConfigProto``) sets."""
    if session_config is None:
        return {}
    if isinstance(session_config, Mapping):
        fields = dict(session_config)
    elif callable(getattr(session_config, "ListFields", None)):  # a protobuf message
        fields = {f.name: v for f, v in session_config.ListFields()}
    else:
        fields = {k: v for k, v in vars(session_config).items() if not k.startswith("_")}
    ignored = sorted(set(fields) - set(_SESSION_KEYS) - _warned_session_keys)
    if ignored:
        _warned_session_keys.update(ignored)
        logger.warning("RunConfig: session_config %s have no PyTorch equivalent and are "
                       "ignored (used: %s)", ignored, ", ".join(_SESSION_KEYS))
    return {k: fields[k] for k in _SESSION_KEYS if k in fields}


def _check_distribute(name: str, strategy: Any) -> None:
    if strategy is None:
        return
    what = ("a TensorFlow distribution strategy" if type(strategy).__module__.startswith(
        "tensorflow") else f"a {type(strategy).__name__}")
    raise ValueError(
        f"RunConfig: {name} got {what}; here scale-out needs no strategy object: launch the same "
        "program with torchrun (one process per GPU), and the Estimator uses "
        "DistributedDataParallel by itself. Leave train_distribute/eval_distribute None.")


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

    The GPU path: ``mixed_precision`` (``None``, ``"bf16"`` or ``"fp16"``; TF's
    ``"mixed_bfloat16"``/``"mixed_float16"`` too) runs ``model_fn`` under autocast in train
    and evaluate, with dynamic loss scaling for fp16 (see :mod:`estimator._precision`).
    ``compile`` (``True``, a ``torch.compile`` backend name or a dict of its arguments) compiles
    every module of ``est.get_module`` in place, checkpoint names unchanged (see
    :mod:`estimator._modules`). ``channels_last=True`` stores conv kernels channels_last on
    CUDA (ignored elsewhere; off by default, not yet measured).

    TF's other arguments are accepted: ``session_config`` (a dict, or an object with those
    attributes such as TF's ``ConfigProto``) maps ``intra_op_parallelism_threads``,
    ``inter_op_parallelism_threads`` (torch's inter-op threads, set when the Estimator is built)
    and ``device_count={"GPU": 0}`` (the CPU), and warns once about the rest;
    ``save_summary_steps=0`` turns summaries off and ``keep_checkpoint_max`` of 0 or ``None``
    keeps every checkpoint, as in TF; ``keep_checkpoint_every_n_hours`` is validated (``> 0``)
    and, as in TF, keeps one checkpoint per that many hours besides the newest ones;
    ``train_distribute``/``eval_distribute`` must stay ``None`` (scale out with ``torchrun``
    instead, see the README); ``device_fn``, ``protocol`` and the other graph/server settings
    are accepted and unused. Bad values raise ``ValueError`` naming the argument, as in TF.
    ``device`` must exist on this machine (the error lists the devices that do).

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
    mixed_precision: Optional[str] = None
    compile: Any = False
    channels_last: bool = False
    # TF's other arguments (see the class docstring)
    session_config: Any = None
    keep_checkpoint_every_n_hours: float = 10000
    train_distribute: Any = None
    eval_distribute: Any = None
    device_fn: Any = None
    protocol: Any = None
    experimental_distribute: Any = None
    experimental_max_worker_delay_secs: Any = None
    session_creation_timeout_secs: int = 7200
    checkpoint_save_graph_def: bool = True
    inter_op_parallelism_threads: Optional[int] = None
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
        for name in ("save_summary_steps", "save_checkpoints_steps", "save_checkpoints_secs"):
            _positive_or_none(name, getattr(self, name), zero_ok=True)
        _positive_or_none("log_step_count_steps", self.log_step_count_steps)
        keep = self.keep_checkpoint_max
        if keep is not None and (isinstance(keep, bool) or not isinstance(keep, int) or keep < 0):
            raise ValueError(
                f"RunConfig: keep_checkpoint_max should be an int >= 0 (0 or None keeps all), "
                f"got {keep!r}"
            )
        hours = self.keep_checkpoint_every_n_hours
        if hours is not None and (isinstance(hours, bool) or not isinstance(hours, (int, float))
                                  or hours <= 0):
            raise ValueError(f"RunConfig: keep_checkpoint_every_n_hours should be > 0, got "
                             f"{hours!r}")
        seed = self.tf_random_seed
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"RunConfig: tf_random_seed must be integer, got {seed!r}")
        if self.model_dir is not None and not isinstance(self.model_dir, str) and \
                not hasattr(self.model_dir, "__fspath__"):
            raise ValueError(f"RunConfig: model_dir must be a path, got {self.model_dir!r}")
        if self.model_dir is not None and not str(self.model_dir):
            raise ValueError("RunConfig: model_dir should be non-empty")
        _check_distribute("train_distribute", self.train_distribute)
        _check_distribute("eval_distribute", self.eval_distribute)
        if self.device_fn is not None and not callable(self.device_fn):
            raise ValueError(f"RunConfig: device_fn must be callable, got {self.device_fn!r}")
        session = _session_settings(self.session_config)
        for key in ("intra_op_parallelism_threads", "inter_op_parallelism_threads"):
            if getattr(self, key) is None and session.get(key):
                object.__setattr__(self, key, int(session[key]))
        threads = self.intra_op_parallelism_threads
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                    or threads < 1):
            raise ValueError(f"RunConfig: intra_op_parallelism_threads must be an int >= 1 or "
                             f"None, got {threads!r}")
        autocast_dtype(self.mixed_precision)
        compile_options(self.compile)
        if not isinstance(self.channels_last, bool):
            raise ValueError(f"RunConfig: channels_last must be a bool, got {self.channels_last!r}")
        from estimator.distribute._config import as_distribute_config
        as_distribute_config(self.distribute)  # validates
        if self.model_dir is not None:
            object.__setattr__(self, "model_dir", str(self.model_dir))
        inter = self.inter_op_parallelism_threads
        if inter is not None and (isinstance(inter, bool) or not isinstance(inter, int)
                                  or inter < 1):
            raise ValueError(f"RunConfig: inter_op_parallelism_threads must be an int >= 1 or "
                             f"None, got {inter!r}")
        device = self.device
        if device is None:
            gpus = dict(session.get("device_count") or {}).get("GPU")
            device = "cuda" if torch.cuda.is_available() and gpus != 0 else "cpu"
        from estimator._validate import check_device

        object.__setattr__(self, "device", check_device(device))

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
