"""In-memory input: ``from_tensor_slices → shuffle → batch`` and ``numpy_input_fn``.

Times one epoch over random 60,000 x 784 float32 features and int64 labels (MNIST's shape),
``shuffle(10000)`` and batches of 100, four ways, in alternating rounds:

- ``element``: the pipeline element by element (slice each row, shuffle the rows, stack them),
  as ``batch`` runs over any upstream;
- ``gather``: the same pipeline as it runs over a tensor-slice source, gathering each batch
  with one indexing op per column (identical batches in identical order);
- ``numpy_input_fn``: ``est.inputs.numpy_input_fn(x, y, batch_size=100, shuffle=True)``;
- ``tf.data`` (with ``--vs tf --tf-python PYTHON``): the same chain in TensorFlow, timed by
  ``benchmarks/tf_peer.py in_memory``.

Reports items/s and CPU µs per item (the process's CPU time over the epoch, steadier than
rates on a loaded machine), medians over the rounds.

    python benchmarks/in_memory.py [--rounds 3] [--vs tf --tf-python /path/to/tf/python]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Callable, Dict, Iterable, List, Sequence, Tuple

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import data  # noqa: E402
import estimator as est  # noqa: E402
from data.ops.batch import _BatchIterator  # noqa: E402

ROWS, WIDTH, BUFFER, BATCH = 60000, 784, 10000, 100


def _cpu_s() -> float:
    t = os.times()
    return t.user + t.system


def _epoch(batches: Callable[[], Iterable]) -> Tuple[float, float]:
    cpu0, start, seen = _cpu_s(), time.perf_counter(), 0
    for features, _ in batches():
        seen += len(features)
    return seen / (time.perf_counter() - start), 1e6 * (_cpu_s() - cpu0) / seen


def main(argv: Sequence[str] = ()) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--vs", choices=["tf"], default=None)
    parser.add_argument("--tf-python", metavar="PYTHON")
    args = parser.parse_args(list(argv))
    rng = np.random.default_rng(0)
    x = rng.random((ROWS, WIDTH), dtype=np.float32)
    y = np.arange(ROWS, dtype=np.int64)
    ds = data.Dataset.from_tensor_slices((x, y)).shuffle(BUFFER, seed=1).batch(BATCH)

    def element():
        return _BatchIterator(ds, ds._input._iterator(0))

    input_fn = est.inputs.numpy_input_fn(x, y, batch_size=BATCH, num_epochs=1, shuffle=True)
    ways: Dict[str, Callable[[], Iterable]] = {
        "element": element, "gather": lambda: iter(ds), "numpy_input_fn": input_fn}
    results: Dict[str, List[Tuple[float, float]]] = {k: [] for k in ways}
    for _ in range(args.rounds):
        for name, batches in ways.items():
            results[name].append(_epoch(batches))
    if args.vs == "tf":
        if not args.tf_python:
            parser.error("--vs tf needs --tf-python")
        peer = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tf_peer.py")
        out = subprocess.run([args.tf_python, peer, "in_memory", "--rounds", str(args.rounds)],
                             capture_output=True, text=True, check=True)
        tf = json.loads(out.stdout.strip().splitlines()[-1])
        results["tf.data"] = list(zip(tf["items_per_s"], tf["cpu_us_per_item"]))
    print(f"in-memory {ROWS}x{WIDTH} float32, shuffle({BUFFER}), batch({BATCH}); "
          f"medians of {args.rounds} rounds")
    base = statistics.median(c for _, c in results["element"])
    for name, runs in results.items():
        rate = statistics.median(r for r, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        print(f"  {name:15s} {rate:12,.0f} items/s  {cpu:8.2f} CPU us/item  "
              f"{base / cpu:6.1f}x element by element (CPU)")


if __name__ == "__main__":
    main(sys.argv[1:])
