"""GPU benchmark: ``Estimator.train`` against a hand loop with a ``DataLoader``, per precision.

For each model -- the seed CNN at 28x28 and a ResNet-18 (written here, no torchvision) at
224x224 -- and each precision (fp32, bf16, fp16), alternating ``--rounds`` times in one run:

- **estimator**: JPEG files -> the design's pipeline (``list_files -> shuffle_and_repeat ->
  map(read, decode, resize, num_parallel_calls=AUTOTUNE) -> batch -> prefetch``), shipping
  ``uint8`` images (a quarter of float32's bytes) that ``model_fn`` converts on the device;
  the Estimator's device feed pins and copies them on a side stream;
  ``RunConfig(mixed_precision=...)``.
- **hand loop**: ``DataLoader(pin_memory=True, num_workers=N)`` over a PIL dataset giving the
  same ``uint8`` images, ``non_blocking`` copies, ``torch.autocast`` and a ``GradScaler`` for
  fp16 -- what a PyTorch engineer writes.

Both train the same module with SGD + momentum. Reported (medians over rounds): steps/s and
images/s over steps ``warmup..steps`` (device synchronized at both ends), the host time per
step spent waiting outside the step (estimator: from one step's end to the next step's start,
i.e. taking and moving the batch; hand loop: in ``next(loader)``), and GPU utilisation
(``torch.cuda.utilization()`` or ``nvidia-smi`` sampled every 50 ms during the timed steps:
the fraction of time a kernel was running). ``--quick`` is a smoke run (tiny counts and
images; it also runs on the CPU, where "GPU" figures are n/a). ``--compile`` compiles both
models; ``--channels-last`` stores conv weights channels_last in both.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import input_pipeline  # noqa: E402  (the JPEG generator)

import data  # noqa: E402
import estimator as est  # noqa: E402
from models.dogs_vs_cats import SeedCNN  # noqa: E402

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
POLICY = {"fp32": None, "bf16": "bf16", "fp16": "fp16"}
LR, MOMENTUM = 0.01, 0.9


# -- ResNet-18 (He et al. 2016), NHWC input as the pipeline makes it ------------------------------
class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                      nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (x if self.down is None else self.down(x)))


class ResNet18(nn.Module):
    """ResNet-18 (11.2M parameters at 1000 classes); ``[N, H, W, 3]`` float in."""

    def __init__(self, num_classes: int = 2) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64),
                                  nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1))
        blocks, cin = [], 64
        for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            blocks += [BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)]
            cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.stem(x.permute(0, 3, 1, 2)))  # a channels_last view: no copy
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


MODELS: Dict[str, Callable[[int], nn.Module]] = {
    "seed_cnn": lambda size: SeedCNN(2, (size, size), 3),
    "resnet18": lambda size: ResNet18(2),
}


# -- inputs ---------------------------------------------------------------------------------------
def estimator_input_fn(pattern: str, size: int, batch: int) -> Callable[[], Any]:
    """The design's pipeline, shipping uint8 (converted to float in model_fn, on the device)."""
    def path_to_img(path):
        label = 0 if path.split("/")[-2] == "dogs" else 1
        image = data.image.decode_jpeg(data.io.read_file(path), channels=3)
        image = data.image.resize(data.image.convert_image_dtype(image, torch.float32),
                                  (size, size))
        return data.image.convert_image_dtype(image, torch.uint8), label

    def input_fn():
        ds = data.Dataset.list_files(pattern).apply(
            data.experimental.shuffle_and_repeat(4096))
        ds = ds.map(path_to_img, num_parallel_calls=data.AUTOTUNE)
        return ds.batch(batch, drop_remainder=True).prefetch(4)
    return input_fn


class JpegUint8(torch.utils.data.Dataset):
    """The PyTorch user's dataset: PIL decode and resize, a uint8 HWC tensor."""

    def __init__(self, files: Sequence[str], length: int, size: int) -> None:
        self.files, self.length, self.size = list(files), length, size

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int):
        path = self.files[i % len(self.files)]
        img = Image.open(path).convert("RGB").resize((self.size, self.size), Image.BILINEAR)
        return torch.from_numpy(np.asarray(img).copy()), 0 if "/dogs/" in path else 1


# -- GPU utilisation ------------------------------------------------------------------------------
class UtilSampler:
    """Samples GPU utilisation (percent of time a kernel ran) every 50 ms while started."""

    def __init__(self, device: torch.device) -> None:
        self.device, self.samples = device, []
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._read = self._reader()

    def _reader(self) -> Optional[Callable[[], float]]:
        if self.device.type != "cuda":
            return None
        try:
            torch.cuda.utilization(self.device)
            return lambda: float(torch.cuda.utilization(self.device))
        except Exception:  # no pynvml: try nvidia-smi
            pass
        if shutil.which("nvidia-smi") is None:
            return None
        index = self.device.index or 0

        def smi() -> float:
            out = subprocess.run(["nvidia-smi", f"--id={index}", "--query-gpu=utilization.gpu",
                                  "--format=csv,noheader,nounits"], capture_output=True,
                                 text=True, timeout=5)
            return float(out.stdout.strip().splitlines()[0])
        return smi

    def start(self) -> None:
        if self._read is None:
            return
        self.samples, self._stop = [], threading.Event()

        def loop():
            while not self._stop.wait(0.05):
                try:
                    self.samples.append(self._read())
                except Exception:
                    return
        self._thread = threading.Thread(target=loop, name="util-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> Optional[float]:
        if self._thread is None:
            return None
        self._stop.set()
        self._thread.join()
        self._thread = None
        return statistics.mean(self.samples) if self.samples else None


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# -- the two runners ------------------------------------------------------------------------------
class Timer(est.SessionRunHook):
    """Times steps warmup..steps of a train call, the host time between steps, GPU busy."""

    def __init__(self, device: torch.device, steps: int, warmup: int) -> None:
        self.device, self.steps, self.warmup = device, steps, warmup
        self.util = UtilSampler(device)

    def begin(self) -> None:
        self.n, self.wait, self.last_end = 0, 0.0, None

    def before_run(self, run_context):
        if self.last_end is not None and self.n >= self.warmup:
            self.wait += time.perf_counter() - self.last_end
        return None

    def after_run(self, run_context, run_values) -> None:
        self.n += 1
        if self.n == self.warmup:
            _sync(self.device)
            self.util.start()
            self.start = time.perf_counter()
        elif self.n == self.steps:
            _sync(self.device)
            self.elapsed = time.perf_counter() - self.start
            self.gpu = self.util.stop()
            run_context.request_stop()
        self.last_end = time.perf_counter()

    def result(self, batch: int) -> Dict[str, Any]:
        timed = self.steps - self.warmup
        return {"steps/s": timed / self.elapsed, "images/s": timed * batch / self.elapsed,
                "wait ms/step": 1000 * self.wait / timed, "gpu %": self.gpu}


def run_estimator(model: str, size: int, precision: str, pattern: str, batch: int, steps: int,
                  warmup: int, device: torch.device, compile_: bool, channels_last: bool
                  ) -> Dict[str, Any]:
    factory = MODELS[model]

    def model_fn(features, labels, mode):
        images = data.image.convert_image_dtype(features, torch.float32)
        logits = est.get_module("net", lambda: factory(size))(images)
        loss = F.cross_entropy(logits.float(), labels)
        op = est.train.MomentumOptimizer(LR, MOMENTUM).minimize(
            loss, global_step=est.train.get_global_step())
        return est.EstimatorSpec(mode, loss=loss, train_op=op)

    model_dir = tempfile.mkdtemp(prefix="gpu_bench_")
    try:
        config = est.RunConfig(device=device, tf_random_seed=0, save_summary_steps=None,
                               log_step_count_steps=None, save_checkpoints_steps=None,
                               save_checkpoints_secs=None, mixed_precision=POLICY[precision],
                               compile=compile_, channels_last=channels_last)
        timer = Timer(device, steps, warmup)
        est.Estimator(model_fn, model_dir, config=config).train(
            estimator_input_fn(pattern, size, batch), hooks=[timer])
        return timer.result(batch)
    finally:
        shutil.rmtree(model_dir, ignore_errors=True)


def run_hand_loop(model: str, size: int, precision: str, files: List[str], batch: int,
                  steps: int, warmup: int, device: torch.device, workers: int, compile_: bool,
                  channels_last: bool) -> Dict[str, Any]:
    torch.manual_seed(0)
    net = MODELS[model](size).to(device)
    if channels_last and device.type == "cuda":
        net = net.to(memory_format=torch.channels_last)
    if compile_:
        net.compile()
    opt = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM)
    dtype = PRECISIONS[precision]
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    loader = torch.utils.data.DataLoader(
        JpegUint8(files, (steps + 2) * batch, size), batch_size=batch, shuffle=True,
        num_workers=workers, pin_memory=device.type == "cuda", drop_last=True,
        persistent_workers=False)
    util = UtilSampler(device)
    net.train()
    it = iter(loader)
    wait = 0.0
    for i in range(steps):
        t0 = time.perf_counter()
        x, y = next(it)
        if i >= warmup:
            wait += time.perf_counter() - t0
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            logits = net(data.image.convert_image_dtype(x, torch.float32))
        loss = F.cross_entropy(logits.float(), y)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        if i + 1 == warmup:
            _sync(device)
            util.start()
            start = time.perf_counter()
    _sync(device)
    elapsed = time.perf_counter() - start
    gpu = util.stop()
    del it
    timed = steps - warmup
    return {"steps/s": timed / elapsed, "images/s": timed * batch / elapsed,
            "wait ms/step": 1000 * wait / timed, "gpu %": gpu}


# -- main -----------------------------------------------------------------------------------------
def _median(rows: List[Dict[str, Any]], key: str) -> Optional[float]:
    values = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(values) if values else None


def _fmt(value: Optional[float], digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def main(argv: Sequence[str] = ()) -> Dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run (CPU is fine)")
    parser.add_argument("--device", default=None, help="default: CUDA when available")
    parser.add_argument("--models", default="seed_cnn,resnet18")
    parser.add_argument("--precisions", default="fp32,bf16,fp16")
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=None, help="default: 256 / 128 (resnet)")
    parser.add_argument("--workers", type=int, default=None,
                        help="DataLoader workers (default: CPU cores)")
    parser.add_argument("--per-class", type=int, default=1000, help="JPEGs per class")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--json", default=None, help="also write the results here")
    parser.add_argument("--cache-dir", default=os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "torch-estimator",
        "dogscats-bench"))
    args = parser.parse_args(list(argv) or None)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    sizes = {"seed_cnn": 28, "resnet18": 224}
    batches = {"seed_cnn": 256, "resnet18": 128}
    if args.quick:
        args.steps, args.warmup, args.rounds, args.per_class = 4, 1, 1, 8
        sizes["resnet18"], batches = 64, {"seed_cnn": 4, "resnet18": 2}
    if args.batch:
        batches = {k: args.batch for k in batches}
    workers = args.workers
    if workers is None:
        workers = 0 if args.quick else min(os.cpu_count() or 1, 16)
    pattern = input_pipeline.make_images(args.cache_dir, args.per_class)
    files = sorted(glob.glob(pattern, recursive=True))
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"device {device} ({name}), torch {torch.__version__}, {os.cpu_count()} CPUs, "
          f"DataLoader workers {workers}, {len(files)} JPEGs, compile={args.compile}, "
          f"channels_last={args.channels_last}")
    results: Dict[str, Any] = {"device": name, "torch": torch.__version__, "rows": []}
    print(f"{'model':9s} {'prec':5s} {'runner':10s} {'steps/s':>8s} {'images/s':>9s} "
          f"{'wait ms/step':>12s} {'GPU %':>6s}")
    for model in args.models.split(","):
        for precision in args.precisions.split(","):
            rows: Dict[str, List[Dict[str, Any]]] = {"estimator": [], "hand loop": []}
            common = dict(model=model, size=sizes[model], precision=precision,
                          batch=batches[model], steps=args.steps, warmup=args.warmup,
                          device=device, compile_=args.compile,
                          channels_last=args.channels_last)
            for _ in range(args.rounds):  # alternate, so load changes hit both alike
                rows["estimator"].append(run_estimator(pattern=pattern, **common))
                rows["hand loop"].append(run_hand_loop(files=files, workers=workers, **common))
            for runner, rs in rows.items():
                row = {"model": model, "precision": precision, "runner": runner,
                       "size": sizes[model], "batch": batches[model],
                       **{k: _median(rs, k) for k in ("steps/s", "images/s", "wait ms/step",
                                                      "gpu %")}}
                results["rows"].append(row)
                print(f"{model:9s} {precision:5s} {runner:10s} {_fmt(row['steps/s'], 2):>8s} "
                      f"{_fmt(row['images/s']):>9s} {_fmt(row['wait ms/step'], 2):>12s} "
                      f"{_fmt(row['gpu %'], 0):>6s}")
            est_rate = _median(rows["estimator"], "steps/s")
            hand_rate = _median(rows["hand loop"], "steps/s")
            print(f"{'':9s} {'':5s} estimator / hand loop: {est_rate / hand_rate:.3f}x "
                  "(goal >= 0.98x)")
    if args.quick:
        print("(--quick: a smoke run with tiny counts; its figures measure nothing)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return results


if __name__ == "__main__":
    main()
