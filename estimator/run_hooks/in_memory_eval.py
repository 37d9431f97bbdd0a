"""Evaluating the model being trained, in memory: no checkpoint reload, no second model.

:func:`evaluate_live` runs ``Estimator.evaluate``'s loop over the live model scope of a
``train`` call. It leaves training exactly as it found it: the training metrics (streaming
metrics created in TRAIN mode keep accumulating), the module's train mode and the random
generators are saved and restored around it, so a run with evaluations draws the same random
numbers as one without. ``train_and_evaluate`` and :class:`InMemoryEvaluatorHook` use it.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any, Callable, Dict, Iterable, Iterator, Optional

import torch

from estimator.hooks import SessionRunContext, SessionRunHook, SessionRunValues
from estimator.run_hooks.timer import SecondOrStepTimer

logger = logging.getLogger("estimator")

__all__ = ["InMemoryEvaluatorHook", "evaluate_live"]


@contextlib.contextmanager
def _set_aside_training_state(scope: Any) -> Iterator[None]:
    metrics, training = scope.metrics, scope.root.training
    summaries, summary_step = list(scope.summaries), scope.summary_step
    scope.metrics = {}  # evaluation's streaming metrics start fresh, as in a new graph
    devices = [scope.device] if scope.device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=devices):
            yield
    finally:
        scope.metrics = metrics
        scope.root.train(training)
        scope.summaries[:], scope.summary_step = summaries, summary_step


def evaluate_live(estimator: Any, scope: Any, input_fn: Callable[..., Any],
                  steps: Optional[int] = None, hooks: Optional[Iterable[SessionRunHook]] = None,
                  name: Optional[str] = None) -> Dict[str, Any]:
    """``estimator.evaluate(input_fn, steps, hooks, name=name)`` over the live ``scope``."""
    with _set_aside_training_state(scope):
        return estimator._evaluate_in(scope, input_fn, steps, hooks, name)


class InMemoryEvaluatorHook(SessionRunHook):
    """Evaluate the model being trained every ``every_n_iter`` steps and when training ends
    (unless it just did), in memory (over the live model, no checkpoint), writing to
    ``estimator.eval_dir(name)``.

    Unlike TF, there is no evaluation before the first step (the model is built by it).

    >>> # model.train(train_input_fn, hooks=[est.InMemoryEvaluatorHook(model, eval_input_fn)])
    """

    def __init__(self, estimator: Any, input_fn: Callable[..., Any], steps: Optional[int] = None,
                 hooks: Optional[Iterable[SessionRunHook]] = None, name: Optional[str] = None,
                 every_n_iter: int = 100) -> None:
        if every_n_iter is None or every_n_iter <= 0:
            raise ValueError(f"invalid every_n_iter={every_n_iter}.")
        self._estimator, self._input_fn, self._steps = estimator, input_fn, steps
        self._hooks, self._name = list(hooks or ()), name
        self._timer = SecondOrStepTimer(every_steps=every_n_iter)
        self._iter_count = 0
        #: the metrics of the latest evaluation
        self.eval_result: Optional[Dict[str, Any]] = None

    def begin(self) -> None:
        self._timer.reset()
        self._iter_count = 0
        self._timer.update_last_triggered_step(0)

    def _evaluate(self, session: Any) -> None:
        self.eval_result = evaluate_live(self._estimator, session.scope, self._input_fn,
                                         self._steps, self._hooks, self._name)
        self._timer.update_last_triggered_step(self._iter_count)

    def after_run(self, run_context: SessionRunContext, run_values: SessionRunValues) -> None:
        self._iter_count += 1
        if self._timer.should_trigger_for_step(self._iter_count):
            self._evaluate(run_context.session)

    def end(self, session: Any) -> None:
        if self._timer.last_triggered_step() != self._iter_count:
            self._evaluate(session)
