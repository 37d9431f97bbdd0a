"""What the three example programs share: flags, logging, a progress hook, resume and results."""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import re
import sys
from typing import Any, Dict, Optional

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


def setup_logging() -> None:
    """INFO logging to stderr, like ``tf.logging.set_verbosity(tf.logging.INFO)``."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:%(name)s:%(message)s",
                        handlers=[est.ProgressAwareHandler(sys.stderr)])


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
    """Print the evaluation results and, with a path, write them as JSON."""
    clean = {k: (v.item() if hasattr(v, "item") else v) for k, v in results.items()}
    print(json.dumps(clean, sort_keys=True))
    if path:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w") as f:
            json.dump(clean, f, indent=2, sort_keys=True)
        log.info("Wrote the evaluation results to %s.", path)
