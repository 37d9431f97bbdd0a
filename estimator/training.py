"""``TrainSpec``, ``EvalSpec`` and ``train_and_evaluate``, with TF's local semantics.

``train_and_evaluate(estimator, train_spec, eval_spec)`` calls ``estimator.train`` once, up to
``train_spec.max_steps``, with a saving listener that evaluates after a checkpoint is saved when
``eval_spec.throttle_secs`` have passed since the last evaluation (the first save always
evaluates), and evaluates once more at the end if the last checkpoint was not evaluated. After
each evaluation the ``eval_spec.exporters`` run, exporting to ``model_dir/export/<name>/``.
Metrics are written to ``model_dir/eval`` (``eval_<name>``) as by ``evaluate``.

Where TF rebuilds the evaluation graph and reloads the checkpoint at every evaluation, the
evaluation here runs in the same process over the live model (see
:mod:`estimator.run_hooks.in_memory_eval`): its results equal ``evaluate`` on the checkpoint
just saved.
Evaluations follow checkpoints, so ``RunConfig.save_checkpoints_steps``/``_secs`` sets the
cadence (TF's default: every 600 seconds). ``start_delay_secs`` only matters to a separate
evaluator process, which does not exist here (TF ignores it locally too).
"""

from __future__ import annotations

import collections
import logging
import os
from typing import Any, Callable, Dict, List, Optional, Tuple

from estimator.run_hooks.saver import CheckpointSaverListener, SavingSession, _check_listeners
from estimator.hooks import SessionRunHook
from estimator.run_hooks.in_memory_eval import evaluate_live
from estimator.run_hooks.timer import SecondOrStepTimer

logger = logging.getLogger("estimator")

__all__ = ["EvalSpec", "TrainSpec", "train_and_evaluate"]


def _check_input_fn(input_fn: Any) -> None:
    if not callable(input_fn):
        raise TypeError(f"`input_fn` must be callable, given: {input_fn!r}")


def _check_hooks(hooks: Any) -> Tuple[SessionRunHook, ...]:
    hooks = tuple(hooks or ())
    for hook in hooks:
        if not isinstance(hook, SessionRunHook):
            raise TypeError(f"All hooks must be SessionRunHook instances, given: {hook!r}")
    return hooks


def _check_exporters(exporters: Any) -> Tuple[Any, ...]:
    from estimator.exporter import Exporter

    if not exporters:
        return ()
    if isinstance(exporters, Exporter):
        exporters = [exporters]
    exporters = tuple(exporters)
    names: List[str] = []
    for exporter in exporters:
        if not isinstance(exporter, Exporter):
            raise TypeError(f"`exporters` must be an Exporter, an iterable of Exporter, or "
                            f"`None`, found {exporter!r}.")
        if not exporter.name or not isinstance(exporter.name, str):
            raise ValueError("An Exporter must have a non-empty string name. All exporter "
                             f"names: {[e.name for e in exporters]}")
        if exporter.name in names:
            raise ValueError("`exporters` must have unique names. All exporter names: "
                             f"{[e.name for e in exporters]}")
        names.append(exporter.name)
    return exporters


class TrainSpec(collections.namedtuple("TrainSpec",
                                       ["input_fn", "max_steps", "hooks", "saving_listeners"])):
    """The training part of :func:`train_and_evaluate`: input, how long, hooks and listeners.

    >>> TrainSpec(input_fn=lambda: [], max_steps=100).max_steps
    100
    """

    def __new__(cls, input_fn: Callable[..., Any], max_steps: Optional[int] = None,
                hooks: Any = None, saving_listeners: Any = None) -> "TrainSpec":
        _check_input_fn(input_fn)
        if max_steps is not None and max_steps <= 0:
            raise ValueError(f"Must specify max_steps > 0, given: {max_steps}")
        return super().__new__(cls, input_fn=input_fn, max_steps=max_steps,
                               hooks=_check_hooks(hooks),
                               saving_listeners=tuple(_check_listeners(saving_listeners)))


class EvalSpec(collections.namedtuple("EvalSpec", ["input_fn", "steps", "name", "hooks",
                                                   "exporters", "start_delay_secs",
                                                   "throttle_secs"])):
    """The evaluation part of :func:`train_and_evaluate`: input, batches per evaluation
    (``steps=None``: until the input ends), name, hooks, exporters and throttling.

    >>> EvalSpec(input_fn=lambda: [], steps=None, throttle_secs=0).throttle_secs
    0
    """

    def __new__(cls, input_fn: Callable[..., Any], steps: Optional[int] = 100,
                name: Optional[str] = None, hooks: Any = None, exporters: Any = None,
                start_delay_secs: float = 120, throttle_secs: float = 600) -> "EvalSpec":
        _check_input_fn(input_fn)
        if steps is not None and steps <= 0:
            raise ValueError(f"Must specify steps > 0, given: {steps}")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"`name` must be string, given: {name!r}")
        if start_delay_secs < 0:
            raise ValueError(f"Must specify start_delay_secs >= 0, given: {start_delay_secs}")
        if throttle_secs < 0:
            raise ValueError(f"Must specify throttle_secs >= 0, given: {throttle_secs}")
        return super().__new__(cls, input_fn=input_fn, steps=steps, name=name,
                               hooks=_check_hooks(hooks), exporters=_check_exporters(exporters),
                               start_delay_secs=start_delay_secs, throttle_secs=throttle_secs)


class _EvaluateOnSave(CheckpointSaverListener):
    """Evaluates (in memory) and exports after checkpoint saves, throttled; and at the end."""

    def __init__(self, estimator: Any, eval_spec: EvalSpec, max_steps: Optional[int]) -> None:
        self._estimator, self._spec, self._max_steps = estimator, eval_spec, max_steps
        self.eval_result: Optional[Dict[str, Any]] = None
        self.export_results: Optional[List[Any]] = None
        self._timer = SecondOrStepTimer(every_secs=eval_spec.throttle_secs)

    def begin(self) -> None:
        self._timer.reset()

    def after_save(self, session: SavingSession, global_step_value: int) -> None:
        if self._timer.should_trigger_for_step(global_step_value):
            self._evaluate(session, global_step_value)
        else:
            logger.info("Skip the current checkpoint eval due to throttle secs (%s secs).",
                        self._spec.throttle_secs)

    def end(self, session: SavingSession, global_step_value: int) -> None:
        if global_step_value != self._timer.last_triggered_step():
            self._evaluate(session, global_step_value)

    def _evaluate(self, session: SavingSession, global_step_value: int) -> None:
        self._timer.update_last_triggered_step(global_step_value)
        spec, estimator = self._spec, self._estimator
        metrics = evaluate_live(estimator, session.scope, spec.input_fn, spec.steps,
                                spec.hooks, spec.name)
        checkpoint_path = estimator.latest_checkpoint()
        final = bool(self._max_steps) and metrics["global_step"] >= self._max_steps
        export_base = os.path.join(estimator.model_dir, "export")
        self.eval_result = metrics
        self.export_results = [
            exporter.export(estimator=estimator,
                            export_path=os.path.join(export_base, exporter.name),
                            checkpoint_path=checkpoint_path, eval_result=metrics,
                            is_the_final_export=final)
            for exporter in spec.exporters]


def train_and_evaluate(estimator: Any, train_spec: TrainSpec, eval_spec: EvalSpec
                       ) -> Tuple[Optional[Dict[str, Any]], Optional[List[Any]]]:
    """Train ``estimator`` and evaluate (and export) it along the way, as TF does locally.

    Returns ``(metrics, export_results)`` of the last evaluation (``(None, None)`` if training
    was already past ``max_steps``). Only ``train_spec.max_steps`` is a reliable stop condition
    (an input that ends also ends training, but then ``FinalExporter`` does not run, as in TF).

    >>> # est.train_and_evaluate(model, est.TrainSpec(train_input_fn, max_steps=1000),
    >>> #                        est.EvalSpec(eval_input_fn, steps=None, throttle_secs=0))
    """
    from estimator.estimator import Estimator

    if not isinstance(estimator, Estimator):
        raise TypeError(f"`estimator` must have type `est.Estimator`. Got: {type(estimator)}")
    if not isinstance(train_spec, TrainSpec):
        raise TypeError(f"`train_spec` must have type `est.TrainSpec`. Got: {type(train_spec)}")
    if not isinstance(eval_spec, EvalSpec):
        raise TypeError(f"`eval_spec` must have type `est.EvalSpec`. Got: {type(eval_spec)}")
    config = estimator.config
    logger.info("Start train and evaluate loop. The evaluate will happen after every checkpoint. "
                "Checkpoint frequency is determined based on RunConfig arguments: "
                "save_checkpoints_steps %s or save_checkpoints_secs %s.",
                config.save_checkpoints_steps, config.save_checkpoints_secs)
    listener = _EvaluateOnSave(estimator, eval_spec, train_spec.max_steps)
    estimator.train(train_spec.input_fn, hooks=list(train_spec.hooks),
                    max_steps=train_spec.max_steps,
                    saving_listeners=list(train_spec.saving_listeners) + [listener])
    return listener.eval_result, listener.export_results
