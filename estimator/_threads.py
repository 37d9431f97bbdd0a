"""How many threads the model's own CPU ops get while an input pipeline runs beside them.

A parallel ``map`` decodes on every core, and torch's intra-op (OpenMP) threads want every core
too. On a shared CPU the two fight: each parallel op waits at a barrier for the thread that lost
its core, and training ran 3x slower on 2 cores than with one intra-op thread (dogs-vs-cats
benchmark, 2.7 vs 8.7 steps/s). So while a pipeline with parallel workers feeds a model on the
CPU, the model gets half the cores (at least one) and the pipeline's parallel stages the rest
(``DatasetIterator.limit_workers``): with one more worker than free cores, a worker preempts a
model thread and every parallel op waits for it (2 cores, dogs-vs-cats on 500x375 JPEGs: 10.3
steps/s with 2 workers beside 1 model thread, 15.2 with 1).

Training then measures the split once per model (global steps 3 to 13): when the input's
workers spend less CPU than :data:`LIGHT_INPUT` of what the training thread spends, the input
needs far less than its cores, and the model gets every core (the example program on its small
JPEGs: 15.5 -> 18-19 steps/s). The measure is a ratio of CPU times, so it does not depend much
on how busy the machine is, and the decision is checkpointed, so a resumed run uses the same
thread count at the same steps as an uninterrupted one (thread counts can change results in
the last bits). ``RunConfig(intra_op_parallelism_threads=N)`` fixes the count instead (nothing
is measured): two fresh runs that must be bitwise equal set it. Evaluation and prediction keep
the half split. The previous setting comes back when the call ends.
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
#: the global steps between which the split is measured, once per model (buffers fill before)
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
    a hook (for training) that measures it once per model, over global steps
    :data:`MEASURE_STEPS`, and gives a light input's cores to the model.

    The decision is kept in the model scope (and its checkpoints): later train calls and
    resumed runs use it from their first step, so the thread count is a function of the global
    step, the same in a resumed run as in an uninterrupted one.
    """

    def __init__(self, device: torch.device, configured: Optional[int], batches: Any,
                 scope: Any = None) -> None:
        self._batches, self._scope = batches, scope
        self._wanted = choose_threads(device, configured, batches)
        self._previous = torch.get_num_threads()
        self._auto = self._wanted is not None and configured is None
        decided = getattr(scope, "model_threads", None)
        if self._auto and decided is not None:
            self._wanted = min(int(decided), _cpu_count())
        self._measure = (self._wanted is not None and self._auto and decided is None
                         and scope is not None and self._wanted < _cpu_count()
                         and callable(getattr(batches, "worker_cpu_seconds", None)))
        self._start: Optional[Tuple[int, float, float]] = None  # (step, model, input CPU)

    def __enter__(self) -> "ThreadSplit":
        wanted = self._wanted
        if wanted is None:
            return self
        limit = getattr(self._batches, "limit_workers", None)
        if self._auto and callable(limit):
            limit(max(1, _cpu_count() - _cpu_count() // 2))
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
        first, last = MEASURE_STEPS
        step = self._scope.global_step
        if self._start is None:
            if step >= first:  # (a call that starts later measures from its first step)
                self._start = (step, time.thread_time(), self._batches.worker_cpu_seconds())
            return
        started = self._start[0]
        # at global step `last`; a model past it without a decision measures as many steps
        if step > started and step >= last and (started < last or step - started >= last - first):
            self._measure = False
            model = time.thread_time() - self._start[1]
            inputs = self._batches.worker_cpu_seconds() - self._start[2]
            self.decide(model, inputs)

    def decide(self, model_cpu_s: float, input_cpu_s: float) -> None:
        """Give the model every core if the input spent less than :data:`LIGHT_INPUT` of the
        model's CPU time over the measured steps; keep the decision in the model scope."""
        threads = torch.get_num_threads()
        if model_cpu_s > 0 and input_cpu_s < LIGHT_INPUT * model_cpu_s:
            threads = _cpu_count()
            logger.debug("The input pipeline used %.0f%% of the model's CPU time: the model's "
                         "ops now use all %d cores.", 100 * input_cpu_s / model_cpu_s, threads)
            torch.set_num_threads(threads)
        if self._scope is not None:
            self._scope.model_threads = threads


def compute_threads(device: torch.device, configured: Optional[int], batches: Any,
                    scope: Any = None) -> ThreadSplit:
    """The :class:`ThreadSplit` of one train/evaluate/predict call (``with`` it); ``scope``
    (the model scope, for training) lets it measure and keep its decision."""
    return ThreadSplit(device, configured, batches, scope)


def apply_inter_op_threads(threads: Optional[int]) -> None:
    """Set torch's inter-op threads (``RunConfig.inter_op_parallelism_threads``) if it still can."""
    if threads is None or threads == torch.get_num_interop_threads():
        return
    try:
        torch.set_num_interop_threads(threads)
    except RuntimeError as e:  # torch allows it once, before any inter-op work
        logger.warning("RunConfig: inter_op_parallelism_threads=%d could not be applied (%s); "
                       "torch keeps %d", threads, e, torch.get_num_interop_threads())
