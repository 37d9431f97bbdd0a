"""A rank that fails makes every rank fail with its error, instead of leaving them waiting.

The failing rank writes its error into the job's key-value store (the rendezvous store that
``torchrun`` runs), then destroys its process groups: the other ranks' pending gloo collectives
fail at once ("connection closed by peer"). Each of them looks the error up in the store and
raises :class:`PeerFailureError` naming the rank and its error. A rank killed outright publishes
nothing: the others fail with the transport's error, and ``torchrun`` stops (or restarts) the
job. With NCCL, waiting collectives end by the process group's ``timeout`` or by ``torchrun``
stopping the job.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any, Iterator, Optional, Tuple

import torch.distributed as dist

from estimator.distribute._group import Distribution, shutdown_after_failure

logger = logging.getLogger("estimator")

_WAIT_FOR_PEER_SECS = 2.0


class PeerFailureError(RuntimeError):
    """Another rank of the job failed; ``rank`` and ``error`` say which and how."""

    def __init__(self, rank: int, world_size: int, error: str) -> None:
        super().__init__(f"rank {rank} of {world_size} failed, so this rank stops too: {error}")
        self.rank, self.error = rank, error


def _key(restart_count: int, rank: int) -> str:
    return f"estimator/failure/{restart_count}/{rank}"


def _store() -> Any:
    try:
        return dist.distributed_c10d._get_default_store()
    except Exception:  # no default group (already destroyed)
        return None


@contextlib.contextmanager
def stop_all_on_error(d: Optional[Distribution]) -> Iterator[None]:
    """Run the body; on an exception make every rank stop with it (see the module doc)."""
    if d is None:
        yield
        return
    store = _store()
    try:
        yield
    except Exception as e:
        peer = _peer_error(d, store, wait=isinstance(e, RuntimeError))
        if peer is not None:
            shutdown_after_failure()
            raise PeerFailureError(peer[0], d.world_size, peer[1]) from e
        message = f"{type(e).__name__}: {e}"
        if store is not None:
            try:
                store.set(_key(d.restart_count, d.rank), message)
            except Exception as publish_error:  # the store may be gone with rank 0
                logger.debug("could not publish the error to the other ranks: %s", publish_error)
        logger.error("rank %d of %d failed (%s); stopping every rank.", d.rank, d.world_size,
                     message)
        shutdown_after_failure()
        raise


def _peer_error(d: Distribution, store: Any, wait: bool) -> Optional[Tuple[int, str]]:
    """The first other rank's published error; with ``wait``, waiting briefly for one.

    A failed collective raises ``RuntimeError``: only then may another rank's error be on its
    way, so only then is it worth waiting.
    """
    if store is None:
        return None
    deadline = time.monotonic() + (_WAIT_FOR_PEER_SECS if wait else 0.0)
    while True:
        for rank in range(d.world_size):
            if rank == d.rank:
                continue
            key = _key(d.restart_count, rank)
            try:
                if store.check([key]):
                    return rank, store.get(key).decode("utf-8", "replace")
            except Exception:  # the store went away: nothing more to learn
                return None
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.05)
