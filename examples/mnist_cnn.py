"""The MNIST CNN of the ``tf.layers`` tutorial, on this library.

    python examples/mnist_cnn.py --data-dir MNIST_data

conv 32 5x5, pool, conv 64 5x5, pool, dense 1024, dropout 0.4, 10 logits; plain SGD at 0.001 and
batch 100 as in the tutorial, which trains 20,000 steps (the default here too; pass
``--train-steps`` for a shorter run, or a larger ``--learning-rate``).
"""

from __future__ import annotations

import os
import sys
from typing import Any, Dict, List, Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _mnist  # noqa: E402
import models  # noqa: E402


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    args = _mnist.parse_args(__doc__.split("\n")[0], argv, train_steps=20000, batch_size=100,
                             learning_rate=0.001)
    return _mnist.run(models.mnist_cnn.model_fn, args, flatten=False)


if __name__ == "__main__":
    try:
        main()
    except FileNotFoundError as e:
        sys.exit(f"error: {e}")
