"""Dogs vs cats: the tf.estimator + tf.data tutorial program, ported to this library.

    python examples/dogs_vs_cats.py                          # synthetic data, about a minute
    python examples/dogs_vs_cats.py --data-dir data/dogscats  # {train,valid}/{dogs,cats}/*.jpg
    python examples/dogs_vs_cats.py --export-dir export       # then: export/<timestamp>/
    tensorboard --logdir model_dir

Without ``--data-dir`` it generates (once) a small synthetic dogs-vs-cats JPEG set and says
where. Running it again continues from the latest checkpoint in ``--model-dir``.

One change from the tutorial: its ``GradientDescentOptimizer(0.5)`` makes this network diverge
(the loss explodes at step 2, then sticks at ln 2 with one class predicted); Adam at 1e-3
learns, so that is the default here.
"""

from __future__ import annotations

import argparse
import glob
import logging
import os
import sys
from typing import Any, Dict, List, Optional

import torch
import torch.nn.functional as F

import data
import estimator as est
from models.dogs_vs_cats import define_model

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402
import _synthetic  # noqa: E402

SYNTHETIC_DIR = os.path.join(".synthetic_data", "dogscats")


def get_input_fn(file_pattern, image_size=(28, 28), shuffle=False, batch_size=64,
                 num_epochs=None, buffer_size=4096):
    def _img_string_to_tensor(image_string, image_size=(28, 28)):
        image_decoded = data.image.decode_jpeg(image_string, channels=3)
        image_decoded_as_float = data.image.convert_image_dtype(image_decoded, dtype=torch.float32)
        image_resized = data.image.resize(image_decoded_as_float, size=image_size)
        return image_resized

    def _path_to_img(path):
        # Get the parent folder of this file to get its class
        label = 0 if os.path.basename(os.path.dirname(path)) == "dogs" else 1
        image_string = data.io.read_file(path)  # read image and process it
        image_resized = _img_string_to_tensor(image_string, image_size)
        return image_resized, label

    def _input_fn():
        dataset = data.Dataset.list_files(file_pattern)
        if shuffle:
            dataset = dataset.apply(data.experimental.shuffle_and_repeat(buffer_size, num_epochs))
        else:
            dataset = dataset.repeat(num_epochs)
        dataset = dataset.map(_path_to_img, num_parallel_calls=data.AUTOTUNE)
        # The tutorial prefetches `buffer_size` (4096) batches, up to gigabytes of images ahead
        # of the model; a few batches keep it fed just as well.
        dataset = dataset.batch(batch_size).prefetch(data.AUTOTUNE)
        return dataset

    return _input_fn


def model_fn(features, labels, mode, params):
    logits = define_model(features, params["num_classes"])
    predictions = {"classes": logits.argmax(1), "probabilities": logits.softmax(1)}
    if mode == est.ModeKeys.PREDICT:
        return est.EstimatorSpec(mode, predictions=predictions)
    loss = F.cross_entropy(logits, labels)

    # Compute evaluation metrics.
    accuracy = est.metrics.accuracy(labels=labels, predictions=predictions["classes"])
    metrics = {"accuracy": accuracy}
    est.summary.scalar("accuracy", accuracy[1])

    if mode == est.ModeKeys.TRAIN:
        optimizer = est.train.AdamOptimizer(params["learning_rate"])  # the tutorial: GD(0.5)
        train_op = optimizer.minimize(loss=loss, global_step=est.train.get_global_step())
        return est.EstimatorSpec(mode, predictions=predictions, loss=loss, train_op=train_op,
                                 eval_metric_ops=metrics)
    return est.EstimatorSpec(mode, loss=loss, eval_metric_ops=metrics)


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", help="the dogscats folder: {train,valid}/{dogs,cats}/*.jpg "
                                           "(default: a synthetic set generated in "
                                           f"{SYNTHETIC_DIR})")
    parser.add_argument("--image-size", type=int, default=28,
                        help="images are resized to SIZE x SIZE (default: %(default)s)")
    parser.add_argument("--num-epochs", type=int, default=10,
                        help="passes over the training files (default: %(default)s)")
    parser.add_argument("--export-dir", help="after training, export the model for serving to "
                                             "EXPORT_DIR/<timestamp>/ (run it with python -m "
                                             "estimator.export.serve EXPORT_DIR/<timestamp>)")
    # A 125-step run: summaries every 5 steps make curves, not two points; a checkpoint every 25
    # steps means an interrupted run resumes close to where it stopped.
    _common.add_common_flags(parser, train_steps=None, batch_size=64, learning_rate=1e-3,
                             summary_steps=5, checkpoint_steps=25, log_steps=25)
    return parser.parse_args(argv)


def serving_input_receiver_fn(image_size=(28, 28)):
    """Serving takes a batch of decoded images, as the model: float NHWC in [0, 1]."""
    def _receiver_fn():
        images = torch.zeros(2, image_size[0], image_size[1], 3)  # [None, H, W, 3] placeholder
        return est.export.TensorServingInputReceiver(images, {"images": images})
    return _receiver_fn


def synthetic_data() -> str:
    root = os.path.abspath(SYNTHETIC_DIR)
    logging.getLogger("examples").info(
        "No --data-dir given: using the synthetic dogs-vs-cats set in %s (generated on the first "
        "run; pass --data-dir for real photos).", root)
    return _synthetic.make_dogscats(root)


def _count(pattern: str) -> int:
    n = len(glob.glob(pattern, recursive=True))
    if n == 0:
        raise FileNotFoundError(f"no images match {pattern!r}: --data-dir must hold train/dogs, "
                                "train/cats, valid/dogs and valid/cats with *.jpg files")
    return n


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    args = parse_args(argv)
    _common.setup_logging()
    data_directory = args.data_dir or synthetic_data()
    image_size = (args.image_size, args.image_size)

    model = est.Estimator(model_fn, args.model_dir, config=_common.run_config(args),
                          params={"num_classes": 2, "learning_rate": args.learning_rate})
    train_files = os.path.join(data_directory, "train", "**/*.jpg")
    train_input_fn = get_input_fn(train_files, image_size, shuffle=True,
                                  batch_size=args.batch_size, num_epochs=args.num_epochs)
    eval_files = os.path.join(data_directory, "valid", "**/*.jpg")
    eval_input_fn = get_input_fn(eval_files, image_size, batch_size=args.batch_size, num_epochs=1)

    num_train, num_eval = _count(train_files), _count(eval_files)  # fail early on a bad folder
    train_total = args.train_steps or _common.batches(num_train, args.batch_size, args.num_epochs)
    eval_total = _common.batches(num_eval, args.batch_size)
    _common.report_resume(model)
    model.train(train_input_fn, hooks=[est.ProgressHook("train", train_total)],
                steps=args.train_steps)
    results = model.evaluate(eval_input_fn, hooks=[est.ProgressHook("evaluate", eval_total)])
    _common.write_metrics(results, args.metrics_json)
    if args.export_dir:
        path = model.export_saved_model(args.export_dir, serving_input_receiver_fn(image_size))
        logging.getLogger("examples").info("Exported the model for serving to %s", path)
    return results


if __name__ == "__main__":
    try:
        main()
    except FileNotFoundError as e:
        sys.exit(f"error: {e}")
