"""Start-up benchmark: process start to the end of the first training step, in fresh processes.

Each round starts three fresh interpreters, alternating, and times in each:

1. **estimator**: ``import torch``; the seed program's imports (``data``, ``estimator``,
   ``examples/dogs_vs_cats.py``); ``Estimator(model_fn, ...)`` + ``train(input_fn, steps=1)``
   on the benchmark JPEGs at 28x28 with ``shuffle=True`` (restore attempt, input pipeline
   start, the first step, the TensorBoard graph, the final checkpoint).
2. **dynamo**: ``import torch`` then ``import torch._dynamo`` alone: what ``torch.optim``
   imports on the first optimizer construction (``torch._disable_dynamo``) in every PyTorch
   program, so both programs below pay it inside their first step.
3. **hand**: the same first step written by hand: a ``Dataset`` of the JPEG paths decoded with
   PIL and resized to 28x28, ``DataLoader(shuffle=True, batch_size=64)``, the same network as
   an ``nn.Module``, ``Adam``, one step, ``torch.save`` of model and optimizer state.

Medians over ``--rounds`` (default 5) are printed with the load average: wall time beyond
``import torch``, with and without the dynamo share, and the process's CPU time for the same
span (all threads; steadier than wall time on a shared machine). Images are generated (and cached) by
``benchmarks/input_pipeline.py``'s generator.

    python benchmarks/first_step.py --rounds 7
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Dict, List, Sequence

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def _child_estimator(pattern: str) -> Dict[str, float]:
    import tempfile

    t0 = time.perf_counter()
    import torch  # noqa: F401
    t1, c1 = time.perf_counter(), time.process_time()
    sys.path[:0] = [ROOT, os.path.join(ROOT, "examples")]
    import dogs_vs_cats as ex  # imports data and estimator

    import estimator as est
    t2 = time.perf_counter()
    with tempfile.TemporaryDirectory() as model_dir:
        model = est.Estimator(ex.model_fn, model_dir, est.RunConfig(device="cpu"),
                              params={"num_classes": 2, "learning_rate": 1e-3})
        model.train(ex.get_input_fn(pattern, shuffle=True), steps=1)
        t3, c3 = time.perf_counter(), time.process_time()
    return {"torch": t1 - t0, "imports": t2 - t1, "first_step": t3 - t2, "cpu": c3 - c1}


def _child_dynamo(pattern: str) -> Dict[str, float]:
    t0 = time.perf_counter()
    import torch  # noqa: F401
    t1, c1 = time.perf_counter(), time.process_time()
    import torch._dynamo  # noqa: F401
    t2, c2 = time.perf_counter(), time.process_time()
    return {"torch": t1 - t0, "dynamo": t2 - t1, "cpu": c2 - c1}


def _child_hand(pattern: str) -> Dict[str, float]:
    import glob
    import tempfile

    t0 = time.perf_counter()
    import torch
    t1, c1 = time.perf_counter(), time.process_time()
    import torch.nn.functional as F
    from PIL import Image
    from torch import nn
    from torch.utils.data import DataLoader, Dataset
    t2 = time.perf_counter()

    class Images(Dataset):
        def __init__(self, paths: List[str]) -> None:
            self.paths = paths

        def __len__(self) -> int:
            return len(self.paths)

        def __getitem__(self, i: int):
            path = self.paths[i]
            with Image.open(path) as image:
                image = image.convert("RGB").resize((28, 28), Image.BILINEAR)
                x = torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8)
            label = 0 if os.path.basename(os.path.dirname(path)) == "dogs" else 1
            return x.view(28, 28, 3).permute(2, 0, 1).float() / 255, label

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(3, 32, 5, padding=2)
            self.conv2 = nn.Conv2d(32, 64, 5, padding=2)
            self.fc1 = nn.Linear(7 * 7 * 64, 1024)
            self.fc2 = nn.Linear(1024, 2)
            for layer in (self.conv1, self.conv2, self.fc1, self.fc2):
                nn.init.trunc_normal_(layer.weight, std=0.1, a=-0.2, b=0.2)
                nn.init.constant_(layer.bias, 0.1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = F.max_pool2d(F.relu(self.conv1(x)), 2)
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            return self.fc2(F.relu(self.fc1(x.flatten(1))))

    loader = DataLoader(Images(sorted(glob.glob(pattern))), batch_size=64, shuffle=True)
    net = Net()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    for images, labels in loader:
        loss = F.cross_entropy(net(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        break
    with tempfile.TemporaryDirectory() as model_dir:
        torch.save({"model": net.state_dict(), "optimizer": optimizer.state_dict()},
                   os.path.join(model_dir, "model.pt"))
        t3, c3 = time.perf_counter(), time.process_time()
    return {"torch": t1 - t0, "imports": t2 - t1, "first_step": t3 - t2, "cpu": c3 - c1}


CHILDREN = {"estimator": _child_estimator, "dynamo": _child_dynamo, "hand": _child_hand}


def _run(mode: str, pattern: str) -> Dict[str, float]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (ROOT, os.environ.get("PYTHONPATH")) if p))
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", mode,
                          "--pattern", pattern], check=True, capture_output=True, text=True,
                         env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv: Sequence[str] = ()) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds")
    parser.add_argument("--cache-dir", default=os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "torch-estimator",
        "dogscats-bench"), help="where the generated JPEGs are kept between runs")
    parser.add_argument("--per-class", type=int, default=200,
                        help="JPEGs per class (default: the --quick set of the other benchmarks)")
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--pattern", help=argparse.SUPPRESS)
    args = parser.parse_args(list(argv) or None)
    if args.child:
        print(json.dumps(CHILDREN[args.child](args.pattern)))
        return
    sys.path.insert(0, HERE)
    import input_pipeline  # the JPEG generator

    input_pipeline.make_images(args.cache_dir, args.per_class)
    pattern = os.path.join(args.cache_dir, "train", "*", "*.jpg")
    runs: Dict[str, List[Dict[str, float]]] = {mode: [] for mode in CHILDREN}
    load = [os.getloadavg()[0]]
    for _ in range(args.rounds):
        for mode in CHILDREN:
            runs[mode].append(_run(mode, pattern))
        load.append(os.getloadavg()[0])

    def med(mode: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[mode])

    def beyond(mode: str) -> List[float]:
        return [r["imports"] + r["first_step"] for r in runs[mode]]

    dynamo = med("dynamo", "dynamo")
    print(f"medians of {args.rounds} rounds, load average {min(load):.2f}-{max(load):.2f}, "
          f"{os.cpu_count()} CPUs")
    print(f"  import torch                 {med('estimator', 'torch'):.2f} s")
    print(f"  import torch._dynamo alone   {dynamo:.2f} s  (paid by both programs' first "
          "optimizer)")
    for mode, what in (("estimator", "estimator"), ("hand", "hand loop")):
        b = statistics.median(beyond(mode))
        print(f"  {what:10s} imports {med(mode, 'imports'):.2f} s, first step "
              f"{med(mode, 'first_step'):.2f} s: {b:.2f} s beyond import torch, "
              f"{b - dynamo:.2f} s without dynamo (rounds {min(beyond(mode)):.2f}-"
              f"{max(beyond(mode)):.2f}); CPU {med(mode, 'cpu'):.2f} s, "
              f"{med(mode, 'cpu') - med('dynamo', 'cpu'):.2f} s without dynamo's")


if __name__ == "__main__":
    main(sys.argv[1:])
