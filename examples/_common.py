"""What the three example programs share: flags, logging, a progress hook, resume and results."""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import re
import sys
import time
from typing import Any, Dict, Optional, TextIO

import estimator as est

log = logging.getLogger("examples")


def add_common_flags(parser: argparse.ArgumentParser, train_steps: Optional[int],
                     batch_size: int, learning_rate: Optional[float]) -> None:
    """The flags every example takes: ``--model-dir``, ``--train-steps``, ``--batch-size``,
    ``--learning-rate`` and ``--metrics-json``."""
    parser.add_argument("--model-dir", default="./model_dir",
                        help="checkpoints and TensorBoard files (default: %(default)s); a run "
                             "continues from the latest checkpoint found there")
    parser.add_argument("--train-steps", type=_positive_int, default=train_steps,
                        help="training steps in this run (default: "
                             + ("%(default)s)" if train_steps else "until the input ends)"))
    parser.add_argument("--batch-size", type=_positive_int, default=batch_size,
                        help="examples per batch (default: %(default)s)")
    parser.add_argument("--learning-rate", type=float, default=learning_rate,
                        help="optimizer learning rate (default: %(default)s)")
    parser.add_argument("--metrics-json", metavar="PATH",
                        help="write the final evaluate() results to PATH as JSON")


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


# The progress line being rewritten in place on the terminal, if any: log records clear it
# before they print and redraw it after, so the two never share a line.
_live_line = {"text": ""}


class _ProgressAwareHandler(logging.StreamHandler):
    def emit(self, record: logging.LogRecord) -> None:
        live = _live_line["text"]
        if live:
            self.stream.write("\r\033[K")
        super().emit(record)
        if live:
            self.stream.write(live)
            self.flush()


def setup_logging() -> None:
    """INFO logging to stderr, like ``tf.logging.set_verbosity(tf.logging.INFO)``."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:%(name)s:%(message)s",
                        handlers=[_ProgressAwareHandler(sys.stderr)])


def report_resume(model: est.Estimator) -> int:
    """Log whether training starts fresh or continues from a checkpoint; return the step."""
    checkpoint = model.latest_checkpoint()
    if checkpoint is None:
        log.info("No checkpoint in %s: training from scratch.", model.model_dir)
        return 0
    match = re.search(r"-(\d+)(\.pt)?$", os.path.basename(checkpoint))
    step = int(match.group(1)) if match else 0
    log.info("Continuing from checkpoint %s (global step %d) in %s.", checkpoint, step,
             model.model_dir)
    return step


def batches(num_examples: int, batch_size: int, num_epochs: Optional[int] = 1) -> Optional[int]:
    """Number of batches in ``num_epochs`` passes over ``num_examples`` (None: endless)."""
    if num_epochs is None:
        return None
    return math.ceil(num_examples * num_epochs / batch_size)


def write_metrics(results: Dict[str, Any], path: Optional[str]) -> None:
    """Print the evaluation results and, with a path, write them as JSON (under torchrun:
    rank 0 writes; every rank has the same results)."""
    clean = {k: (v.item() if hasattr(v, "item") else v) for k, v in results.items()}
    print(json.dumps(clean, sort_keys=True))
    if path and os.environ.get("RANK", "0") == "0":
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w") as f:
            json.dump(clean, f, indent=2, sort_keys=True)
        log.info("Wrote the evaluation results to %s.", path)


class ProgressHook(est.SessionRunHook):
    """Shows ``<what>: step k/N (p%), r steps/s`` on stderr while a loop runs.

    On a terminal the line is rewritten in place (carriage return) at most five times a
    second; otherwise a line is printed every tenth of the way (or every 30 s when the total is
    unknown), so logs stay short.
    """

    def __init__(self, what: str, total: Optional[int], stream: Optional[TextIO] = None) -> None:
        self.what, self.total, self.stream = what, total, stream or sys.stderr
        self.interactive = bool(getattr(stream, "isatty", lambda: False)())

    def begin(self) -> None:
        self.step, self.start = 0, time.monotonic()
        self.last_print, self.last_decile = self.start, 0

    def after_run(self, run_context: Any, run_values: Any) -> None:
        self.step += 1
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
        if self.step:
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
