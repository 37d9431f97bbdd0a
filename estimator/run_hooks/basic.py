"""More of TF's session hooks: ``StepCounterHook``, ``SummarySaverHook``, ``FinalOpsHook``.

Tensors are named as for every hook here (see :mod:`estimator.hooks`): ``"loss"``, prediction
keys and ``eval_metric_ops`` keys of the spec ``model_fn`` returned.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Optional

import torch

from estimator.hooks import SessionRunArgs, SessionRunContext, SessionRunHook, SessionRunValues
from estimator.summary import LazyWriter
from estimator.run_hooks.timer import SecondOrStepTimer

logger = logging.getLogger("estimator")

__all__ = ["FinalOpsHook", "StepCounterHook", "SummarySaverHook"]


class _Writer:
    """A given ``summary_writer`` (any object with ``add_scalar``), or one for ``output_dir``."""

    def __init__(self, summary_writer: Any, output_dir: Optional[str]) -> None:
        self._given = summary_writer
        self._lazy = LazyWriter(output_dir) if summary_writer is None and output_dir else None

    def get(self) -> Any:
        return self._given if self._given is not None else (self._lazy and self._lazy.get())

    def flush(self) -> None:
        if self._lazy is not None:
            self._lazy.close()
        elif self._given is not None and hasattr(self._given, "flush"):
            self._given.flush()


class StepCounterHook(SessionRunHook):
    """Log (and write to ``output_dir``) ``global_step/sec`` every N steps or seconds,
    measured from the first step (so at steps 1 + N, 1 + 2N, ... as in TF).

    >>> hook = StepCounterHook(every_n_steps=50, output_dir="model_dir")
    """

    def __init__(self, every_n_steps: Optional[int] = 100, every_n_secs: Optional[float] = None,
                 output_dir: Optional[str] = None, summary_writer: Any = None) -> None:
        if (every_n_steps is None) == (every_n_secs is None):
            raise ValueError("exactly one of every_n_steps and every_n_secs should be provided.")
        self._timer = SecondOrStepTimer(every_steps=every_n_steps, every_secs=every_n_secs)
        self._writer = _Writer(summary_writer, output_dir)
        self._last_step: Optional[int] = None

    def begin(self) -> None:
        self._timer.reset()
        self._last_step = None

    def after_run(self, run_context: SessionRunContext, run_values: SessionRunValues) -> None:
        step = run_context.session.global_step
        if self._timer.should_trigger_for_step(step):  # as TF: first at step 1, nothing logged
            elapsed_secs, elapsed_steps = self._timer.update_last_triggered_step(step)
            if elapsed_secs and elapsed_steps is not None:
                rate = elapsed_steps / elapsed_secs
                writer = self._writer.get()
                if writer is not None:
                    writer.add_scalar("global_step/sec", rate, step)
                logger.info("global_step/sec: %g", rate)
        if step == self._last_step:
            logger.warning("It seems that the global step has not been increased: %s (the train "
                           "op must advance it: minimize(loss, global_step=est.train."
                           "get_global_step()))", step)
        self._last_step = step

    def end(self, session: Any) -> None:
        self._writer.flush()


def _write(writer: Any, tag: str, value: Any, step: int) -> None:
    if isinstance(value, dict):
        for key, v in value.items():
            _write(writer, f"{tag}/{key}" if tag else str(key), v, step)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _write(writer, f"{tag}_{i}", v, step)
    elif isinstance(value, torch.Tensor) and value.numel() != 1:
        writer.add_histogram(tag, value.detach().float().cpu(), step)
    else:
        writer.add_scalar(tag, float(value), step)


class SummarySaverHook(SessionRunHook):
    """Write the named tensors of ``summary_op`` every ``save_steps`` steps or ``save_secs``
    seconds (and on the first step): scalars as scalars, other tensors as histograms.

    ``summary_op`` is a name or a list/dict of names (``{"tag": "name"}``); TF's serialized
    ``Summary`` tensors have no equivalent. ``est.summary.*`` calls inside ``model_fn`` are
    written by the Estimator itself every ``RunConfig.save_summary_steps``.

    >>> hook = SummarySaverHook(save_steps=10, output_dir="model_dir", summary_op=["loss"])
    """

    def __init__(self, save_steps: Optional[int] = None, save_secs: Optional[float] = None,
                 output_dir: Optional[str] = None, summary_writer: Any = None,
                 scaffold: Any = None, summary_op: Any = None) -> None:
        if scaffold is not None:
            raise ValueError("SummarySaverHook: scaffold= is not supported; name the tensors "
                             "to write in summary_op=")
        if summary_op is None:
            raise ValueError("Exactly one of scaffold or summary_op must be provided.")
        if isinstance(summary_op, str):
            summary_op = {summary_op: summary_op}
        elif isinstance(summary_op, (list, tuple)):
            summary_op = {name: name for name in summary_op}
        self._names = dict(summary_op)
        self._timer = SecondOrStepTimer(every_secs=save_secs, every_steps=save_steps)
        self._writer = _Writer(summary_writer, output_dir)
        self._next_step: Optional[int] = None
        self._request = False

    def begin(self) -> None:
        self._next_step = None
        self._timer.reset()

    def before_run(self, run_context: SessionRunContext) -> Optional[SessionRunArgs]:
        self._request = (self._next_step is None or
                         self._timer.should_trigger_for_step(self._next_step))
        return SessionRunArgs(self._names) if self._request else None

    def after_run(self, run_context: SessionRunContext, run_values: SessionRunValues) -> None:
        writer = self._writer.get()
        step = run_context.session.global_step
        if self._request and writer is not None:
            self._timer.update_last_triggered_step(step)
            for tag, value in (run_values.results or {}).items():
                _write(writer, tag, value, step)
        self._next_step = step + 1

    def end(self, session: Any = None) -> None:
        self._writer.flush()


class FinalOpsHook(SessionRunHook):
    """Keep the values of ``final_ops`` as of the last step; read them from
    ``final_ops_values`` after the run.

    ``final_ops`` is a name, a list/dict of names (fetched from each step, on the device, so
    no host sync), or a zero-argument callable (e.g. a metric's ``compute``) called at the end.

    >>> hook = FinalOpsHook({"loss": "loss"})
    """

    def __init__(self, final_ops: Any, final_ops_feed_dict: Any = None) -> None:
        if final_ops_feed_dict is not None:
            raise ValueError("FinalOpsHook: final_ops_feed_dict has no equivalent (there are "
                             "no placeholders to feed)")
        self._final_ops = final_ops
        self._last: Any = None
        self._final_ops_values: Any = None

    @property
    def final_ops_values(self) -> Any:
        return self._final_ops_values

    def before_run(self, run_context: SessionRunContext) -> Optional[SessionRunArgs]:
        if self._final_ops is None or callable(self._final_ops):
            return None
        return SessionRunArgs(self._final_ops)

    def after_run(self, run_context: SessionRunContext, run_values: SessionRunValues) -> None:
        self._last = run_values.results

    def end(self, session: Any) -> None:
        if self._final_ops is None:
            return
        fn: Callable[[], Any] = self._final_ops if callable(self._final_ops) else lambda: self._last
        self._final_ops_values = _to_python(fn())


def _to_python(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.item() if value.numel() == 1 else value.detach().cpu()
    if isinstance(value, dict):
        return {k: _to_python(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_python(v) for v in value)
    return value
