"""Premade-estimator benchmark: ``DNNClassifier.train`` against the same model as a hand loop.

A generated tabular set (``--rows`` rows, default 100k; ``--features`` numeric columns, a
binary label from a noisy linear rule). Alternating in the same run (``--rounds`` times), it
times one pass (``--steps`` steps of batch ``--batch``) of:

1. **hand loop**: the network an engineer writes over the same tensors -- ``[batch, features]``
   slices of one float tensor, ``Linear`` layers ``--hidden`` with ReLU, one logit,
   ``binary_cross_entropy_with_logits`` (mean), ``torch.optim.Adagrad`` at 0.05 (accumulators at
   0.1, as the premade estimator's) -- no feature columns, no Estimator; and the same loop with
   ``Adagrad(fused=True)``, the kernel the Estimator's optimizers use on the CPU (reported
   beside it; the ratios are against the default loop);
2. **DNNClassifier, batched input**: ``est.DNNClassifier(hidden_units, [numeric_column(k) ...])``
   fed by ``Dataset.from_tensor_slices`` over the same data already cut into batches (each
   element a dict of ``[batch]`` columns), so the difference is the Estimator, the feature
   columns and the head;
3. **DNNClassifier, one column**: as 2, with the features as one ``numeric_column("x",
   shape=(features,))`` (a ``[batch, features]`` tensor per batch): the cost of one column
   per feature shows against 2;
4. **Estimator, plain model_fn**: the same network as a ``model_fn`` of ``est.layers.dense``
   over the ``[batch, features]`` tensor, mean BCE and ``est.train.Optimizer(Adagrad)``, no
   feature columns and no head: what the Estimator's step costs by itself;
5. **DNNClassifier, row input**: the TF-style pipeline ``from_tensor_slices(rows).batch(batch)``,
   whose per-row cost (slicing and re-stacking every column in Python) shows separately.

Both sides use one intra-op thread (the Estimator's split on a loaded 2-core machine; a hand
loop on a busy machine gains nothing from more). Reported: steady-state steps/second (steps 10
to the end of each pass; median over rounds), CPU milliseconds per step (this process), and the
median of the per-round ratios against the hand loop. ``--quick`` is a smoke run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from typing import Dict, List

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import data  # noqa: E402
import estimator as est  # noqa: E402

WARMUP = 10


def make_data(rows: int, features: int, seed: int = 0):
    rng = np.random.RandomState(seed)
    x = rng.randn(rows, features).astype(np.float32)
    w = rng.randn(features).astype(np.float32)
    y = ((x @ w + 0.5 * rng.randn(rows)) > 0).astype(np.int64)
    return x, y


class Timer(est.SessionRunHook):
    """Times steps ``WARMUP`` .. end (wall and CPU)."""

    def __init__(self) -> None:
        self.steps = 0
        self.start = self.cpu = None

    def after_run(self, run_context, run_values) -> None:
        self.steps += 1
        if self.steps == WARMUP:
            self.start, self.cpu = time.perf_counter(), time.process_time()

    def end(self, session) -> None:
        self.wall = time.perf_counter() - self.start
        self.cpu_s = time.process_time() - self.cpu
        self.timed = self.steps - WARMUP


def hand_loop(x: np.ndarray, y: np.ndarray, hidden: List[int], batch: int, steps: int,
              seed: int, fused: bool = False) -> Dict[str, float]:
    torch.manual_seed(seed)
    sizes = [x.shape[1]] + hidden
    layers: List[nn.Module] = []
    for a, b in zip(sizes, sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    net = nn.Sequential(*layers, nn.Linear(sizes[-1], 1))
    for m in net:
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
    opt = torch.optim.Adagrad(net.parameters(), lr=0.05, initial_accumulator_value=0.1, eps=1e-7,
                              **({"fused": True} if fused else {}))
    xt, yt = torch.from_numpy(x), torch.from_numpy(y).float()
    n_batches = len(x) // batch
    for step in range(steps):
        if step == WARMUP:
            start, cpu = time.perf_counter(), time.process_time()
        i = (step % n_batches) * batch
        logits = net(xt[i:i + batch])
        loss = F.binary_cross_entropy_with_logits(logits, yt[i:i + batch, None])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    wall, cpu_s = time.perf_counter() - start, time.process_time() - cpu
    return {"steps_per_s": (steps - WARMUP) / wall, "cpu_ms": 1000 * cpu_s / (steps - WARMUP)}


def plain_model_fn(features, labels, mode, params):
    net = features["x"]
    for units in params["hidden"]:
        net = est.layers.dense(net, units, activation=F.relu)
    logits = est.layers.dense(net, 1)
    loss = F.binary_cross_entropy_with_logits(logits, labels.float().unsqueeze(1))
    opt = est.train.Optimizer(torch.optim.Adagrad, 0.05, name="Adagrad",
                              initial_accumulator_value=0.1, eps=1e-7)
    return est.EstimatorSpec(mode, loss=loss, train_op=opt.minimize(
        loss, global_step=est.train.get_global_step()))


def estimator_run(x: np.ndarray, y: np.ndarray, hidden: List[int], batch: int, steps: int,
                  seed: int, batched: bool, one_column: bool = False, plain: bool = False
                  ) -> Dict[str, float]:
    keys = [f"f{i}" for i in range(x.shape[1])]
    columns = [est.feature_column.numeric_column(k) for k in keys]
    n_batches = len(x) // batch
    if one_column or plain:
        columns = [est.feature_column.numeric_column("x", shape=(x.shape[1],))]
        features = {"x": x[:n_batches * batch].reshape(n_batches, batch, -1)}
        labels = y[:n_batches * batch].reshape(n_batches, batch)
        input_fn = lambda: data.Dataset.from_tensor_slices((features, labels)).repeat()  # noqa
    elif batched:
        cut = x[:n_batches * batch].reshape(n_batches, batch, -1)
        features = {k: np.ascontiguousarray(cut[:, :, i]) for i, k in enumerate(keys)}
        labels = y[:n_batches * batch].reshape(n_batches, batch)
        input_fn = lambda: data.Dataset.from_tensor_slices((features, labels)).repeat()  # noqa
    else:
        features = {k: x[:, i].copy() for i, k in enumerate(keys)}
        input_fn = lambda: data.Dataset.from_tensor_slices((features, y)).batch(  # noqa
            batch, drop_remainder=True).repeat()
    with tempfile.TemporaryDirectory() as model_dir:
        config = est.RunConfig(
            device="cpu", tf_random_seed=seed, intra_op_parallelism_threads=1,
            save_checkpoints_secs=None, save_summary_steps=None, log_step_count_steps=None)
        if plain:
            model = est.Estimator(plain_model_fn, model_dir, config, params={"hidden": hidden})
        else:
            model = est.DNNClassifier(hidden, columns, model_dir=model_dir, config=config)
        timer = Timer()
        model.train(input_fn, steps=steps, hooks=[timer])
    return {"steps_per_s": timer.timed / timer.wall, "cpu_ms": 1000 * timer.cpu_s / timer.timed}


def main(argv=None) -> Dict[str, Dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=12)
    parser.add_argument("--hidden", type=int, nargs="+", default=[128, 64])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.steps, args.rounds = 5_000, 40, 1
    x, y = make_data(args.rows, args.features)
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    runs = {"hand loop": [], "hand loop, fused Adagrad": [], "DNNClassifier, batched input": [],
            "DNNClassifier, one column": [], "Estimator, plain model_fn": [],
            "DNNClassifier, row input": []}
    try:
        for r in range(args.rounds):
            runs["hand loop"].append(hand_loop(x, y, args.hidden, args.batch, args.steps, r))
            runs["hand loop, fused Adagrad"].append(
                hand_loop(x, y, args.hidden, args.batch, args.steps, r, fused=True))
            runs["DNNClassifier, batched input"].append(
                estimator_run(x, y, args.hidden, args.batch, args.steps, r, batched=True))
            runs["DNNClassifier, one column"].append(
                estimator_run(x, y, args.hidden, args.batch, args.steps, r, batched=True,
                              one_column=True))
            runs["Estimator, plain model_fn"].append(
                estimator_run(x, y, args.hidden, args.batch, args.steps, r, batched=True,
                              plain=True))
            runs["DNNClassifier, row input"].append(
                estimator_run(x, y, args.hidden, args.batch, args.steps, r, batched=False))
    finally:
        torch.set_num_threads(previous)
    print(f"{args.rows} rows x {args.features} numeric features, hidden {args.hidden}, batch "
          f"{args.batch}, {args.steps} steps x {args.rounds} rounds, load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    summary = {}
    hand = runs["hand loop"]
    for name, results in runs.items():
        rate = statistics.median(r["steps_per_s"] for r in results)
        cpu = statistics.median(r["cpu_ms"] for r in results)
        ratio = statistics.median(a["steps_per_s"] / b["steps_per_s"] for a, b in zip(results, hand))
        cpu_ratio = statistics.median(b["cpu_ms"] / a["cpu_ms"] for a, b in zip(results, hand))
        summary[name] = {"steps_per_s": rate, "cpu_ms_per_step": cpu, "ratio": ratio,
                         "cpu_ratio": cpu_ratio}
        print(f"  {name:30s} {rate:8.1f} steps/s  {cpu:6.2f} CPU ms/step  "
              f"x{ratio:.2f} of the hand loop (x{cpu_ratio:.2f} by CPU time)")
    return summary


if __name__ == "__main__":
    main()
