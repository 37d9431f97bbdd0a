"""Saving listeners and ``CheckpointSaverHook``: code that runs around each checkpoint save.

``Estimator.train(..., saving_listeners=[...])`` calls each listener's ``begin()`` when
training starts, ``before_save(session, global_step)`` and ``after_save(session, global_step)``
around every checkpoint it writes, and ``end(session, global_step)`` after the final save. An
``after_save`` that returns ``True`` stops training (after that step), as in TF.

``session`` is a :class:`SavingSession`: ``session.global_step`` and ``session.scope``, the live
model scope being trained (so a listener can evaluate the model in memory, as
``train_and_evaluate`` does).

Unlike TF, no checkpoint is written before the first step: parameters are created by the first
``model_fn`` call, so the first save is the first ``save_checkpoints_steps``/``_secs`` one.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Iterable, List, Optional, Sequence

from estimator.hooks import SessionRunContext, SessionRunHook, SessionRunValues
from estimator.run_hooks.timer import SecondOrStepTimer

logger = logging.getLogger("estimator")

__all__ = ["CheckpointSaverHook", "CheckpointSaverListener", "SavingSession"]


class CheckpointSaverListener:
    """Base class: called around checkpoint saves during ``Estimator.train``; no-op methods.

    >>> class StopAfterFirstSave(CheckpointSaverListener):
    ...     def after_save(self, session, global_step_value):
    ...         return True  # stop training
    """

    def begin(self) -> None:
        """Called once when training starts."""

    def before_save(self, session: "SavingSession", global_step_value: int) -> None:
        """Called before each checkpoint is written."""

    def after_save(self, session: "SavingSession", global_step_value: int) -> Optional[bool]:
        """Called after each checkpoint is written; return ``True`` to stop training."""
        return None

    def end(self, session: "SavingSession", global_step_value: int) -> None:
        """Called once after the last checkpoint of the run is written."""


class SavingSession:
    """What listeners receive as ``session``: the live training state."""

    def __init__(self, scope: Any) -> None:
        self.scope = scope
        self.mode = "train"

    @property
    def global_step(self) -> int:
        return self.scope.global_step


def _check_listeners(listeners: Optional[Iterable[Any]]) -> List[CheckpointSaverListener]:
    listeners = list(listeners or ())
    for listener in listeners:
        if not isinstance(listener, CheckpointSaverListener):
            raise TypeError("saving_listeners must be est.CheckpointSaverListener instances, "
                            f"got {type(listener).__name__}")
    return listeners


class _Listeners:
    """Calls listeners around a save function; remembers whether one asked to stop."""

    def __init__(self, listeners: List[CheckpointSaverListener]) -> None:
        self.listeners = listeners
        self.save_fn: Optional[Callable[[], None]] = None
        self.session: Optional[SavingSession] = None

    def begin(self) -> None:
        for listener in self.listeners:
            listener.begin()

    def save(self) -> bool:
        if self.save_fn is None:
            raise RuntimeError("CheckpointSaverHook saves only inside Estimator.train(); it was "
                               "used elsewhere (evaluate/predict hooks?)")
        session = self.session
        assert session is not None  # set together with save_fn
        step = session.global_step
        for listener in self.listeners:
            listener.before_save(session, step)
        self.save_fn()
        stop = False
        for listener in self.listeners:
            if listener.after_save(session, step):
                logger.info("A CheckpointSaverListener requested that training be stopped. "
                            "listener: %r", listener)
                stop = True
        return stop

    def end(self) -> None:
        session = self.session
        for listener in self.listeners:
            assert session is not None  # listeners end inside a train call
            listener.end(session, session.global_step)


class CheckpointSaverHook(SessionRunHook):
    """Save a checkpoint every ``save_secs`` seconds or ``save_steps`` steps, and at the end.

    Given to ``Estimator.train(hooks=...)`` it replaces the Estimator's own saving (which follows
    ``RunConfig.save_checkpoints_*``), as in TF, and ``train``'s ``saving_listeners`` join its
    ``listeners``. Checkpoints go to ``checkpoint_dir`` in the Estimator's format.

    >>> hook = CheckpointSaverHook("model_dir", save_steps=100)
    """

    def __init__(self, checkpoint_dir: str, save_secs: Optional[float] = None,
                 save_steps: Optional[int] = None, saver: Any = None,
                 checkpoint_basename: str = "model.ckpt", scaffold: Any = None,
                 listeners: Optional[Sequence[CheckpointSaverListener]] = None,
                 save_graph_def: bool = True) -> None:
        if saver is not None or scaffold is not None:
            raise ValueError("CheckpointSaverHook: saver= and scaffold= are not supported; the "
                             "Estimator writes its own checkpoint format")
        if checkpoint_basename != "model.ckpt":
            raise ValueError("CheckpointSaverHook: checkpoint files are always named "
                             "model.ckpt-<step>.pt; got "
                             f"checkpoint_basename={checkpoint_basename!r}")
        self.checkpoint_dir = str(checkpoint_dir)
        self._timer = SecondOrStepTimer(every_secs=save_secs, every_steps=save_steps)
        self._saving = _Listeners(_check_listeners(listeners))

    def attach(self, save_fn: Callable[[], None], session: SavingSession) -> None:
        """Called by ``Estimator.train``: the function that writes a checkpoint here."""
        self._saving.save_fn, self._saving.session = save_fn, session

    def add_listeners(self, listeners: Iterable[CheckpointSaverListener]) -> None:
        for listener in listeners:
            if not any(listener is x for x in self._saving.listeners):
                self._saving.listeners.append(listener)

    def begin(self) -> None:
        if self._saving.save_fn is None:
            raise RuntimeError("CheckpointSaverHook saves only inside Estimator.train(); it "
                               "was given to another call (evaluate/predict hooks?)")
        self._timer.reset()
        self._saving.begin()

    def after_create_session(self, session: Any, coord: Any = None) -> None:
        self._timer.update_last_triggered_step(session.global_step)

    def after_run(self, run_context: SessionRunContext, run_values: SessionRunValues) -> None:
        step = run_context.session.global_step
        if self._timer.should_trigger_for_step(step):
            self._timer.update_last_triggered_step(step)
            if self._saving.save():
                run_context.request_stop()

    def end(self, session: Any) -> None:
        if session.global_step != self._timer.last_triggered_step():
            self._saving.save()
        self._saving.end()
        self._saving.save_fn = self._saving.session = None  # this train call is over


class CheckpointSaving:
    """How one ``train`` call saves: by ``RunConfig`` (the default) or by the user's
    :class:`CheckpointSaverHook`, with the listeners around each save."""

    def __init__(self, config: Any, hooks: Sequence[SessionRunHook],
                 saving_listeners: Optional[Iterable[Any]]) -> None:
        listeners = _check_listeners(saving_listeners)
        user = [h for h in hooks if isinstance(h, CheckpointSaverHook)]
        self.hook = user[0] if user else None
        self.config = config
        if self.hook is not None:
            self.hook.add_listeners(listeners)
            # the hook saves instead of the Estimator's schedule (and at the end)
            self.config = config.replace(save_checkpoints_steps=None, save_checkpoints_secs=None)
            self._saving = _Listeners([])
        else:
            if listeners and not (config.save_checkpoints_steps or config.save_checkpoints_secs):
                raise ValueError("There should be a CheckpointSaverHook to use saving_listeners. "
                                 "Set RunConfig.save_checkpoints_steps or save_checkpoints_secs, "
                                 "or pass a est.CheckpointSaverHook in hooks.")
            self._saving = _Listeners(listeners)

    def bind(self, scope: Any, save_fn: Callable[[Optional[str]], None]) -> Callable[[], bool]:
        """The save function for the step loop; returns True when a listener asks to stop."""
        session = SavingSession(scope)
        if self.hook is not None:
            directory = self.hook.checkpoint_dir
            self.hook.attach(lambda: save_fn(directory), session)
            return lambda: False
        self._saving.save_fn, self._saving.session = (lambda: save_fn(None)), session
        return self._saving.save

    def begin(self) -> None:
        self._saving.begin()

    def end(self) -> None:
        if self.hook is None:
            self._saving.end()
