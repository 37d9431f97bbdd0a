"""How many threads the model's own CPU ops get while an input pipeline runs beside them.

A parallel ``map`` decodes on every core, and torch's intra-op (OpenMP) threads want every core
too. On a shared CPU the two fight: each parallel op waits at a barrier for the thread that lost
its core, and training ran 3x slower on 2 cores than with one intra-op thread (dogs-vs-cats
benchmark, 2.7 vs 8.7 steps/s). So while a pipeline with parallel workers feeds a model on the
CPU, the model gets half the cores (at least one) and the pipeline's parallel stages the rest
(``DatasetIterator.limit_workers``): with one more worker than free cores, a worker preempts a
model thread and every parallel op waits for it (2 cores, dogs-vs-cats on 500x375 JPEGs: 10.3
steps/s with 2 workers beside 1 model thread, 15.2 with 1).

Training then measures the split (steps 3 to 13 of the call): when the input's workers spend
less CPU than :data:`LIGHT_INPUT` of what the training thread spends, the input needs far less
than its cores, and the model gets every core (the example program on its small JPEGs: 14.6 ->
19 steps/s). The measure is a ratio of CPU times, so it does not depend on how busy the
machine is. ``RunConfig(intra_op_parallelism_threads=N)`` fixes the count instead (and nothing
is measured); results can differ in the last bits between thread counts, so runs that must be
bitwise equal from a fresh start set it. The previous setting comes back when the call ends.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Optional, Tuple

import torch

from estimator.hooks import SessionRunHook

logger = logging.getLogger("estimator")

#: the input counts as light when its workers' CPU time is below this share of the model's
LIGHT_INPUT = 0.3
#: the steps of a train call between which the split is measured (buffers fill before)
MEASURE_STEPS = (3, 13)


def _cpu_count() -> int:
    from data.ops._parallel import cpu_count  # only called with a data iterator: data is there

    return cpu_count()


def choose_threads(device: torch.device, configured: Optional[int], batches: Any) -> Optional[int]:
    """The intra-op thread count to use, or ``None`` to leave torch's setting alone."""
    if configured is not None:
        return configured
    if device.type != "cpu":
        return None
    workers = getattr(batches, "cpu_workers", None)
    if not callable(workers) or workers() == 0:
        return None
    return max(1, _cpu_count() // 2)


class ThreadSplit(SessionRunHook):
    """The CPU split of one train/evaluate/predict call: a context manager that applies it and
    a hook (for training) that measures it and gives a light input's cores to the model."""

    def __init__(self, device: torch.device, configured: Optional[int], batches: Any) -> None:
        self._batches = batches
        self._wanted = choose_threads(device, configured, batches)
        self._previous = torch.get_num_threads()
        self._auto = self._wanted is not None and configured is None
        self._measure = (self._wanted is not None and self._auto
                         and self._wanted < _cpu_count()
                         and callable(getattr(batches, "worker_cpu_seconds", None)))
        self._steps = 0
        self._start: Optional[Tuple[float, float]] = None

    def __enter__(self) -> "ThreadSplit":
        wanted = self._wanted
        if wanted is None:
            return self
        limit = getattr(self._batches, "limit_workers", None)
        if self._auto and callable(limit):
            limit(max(1, _cpu_count() - wanted))
        if wanted != self._previous:
            logger.debug("The model's ops use %d intra-op thread(s) instead of %d during this "
                         "call, leaving cores to the input pipeline; "
                         "RunConfig(intra_op_parallelism_threads=N) chooses.", wanted,
                         self._previous)
            torch.set_num_threads(wanted)
        return self

    def __exit__(self, *exc: Any) -> None:
        if torch.get_num_threads() != self._previous:
            torch.set_num_threads(self._previous)

    def after_run(self, run_context: Any, run_values: Any) -> None:
        if not self._measure:
            return
        self._steps += 1
        first, last = MEASURE_STEPS
        if self._steps == first:
            self._start = (time.thread_time(), self._batches.worker_cpu_seconds())
        elif self._steps == last and self._start is not None:
            self._measure = False
            model = time.thread_time() - self._start[0]
            inputs = self._batches.worker_cpu_seconds() - self._start[1]
            self.decide(model, inputs)

    def decide(self, model_cpu_s: float, input_cpu_s: float) -> None:
        """Give the model every core if the input spent less than :data:`LIGHT_INPUT` of the
        model's CPU time over the measured steps."""
        if model_cpu_s > 0 and input_cpu_s < LIGHT_INPUT * model_cpu_s:
            cores = _cpu_count()
            logger.debug("The input pipeline used %.0f%% of the model's CPU time: the model's "
                         "ops now use all %d cores.", 100 * input_cpu_s / model_cpu_s, cores)
            torch.set_num_threads(cores)


def compute_threads(device: torch.device, configured: Optional[int],
                    batches: Any) -> ThreadSplit:
    """The :class:`ThreadSplit` of one train/evaluate/predict call (``with`` it)."""
    return ThreadSplit(device, configured, batches)


def apply_inter_op_threads(threads: Optional[int]) -> None:
    """Set torch's inter-op threads (``RunConfig.inter_op_parallelism_threads``) if it still can."""
    if threads is None or threads == torch.get_num_interop_threads():
        return
    try:
        torch.set_num_interop_threads(threads)
    except RuntimeError as e:  # torch allows it once, before any inter-op work
        logger.warning("RunConfig: inter_op_parallelism_threads=%d could not be applied (%s); "
                       "torch keeps %d", threads, e, torch.get_num_interop_threads())
