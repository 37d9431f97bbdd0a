"""``DistributeConfig``: how an Estimator runs as one process of a ``torchrun`` job."""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

_BACKENDS = ("gloo", "nccl", "mpi", "ucc")


@dataclasses.dataclass(frozen=True)
class DistributeConfig:
    """Settings for running under ``torchrun`` (``RunConfig(distribute=...)``).

    ``RunConfig(distribute=None)`` (the default) runs distributed exactly when ``torchrun`` (or
    any launcher setting ``RANK``/``WORLD_SIZE``/``MASTER_ADDR``/``MASTER_PORT``) started the
    process with ``WORLD_SIZE > 1``; ``False`` ignores that environment and runs alone;
    ``True`` requires it; a backend name (``"gloo"``) or a ``DistributeConfig`` overrides the
    defaults below.

    - ``backend``: ``None`` picks NCCL when the model runs on CUDA, else gloo. Control messages
      (stopping together, gathering iterator states, checkpoints) always go through a gloo group.
    - ``timeout_secs``: how long a collective waits for the other ranks before it fails (the
      process group's ``timeout``); a rank that hangs makes the others fail after this long.
    - ``find_unused_parameters``, ``broadcast_buffers``: passed to
      ``DistributedDataParallel``; set the first when some parameters get no gradient in a step.
    - ``gather_predictions``: ``predict`` on rank 0 yields every rank's predictions (gathered at
      the end, interleaved example by example across ranks) and other ranks yield nothing; by
      default each rank yields the predictions of its own shard.

    >>> DistributeConfig(backend="gloo", timeout_secs=60).timeout_secs
    60
    """

    backend: Optional[str] = None
    timeout_secs: float = 1800.0
    find_unused_parameters: bool = False
    broadcast_buffers: bool = True
    gather_predictions: bool = False
    required: bool = False

    def __post_init__(self) -> None:
        if self.backend is not None and self.backend not in _BACKENDS:
            raise ValueError(f"DistributeConfig: backend must be None or one of {_BACKENDS}, "
                             f"got {self.backend!r}")
        secs = self.timeout_secs
        if isinstance(secs, bool) or not isinstance(secs, (int, float)) or secs <= 0:
            raise ValueError(f"DistributeConfig: timeout_secs must be a positive number, got "
                             f"{secs!r}")
        for name in ("find_unused_parameters", "broadcast_buffers", "gather_predictions",
                     "required"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"DistributeConfig: {name} must be a bool, got "
                                f"{getattr(self, name)!r}")


def as_distribute_config(value: Any) -> Optional[DistributeConfig]:
    """``RunConfig.distribute`` as a ``DistributeConfig``, or ``None`` when it is off."""
    if value is None:
        return DistributeConfig()
    if value is False:
        return None
    if value is True:
        return DistributeConfig(required=True)
    if isinstance(value, str):
        return DistributeConfig(backend=value)
    if isinstance(value, DistributeConfig):
        return value
    raise TypeError(f"RunConfig: distribute must be None, a bool, a backend name or an "
                    f"est.DistributeConfig, got {type(value).__name__}")
