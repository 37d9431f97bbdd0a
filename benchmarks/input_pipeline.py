"""Input pipeline benchmark: the reference ``data`` pipeline against the DataLoader recipe.

Generates photo-sized JPEGs (500x375, 30-50 KB) in ``train/{dogs,cats}/`` under a cache
directory, then, alternating in the same run, times:

- the reference pipeline of the design (``list_files → shuffle_and_repeat → map(read_file,
  decode_jpeg, convert_image_dtype, resize, num_parallel_calls=AUTOTUNE) → batch(64) →
  prefetch``), and
- the recipe a PyTorch user writes for the same job: a map-style dataset doing PIL
  ``open/convert/resize`` and a float tensor, in a ``DataLoader(batch_size=64, shuffle=True,
  num_workers=2)``,

at 28x28 and 224x224 with full-scale decode and at 28x28 with reduced-scale decode
(``ratio=8`` here, PIL ``draft`` there). Prints images/second, their ratio, peak RSS and
whether RSS stays flat over 20,000 images. ``--vs tf --tf-python PYTHON`` times the same chain
in tf.data instead of the DataLoader (``benchmarks/tf_peer.py`` under that interpreter, which
must have ``tensorflow-cpu``; TensorFlow is never a dependency). ``--compare-backends`` also times the map stage on
threads against a process pool. Run ``python benchmarks/input_pipeline.py --help``.
"""

from __future__ import annotations

import argparse
import glob
import os
import resource
import statistics
import sys
import time
from typing import Callable, Dict, Iterable, List, Sequence, Tuple

import numpy as np
import torch
from PIL import Image

import data

BATCH = 64
CONFIGS = {  # name: (image size, reduced-scale decode)
    "28x28": ((28, 28), False),
    "224x224": ((224, 224), False),
    "28x28 ratio=8": ((28, 28), True),
}


# -- test images ---------------------------------------------------------------------------------
def _photo(rng: np.random.Generator, width: int = 500, height: int = 375) -> Image.Image:
    """A smooth colour field plus texture and grain: compresses like a photo (30-50 KB)."""
    base = (rng.random((rng.integers(3, 7), rng.integers(4, 9), 3)) * 255).astype(np.uint8)
    img = np.asarray(Image.fromarray(base).resize((width, height), Image.BICUBIC), np.float32)
    tex = (rng.random((height // 6, width // 6)) * 255).astype(np.uint8)
    tex = np.asarray(Image.fromarray(tex).resize((width, height), Image.BICUBIC), np.float32)
    img = img + (tex[..., None] - 128) * 0.4 + rng.normal(0, rng.uniform(3, 5), (height, width, 1))
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def make_images(root: str, per_class: int, seed: int = 0) -> str:
    """Write ``root/train/{dogs,cats}/NNNNN.jpg`` unless already there; return the glob."""
    rng = np.random.default_rng(seed)
    for label in ("dogs", "cats"):
        folder = os.path.join(root, "train", label)
        os.makedirs(folder, exist_ok=True)
        for i in range(per_class):
            path = os.path.join(folder, f"{i:05d}.jpg")
            if not os.path.exists(path):
                _photo(rng).save(path + ".tmp", "JPEG", quality=85)
                os.replace(path + ".tmp", path)
    return os.path.join(root, "train", "**", "*.jpg")


# -- the two pipelines ---------------------------------------------------------------------------
def get_input_fn(pattern: str, image_size=(28, 28), shuffle=False, batch_size=64,
                 num_epochs=None, buffer_size=4096, ratio=1):
    """DESIGN.md section 1's input_fn (plus the ``ratio`` knob for reduced-scale decode)."""
    def _path_to_img(path):
        label = 0 if path.split("/")[-2] == "dogs" else 1
        image = data.image.decode_jpeg(data.io.read_file(path), channels=3, ratio=ratio)
        image = data.image.convert_image_dtype(image, torch.float32)
        return data.image.resize(image, image_size), label

    def _input_fn():
        ds = data.Dataset.list_files(pattern)
        if shuffle:
            ds = ds.apply(data.experimental.shuffle_and_repeat(buffer_size, num_epochs))
        else:
            ds = ds.repeat(num_epochs)
        ds = ds.map(_path_to_img, num_parallel_calls=data.AUTOTUNE)
        return ds.batch(batch_size).prefetch(buffer_size)
    return _input_fn


class JpegFolder(torch.utils.data.Dataset):
    """The map-style dataset a PyTorch user writes: PIL open/convert/resize, float tensor."""

    def __init__(self, files: Sequence[str], length: int, size: Tuple[int, int],
                 draft: bool) -> None:
        self.files, self.length, self.size, self.draft = list(files), length, size, draft

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int):
        path = self.files[i % len(self.files)]
        label = 0 if path.split("/")[-2] == "dogs" else 1
        img = Image.open(path)
        if self.draft:
            img.draft("RGB", (self.size[1], self.size[0]))
        img = img.convert("RGB").resize((self.size[1], self.size[0]))
        return torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0), label


def _cpu_s() -> float:
    t = os.times()  # this process and its reaped children (DataLoader workers)
    return t.user + t.system + t.children_user + t.children_system


def _time_batches(make_batches: Callable[[], Iterable], images: int,
                  warmup: int = 3) -> Tuple[float, float]:
    """(images/second over ``images`` images after ``warmup`` batches, CPU us per image).

    The CPU time covers the whole run, start-up and worker shutdown included.
    """
    cpu0 = _cpu_s()
    it = iter(make_batches())
    for _ in range(warmup):
        next(it)
    seen, start = 0, time.perf_counter()
    while seen < images:
        features, _ = next(it)
        seen += len(features)
    rate = seen / (time.perf_counter() - start)
    if hasattr(it, "close"):
        it.close()
    del it  # a DataLoader iterator shuts its workers down here
    return rate, 1e6 * (_cpu_s() - cpu0) / (seen + warmup * BATCH)


def run_reference(pattern: str, size, reduced: bool, images: int) -> Tuple[float, float]:
    return _time_batches(get_input_fn(pattern, size, shuffle=True, ratio=8 if reduced else 1),
                         images)


def run_tf(python: str, pattern: str, size, reduced: bool, images: int) -> Tuple[float, float]:
    """The same chain in tf.data, timed by ``benchmarks/tf_peer.py`` under ``python``."""
    import json
    import subprocess
    peer = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tf_peer.py")
    out = subprocess.run([python, peer, "input", "--pattern", pattern, "--size", str(size[0]),
                          "--ratio", "8" if reduced else "1", "--images", str(images),
                          "--batch", str(BATCH)], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result["images_per_s"], result["cpu_us_per_image"]


def run_dataloader(files: List[str], size, reduced: bool, images: int) -> Tuple[float, float]:
    return _time_batches(lambda: torch.utils.data.DataLoader(
        JpegFolder(files, images + 4 * BATCH, size, reduced), batch_size=BATCH, shuffle=True,
        num_workers=2), images)


# -- threads against processes for the map stage -----------------------------------------------
_BACKEND_CONFIG: Dict[str, object] = {}


def _init_backend(size: Tuple[int, int], ratio: int, worker: bool = True) -> None:
    _BACKEND_CONFIG.update(size=size, ratio=ratio)
    if worker:  # as DataLoader workers do: N processes already use the N cores
        torch.set_num_threads(1)


def _path_to_img(path: str):
    image = data.image.decode_jpeg(data.io.read_file(path), channels=3,
                                   ratio=_BACKEND_CONFIG["ratio"])
    image = data.image.convert_image_dtype(image, torch.float32)
    return data.image.resize(image, _BACKEND_CONFIG["size"]), 0


def _path_to_array(path: str):
    # Ship numpy arrays (pickled by value in one buffer): torch's tensor pickling would move
    # each small tensor into its own shared-memory file, which is far slower.
    image, label = _path_to_img(path)
    return image.numpy(), label


def compare_backends(pattern: str, images: int, rounds: int) -> None:
    """Time the map stage alone: 2 worker threads against a pool of 2 worker processes.

    The pool uses ``spawn``: forking a process whose torch already ran OpenMP threads can hang
    the child, so a process backend could not use ``fork``.
    """
    files = sorted(glob.glob(pattern, recursive=True))
    paths = [files[i % len(files)] for i in range(images)]
    for name, (size, reduced) in CONFIGS.items():
        ratio = 8 if reduced else 1
        _init_backend(size, ratio, worker=False)
        threads, procs = [], []
        for _ in range(rounds):
            ds = data.Dataset.from_tensor_slices(paths).map(_path_to_img, num_parallel_calls=2)
            start = time.perf_counter()
            for _ in ds:
                pass
            threads.append(images / (time.perf_counter() - start))
            with torch.multiprocessing.get_context("spawn").Pool(
                    2, initializer=_init_backend, initargs=(size, ratio)) as pool:
                for _ in pool.imap(_path_to_array, paths[:32]):  # start-up excluded
                    pass
                start = time.perf_counter()
                for image, _ in pool.imap(_path_to_array, paths, chunksize=16):
                    torch.from_numpy(image)
                procs.append(images / (time.perf_counter() - start))
        print(f"map backend {name:>14}: threads {max(threads):7.0f} img/s   "
              f"processes {max(procs):7.0f} img/s")


# -- memory --------------------------------------------------------------------------------------
def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def rss_over(pattern: str, images: int) -> Tuple[float, float, float]:
    """(RSS after the first 10% of images, max RSS after that, RSS at the end) in MiB."""
    it = iter(get_input_fn(pattern, (28, 28), shuffle=True)())
    seen, samples = 0, []
    try:
        while seen < images:
            features, _ = next(it)
            seen += len(features)
            if seen >= images // 10:
                samples.append(_rss_mb())
    finally:
        it.close()
    return samples[0], max(samples), samples[-1]


def _spread(runs: List[Tuple[float, float]]) -> str:
    """(max - min) / median of the rounds' images/s, as a percentage."""
    rates = [rate for rate, _ in runs]
    return f"{100 * (max(rates) - min(rates)) / statistics.median(rates):.0f}%"


def main(argv: Sequence[str] = ()) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", default=os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "torch-estimator",
        "dogscats-bench"), help="where the generated JPEGs are kept between runs")
    parser.add_argument("--per-class", type=int, default=1000, help="images per class")
    parser.add_argument("--images", type=int, default=3000, help="images timed per run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per config")
    parser.add_argument("--rss-images", type=int, default=20000,
                        help="images streamed for the RSS check (0 skips it)")
    parser.add_argument("--compare-backends", action="store_true",
                        help="also time the map stage on threads against a process pool")
    parser.add_argument("--quick", action="store_true",
                        help="small run: 200 images per class, 640 per run, 1 round, RSS "
                             "over 2,000 images")
    parser.add_argument("--vs", choices=["dataloader", "tf"], default="dataloader",
                        help="the peer timed in the same run: the DataLoader recipe (default) "
                             "or tf.data (needs --tf-python)")
    parser.add_argument("--tf-python", metavar="PYTHON",
                        help="an interpreter that can import tensorflow (e.g. a throwaway "
                             "venv's bin/python); TensorFlow is never imported here")
    args = parser.parse_args(list(argv) or None)
    if args.vs == "tf" and not args.tf_python:
        parser.error("--vs tf needs --tf-python PYTHON")
    if args.quick:
        args.per_class, args.images, args.rounds, args.rss_images = 200, 640, 1, 2000

    pattern = make_images(args.cache_dir, args.per_class)
    files = sorted(glob.glob(pattern, recursive=True))
    print(f"{len(files)} JPEGs in {args.cache_dir}, mean "
          f"{np.mean([os.path.getsize(f) for f in files]) / 1e3:.0f} KB; "
          f"{os.cpu_count()} CPUs, torch {torch.__version__}, "
          f"load average {os.getloadavg()[0]:.1f}; JPEG decoder {data.image.jpeg_decoder()}")

    peer = "tf.data" if args.vs == "tf" else "DataLoader"
    results: Dict[str, Dict[str, List[Tuple[float, float]]]] = {}
    for _ in range(args.rounds):
        for name, (size, reduced) in CONFIGS.items():
            r = results.setdefault(name, {"data": [], peer: []})
            r["data"].append(run_reference(pattern, size, reduced, args.images))
            r[peer].append(run_tf(args.tf_python, pattern, size, reduced, args.images)
                           if args.vs == "tf" else
                           run_dataloader(files, size, reduced, args.images))
    print(f"{'config':>14} {'data img/s':>11} {peer + ' img/s':>17} {'ratio':>6}   "
          f"{'CPU us/img: data':>16} {peer:>10}   {'spread: data':>12} {peer:>10}")
    medians = {}
    for name, r in results.items():
        ours = statistics.median(rate for rate, _ in r["data"])
        theirs = statistics.median(rate for rate, _ in r[peer])
        ratio = statistics.median(a[0] / b[0] for a, b in zip(r["data"], r[peer]))
        cpu_ours = statistics.median(c for _, c in r["data"])
        cpu_theirs = statistics.median(c for _, c in r[peer])
        medians[name] = ours
        print(f"{name:>14} {ours:11.0f} {theirs:17.0f} {ratio:6.2f}   "
              f"{cpu_ours:16.0f} {cpu_theirs:10.0f}   {_spread(r['data']):12} "
              f"{_spread(r[peer]):>10}")
    print(f"reduced-scale 28x28 / full-decode 28x28: "
          f"{medians['28x28 ratio=8'] / medians['28x28']:.2f}x")

    if args.compare_backends:
        compare_backends(pattern, args.images, args.rounds)
    if args.rss_images:
        first, peak, last = rss_over(pattern, args.rss_images)
        print(f"RSS over {args.rss_images} images (28x28): {first:.0f} MiB after the first 10%, "
              f"max {peak:.0f} MiB, {last:.0f} MiB at the end (growth {peak - first:+.0f} MiB)")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (other jobs on the machine skew "
          "images/s; CPU us/img is steadier)")
    peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS: this process {peak_self:.0f} MiB, largest child ({peer} "
          f"{'process' if args.vs == 'tf' else 'worker'}) {peak_children:.0f} MiB")


if __name__ == "__main__":
    main(sys.argv[1:])
