"""What an Estimator call does differently on one process and on each rank of a job.

:class:`Local` is the single-process behaviour; :class:`Replicas` is the same interface for a
rank of a ``torchrun`` job. The Estimator calls these methods unconditionally, so its own code
reads the same either way.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from typing import Any, Callable, ContextManager, Dict, Iterable, Iterator, List, Optional

from estimator import checkpoint
from estimator.distribute._config import as_distribute_config
from estimator.distribute._context import InputContext
from estimator.distribute._eval import ReducedEvalOps, gathered_predictions
from estimator.distribute._failure import stop_all_on_error
from estimator.distribute._group import Distribution, resolve
from estimator.distribute._input import AgreedBatches, input_state_for, pack_input_states
from estimator.distribute._model import DataParallelTrain, broadcast_new
from estimator.distribute._shard import auto_shard
from estimator._loop import EvalOps
from estimator.summary import LazyWriter

logger = logging.getLogger("estimator")

_RANK_RNG = "rng_by_rank"


class _NullWriter:
    """Stands in for a ``SummaryWriter`` on ranks other than 0."""

    # Any attribute, call or attribute of a result (writer.file_writer.add_summary(...),
    # writer._get_file_writer().add_event(...)) is this writer again, and does nothing.
    def __getattr__(self, name: str) -> "_NullWriter":
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> "_NullWriter":
        return self


class _NullLazyWriter:
    def get(self) -> _NullWriter:
        return _NullWriter()

    def close(self) -> None:
        pass


class Local:
    """One process: every method is the plain single-process behaviour."""

    distribution: Optional[Distribution] = None
    is_chief = True
    distributed = False  # one process: nothing to agree on with other ranks

    def guard(self) -> ContextManager[None]:
        return contextlib.nullcontext()

    def lock(self, model_dir: str) -> ContextManager[Any]:
        return checkpoint.ModelDirLock(model_dir)

    def load(self, load_fn: Callable[[], Optional[Dict[str, Any]]]) -> Optional[Dict[str, Any]]:
        return load_fn()

    def writer(self, logdir: str, **kwargs: Any) -> Any:
        return LazyWriter(logdir, **kwargs)

    def barrier(self) -> None:
        """Wait for every rank."""

    def seed(self, seed: Optional[int]) -> Optional[int]:
        """The seed every rank uses: ``seed``, or one rank 0 drew when it is ``None``."""
        return seed

    def torch_seed(self, seed: int) -> int:
        return seed

    def input_context(self) -> InputContext:
        return InputContext()

    def shard(self, source: Any) -> Any:
        return source

    def input_state(self, payload: Optional[Dict[str, Any]]) -> Any:
        return input_state_for(payload.get("input_state"), None) if payload else None

    def rng_state(self, payload: Optional[Dict[str, Any]]) -> Any:
        return payload.get("rng") if payload else None

    def train_batches(self, batches: Any) -> Any:
        return batches

    def train_call(self, scope: Any, call: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        return call

    def step_agreement(self) -> Optional[Callable[[List[int]], List[int]]]:
        """How training ranks agree on stopping and saving after each step (max-all-reduce)."""
        return None

    def on_create(self) -> Optional[Callable[[Any], None]]:
        return None

    def save_payload(self, payload: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        """The payload rank 0 writes (``None`` on other ranks)."""
        return payload

    def eval_ops(self, *args: Any) -> EvalOps:
        return EvalOps(*args)

    def predictions(self, outputs: Iterable[Any]) -> Iterator[Any]:
        return iter(outputs)


class Replicas(Local):
    """One rank of a job; see :mod:`estimator.distribute`."""

    distribution: Distribution  # always set: a rank belongs to a job

    def __init__(self, d: Distribution) -> None:
        self.distribution = d
        self.is_chief = d.is_chief
        self.distributed = True

    def guard(self) -> ContextManager[None]:
        return stop_all_on_error(self.distribution)

    def lock(self, model_dir: str) -> ContextManager[Any]:
        return super().lock(model_dir) if self.is_chief else contextlib.nullcontext()

    def load(self, load_fn: Callable[[], Optional[Dict[str, Any]]]) -> Optional[Dict[str, Any]]:
        # rank 0 alone reads model_dir: no shared file system is needed and every rank
        # restores the very same checkpoint
        return self.distribution.broadcast_object(load_fn() if self.is_chief else None)

    def writer(self, logdir: str, **kwargs: Any) -> Any:
        return super().writer(logdir, **kwargs) if self.is_chief else _NullLazyWriter()

    def barrier(self) -> None:
        self.distribution.barrier()

    def seed(self, seed: Optional[int]) -> Optional[int]:
        # every rank must draw the same initial values and split shuffled inputs alike
        if seed is not None:  # the same RunConfig on every rank
            return seed
        return self.distribution.broadcast_object(secrets.randbits(62))

    def torch_seed(self, seed: int) -> int:
        return seed + 1_000_003 * self.distribution.rank  # dropout differs from rank to rank

    def input_context(self) -> InputContext:
        d = self.distribution
        return InputContext(d.world_size, d.rank, d.world_size)

    def shard(self, source: Any) -> Any:
        d = self.distribution
        sharded, how = auto_shard(source, d.world_size, d.rank)
        logger.info("Input auto-shard policy %s: rank %d reads shard %d of %d.", how, d.rank,
                    d.rank, d.world_size)
        return sharded

    def input_state(self, payload: Optional[Dict[str, Any]]) -> Any:
        return input_state_for(payload.get("input_state"), self.distribution) if payload else None

    def rng_state(self, payload: Optional[Dict[str, Any]]) -> Any:
        if not payload:
            return None
        by_rank = (payload.get("scope") or {}).get(_RANK_RNG) or {}
        state = by_rank.get(str(self.distribution.rank)) if \
            len(by_rank) == self.distribution.world_size else None
        return state

    def train_batches(self, batches: Any) -> Any:
        return AgreedBatches(batches, self.distribution)

    def train_call(self, scope: Any, call: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        return DataParallelTrain(scope, self.distribution, call)

    def step_agreement(self) -> Optional[Callable[[List[int]], List[int]]]:
        return lambda flags: self.distribution.flags(flags, "max")

    def on_create(self) -> Optional[Callable[[Any], None]]:
        return broadcast_new(self.distribution)

    def save_payload(self, payload: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        mine = {"input_state": payload.get("input_state"), "rng": payload.get("rng")}
        everyone = self.distribution.gather_objects(mine)
        if everyone is None:
            return None
        payload = dict(payload)
        payload["input_state"] = pack_input_states([r["input_state"] for r in everyone])
        scope = dict(payload.get("scope") or {})
        scope[_RANK_RNG] = {str(r): info["rng"] for r, info in enumerate(everyone)}
        payload["scope"] = scope
        return payload

    def eval_ops(self, *args: Any) -> EvalOps:
        return ReducedEvalOps(self.distribution, *args)

    def predictions(self, outputs: Iterable[Any]) -> Iterator[Any]:
        if self.distribution.config.gather_predictions:
            return gathered_predictions(self.distribution, outputs)
        return iter(outputs)


def runtime(config: Any) -> Local:
    """The runtime for ``config`` (its ``distribute`` setting and ``device``)."""
    d = resolve(as_distribute_config(config.distribute), config.device)
    return Local() if d is None else Replicas(d)
