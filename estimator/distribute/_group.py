"""One process's place in a ``torchrun`` job: detection, process groups and small collectives.

``torchrun`` sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``
for each process it starts. :func:`resolve` reads them, initialises the default process group
(NCCL for a CUDA model, gloo otherwise, unless configured) and a gloo group for control messages,
which carry Python objects or flags and must not wait on the accelerator. A process group that
the program initialised itself is used as it is.
"""

from __future__ import annotations

import atexit
import datetime
import logging
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

import torch
import torch.distributed as dist

from estimator.distribute._config import DistributeConfig

logger = logging.getLogger("estimator")

_ENV = ("RANK", "WORLD_SIZE")


@dataclass(frozen=True)
class LaunchEnv:
    """What the launcher told this process."""

    rank: int
    world_size: int
    local_rank: int
    restart_count: int


def launch_env() -> Optional[LaunchEnv]:
    """The launcher's variables, or ``None`` when the process was not started by one."""
    if not all(name in os.environ for name in _ENV):
        return None
    try:
        rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        local = int(os.environ.get("LOCAL_RANK", rank))
        restarts = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))
    except ValueError as e:
        raise ValueError(f"the launcher's environment is malformed ({e}): RANK, WORLD_SIZE and "
                         "LOCAL_RANK must be integers") from None
    if not 0 <= rank < world:
        raise ValueError(f"RANK={rank} is outside [0, WORLD_SIZE={world})")
    return LaunchEnv(rank, world, local, restarts)


class Distribution:
    """The job as one rank sees it: ``rank``, ``world_size``, ``device`` and collectives.

    Collectives on model tensors use the default group; ``flags``, ``broadcast_object`` and
    ``gather_objects`` use the gloo control group and CPU values.
    """

    def __init__(self, env: LaunchEnv, config: DistributeConfig, device: torch.device,
                 control: Any) -> None:
        self.rank, self.world_size = env.rank, env.world_size
        self.local_rank, self.restart_count = env.local_rank, env.restart_count
        self.config, self.device, self.control = config, device, control

    @property
    def is_chief(self) -> bool:
        """Rank 0: the one process that reads and writes ``model_dir``."""
        return self.rank == 0

    def flags(self, values: List[int], op: str = "max") -> List[int]:
        """All-reduce a few small integers (``max``, ``min`` or ``sum``) over the control group."""
        tensor = torch.tensor(values, dtype=torch.int64)
        reduce_op = {"max": dist.ReduceOp.MAX, "min": dist.ReduceOp.MIN,
                     "sum": dist.ReduceOp.SUM}[op]
        dist.all_reduce(tensor, op=reduce_op, group=self.control)
        return tensor.tolist()

    def broadcast_object(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank."""
        box = [obj if self.is_chief else None]
        dist.broadcast_object_list(box, src=0, group=self.control)
        return box[0]

    def gather_objects(self, obj: Any) -> Optional[List[Any]]:
        """Every rank's ``obj`` in rank order on rank 0; ``None`` elsewhere."""
        out: Optional[List[Any]] = [None] * self.world_size if self.is_chief else None
        dist.gather_object(obj, out, dst=0, group=self.control)
        return out

    def barrier(self) -> None:
        dist.barrier(group=self.control)


def resolve(setting: Optional[DistributeConfig], device: torch.device) -> Optional[Distribution]:
    """The :class:`Distribution` of this process, initialising process groups on first use.

    ``None`` when distribution is off, the launcher's variables are absent, or the job has one
    process.
    """
    if setting is None:
        return None
    env = launch_env()
    if env is None:
        if setting.required:
            raise RuntimeError("RunConfig(distribute=True) needs a launcher: run the program "
                               "with torchrun (RANK and WORLD_SIZE are not set)")
        return None
    if env.world_size == 1:
        return None
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", env.local_rank % max(1, torch.cuda.device_count()))
    if device.type == "cuda":
        torch.cuda.set_device(device)
    backend = setting.backend or ("nccl" if device.type == "cuda" else "gloo")
    timeout = datetime.timedelta(seconds=setting.timeout_secs)
    global _control
    if not dist.is_initialized():
        kwargs: Dict[str, Any] = {"device_id": device} if backend == "nccl" else {}
        store = _attempt_store(env, timeout)
        if store is not None:
            kwargs.update(store=store, rank=env.rank, world_size=env.world_size)
        dist.init_process_group(backend, timeout=timeout, **kwargs)
        atexit.register(_shutdown)
        logger.info("Initialised the %s process group: rank %d of %d (local rank %d), device "
                    "%s.", backend, env.rank, env.world_size, env.local_rank, device)
        _control = None
    elif dist.get_world_size() != env.world_size or dist.get_rank() != env.rank:
        raise RuntimeError(f"the initialised process group (rank {dist.get_rank()} of "
                           f"{dist.get_world_size()}) disagrees with RANK={env.rank}, "
                           f"WORLD_SIZE={env.world_size}")
    if _control is None:
        _control = (None if dist.get_backend() == "gloo" else
                    dist.new_group(backend="gloo", timeout=timeout))
    return Distribution(env, setting, device, _control)


_control: Any = None


def _attempt_store(env: LaunchEnv, timeout: datetime.timedelta) -> Any:
    """The launcher's store under a prefix of its own for each torchrun restart, or ``None``.

    torchrun keeps one store for the whole job; without a prefix per attempt, a restarted rank
    can read the address a killed rank published in the previous attempt and fail to connect.
    """
    if "TORCHELASTIC_RESTART_COUNT" not in os.environ or "MASTER_ADDR" not in os.environ:
        return None
    try:
        from torch.distributed.rendezvous import _create_c10d_store
    except ImportError:  # a torch without it: its own rendezvous, unprefixed
        return None
    store = _create_c10d_store(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]),
                               env.rank, env.world_size, timeout)
    run_id = os.environ.get("TORCHELASTIC_RUN_ID", "")
    return dist.PrefixStore(f"estimator/{run_id}/attempt_{env.restart_count}", store)


def _shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def shutdown_after_failure() -> None:
    """Tear the process groups down so that ranks waiting on this one fail at once."""
    global _control
    _control = None
    try:
        _shutdown()
    except Exception as e:  # the group may already be broken; the caller re-raises its error
        logger.debug("destroy_process_group after a failure: %s", e)

