"""The input side of a distributed run: stopping together and per-rank iterator states.

Training steps are synchronous (every rank's gradients are averaged in each step), so every
rank must take the same number of steps. :class:`AgreedBatches` asks all ranks, with one small
all-reduce per step, whether each still has a batch; when any rank's input has ended, every rank
stops before the step, says which ranks ran out, and the batches left on the others are not
used (their inputs count as exhausted in the checkpoint, so the next ``train`` call starts every
rank's input afresh, as on one process).

In a checkpoint the iterator state of every rank is kept under its rank (see
:func:`pack_input_states`); a run resumed with the same number of processes continues each
rank's input exactly, one resumed with another number starts the input afresh and says so.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional

from estimator.distribute._group import Distribution

logger = logging.getLogger("estimator")

_FORMAT = "per_rank"


class AgreedBatches:
    """An input iterator that ends on every rank when it ends on any."""

    def __init__(self, batches: Any, d: Distribution) -> None:
        self._batches, self._d = batches, d
        self._ended = False

    def __iter__(self) -> "AgreedBatches":
        return self

    def __next__(self) -> Any:
        if self._ended:
            raise StopIteration
        try:
            element, have = next(self._batches), 1
        except StopIteration:
            element, have = None, 0
        flags = [0] * self._d.world_size
        flags[self._d.rank] = have
        flags = self._d.flags(flags, "sum")
        if all(flags):
            return element
        self._ended = True
        ended = [r for r, f in enumerate(flags) if not f]
        if len(ended) == len(flags):
            pass  # every input ended at once: the ordinary end of the input
        elif have:
            logger.warning("The input of rank(s) %s ended; every rank stops here so that all take "
                           "the same steps (the batches left on rank %d are not used). Give "
                           "every rank the same number of batches (e.g. repeat() the input) to "
                           "use them all.", ended, self._d.rank)
        else:
            logger.info("The input of rank(s) %s ended; every rank stops.", ended)
        raise StopIteration

    def state_dict(self) -> Dict[str, Any]:
        if self._ended:
            return {"exhausted": True}
        return self._batches.state_dict()

    def __getattr__(self, name: str) -> Any:  # cpu_workers, close, load_state_dict, ...
        return getattr(self.__dict__["_batches"], name)


def pack_input_states(states: List[Any]) -> Dict[str, Any]:
    """Every rank's input state (rank order) as the checkpoint's ``input_state``."""
    return {"format": _FORMAT, "world_size": len(states),
            "ranks": {str(r): s for r, s in enumerate(states)}}


def input_state_for(saved: Any, d: Optional[Distribution]) -> Any:
    """This rank's input state from a checkpoint's ``input_state``, or ``None`` to start afresh.

    Also reads the states of single-process checkpoints and writes why the input restarts.
    """
    per_rank = isinstance(saved, dict) and saved.get("format") == _FORMAT
    world, rank = (1, 0) if d is None else (d.world_size, d.rank)
    if not per_rank:
        if saved is None or world == 1:
            return saved
        _restart_message(1, world)
        return None
    if saved["world_size"] != world:
        _restart_message(saved["world_size"], world)
        return None
    return saved["ranks"].get(str(rank))


def _restart_message(saved: int, now: int) -> None:
    logger.warning("The checkpoint was written by %d process(es) and this run has %d: the input "
                   "positions do not carry over, so the input starts afresh (the model, "
                   "optimizer and global step are restored).", saved, now)
