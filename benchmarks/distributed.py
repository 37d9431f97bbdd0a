"""Scale-out benchmark: ``Estimator.train`` under torchrun against torch's plain DDP loop.

Alternating in the same run (``--rounds`` times), for 1 and 2 processes (``--procs``), it
launches ``torchrun --standalone --nproc_per_node=N`` twice:

- **estimator**: the seed CNN (conv 5x5x32 "same", pool, conv 5x5x64, pool, dense 1024,
  dropout 0.4, 2 logits; 28x28x3, SGD) as a ``model_fn`` with ``est.layers``, over
  ``from_tensor_slices(...).repeat().batch(B)`` auto-sharded by the Estimator, with the same
  ``model_fn`` as on one process;
- **ddp**: what a PyTorch user writes: the same network as an ``nn.Module`` in
  ``DistributedDataParallel``, a ``DataLoader`` over a ``TensorDataset`` with a
  ``DistributedSampler``, and a hand loop.

Each worker times steps ``--warmup``..``--steps`` on rank 0 and prints steady-state steps/s.
The report gives steps/s, images/s (steps/s x per-process batch x processes) and scaling
efficiency (images/s on N processes over N times images/s on one), medians over rounds.

On the CPU every process gets one intra-op thread and the backend is gloo; with CUDA
(``--device cuda``) each process takes one GPU and the backend is NCCL, so ``--procs 1,2,4,8``
measures 1..N GPUs. ``--quick`` shrinks the counts for a smoke run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Dict, List

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)

EXAMPLES = 2048


def _data():
    g = torch.Generator().manual_seed(0)
    return torch.rand(EXAMPLES, 28, 28, 3, generator=g), torch.randint(0, 2, (EXAMPLES,),
                                                                        generator=g)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _report(rate: float) -> None:
    if int(os.environ.get("RANK", "0")) == 0:
        print("RESULT " + json.dumps({"steps_per_sec": rate}), flush=True)


def worker_estimator(args: argparse.Namespace) -> None:
    import data
    import estimator as est
    from train_loop import StepTimer, model_fn

    device = torch.device(args.device)
    images, labels = _data()

    def input_fn():
        return data.Dataset.from_tensor_slices((images, labels)).repeat().batch(args.batch)

    config = est.RunConfig(tf_random_seed=1, save_checkpoints_steps=None,
                           save_checkpoints_secs=None, save_summary_steps=None,
                           log_step_count_steps=None, device=device.type)
    model = est.Estimator(model_fn, tempfile.mkdtemp(prefix="dist_bench_"), config)
    timer = StepTimer(model.config.device, args.steps, args.warmup)
    model.train(input_fn, hooks=[timer], max_steps=args.steps + 1)
    _report(timer.rate())


def worker_ddp(args: argparse.Namespace) -> None:
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel
    from torch.utils.data import DataLoader, DistributedSampler, TensorDataset
    from train_loop import LR, Net

    cuda = args.device == "cuda"
    local = int(os.environ["LOCAL_RANK"])
    device = torch.device("cuda", local) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if cuda else "gloo")
    torch.manual_seed(1)
    images, labels = _data()
    dataset = TensorDataset(images, labels)
    sampler = DistributedSampler(dataset, shuffle=False)
    loader = DataLoader(dataset, batch_size=args.batch, sampler=sampler, drop_last=True)
    net = Net(nhwc=True).to(device)
    ddp = DistributedDataParallel(net, device_ids=[device] if cuda else None)
    opt = torch.optim.SGD(ddp.parameters(), lr=LR)
    ddp.train()
    step, start, epoch = 0, None, 0
    while step < args.steps:
        sampler.set_epoch(epoch)
        for x, y in loader:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(ddp(x), y).backward()
            opt.step()
            step += 1
            if step == args.warmup:
                _sync(device)
                start = time.perf_counter()
            if step == args.steps:
                break
        epoch += 1
    _sync(device)
    _report((args.steps - args.warmup) / (time.perf_counter() - start))
    dist.destroy_process_group()


def launch(kind: str, procs: int, args: argparse.Namespace) -> float:
    env = {k: v for k, v in os.environ.items()
           if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env["OMP_NUM_THREADS"] = "1"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc_per_node={procs}", os.path.abspath(__file__), "--worker", kind,
           "--device", args.device, "--batch", str(args.batch), "--steps", str(args.steps),
           "--warmup", str(args.warmup)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=args.timeout)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])["steps_per_sec"]
    raise RuntimeError(f"{kind} on {procs} process(es) failed:\n{out.stdout[-2000:]}\n"
                       f"{out.stderr[-4000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", choices=("estimator", "ddp"))
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--procs", default="1,2")
    parser.add_argument("--batch", type=int, default=32, help="per process")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.worker:
        torch.set_num_threads(1)
        (worker_estimator if args.worker == "estimator" else worker_ddp)(args)
        return
    if args.quick:
        args.steps, args.warmup, args.rounds = 20, 5, 1
    procs = [int(p) for p in args.procs.split(",")]
    print(f"device {args.device}; CUDA available: {torch.cuda.is_available()}; batch "
          f"{args.batch} per process; steps {args.warmup}..{args.steps}; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    rates: Dict[str, List[float]] = {}
    for r in range(args.rounds):
        for n in procs:
            for kind in ("estimator", "ddp"):
                rate = launch(kind, n, args)
                rates.setdefault(f"{kind}/{n}", []).append(rate)
                print(f"round {r + 1}: {kind:9s} {n} proc(s): {rate:7.2f} steps/s", flush=True)
    print("\n| runner    | procs | steps/s | images/s | scaling efficiency |")
    print("|-----------|------:|--------:|---------:|-------------------:|")
    for kind in ("estimator", "ddp"):
        base = statistics.median(rates[f"{kind}/{procs[0]}"]) * args.batch * procs[0]
        for n in procs:
            steps = statistics.median(rates[f"{kind}/{n}"])
            images = steps * args.batch * n
            eff = images / (base * n / procs[0])
            print(f"| {kind:9s} | {n:5d} | {steps:7.2f} | {images:8.0f} | {eff:18.2f} |")


if __name__ == "__main__":
    main()
