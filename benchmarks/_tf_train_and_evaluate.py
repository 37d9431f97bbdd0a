"""TensorFlow's side of benchmarks/train_and_evaluate.py (run by it with a TF interpreter).

    PYTHON _tf_train_and_evaluate.py DATA_DIR STEPS EVERY

The tutorial's program with ``tf.compat.v1`` layers (the same network, Adam 1e-3), the same
three stamps, one JSON line of them on stdout. Never imported by the project.
"""

import json
import os
import sys
import tempfile
import time

import tensorflow as tf

tf.compat.v1.logging.set_verbosity(tf.compat.v1.logging.ERROR)
v1 = tf.compat.v1
BATCH = 64


def get_input_fn(pattern, shuffle=False, num_epochs=None):
    def _path_to_img(path):
        label = tf.cond(tf.equal(tf.strings.split([path], "/").values[-2], "dogs"),
                        lambda: 0, lambda: 1)
        image = tf.image.decode_jpeg(tf.io.read_file(path), channels=3)
        image = tf.image.convert_image_dtype(image, tf.float32)
        return tf.image.resize(image, (28, 28)), label

    def _input_fn():
        ds = tf.data.Dataset.list_files(pattern)
        if shuffle:
            ds = ds.shuffle(4096).repeat(num_epochs)
        else:
            ds = ds.repeat(num_epochs)
        return ds.map(_path_to_img, num_parallel_calls=tf.data.AUTOTUNE).batch(BATCH).prefetch(
            tf.data.AUTOTUNE)
    return _input_fn


def model_fn(features, labels, mode):
    init = v1.truncated_normal_initializer(stddev=0.1)
    bias = v1.constant_initializer(0.1)
    x = v1.layers.conv2d(features, 32, 5, padding="same", activation=tf.nn.relu,
                         kernel_initializer=init, bias_initializer=bias)
    x = v1.layers.max_pooling2d(x, 2, 2, padding="same")
    x = v1.layers.conv2d(x, 64, 5, padding="same", activation=tf.nn.relu,
                         kernel_initializer=init, bias_initializer=bias)
    x = v1.layers.max_pooling2d(x, 2, 2, padding="same")
    x = v1.layers.dense(v1.layers.flatten(x), 1024, activation=tf.nn.relu,
                        kernel_initializer=init, bias_initializer=bias)
    logits = v1.layers.dense(x, 2, kernel_initializer=init, bias_initializer=bias)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels,
                                                                         logits=logits))
    classes = tf.argmax(logits, 1)
    accuracy = v1.metrics.accuracy(labels=labels, predictions=classes)
    v1.summary.scalar("accuracy", accuracy[1])
    train_op = v1.train.AdamOptimizer(1e-3).minimize(loss, global_step=v1.train.get_global_step())
    return tf.estimator.EstimatorSpec(mode, predictions={"classes": classes}, loss=loss,
                                      train_op=train_op, eval_metric_ops={"accuracy": accuracy})


class TrainStamps(tf.estimator.SessionRunHook):
    def __init__(self, log):
        self.log = log

    def begin(self):
        self.step = v1.train.get_global_step()

    def before_run(self, run_context):
        self.log["train"].append(["before", time.perf_counter()])
        return v1.train.SessionRunArgs(self.step)

    def after_run(self, run_context, run_values):
        self.log["train"].append(["after", time.perf_counter(), int(run_values.results) + 1])


class SaveStamps(tf.estimator.CheckpointSaverListener):
    def __init__(self, log):
        self.log = log

    def before_save(self, session, global_step_value):
        if global_step_value > 0:  # TF also saves before the first step; not evaluated
            self.log["saves"].append([int(global_step_value), time.perf_counter()])

    def after_save(self, session, global_step_value):
        if global_step_value > 0:
            self.log["saves"][-1].append(time.perf_counter())


class EvalStamps(tf.estimator.SessionRunHook):
    def __init__(self, log):
        self.log = log

    def begin(self):
        self.log["evals"].append([])

    def after_run(self, run_context, run_values):
        self.log["evals"][-1].append(time.perf_counter())


def main():
    data_dir, steps, every = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    log = {"train": [], "saves": [], "evals": []}
    with tempfile.TemporaryDirectory() as model_dir:
        config = tf.estimator.RunConfig(save_checkpoints_steps=every, save_summary_steps=every,
                                        log_step_count_steps=every, tf_random_seed=0)
        model = tf.estimator.Estimator(model_fn, model_dir, config=config)
        train_spec = tf.estimator.TrainSpec(
            get_input_fn(os.path.join(data_dir, "train/*/*.jpg"), shuffle=True),
            max_steps=steps, hooks=[TrainStamps(log)], saving_listeners=[SaveStamps(log)])
        eval_spec = tf.estimator.EvalSpec(
            get_input_fn(os.path.join(data_dir, "valid/*/*.jpg"), num_epochs=1), steps=None,
            throttle_secs=0, hooks=[EvalStamps(log)])
        log["start"] = time.perf_counter()
        metrics, _ = tf.estimator.train_and_evaluate(model, train_spec, eval_spec)
        log["stop"] = time.perf_counter()
    log["metrics"] = {k: float(v) for k, v in metrics.items()}
    print(json.dumps(log))


if __name__ == "__main__":
    main()
