"""A progress line for ``train`` / ``evaluate`` / ``predict``: :class:`ProgressHook`.

On a terminal the line is redrawn in place (with ``tqdm`` when it is installed, else by a
carriage return at most five times a second); off a terminal (a log file, CI) it prints a
plain line every tenth of the way, or every 30 s when the total is unknown, so logs stay short.

>>> import io, estimator as est
>>> out = io.StringIO()
>>> hook = est.ProgressHook("train", total=4, stream=out)
>>> hook.begin()
>>> for _ in range(4):
...     hook.after_run(None, None)
>>> hook.end(None)
>>> out.getvalue().splitlines()[-1].startswith("train: step 4/4 (100%)")
True
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, Optional, TextIO

from estimator.hooks import SessionRunHook

__all__ = ["ProgressHook", "ProgressAwareHandler"]

# The line being redrawn in place on a terminal, if any: ProgressAwareHandler clears it before a
# log record prints and redraws it after, so the two never share a line.
_live_line = {"text": ""}


class ProgressHook(SessionRunHook):
    """Shows ``<what>: step k/N (p%), r steps/s`` while a loop runs.

    Args:
      what: the label at the start of the line (``"train"``, ``"evaluate"``).
      total: the number of steps expected, or ``None`` when unknown.
      stream: where to write (default ``sys.stderr``).
      use_tqdm: ``None`` (default) draws a ``tqdm`` bar when ``tqdm`` is importable and the
        stream is a terminal; ``False`` never does; ``True`` requires it.
    """

    def __init__(self, what: str = "train", total: Optional[int] = None,
                 stream: Optional[TextIO] = None, use_tqdm: Optional[bool] = None) -> None:
        self.what, self.total = what, total
        self.stream: TextIO = stream if stream is not None else sys.stderr
        isatty = getattr(self.stream, "isatty", None)
        self.interactive = bool(isatty()) if callable(isatty) else False
        self._tqdm_class = _tqdm_class(use_tqdm, self.interactive)
        self._bar: Any = None

    def begin(self) -> None:
        self.step, self.start = 0, time.monotonic()
        self.last_print, self.last_decile = self.start, 0
        if self._tqdm_class is not None:
            self._bar = self._tqdm_class(total=self.total, desc=self.what, unit="step",
                                         file=self.stream, dynamic_ncols=True, leave=True)

    def after_run(self, run_context: Any, run_values: Any) -> None:
        self.step += 1
        if self._bar is not None:
            self._bar.update(1)
            return
        now = time.monotonic()
        if self.interactive:
            if now - self.last_print >= 0.2:
                self._show(now, end="")
        elif self.total:
            decile = self.step * 10 // self.total
            if decile > self.last_decile and self.step < self.total:  # end() prints 100%
                self.last_decile = decile
                self._show(now, end="\n")
        elif now - self.last_print >= 30:
            self._show(now, end="\n")

    def end(self, session: Any = None) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self.step:
            self._show(time.monotonic(), end="\n", done=True)

    def _show(self, now: float, end: str, done: bool = False) -> None:
        self.last_print = now
        rate = self.step / max(now - self.start, 1e-9)
        of = f"/{self.total} ({100 * self.step // self.total}%)" if self.total else ""
        text = f"{self.what}: step {self.step}{of}, {rate:.1f} steps/s" + (" done" if done else "")
        if self.interactive:
            _live_line["text"] = "" if end else text
            self.stream.write("\r\033[K")
        self.stream.write(text + end)
        self.stream.flush()


class ProgressAwareHandler(logging.StreamHandler):
    """A ``logging`` handler that keeps log lines off a :class:`ProgressHook`'s live line."""

    def emit(self, record: logging.LogRecord) -> None:
        live = _live_line["text"]
        if live:
            self.stream.write("\r\033[K")
        super().emit(record)
        if live:
            self.stream.write(live)
            self.flush()


def _tqdm_class(use_tqdm: Optional[bool], interactive: bool) -> Any:
    if use_tqdm is False or (use_tqdm is None and not interactive):
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        if use_tqdm:
            raise ImportError("ProgressHook(use_tqdm=True) needs tqdm: "
                              "pip install 'torch-estimator[progress]'") from None
        return None
    return tqdm
