"""Ctrl-C (SIGINT) or SIGTERM during ``train()``: finish the step, save, then stop as asked.

A signal that arrives mid-step would leave the model half-updated, so the handler only takes
note; the hook below asks the loop to stop after the step in progress, the loop saves its
final checkpoint as at any stop (atomically, as always), and :meth:`InterruptGuard.reraise`
then delivers the signal: ``KeyboardInterrupt`` for SIGINT, the previous SIGTERM handler (by
default: the process ends with SIGTERM). Running the same program again resumes from that
checkpoint. A second signal while the first is being handled acts at once (no save), for a
step or an input that hangs.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from types import FrameType, TracebackType
from typing import Any, Dict, Optional, Type

from estimator.hooks import SessionRunHook

logger = logging.getLogger("estimator")

_SIGNALS = tuple(s for s in (getattr(signal, "SIGINT", None), getattr(signal, "SIGTERM", None))
                 if s is not None)


class InterruptGuard(SessionRunHook):
    """Installs the handlers for the duration of a ``with`` block (main thread only)."""

    def __init__(self) -> None:
        self.signum: Optional[int] = None
        self._previous: Dict[int, Any] = {}

    def __enter__(self) -> "InterruptGuard":
        if threading.current_thread() is threading.main_thread():
            for signum in _SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: Optional[FrameType]) -> None:
        self.signum = signum
        # The next signal of this kind acts at once, as it would without us.
        signal.signal(signum, self._previous.get(signum, signal.SIG_DFL))
        logger.warning("%s received: saving a checkpoint after the current step, then stopping "
                       "(send it again to stop at once without saving).",
                       signal.Signals(signum).name)

    def after_run(self, run_context: Any, run_values: Any) -> None:
        if self.signum is not None:
            run_context.request_stop()

    def reraise(self) -> None:
        """Deliver the signal that stopped training, once the checkpoint is saved."""
        signum, self.signum = self.signum, None
        if signum is None:
            return
        previous = self._previous.get(signum, signal.getsignal(signum))
        if signum == getattr(signal, "SIGINT", None) and previous in (
                signal.default_int_handler, signal.SIG_DFL, None):
            raise KeyboardInterrupt
        if callable(previous):
            previous(signum, None)
        elif previous == signal.SIG_DFL:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
