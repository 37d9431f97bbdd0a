"""How many threads the model's own CPU ops get while an input pipeline runs beside them.

A parallel ``map`` decodes on every core, and torch's intra-op (OpenMP) threads want every core
too. On a shared CPU the two fight: each parallel op waits at a barrier for the thread that lost
its core, and training ran 3x slower on 2 cores than with one intra-op thread (dogs-vs-cats
benchmark, 2.7 vs 8.7 steps/s). So while a pipeline with parallel workers feeds a model on the
CPU, the model gets half the cores (at least one), unless
``RunConfig(intra_op_parallelism_threads=N)`` says otherwise. The previous setting comes back
when the call ends.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any, Iterator, Optional

import torch

logger = logging.getLogger("estimator")


def choose_threads(device: torch.device, configured: Optional[int], batches: Any) -> Optional[int]:
    """The intra-op thread count to use, or ``None`` to leave torch's setting alone."""
    if configured is not None:
        return configured
    if device.type != "cpu":
        return None
    workers = getattr(batches, "cpu_workers", None)
    if not callable(workers) or workers() == 0:
        return None
    from data.ops._parallel import cpu_count  # a data iterator, so the data package is there
    return max(1, cpu_count() // 2)


@contextlib.contextmanager
def compute_threads(device: torch.device, configured: Optional[int],
                    batches: Any) -> Iterator[None]:
    """Apply :func:`choose_threads` for the duration of one train/evaluate/predict call."""
    wanted = choose_threads(device, configured, batches)
    previous = torch.get_num_threads()
    if wanted is None or wanted == previous:
        yield
        return
    logger.debug("The model's ops use %d intra-op thread(s) instead of %d during this call, "
                "leaving cores to the input pipeline; RunConfig(intra_op_parallelism_threads=N) "
                "chooses.", wanted, previous)
    torch.set_num_threads(wanted)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def apply_inter_op_threads(threads: Optional[int]) -> None:
    """Set torch's inter-op threads (``RunConfig.inter_op_parallelism_threads``) if it still can."""
    if threads is None or threads == torch.get_num_interop_threads():
        return
    try:
        torch.set_num_interop_threads(threads)
    except RuntimeError as e:  # torch allows it once, before any inter-op work
        logger.warning("RunConfig: inter_op_parallelism_threads=%d could not be applied (%s); "
                       "torch keeps %d", threads, e, torch.get_num_interop_threads())
