"""The TensorFlow side of the benchmarks, run by an interpreter that has TensorFlow.

Never imported by the project: the benchmarks start it as a subprocess of the interpreter
given with ``--vs tf --tf-python PYTHON`` (a throwaway venv with ``tensorflow-cpu``), and it
prints one JSON line with its figures. It times the same work as our side:

- ``input``: the tutorial's tf.data chain over the same JPEG files (``list_files →
  shuffle → repeat → map(read_file, decode_jpeg(ratio), convert_image_dtype, resize,
  AUTOTUNE) → batch(64) → prefetch(AUTOTUNE)``): images/s after a warm-up, and the process's
  CPU µs per image over the whole run.
- ``in_memory``: ``from_tensor_slices((x, y)) → shuffle(10000) → batch(100)`` over random
  60,000 x 784 float32 features and int64 labels, one epoch per round: items/s and CPU µs per
  item (building the arrays excluded).
- ``estimator``: TF's Estimator (TF 2.15 with tensorflow-estimator) training the seed CNN on
  that chain at 28x28, batch 64, SGD: steady steps/s (steps 5..N) and the whole ``train()``.

    python benchmarks/tf_peer.py input --pattern 'DIR/train/*/*.jpg' --size 28 --ratio 1 \
        --images 3000
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _cpu_s() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def input_pipeline(pattern: str, size: int, ratio: int, images: int, batch: int,
                   warmup: int = 3) -> dict:
    import tensorflow as tf

    def path_to_img(path):
        label = tf.cond(tf.equal(tf.strings.split(path, os.sep)[-2], "dogs"),
                        lambda: 0, lambda: 1)
        image = tf.image.decode_jpeg(tf.io.read_file(path), channels=3, ratio=ratio)
        image = tf.image.convert_image_dtype(image, tf.float32)
        return tf.image.resize(image, (size, size)), label

    cpu0 = _cpu_s()
    ds = tf.data.Dataset.list_files(pattern, shuffle=True)
    ds = ds.shuffle(4096).repeat()
    ds = ds.map(path_to_img, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(batch).prefetch(tf.data.AUTOTUNE)
    it = iter(ds)
    for _ in range(warmup):
        next(it)
    seen, start = 0, time.perf_counter()
    while seen < images:
        features, _ = next(it)
        seen += int(features.shape[0])
    rate = seen / (time.perf_counter() - start)
    cpu = 1e6 * (_cpu_s() - cpu0) / (seen + warmup * batch)
    return {"images_per_s": rate, "cpu_us_per_image": cpu, "tensorflow": tf.__version__}


def in_memory(rows: int, width: int, buffer: int, batch: int, rounds: int) -> dict:
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x = rng.random((rows, width), dtype=np.float32)
    y = np.arange(rows, dtype=np.int64)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(buffer).batch(batch)
    rates, cpus = [], []
    for _ in range(rounds):
        cpu0, start, seen = _cpu_s(), time.perf_counter(), 0
        for features, _ in ds:
            seen += int(features.shape[0])
        rates.append(seen / (time.perf_counter() - start))
        cpus.append(1e6 * (_cpu_s() - cpu0) / seen)
    return {"items_per_s": rates, "cpu_us_per_item": cpus, "tensorflow": tf.__version__}


def estimator_train(pattern: str, steps: int, batch: int, size: int = 28,
                    warmup: int = 5) -> dict:
    """TF's Estimator training the seed CNN (SGD, lr 0.001) on the tutorial's input chain."""
    import tempfile

    import tensorflow as tf
    v1 = tf.compat.v1

    def path_to_img(path):
        label = tf.cond(tf.equal(tf.strings.split(path, os.sep)[-2], "dogs"),
                        lambda: 0, lambda: 1)
        image = tf.image.decode_jpeg(tf.io.read_file(path), channels=3)
        image = tf.image.convert_image_dtype(image, tf.float32)
        return tf.image.resize(image, (size, size)), label

    def input_fn():
        ds = tf.data.Dataset.list_files(pattern, shuffle=True).shuffle(4096).repeat()
        ds = ds.map(path_to_img, num_parallel_calls=tf.data.AUTOTUNE)
        return ds.batch(batch).prefetch(tf.data.AUTOTUNE)

    def model_fn(features, labels, mode):
        x = v1.layers.conv2d(features, 32, 5, padding="same", activation=tf.nn.relu)
        x = v1.layers.max_pooling2d(x, 2, 2)
        x = v1.layers.conv2d(x, 64, 5, padding="same", activation=tf.nn.relu)
        x = v1.layers.max_pooling2d(x, 2, 2)
        x = v1.layers.dense(v1.layers.flatten(x), 1024, activation=tf.nn.relu)
        x = v1.layers.dropout(x, 0.4, training=mode == tf.estimator.ModeKeys.TRAIN)
        logits = v1.layers.dense(x, 2)
        loss = v1.losses.sparse_softmax_cross_entropy(labels=labels, logits=logits)
        train_op = v1.train.GradientDescentOptimizer(0.001).minimize(
            loss, global_step=v1.train.get_global_step())
        return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)

    class Timer(v1.train.SessionRunHook):
        def begin(self):
            self.seen, self.start = 0, None

        def after_run(self, run_context, run_values):
            self.seen += 1
            if self.seen == warmup:
                self.start = time.perf_counter()
            elif self.seen == steps:
                self.rate = (steps - warmup) / (time.perf_counter() - self.start)

    timer = Timer()
    model = tf.estimator.Estimator(model_fn, tempfile.mkdtemp(prefix="tf_peer_"),
                                   config=tf.estimator.RunConfig(save_checkpoints_secs=None,
                                                                 save_checkpoints_steps=None,
                                                                 log_step_count_steps=None,
                                                                 save_summary_steps=None))
    start = time.perf_counter()
    model.train(input_fn, steps=steps, hooks=[timer])
    call = steps / (time.perf_counter() - start)
    return {"steady_steps_per_s": timer.rate, "call_steps_per_s": call,
            "tensorflow": tf.__version__}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("input")
    p.add_argument("--pattern", required=True)
    p.add_argument("--size", type=int, required=True)
    p.add_argument("--ratio", type=int, default=1)
    p.add_argument("--images", type=int, default=3000)
    p.add_argument("--batch", type=int, default=64)
    m = sub.add_parser("in_memory")
    m.add_argument("--rows", type=int, default=60000)
    m.add_argument("--width", type=int, default=784)
    m.add_argument("--buffer", type=int, default=10000)
    m.add_argument("--batch", type=int, default=100)
    m.add_argument("--rounds", type=int, default=3)
    e = sub.add_parser("estimator")
    e.add_argument("--pattern", required=True)
    e.add_argument("--steps", type=int, default=60)
    e.add_argument("--batch", type=int, default=64)
    args = parser.parse_args(argv)
    if args.what == "input":
        result = input_pipeline(args.pattern, args.size, args.ratio, args.images, args.batch)
    elif args.what == "in_memory":
        result = in_memory(args.rows, args.width, args.buffer, args.batch, args.rounds)
    else:
        result = estimator_train(args.pattern, args.steps, args.batch)
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
