"""``python -m estimator``: command-line tools.

    python -m estimator inspect MODEL_DIR           # checkpoints, variables, input position
    python -m estimator inspect model_dir/model.ckpt-100.pt --tensor-name dense/kernel
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m estimator")
    commands = parser.add_subparsers(dest="command", required=True)
    inspect = commands.add_parser(
        "inspect", help="show the checkpoints of a model_dir and the variables of one "
                        "(like TF's inspect_checkpoint)")
    inspect.add_argument("target", help="a model_dir or a model.ckpt-<step>.pt file")
    inspect.add_argument("--checkpoint", metavar="PATH",
                         help="the checkpoint to describe (default: the latest)")
    inspect.add_argument("--tensor-name", metavar="NAME", help="print this variable's values")
    inspect.add_argument("--all-tensors", action="store_true",
                         help="print every variable's values")
    args = parser.parse_args(argv)

    from estimator._inspect import describe
    from estimator.checkpoint import CheckpointError
    try:
        print(describe(args.target, args.checkpoint, args.tensor_name, args.all_tensors))
    except (CheckpointError, FileNotFoundError, KeyError) as e:
        message = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"error: {message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
