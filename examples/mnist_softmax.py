"""MNIST softmax regression ("TensorFlow in a hurry"), on this library.

    python examples/mnist_softmax.py --data-dir MNIST_data

The tutorial's settings are the defaults: zero-initialised ``W`` ``[784, 10]`` and ``b``, gradient
descent at 0.5, 1000 steps of batch 100 (the tutorial reports 0.9183 test accuracy on MNIST).
"""

from __future__ import annotations

import os
import sys
from typing import Any, Dict, List, Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _mnist  # noqa: E402
import models  # noqa: E402


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    args = _mnist.parse_args(__doc__.split("\n")[0], argv, train_steps=1000, batch_size=100,
                             learning_rate=0.5)
    return _mnist.run(models.softmax.model_fn, args, flatten=True)


if __name__ == "__main__":
    try:
        main()
    except FileNotFoundError as e:
        sys.exit(f"error: {e}")
