"""Session hooks, as ``tf.train.SessionRunHook``: code that runs around every step.

Where TF fetched graph tensors by name, a hook's ``before_run`` returns
``SessionRunArgs(fetches)`` whose fetches are *names* (a str, or a list/tuple/dict of them):
``"loss"``, a key of the spec's ``predictions`` (``"predictions"`` for a lone tensor) or of its
``eval_metric_ops``. ``after_run`` then receives the detached tensors (still on the device, so
fetching costs no host sync until the hook reads them).

``run_context.session`` is a small view of the run: ``session.global_step`` (an int, the steps
done so far) and ``session.mode``.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any, Dict, Iterable, List, Mapping, NamedTuple, Optional, Sequence, Union

import torch

logger = logging.getLogger("estimator")

__all__ = ["HookList", "LoggingTensorHook", "NanLossDuringTrainingError", "NanTensorHook",
           "SessionRunArgs", "SessionRunContext", "SessionRunHook", "SessionRunValues",
           "StopAtStepHook"]


class SessionRunArgs(NamedTuple):
    """What a hook wants after the step: names of tensors (see the module docstring)."""

    fetches: Any = None


class SessionRunValues(NamedTuple):
    """What a hook gets after the step: ``results`` has the shape of its fetches."""

    results: Any = None


class SessionRunContext:
    """Passed to ``before_run``/``after_run``; ``request_stop()`` ends the loop after this step."""

    def __init__(self, session: Any, original_args: Optional[SessionRunArgs] = None) -> None:
        self.session = session
        self.original_args = original_args
        self._stop_requested = False

    def request_stop(self) -> None:
        """Stop the loop once the current step is done."""
        self._stop_requested = True

    @property
    def stop_requested(self) -> bool:
        return self._stop_requested


class SessionRunHook:
    """Base class: every method is a no-op; override the ones you need.

    >>> class CountSteps(SessionRunHook):
    ...     def begin(self):
    ...         self.steps = 0
    ...     def after_run(self, run_context, run_values):
    ...         self.steps += 1
    """

    def begin(self) -> None:
        """Called once before the loop starts (before any checkpoint is restored)."""

    def after_create_session(self, session: Any, coord: Any = None) -> None:
        """Called once the run's state is restored; ``session.global_step`` is valid."""

    def before_run(self, run_context: SessionRunContext) -> Optional[SessionRunArgs]:
        """Called before each step; may return ``SessionRunArgs`` naming tensors to fetch."""
        return None

    def after_run(self, run_context: SessionRunContext, run_values: SessionRunValues) -> None:
        """Called after each step with the fetched tensors."""

    def end(self, session: Any) -> None:
        """Called once when the loop ends normally."""


class HookList(SessionRunHook):
    """Several hooks acting as one (its fetches are the list of theirs)."""

    def __init__(self, hooks: Iterable[SessionRunHook] = ()) -> None:
        self.hooks: List[SessionRunHook] = []
        self.extend(hooks)

    def extend(self, hooks: Iterable[SessionRunHook]) -> None:
        for hook in hooks:
            if not isinstance(hook, SessionRunHook):
                raise TypeError(f"hooks must be SessionRunHook instances, got {type(hook).__name__}")
            self.hooks.append(hook)

    def begin(self) -> None:
        for hook in self.hooks:
            hook.begin()

    def after_create_session(self, session: Any, coord: Any = None) -> None:
        for hook in self.hooks:
            hook.after_create_session(session, coord)

    def before_run(self, run_context: SessionRunContext) -> Optional[SessionRunArgs]:
        if not self.hooks:
            return None
        fetches = []
        for hook in self.hooks:
            args = hook.before_run(run_context)
            fetches.append(None if args is None else args.fetches)
        return SessionRunArgs(fetches) if any(f is not None for f in fetches) else None

    def after_run(self, run_context: SessionRunContext, run_values: SessionRunValues) -> None:
        results = run_values.results or [None] * len(self.hooks)
        for hook, result in zip(self.hooks, results):
            hook.after_run(run_context, SessionRunValues(result))

    def end(self, session: Any) -> None:
        for hook in self.hooks:
            hook.end(session)


class StopAtStepHook(SessionRunHook):
    """Request a stop after ``num_steps`` more steps, or once the global step is ``last_step``."""

    def __init__(self, num_steps: Optional[int] = None, last_step: Optional[int] = None) -> None:
        if (num_steps is None) == (last_step is None):
            raise ValueError("StopAtStepHook: give exactly one of num_steps and last_step")
        self._num_steps, self._last_step = num_steps, last_step

    def after_create_session(self, session: Any, coord: Any = None) -> None:
        if self._num_steps is not None:
            self._last_step = session.global_step + self._num_steps

    def after_run(self, run_context: SessionRunContext, run_values: SessionRunValues) -> None:
        if run_context.session.global_step >= self._last_step:
            run_context.request_stop()


def _format(values: Mapping[str, Any]) -> str:
    parts = []
    for tag, value in values.items():
        if isinstance(value, torch.Tensor):
            value = value.item() if value.numel() == 1 else value.tolist()
        parts.append(f"{tag} = {value}")
    return ", ".join(parts)


class LoggingTensorHook(SessionRunHook):
    """Log named tensors every ``every_n_iter`` steps or ``every_n_secs`` seconds.

    ``tensors`` is a list of names or a dict ``{tag: name}``; names come from the spec
    (``"loss"``, prediction keys, metric keys).

    >>> hook = LoggingTensorHook({"loss": "loss", "classes": "classes"}, every_n_iter=100)
    """

    def __init__(self, tensors: Union[Sequence[str], Mapping[str, str]],
                 every_n_iter: Optional[int] = None, every_n_secs: Optional[float] = None,
                 at_end: bool = False, formatter: Any = None) -> None:
        if (every_n_iter is None) == (every_n_secs is None) and not at_end:
            raise ValueError("LoggingTensorHook: give exactly one of every_n_iter and every_n_secs")
        if every_n_iter is not None and every_n_iter <= 0:
            raise ValueError(f"LoggingTensorHook: every_n_iter must be > 0, got {every_n_iter}")
        self._tags: Dict[str, str] = (dict(tensors) if isinstance(tensors, Mapping)
                                      else {name: name for name in tensors})
        self._every_n_iter, self._every_n_secs = every_n_iter, every_n_secs
        self._at_end, self._formatter = at_end, formatter
        self._iter, self._triggered = 0, False
        self._last_time: Optional[float] = None
        self._last_values: Optional[Dict[str, Any]] = None

    def begin(self) -> None:
        self._iter, self._last_time = 0, None

    def _should_trigger(self) -> bool:
        if self._every_n_iter is not None:
            return self._iter % self._every_n_iter == 0
        if self._every_n_secs is not None:
            return self._last_time is None or time.time() - self._last_time >= self._every_n_secs
        return False

    def before_run(self, run_context: SessionRunContext) -> Optional[SessionRunArgs]:
        self._triggered = self._should_trigger()
        return SessionRunArgs(self._tags) if self._triggered or self._at_end else None

    def after_run(self, run_context: SessionRunContext, run_values: SessionRunValues) -> None:
        if run_values.results is not None:
            self._last_values = run_values.results
            if self._triggered:
                self._log(run_values.results)
        self._iter += 1

    def _log(self, values: Mapping[str, Any]) -> None:
        now = time.time()
        line = self._formatter(values) if self._formatter else _format(values)
        if self._last_time is not None and not self._formatter:
            line += f" ({now - self._last_time:.3f} sec)"
        self._last_time = now
        logger.info("%s", line)

    def end(self, session: Any) -> None:
        if self._at_end and self._last_values is not None:
            self._log(self._last_values)


class NanLossDuringTrainingError(RuntimeError):
    """The loss became NaN or infinite (or parameters did, found before a checkpoint save)."""


class FirstNonFinite:
    """The first global step whose loss was not finite, recorded on the loss's device.

    For a loss on an accelerator :meth:`record` runs a few tiny device ops and never syncs
    with the host; :meth:`first_bad_step` reads the result (one sync), so callers read it only
    now and then. A CPU loss is read at once (reading it waits for nothing).

    >>> watch = FirstNonFinite()
    >>> for step, loss in enumerate([1.0, float("nan"), 2.0, float("inf")], start=1):
    ...     watch.record(torch.tensor(loss), step)
    >>> watch.first_bad_step()
    2
    """

    def __init__(self) -> None:
        self._first: Optional[torch.Tensor] = None
        self._host: Optional[int] = None  # a bad step seen on the host

    def record(self, loss: Any, step: int) -> None:
        if self._host is not None:
            return  # the first bad step is known; later ones change nothing
        if not isinstance(loss, torch.Tensor) or loss.is_cpu:
            # on the host reading the value waits for nothing: check it right away
            if isinstance(loss, torch.Tensor) and loss.numel() == 1:
                finite = math.isfinite(loss.item())
            else:
                finite = all(math.isfinite(float(v))
                             for v in torch.as_tensor(loss).flatten().tolist())
            if not finite:
                self._host = int(step)
            return
        loss = loss.detach()
        if self._first is None or self._first.device != loss.device:
            previous = self.first_bad_step() if self._first is not None else None
            self._first = torch.full((), -1 if previous is None else previous,
                                     dtype=torch.int64, device=loss.device)
        bad = torch.isfinite(loss).logical_not_().any().logical_and_(self._first < 0)
        self._first.masked_fill_(bad, int(step))

    def first_bad_step(self) -> Optional[int]:
        device_step = None if self._first is None else int(self._first)
        if device_step is not None and device_step >= 0:
            return device_step  # recorded before the host saw a bad step of its own
        return self._host


class NanTensorHook(SessionRunHook):
    """Stop (with :class:`NanLossDuringTrainingError`) when the loss becomes non-finite.

    The check runs on the device at every step and records the first bad global step; the host
    reads it every ``every_n_iter`` steps, or, by default (``None``), on the run's logging steps
    (``RunConfig.log_step_count_steps``) and at the end, so ordinary steps cost no host sync.
    The error names the exact first bad step either way (``every_n_iter=1`` stops at once, as
    TF's hook does). With ``fail_on_nan_loss=False`` it logs a warning and requests a stop
    instead.

    >>> hook = NanTensorHook()  # est.Estimator(...).train(input_fn, hooks=[hook])
    """

    def __init__(self, loss_tensor: str = "loss", fail_on_nan_loss: bool = True,
                 every_n_iter: Optional[int] = None) -> None:
        if every_n_iter is not None and (isinstance(every_n_iter, bool)
                                         or not isinstance(every_n_iter, int)
                                         or every_n_iter < 1):
            raise ValueError(f"NanTensorHook: every_n_iter must be None or an int >= 1, got "
                             f"{every_n_iter!r}")
        self._name, self._fail, self._every = loss_tensor, fail_on_nan_loss, every_n_iter
        self._watch = FirstNonFinite()
        self._iter = 0

    def begin(self) -> None:
        self._watch, self._iter = FirstNonFinite(), 0

    def before_run(self, run_context: SessionRunContext) -> SessionRunArgs:
        return SessionRunArgs(self._name)

    def after_run(self, run_context: SessionRunContext, run_values: SessionRunValues) -> None:
        step = run_context.session.global_step
        self._watch.record(run_values.results, step)
        self._iter += 1
        if self._every is not None:
            due = self._iter % self._every == 0
        else:
            every = getattr(run_context.session, "log_step_count_steps", None) or 1
            due = self._iter == 1 or step % every == 0
        if due:
            self._check(run_context)

    def _check(self, run_context: Optional[SessionRunContext]) -> None:
        step = self._watch.first_bad_step()
        if step is None:
            return
        message = f"NaN loss during training: the loss became non-finite at global step {step}"
        if self._fail:
            raise NanLossDuringTrainingError(message)
        logger.warning("%s; stopping", message)
        if run_context is not None:
            run_context.request_stop()

    def end(self, session: Any) -> None:
        self._check(None)


# TF's other session hooks, in estimator/run_hooks/ (they subclass SessionRunHook above)
from estimator.run_hooks.basic import FinalOpsHook, StepCounterHook, SummarySaverHook  # noqa
from estimator.run_hooks.in_memory_eval import InMemoryEvaluatorHook  # noqa: E402,F401
from estimator.run_hooks.profiler import ProfilerHook  # noqa: E402,F401
from estimator.run_hooks.saver import CheckpointSaverHook, CheckpointSaverListener  # noqa
from estimator.run_hooks.timer import SecondOrStepTimer  # noqa: E402,F401
