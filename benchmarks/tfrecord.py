"""TFRecord benchmark: ``TFRecordDataset`` + ``parse_single_example`` + JPEG decode, here and in
tf.data, on ImageNet-style records.

Writes ImageNet-style TFRecord shards once (photo-like 500x375 JPEGs in ``image/encoded``,
``image/class/label``, the object boxes and the other features of the ImageNet build script)
under a cache directory, then times, alternating in the same run, the same pipeline

    TFRecordDataset(shards) -> map(parse_single_example, decode_jpeg, convert_image_dtype,
    resize(224x224), num_parallel_calls=AUTOTUNE) -> batch(64) -> prefetch(AUTOTUNE)

here and, with ``--vs tf PYTHON``, in tf.data (run by ``PYTHON``, an interpreter that has
TensorFlow, in a subprocess: this project never imports TensorFlow). TF decodes with
``dct_method="INTEGER_ACCURATE"``, the IDCT ``data.image.decode_jpeg`` uses, so both do the same
work (``--tf-dct ""`` gives TF's faster default). Prints images/second (median over rounds,
after warm-up), the median per-round ratio and CPU microseconds per image.

``--compare-decoders`` measures the choice made in ``data/tfrecord/parsing.py``: the protobuf
runtime against a hand-written wire-format decoder, on the same records.

    python benchmarks/tfrecord.py --vs tf /path/to/python-with-tensorflow
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
from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from input_pipeline import _photo  # noqa: E402  (the same photo-like test images)

import data  # noqa: E402

BATCH = 64
FEATURES = {
    "image/encoded": data.io.FixedLenFeature([], bytes),
    "image/class/label": data.io.FixedLenFeature([], torch.int64),
    "image/object/bbox/xmin": data.io.VarLenFeature(torch.float32),
    "image/object/bbox/ymin": data.io.VarLenFeature(torch.float32),
    "image/object/bbox/xmax": data.io.VarLenFeature(torch.float32),
    "image/object/bbox/ymax": data.io.VarLenFeature(torch.float32),
}


def make_shards(root: str, images: int, shards: int, seed: int = 0) -> List[str]:
    """Write ``root/train-0000N-of-0000S`` shards unless there; return their paths."""
    os.makedirs(root, exist_ok=True)
    paths = [os.path.join(root, f"train-{i:05d}-of-{shards:05d}") for i in range(shards)]
    if all(os.path.exists(p) for p in paths):
        return paths
    rng = np.random.default_rng(seed)
    import io
    per_shard = -(-images // shards)
    for s, path in enumerate(paths):
        with data.io.TFRecordWriter(path + ".tmp") as writer:
            for i in range(s * per_shard, min(images, (s + 1) * per_shard)):
                buf = io.BytesIO()
                _photo(rng).save(buf, "JPEG", quality=85)
                label = int(rng.integers(1, 1001))
                writer.write(data.io.serialize_example({
                    "image/encoded": buf.getvalue(), "image/format": "JPEG",
                    "image/filename": f"n{label:08d}_{i}.JPEG", "image/class/label": label,
                    "image/class/synset": f"n{label:08d}", "image/class/text": "a class",
                    "image/height": 375, "image/width": 500, "image/channels": 3,
                    "image/colorspace": "RGB",
                    "image/object/bbox/xmin": [0.1, 0.3], "image/object/bbox/ymin": [0.2, 0.1],
                    "image/object/bbox/xmax": [0.8, 0.9], "image/object/bbox/ymax": [0.7, 0.95],
                    "image/object/bbox/label": [label, label]}))
        os.replace(path + ".tmp", path)
    return paths


def input_fn(files: Sequence[str], size: Tuple[int, int]) -> data.Dataset:
    def parse(record):
        parsed = data.io.parse_single_example(record, FEATURES)
        image = data.image.decode_jpeg(parsed["image/encoded"], channels=3)
        image = data.image.convert_image_dtype(image, torch.float32)
        return data.image.resize(image, size), parsed["image/class/label"]

    ds = data.TFRecordDataset(list(files)).repeat()
    ds = ds.map(parse, num_parallel_calls=data.AUTOTUNE)
    return ds.batch(BATCH).prefetch(data.AUTOTUNE)


TF_SCRIPT = r'''
import json, os, sys, time
import tensorflow as tf
files, size, images, dct = json.loads(sys.argv[1])
features = {
    "image/encoded": tf.io.FixedLenFeature([], tf.string),
    "image/class/label": tf.io.FixedLenFeature([], tf.int64),
    "image/object/bbox/xmin": tf.io.VarLenFeature(tf.float32),
    "image/object/bbox/ymin": tf.io.VarLenFeature(tf.float32),
    "image/object/bbox/xmax": tf.io.VarLenFeature(tf.float32),
    "image/object/bbox/ymax": tf.io.VarLenFeature(tf.float32),
}
def parse(record):
    parsed = tf.io.parse_single_example(record, features)
    image = tf.io.decode_jpeg(parsed["image/encoded"], channels=3, dct_method=dct)
    image = tf.image.convert_image_dtype(image, tf.float32)
    return tf.image.resize(image, size), parsed["image/class/label"]
ds = tf.data.TFRecordDataset(files).repeat()
ds = ds.map(parse, num_parallel_calls=tf.data.AUTOTUNE).batch(%d).prefetch(tf.data.AUTOTUNE)
def cpu():
    t = os.times(); return t.user + t.system
cpu0 = cpu()
it = iter(ds)
for _ in range(3):
    next(it)
seen, start = 0, time.perf_counter()
while seen < images:
    x, _ = next(it); seen += int(x.shape[0])
rate = seen / (time.perf_counter() - start)
print(json.dumps({"rate": rate, "cpu_us": 1e6 * (cpu() - cpu0) / (seen + 3 * %d)}))
''' % (BATCH, BATCH)


def _cpu_s() -> float:
    t = os.times()
    return t.user + t.system


def run_ours(files: Sequence[str], size: Tuple[int, int], images: int) -> Tuple[float, float]:
    cpu0 = _cpu_s()
    with iter(input_fn(files, size)) as it:
        for _ in range(3):
            next(it)
        seen, start = 0, time.perf_counter()
        while seen < images:
            x, _ = next(it)
            seen += len(x)
        rate = seen / (time.perf_counter() - start)
    return rate, 1e6 * (_cpu_s() - cpu0) / (seen + 3 * BATCH)


def run_tf(python: str, files: Sequence[str], size: Tuple[int, int], images: int,
           dct: str) -> Tuple[float, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(TF_SCRIPT)
    try:
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        out = subprocess.run([python, f.name, json.dumps([list(files), list(size), images, dct])],
                             capture_output=True, text=True, env=env, check=True)
    finally:
        os.unlink(f.name)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result["rate"], result["cpu_us"]


# -- the decoder choice --------------------------------------------------------------------------
def _varint(buf, pos):
    result = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7


def _fields(buf, start, end):
    pos = start
    while pos < end:
        key, pos = _varint(buf, pos)
        wire = key & 7
        if wire == 2:
            n, pos = _varint(buf, pos)
            yield key >> 3, wire, pos, pos + n
            pos += n
        elif wire == 0:
            value_start = pos
            _, pos = _varint(buf, pos)
            yield key >> 3, wire, value_start, pos
        elif wire == 5:
            yield key >> 3, wire, pos, pos + 4
            pos += 4
        elif wire == 1:
            yield key >> 3, wire, pos, pos + 8
            pos += 8
        else:
            raise ValueError("unsupported wire type")


def wire_decode(serialized: bytes, wanted) -> Dict[str, list]:
    """A hand-written tf.train.Example decoder that skips the features it is not asked for."""
    buf = memoryview(serialized)
    out = {}
    for num, _, s, e in _fields(buf, 0, len(buf)):
        if num != 1:
            continue
        for num2, _, s2, e2 in _fields(buf, s, e):
            if num2 != 1:
                continue
            key, value = None, None
            for num3, _, s3, e3 in _fields(buf, s2, e2):
                if num3 == 1:
                    key = bytes(buf[s3:e3]).decode()
                elif num3 == 2:
                    value = (s3, e3)
            if key not in wanted or value is None:
                continue
            values: list = []
            for kind, _, s4, e4 in _fields(buf, *value):
                for _, wire, s5, e5 in _fields(buf, s4, e4):
                    if kind == 1:
                        values.append(bytes(buf[s5:e5]))
                    elif kind == 2:
                        values.extend(np.frombuffer(buf[s5:e5], "<f4").tolist())
                    elif wire == 2:
                        pos = s5
                        while pos < e5:
                            v, pos = _varint(buf, pos)
                            values.append(v - (1 << 64) if v >= 1 << 63 else v)
                    else:
                        v, _ = _varint(buf, s5)
                        values.append(v - (1 << 64) if v >= 1 << 63 else v)
            out[key] = values
    return out


def compare_decoders(files: Sequence[str], rounds: int) -> None:
    from data.tfrecord._proto import Example
    records = list(data.TFRecordDataset(list(files)).take(300))
    wanted = set(FEATURES)

    def runtime(s):
        fmap = Example.FromString(s).features.feature
        out = {}
        for k in wanted:
            if k in fmap:
                f = fmap[k]
                out[k] = list(getattr(f, f.WhichOneof("kind")).value)
        return out

    assert runtime(records[0]) == wire_decode(records[0], wanted)
    times: Dict[str, List[float]] = {"protobuf runtime": [], "hand-written": []}
    for _ in range(rounds):
        for name, fn in (("protobuf runtime", runtime), ("hand-written", lambda s:
                                                           wire_decode(s, wanted))):
            start = time.perf_counter()
            for _ in range(10):
                for r in records:
                    fn(r)
            times[name].append(1e6 * (time.perf_counter() - start) / (10 * len(records)))
    for name, values in times.items():
        print(f"  {name:17s} {statistics.median(values):6.1f} us/record (rounds: "
              f"{', '.join(f'{v:.1f}' for v in values)})")


def main(argv: Sequence[str] = ()) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", default=os.path.join(
        os.path.expanduser("~"), ".cache", "torch-estimator", "tfrecord-bench"))
    parser.add_argument("--records", type=int, default=2000, help="records written (once)")
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--images", type=int, default=2000, help="images timed per run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    parser.add_argument("--size", type=int, default=224, help="output height and width")
    parser.add_argument("--vs", nargs=2, metavar=("tf", "PYTHON"),
                        help="also run the pipeline in tf.data with this interpreter")
    parser.add_argument("--tf-dct", default="INTEGER_ACCURATE",
                        help='dct_method for TF\'s decode_jpeg ("" is TF\'s fast default)')
    parser.add_argument("--compare-decoders", action="store_true")
    args = parser.parse_args(list(argv) or None)
    if args.vs and args.vs[0] != "tf":
        parser.error("--vs takes 'tf' and the path of a Python interpreter with TensorFlow")
    files = make_shards(args.cache_dir, args.records, args.shards)
    size = (args.size, args.size)
    print(f"{len(files)} shards, {args.records} records; {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}")
    if args.compare_decoders:
        print("Example decoding (6 of 15 features requested):")
        compare_decoders(files, args.rounds)
    ours: List[Tuple[float, float]] = []
    theirs: List[Tuple[float, float]] = []
    for r in range(args.rounds):
        ours.append(run_ours(files, size, args.images))
        line = f"round {r + 1}: data {ours[-1][0]:7.1f} images/s"
        if args.vs:
            theirs.append(run_tf(args.vs[1], files, size, args.images, args.tf_dct))
            line += f", tf.data {theirs[-1][0]:7.1f} images/s"
        print(line, flush=True)
    rate = statistics.median(o[0] for o in ours)
    cpu = statistics.median(o[1] for o in ours)
    print(f"data:    {rate:7.1f} images/s (median), {cpu:6.0f} CPU us/image")
    if theirs:
        tf_rate = statistics.median(t[0] for t in theirs)
        tf_cpu = statistics.median(t[1] for t in theirs)
        ratio = statistics.median(o[0] / t[0] for o, t in zip(ours, theirs))
        print(f"tf.data: {tf_rate:7.1f} images/s (median), {tf_cpu:6.0f} CPU us/image")
        print(f"ratio data / tf.data: {ratio:.2f} (median of per-round ratios)")


if __name__ == "__main__":
    main(sys.argv[1:])
