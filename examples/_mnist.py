"""The driver the two MNIST examples share: read the IDX files, train, evaluate, report."""

from __future__ import annotations

import argparse
from typing import Any, Callable, Dict, List, Optional

import data
import estimator as est
from data import mnist

import _common

def get_input_fn(images, labels, batch_size=100, shuffle=False, num_epochs=None):
    """``input_fn`` over in-memory MNIST tensors, shuffled fully each epoch when ``shuffle``
    (as ``numpy_input_fn(shuffle=True)`` in the TF tutorial)."""
    def _input_fn():
        # Shuffle example indices and gather whole batches: one indexing op per batch, and a
        # checkpoint of the input position holds indices, not a buffer of images.
        dataset = data.Dataset.range(len(labels))
        if shuffle:
            dataset = dataset.apply(data.experimental.shuffle_and_repeat(len(labels), num_epochs))
        else:
            dataset = dataset.repeat(num_epochs)
        dataset = dataset.batch(batch_size).map(lambda index: (images[index], labels[index]))
        return dataset.prefetch(data.AUTOTUNE)

    return _input_fn


def parse_args(description: str, argv: Optional[List[str]], train_steps: int, batch_size: int,
               learning_rate: float) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data-dir", default="./MNIST_data",
                        help="folder of the four MNIST IDX files, gzipped or not "
                             "(default: %(default)s)")
    _common.add_common_flags(parser, train_steps, batch_size, learning_rate)
    return parser.parse_args(argv)


def run(model_fn: Callable[..., Any], args: argparse.Namespace, flatten: bool,
        params: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Train ``model_fn`` ``args.train_steps`` steps on the train split; evaluate on test."""
    _common.setup_logging()
    # Read the files first: a missing or malformed file fails here, before any training.
    train_images, train_labels = mnist.load(args.data_dir, "train", flatten=flatten)
    test_images, test_labels = mnist.load(args.data_dir, "test", flatten=flatten)
    model = est.Estimator(model_fn, args.model_dir, config=_common.run_config(args),
                          params={**(params or {}), "learning_rate": args.learning_rate})
    train_input_fn = get_input_fn(train_images, train_labels, args.batch_size, shuffle=True)
    eval_input_fn = get_input_fn(test_images, test_labels, args.batch_size, num_epochs=1)
    _common.report_resume(model)
    model.train(train_input_fn, steps=args.train_steps,
                hooks=[est.ProgressHook("train", args.train_steps)])
    eval_total = _common.batches(len(test_labels), args.batch_size)
    results = model.evaluate(eval_input_fn, hooks=[est.ProgressHook("evaluate", eval_total)])
    _common.write_metrics(results, args.metrics_json)
    return results
