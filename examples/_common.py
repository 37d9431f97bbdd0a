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
                     batch_size: int, learning_rate: Optional[float],
                     summary_steps: int = 100, checkpoint_steps: int = 1000,
                     log_steps: int = 100) -> None:
    """The flags every example takes: ``--model-dir``, ``--train-steps``, ``--batch-size``,
    ``--learning-rate``, ``--metrics-json`` and the :func:`run_config` flags."""
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
    group = parser.add_argument_group("checkpoints, summaries and logging (RunConfig)")
    group.add_argument("--save-summary-steps", type=_non_negative_int, default=summary_steps,
                       help="write TensorBoard summaries every N steps, 0 for none "
                            "(default: %(default)s)")
    saving = group.add_mutually_exclusive_group()
    saving.add_argument("--save-checkpoints-steps", type=_positive_int, default=None,
                        help=f"save a checkpoint every N steps (default: {checkpoint_steps}, "
                             "unless --save-checkpoints-secs is given)")
    saving.add_argument("--save-checkpoints-secs", type=float, default=None,
                        help="save a checkpoint every N seconds instead")
    group.add_argument("--log-step-count-steps", type=_positive_int, default=log_steps,
                       help="log the loss and steps/s every N steps (default: %(default)s)")
    group.add_argument("--seed", type=int, default=None,
                       help="seed every random generator (RunConfig.tf_random_seed) for a "
                            "reproducible run (default: unseeded)")
    parser.set_defaults(_checkpoint_steps=checkpoint_steps)


def run_config(args: argparse.Namespace) -> est.RunConfig:
    """The ``RunConfig`` of the flags :func:`add_common_flags` added."""
    steps, secs = args.save_checkpoints_steps, args.save_checkpoints_secs
    if steps is None and secs is None:
        steps = args._checkpoint_steps
    return est.RunConfig(tf_random_seed=args.seed,
                         save_summary_steps=args.save_summary_steps or None,
                         save_checkpoints_steps=steps, save_checkpoints_secs=secs,
                         log_step_count_steps=args.log_step_count_steps)


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text}")
    return value


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
    """Print the evaluation results and, with a path, write them as JSON (under torchrun:
    rank 0 writes; every rank has the same results)."""
    clean = {k: (v.item() if hasattr(v, "item") else v) for k, v in results.items()}
    print(json.dumps(clean, sort_keys=True))
    if path and os.environ.get("RANK", "0") == "0":
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w") as f:
            json.dump(clean, f, indent=2, sort_keys=True)
        log.info("Wrote the evaluation results to %s.", path)
