"""Early stopping (``est.experimental.stop_if_*_hook``): training hooks that read the metrics
``evaluate`` wrote to the eval event files, every ``run_every_secs`` seconds or
``run_every_steps`` steps, and request a stop when the rule holds, as TF's do.

Use them with ``train_and_evaluate`` (or any loop that evaluates while training):

>>> # hook = est.experimental.stop_if_no_decrease_hook(model, "loss", 1000, run_every_secs=None,
>>> #                                                  run_every_steps=100)
>>> # est.train_and_evaluate(model, est.TrainSpec(input_fn, hooks=[hook]), eval_spec)
"""

from __future__ import annotations

import logging
import operator
from typing import Any, Callable, Optional

from estimator.eval_events import read_eval_metrics
from estimator.hooks import SessionRunContext, SessionRunHook, SessionRunValues
from estimator.run_hooks.timer import SecondOrStepTimer

logger = logging.getLogger("estimator")

__all__ = ["make_early_stopping_hook", "read_eval_metrics", "stop_if_higher_hook",
           "stop_if_lower_hook", "stop_if_no_decrease_hook", "stop_if_no_increase_hook"]


class _StopOnPredicateHook(SessionRunHook):
    def __init__(self, should_stop_fn: Callable[[], bool], run_every_secs: Optional[float],
                 run_every_steps: Optional[int]) -> None:
        if not callable(should_stop_fn):
            raise TypeError("`should_stop_fn` must be callable.")
        self._should_stop_fn = should_stop_fn
        self._timer = SecondOrStepTimer(every_secs=run_every_secs, every_steps=run_every_steps)

    def begin(self) -> None:
        self._timer.reset()

    def after_run(self, run_context: SessionRunContext, run_values: SessionRunValues) -> None:
        step = run_context.session.global_step
        if self._timer.should_trigger_for_step(step):
            self._timer.update_last_triggered_step(step)
            if self._should_stop_fn():
                logger.info("Requesting early stopping at global step %d", step)
                run_context.request_stop()


def make_early_stopping_hook(estimator: Any, should_stop_fn: Callable[[], bool],
                             run_every_secs: Optional[float] = 60,
                             run_every_steps: Optional[int] = None) -> SessionRunHook:
    """A hook that calls ``should_stop_fn()`` every ``run_every_secs`` seconds or
    ``run_every_steps`` steps and stops training when it returns ``True``."""
    from estimator.estimator import Estimator

    if not isinstance(estimator, Estimator):
        raise TypeError(f"`estimator` must have type `est.Estimator`. Got: {type(estimator)}")
    if run_every_secs is not None and run_every_steps is not None:
        raise ValueError("Only one of `run_every_secs` and `run_every_steps` must be set.")
    return _StopOnPredicateHook(should_stop_fn, run_every_secs, run_every_steps)


def _threshold_hook(estimator: Any, metric_name: str, threshold: float, higher_is_better: bool,
                    eval_dir: Optional[str], min_steps: int, run_every_secs: Optional[float],
                    run_every_steps: Optional[int]) -> SessionRunHook:
    eval_dir = eval_dir if eval_dir is not None else estimator.eval_dir()
    better = operator.gt if higher_is_better else operator.lt
    words = "greater than" if higher_is_better else "less than"

    def should_stop() -> bool:
        for step, metrics in read_eval_metrics(eval_dir).items():
            if step < min_steps:
                continue
            value = _metric(metrics, metric_name, step, eval_dir)
            if better(value, threshold):
                logger.info('At step %s, metric "%s" has value %s which is %s the configured '
                            "threshold (%s) for early stopping.", step, metric_name, value,
                            words, threshold)
                return True
        return False

    return make_early_stopping_hook(estimator, should_stop, run_every_secs, run_every_steps)


def _no_improvement_hook(estimator: Any, metric_name: str, max_steps_without_improvement: int,
                         higher_is_better: bool, eval_dir: Optional[str], min_steps: int,
                         run_every_secs: Optional[float], run_every_steps: Optional[int]
                         ) -> SessionRunHook:
    eval_dir = eval_dir if eval_dir is not None else estimator.eval_dir()
    better = operator.gt if higher_is_better else operator.lt
    word = "increase" if higher_is_better else "decrease"

    def should_stop() -> bool:
        best_value = None
        best_step = 0  # set with best_value at the first step considered
        for step, metrics in read_eval_metrics(eval_dir).items():
            if step < min_steps:
                continue
            value = _metric(metrics, metric_name, step, eval_dir)
            if best_value is None or better(value, best_value):
                best_value, best_step = value, step
            if step - best_step >= max_steps_without_improvement:
                logger.info('No %s in metric "%s" for %s steps, which is greater than or equal '
                            "to max steps (%s) configured for early stopping.", word,
                            metric_name, step - best_step, max_steps_without_improvement)
                return True
        return False

    return make_early_stopping_hook(estimator, should_stop, run_every_secs, run_every_steps)


def _metric(metrics: dict, name: str, step: int, eval_dir: str) -> float:
    if name not in metrics:
        raise KeyError(f"early stopping: metric {name!r} is not in the evaluation at step {step} "
                       f"in {eval_dir}; it has {sorted(metrics)}")
    return metrics[name]


def stop_if_higher_hook(estimator: Any, metric_name: str, threshold: float,
                        eval_dir: Optional[str] = None, min_steps: int = 0,
                        run_every_secs: Optional[float] = 60,
                        run_every_steps: Optional[int] = None) -> SessionRunHook:
    """Stop once an evaluation (at step >= ``min_steps``) has ``metric_name > threshold``."""
    return _threshold_hook(estimator, metric_name, threshold, True, eval_dir, min_steps,
                           run_every_secs, run_every_steps)


def stop_if_lower_hook(estimator: Any, metric_name: str, threshold: float,
                       eval_dir: Optional[str] = None, min_steps: int = 0,
                       run_every_secs: Optional[float] = 60,
                       run_every_steps: Optional[int] = None) -> SessionRunHook:
    """Stop once an evaluation (at step >= ``min_steps``) has ``metric_name < threshold``."""
    return _threshold_hook(estimator, metric_name, threshold, False, eval_dir, min_steps,
                           run_every_secs, run_every_steps)


def stop_if_no_increase_hook(estimator: Any, metric_name: str, max_steps_without_increase: int,
                             eval_dir: Optional[str] = None, min_steps: int = 0,
                             run_every_secs: Optional[float] = 60,
                             run_every_steps: Optional[int] = None) -> SessionRunHook:
    """Stop when ``metric_name`` has not increased for ``max_steps_without_increase`` steps
    of evaluations (counting evaluations at step >= ``min_steps``)."""
    return _no_improvement_hook(estimator, metric_name, max_steps_without_increase, True,
                                eval_dir, min_steps, run_every_secs, run_every_steps)


def stop_if_no_decrease_hook(estimator: Any, metric_name: str, max_steps_without_decrease: int,
                             eval_dir: Optional[str] = None, min_steps: int = 0,
                             run_every_secs: Optional[float] = 60,
                             run_every_steps: Optional[int] = None) -> SessionRunHook:
    """Stop when ``metric_name`` has not decreased for ``max_steps_without_decrease`` steps
    of evaluations (counting evaluations at step >= ``min_steps``)."""
    return _no_improvement_hook(estimator, metric_name, max_steps_without_decrease, False,
                                eval_dir, min_steps, run_every_secs, run_every_steps)
