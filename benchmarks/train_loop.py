"""Training-loop benchmark: ``Estimator.train`` against hand-written PyTorch loops.

Alternating in the same run (``--rounds`` times), it times:

1. **In-memory**: the seed CNN (conv 5x5x32 "same", 2x2 pool, conv 5x5x64, pool, dense 1024,
   dropout 0.4, 2 logits) at 28x28x3, batch 64, SGD, over pre-made batches: ``Estimator.train``
   (model_fn with ``est.layers``) against a hand loop over the same tensors with the same
   network as an ``nn.Module`` -- in NHWC (the same kernels as ``est.layers``) and in NCHW (what
   a PyTorch user writes). Steady-state steps/second (a hook times steps 5..N) and the whole
   ``train()`` call (restore, first step, final checkpoint) are both reported.
2. **Dogs-vs-cats end to end**: JPEG files -> DESIGN.md section 1 pipeline -> Estimator, against
   ``DataLoader(num_workers=2)`` with PIL decode -> the same network in a hand loop.
   With ``--vs tf --tf-python PYTHON``, TF's Estimator trains the same network on the same
   files in tf.data in the same rounds (``benchmarks/tf_peer.py`` under that interpreter).
3. **Checkpoint cost**: one save of the seed CNN's checkpoint (seconds, MB), and the training
   rate with ``save_checkpoints_steps=100`` against no checkpoints until the end.

``--quick`` shrinks every count for a smoke run. Images are generated (and cached) by
``benchmarks/input_pipeline.py``'s generator (500x375 photo-like JPEGs, ~43 KB: the decode
dominates), or with ``--images example`` by the example program's (``examples/_synthetic.py``:
800 small JPEGs of 56-112 px, ~2 KB: the model dominates), which is what the README's quick
start trains on.
"""

from __future__ import annotations

import argparse
import glob
import os
import statistics
import sys
import tempfile
import time
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(os.path.dirname(HERE), "examples")]
import _synthetic  # noqa: E402  (the example program's generated dogs-vs-cats set)
import input_pipeline  # noqa: E402  (the generator and the two input recipes)

import estimator as est  # noqa: E402
from estimator import layers  # noqa: E402
from estimator._threads import compute_threads  # noqa: E402  (the Estimator's CPU split)

BATCH = 64
LR = 0.001


# -- the network, twice ---------------------------------------------------------------------------
def model_fn(features, labels, mode):
    x = layers.conv2d(features, filters=32, kernel_size=5, padding="same", activation=F.relu)
    x = layers.max_pooling2d(x, pool_size=2, strides=2)
    x = layers.conv2d(x, filters=64, kernel_size=5, padding="same", activation=F.relu)
    x = layers.max_pooling2d(x, pool_size=2, strides=2)
    x = layers.dense(layers.flatten(x), units=1024, activation=F.relu)
    x = layers.dropout(x, rate=0.4, training=mode == est.ModeKeys.TRAIN)
    logits = layers.dense(x, units=2)
    loss = F.cross_entropy(logits, labels)
    train_op = est.train.GradientDescentOptimizer(LR).minimize(
        loss, global_step=est.train.get_global_step())
    return est.EstimatorSpec(mode, loss=loss, train_op=train_op)


class Net(nn.Module):
    """The same network as an ordinary module; ``nhwc`` takes the pipeline's layout."""

    def __init__(self, nhwc: bool) -> None:
        super().__init__()
        self.nhwc = nhwc
        self.conv1, self.conv2 = nn.Conv2d(3, 32, 5, padding=2), nn.Conv2d(32, 64, 5, padding=2)
        self.fc1, self.fc2 = nn.Linear(7 * 7 * 64, 1024), nn.Linear(1024, 2)
        for layer in (self.conv1, self.conv2, self.fc1, self.fc2):
            # est.layers' initialization: the same numbers, so the same (denormal-free) math
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x):
        if self.nhwc:
            x = x.permute(0, 3, 1, 2)
        x = F.max_pool2d(F.relu(self.conv1(x)), 2, 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2, 2)
        x = x.permute(0, 2, 3, 1) if self.nhwc else x
        x = F.dropout(F.relu(self.fc1(x.reshape(x.shape[0], -1))), 0.4, self.training)
        return self.fc2(x)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class StepTimer(est.SessionRunHook):
    """Times steps ``warmup..steps`` of a train call, then stops it.

    The device is synchronized only at those two steps, so the rate excludes the call's setup
    (restore, first step) and its final checkpoint.
    """

    def __init__(self, device: torch.device, steps: int, warmup: int = 5) -> None:
        self.device, self.steps, self.warmup = device, steps, warmup

    def begin(self) -> None:
        self.n, self.start, self.stop = 0, None, None

    def after_run(self, run_context, run_values) -> None:
        self.n += 1
        if self.n in (self.warmup, self.steps):
            _sync(self.device)
            now = (time.perf_counter(), time.process_time())
            if self.n == self.warmup:
                self.start = now
            else:
                self.stop = now
                run_context.request_stop()

    def rate(self) -> float:
        return (self.steps - self.warmup) / (self.stop[0] - self.start[0])

    def cpu_rate(self) -> float:
        """Steps per CPU-second of this process (robust to other processes' load)."""
        return (self.steps - self.warmup) / (self.stop[1] - self.start[1])


def hand_loop(net: nn.Module, batches, steps: int, device: torch.device, warmup: int = 5,
              move: bool = False, cpu: bool = False) -> float:
    """Steps/second of a plain loop after ``warmup`` steps (per CPU-second with ``cpu``)."""
    clock = time.process_time if cpu else time.perf_counter
    opt = torch.optim.SGD(net.parameters(), lr=LR)
    net.train()
    it = iter(batches)
    start = None
    for i in range(steps):
        x, y = next(it)
        if move:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(net(x), y).backward()
        opt.step()
        if i + 1 == warmup:
            _sync(device)
            start = clock()
    _sync(device)
    return (steps - warmup) / (clock() - start)


def config(device, **kw) -> est.RunConfig:
    base = dict(device=device, tf_random_seed=0, save_summary_steps=None,
                log_step_count_steps=None, save_checkpoints_steps=None,
                save_checkpoints_secs=None)
    base.update(kw)
    return est.RunConfig(**base)


def estimator_rate(input_fn, steps: int, device, **config_kw) -> Dict[str, float]:
    model = est.Estimator(model_fn, tempfile.mkdtemp(prefix="bench_"),
                          config=config(device, **config_kw))
    timer = StepTimer(device, steps)
    start = time.perf_counter()
    model.train(input_fn, hooks=[timer])
    return {"steady": timer.rate(), "call": steps / (time.perf_counter() - start),
            "cpu": timer.cpu_rate()}


def fmt(xs: List[float]) -> str:
    return f"{statistics.median(xs):8.2f} (runs: {', '.join(f'{x:.2f}' for x in xs)})"


# -- 1. in-memory ---------------------------------------------------------------------------------
def bench_in_memory(steps: int, rounds: int, device: torch.device) -> None:
    g = torch.Generator().manual_seed(0)
    nhwc = [(torch.rand(BATCH, 28, 28, 3, generator=g).to(device),
             torch.randint(0, 2, (BATCH,), generator=g).to(device)) for _ in range(16)]
    nchw = [(x.permute(0, 3, 1, 2).contiguous(), y) for x, y in nhwc]
    cycle = lambda batches: (batches[i % len(batches)] for i in range(10**9))  # noqa: E731
    names = ("hand NHWC", "hand NCHW", "estimator", "estimator call", "hand NHWC cpu",
             "estimator cpu")
    res: Dict[str, List[float]] = {k: [] for k in names}
    for _ in range(rounds):  # short alternating runs: the load of a shared machine drifts
        res["hand NHWC"].append(hand_loop(Net(True).to(device), cycle(nhwc), steps, device))
        r = estimator_rate(lambda: cycle(nhwc), steps, device)
        res["estimator"].append(r["steady"])
        res["estimator call"].append(r["call"])
        res["estimator cpu"].append(r["cpu"])
        res["hand NHWC cpu"].append(hand_loop(Net(True).to(device), cycle(nhwc), steps, device,
                                              cpu=True))
        res["hand NCHW"].append(hand_loop(Net(False).to(device), cycle(nchw), steps, device))
    print(f"\n1. seed CNN 28x28x3, batch {BATCH}, SGD, in-memory, {steps} steps x {rounds} "
          f"rounds, steps per second (median; '... cpu': per CPU-second of this process):")
    for k, v in res.items():
        print(f"   {k:16s} {fmt(v)}")
    for label, ours, theirs in (("same layout", "estimator", "hand NHWC"),
                                ("NCHW", "estimator", "hand NCHW"),
                                ("same layout, CPU time", "estimator cpu", "hand NHWC cpu")):
        pairs = [e / h for e, h in zip(res[ours], res[theirs])]
        print(f"   estimator / hand loop ({label}), median of paired runs: "
              f"{statistics.median(pairs):.3f}x")
    print("   (target >= 0.95x)")


def bench_overhead(steps: int, device: torch.device) -> None:
    """Per-step cost of the Estimator's loop: a 1-layer model where compute is negligible."""
    x = torch.randn(BATCH, 8, device=device)
    y = torch.randint(0, 2, (BATCH,), device=device)

    def tiny_fn(features, labels, mode):
        loss = F.cross_entropy(layers.dense(features, units=2), labels)
        return est.EstimatorSpec(mode, loss=loss, train_op=est.train.GradientDescentOptimizer(
            LR).minimize(loss, global_step=est.train.get_global_step()))

    hand, ours = [], []
    for _ in range(3):
        lin = nn.Linear(8, 2).to(device)
        opt = torch.optim.SGD(lin.parameters(), lr=LR)
        start = time.perf_counter()
        for a, b in ((x, y) for _ in range(steps)):
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(lin(a), b).backward()
            opt.step()
        _sync(device)
        hand.append((time.perf_counter() - start) / steps * 1e6)
        model = est.Estimator(tiny_fn, tempfile.mkdtemp(prefix="bench_"), config=config(device))
        timer = StepTimer(device, steps, warmup=20)
        model.train(lambda: ((x, y) for _ in range(steps)), hooks=[timer])
        ours.append(1e6 / timer.rate())
    print(f"\n   per-step time of a 1-layer model ({steps} steps, 3 runs, median): hand loop "
          f"{statistics.median(hand):.0f} us, Estimator {statistics.median(ours):.0f} us -> loop "
          f"overhead about {statistics.median(ours) - statistics.median(hand):.0f} us/step")


# -- 2. dogs-vs-cats end to end -------------------------------------------------------------------
def tf_estimator_rate(python: str, pattern: str, steps: int) -> Dict[str, float]:
    """TF's Estimator on the same files and network (``benchmarks/tf_peer.py`` under ``python``)."""
    import json
    import subprocess
    peer = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tf_peer.py")
    out = subprocess.run([python, peer, "estimator", "--pattern", pattern, "--steps", str(steps),
                          "--batch", str(BATCH)], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return {"steady": result["steady_steps_per_s"], "call": result["call_steps_per_s"]}


def bench_dogscats(steps: int, rounds: int, device: torch.device, cache_dir: str,
                   per_class: int, tf_python: Optional[str] = None, images: str = "photos"
                   ) -> None:
    if images == "example":  # what examples/dogs_vs_cats.py trains on without --data-dir
        root = _synthetic.make_dogscats(os.path.join(cache_dir, "example"))
        pattern = os.path.join(root, "train", "**", "*.jpg")
    else:
        pattern = input_pipeline.make_images(cache_dir, per_class)
    files = sorted(glob.glob(pattern, recursive=True))
    res: Dict[str, List[float]] = {"dataloader": [], "estimator": [], "estimator call": [],
                                   "hand, same input": []}
    if tf_python:
        res.update({"TF estimator": [], "TF estimator call": []})
    for _ in range(rounds):
        if tf_python:
            theirs = tf_estimator_rate(tf_python, pattern, steps)
            res["TF estimator"].append(theirs["steady"])
            res["TF estimator call"].append(theirs["call"])
        loader = torch.utils.data.DataLoader(
            input_pipeline.JpegFolder(files, (steps + 8) * BATCH, (28, 28), False),
            batch_size=BATCH, shuffle=True, num_workers=2, pin_memory=device.type == "cuda")
        res["dataloader"].append(hand_loop(Net(True).to(device), loader, steps, device,
                                           move=True))
        input_fn = input_pipeline.get_input_fn(pattern, (28, 28), shuffle=True, batch_size=BATCH)
        r = estimator_rate(input_fn, steps, device)
        res["estimator"].append(r["steady"])
        res["estimator call"].append(r["call"])
        # the same pipeline feeding a hand loop: separates the input's cost from the loop's
        # (with the Estimator's thread split, so only the loop differs)
        batches = iter(input_fn())
        try:
            with compute_threads(device, None, batches):
                res["hand, same input"].append(hand_loop(Net(True).to(device), batches, steps,
                                                         device, move=True))
        finally:
            batches.close()
    print(f"\n2. dogs-vs-cats end to end ({len(files)} {images} JPEGs, 28x28, batch {BATCH}), "
          f"{steps} steps x {rounds} rounds, steps/s (median):")
    for k, v in res.items():
        print(f"   {k:16s} {fmt(v)}")
    ratio = statistics.median(res["estimator"]) / statistics.median(res["dataloader"])
    print(f"   estimator / DataLoader loop: {ratio:.3f}x   (target >= 1.4x)")
    own = statistics.median(res["estimator"]) / statistics.median(res["hand, same input"])
    print(f"   estimator / hand loop over the same data pipeline: {own:.3f}x")
    if tf_python:
        vs_tf = statistics.median(a / b for a, b in zip(res["estimator"], res["TF estimator"]))
        print(f"   estimator / TF's Estimator, median of paired rounds: {vs_tf:.3f}x   "
              "(target >= 1.3x)")


# -- 3. checkpoints -------------------------------------------------------------------------------
def bench_checkpoints(steps: int, rounds: int, device: torch.device) -> None:
    g = torch.Generator().manual_seed(0)
    nhwc = [(torch.rand(BATCH, 28, 28, 3, generator=g).to(device),
             torch.randint(0, 2, (BATCH,), generator=g).to(device)) for _ in range(16)]
    cycle = lambda: (nhwc[i % len(nhwc)] for i in range(10**9))  # noqa: E731
    model_dir = tempfile.mkdtemp(prefix="bench_ckpt_")
    model = est.Estimator(model_fn, model_dir, config=config(device))
    model.train(cycle, steps=1)
    payload = est.checkpoint.load(model_dir)
    times = []
    for i in range(5):
        start = time.perf_counter()
        path = est.checkpoint.save(model_dir, 100 + i, dict(payload, global_step=100 + i),
                                   keep_max=2)
        times.append(time.perf_counter() - start)
    size = os.path.getsize(path) / 2**20
    res: Dict[str, List[float]] = {"no checkpoints": [], "every 100 steps": []}
    for _ in range(rounds):
        res["no checkpoints"].append(estimator_rate(cycle, steps, device)["call"])
        res["every 100 steps"].append(
            estimator_rate(cycle, steps, device, save_checkpoints_steps=100)["call"])
    print(f"\n3. checkpoints of the seed CNN: one save {statistics.median(times) * 1000:.0f} ms, "
          f"{size:.1f} MB; whole train() calls of {steps} steps x {rounds} rounds, steps/s:")
    for k, v in res.items():
        print(f"   {k:16s} {fmt(v)}")
    pairs = [1 - c / n for c, n in zip(res["every 100 steps"], res["no checkpoints"])]
    print(f"   overhead of save_checkpoints_steps=100, median of paired runs: "
          f"{statistics.median(pairs) * 100:.1f}%   (target < 5%)")
    step_time = 1 / max(res["no checkpoints"])
    print(f"   from the save time: one save per 100 steps of {step_time * 1000:.0f} ms costs "
          f"{statistics.median(times) / (100 * step_time) * 100:.2f}%")


def main(argv: Sequence[str] = ()) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts for a smoke run")
    parser.add_argument("--steps", type=int, default=60, help="steps per timed run (1, 2)")
    parser.add_argument("--ckpt-steps", type=int, default=400, help="steps per run in 3")
    parser.add_argument("--rounds", type=int, default=8, help="alternating runs (3: a third)")
    parser.add_argument("--device", default=None, help="default: CUDA when available")
    parser.add_argument("--only", choices=["memory", "dogscats", "checkpoints"], default=None)
    parser.add_argument("--vs", choices=["torch", "tf"], default="torch",
                        help="also time TF's Estimator on the dogs-vs-cats run (needs "
                             "--tf-python)")
    parser.add_argument("--tf-python", metavar="PYTHON",
                        help="an interpreter with tensorflow-cpu 2.15 and tensorflow-estimator "
                             "(a throwaway venv); TensorFlow is never imported here")
    parser.add_argument("--per-class", type=int, default=1000, help="JPEGs per class")
    parser.add_argument("--images", choices=["photos", "example"], default="photos",
                        help="2's JPEGs: generated 500x375 photo-like ones (decode-bound), or "
                             "the example program's own small synthetic set (56-112 px, "
                             "model-bound; what the README quick start trains on)")
    parser.add_argument("--cache-dir", default=os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "torch-estimator",
        "dogscats-bench"))
    args = parser.parse_args(list(argv) or None)
    if args.vs == "tf" and not args.tf_python:
        parser.error("--vs tf needs --tf-python PYTHON")
    if args.quick:
        args.steps, args.ckpt_steps, args.rounds, args.per_class = 30, 200, 2, 200
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    if args.only in (None, "memory"):
        bench_in_memory(args.steps, args.rounds, device)
        bench_overhead(3000 if not args.quick else 500, device)
    if args.only in (None, "dogscats"):
        bench_dogscats(args.steps, args.rounds, device, args.cache_dir, args.per_class,
                       args.tf_python if args.vs == "tf" else None, args.images)
    if args.only in (None, "checkpoints"):
        bench_checkpoints(args.ckpt_steps, args.rounds, device)


if __name__ == "__main__":
    main()
