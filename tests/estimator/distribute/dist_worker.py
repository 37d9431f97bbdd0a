"""A small Estimator program for the scale-out tests, run under torchrun (or alone).

``python dist_worker.py SCENARIO MODEL_DIR OUT_DIR`` trains and evaluates a small CNN on synthetic
images, then writes ``OUT_DIR/rank<r>.pt`` with what the tests compare: the evaluation results,
the final parameters, the global step and the last loss.
"""

from __future__ import annotations

import logging
import os
import signal
import sys

import torch
import torch.nn.functional as F

import data
import estimator as est

BATCH = 4  # per rank
TRAIN_EXAMPLES = 64
EVAL_EXAMPLES = 22


def examples(n: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(n, 8, 8, 1, generator=g)
    labels = torch.randint(0, 3, (n,), generator=g)
    return images, labels


def train_input_fn(batch=BATCH, shuffle=False, repeat=False):
    def input_fn():
        ds = data.Dataset.from_tensor_slices(examples(TRAIN_EXAMPLES, 1))
        if shuffle:
            ds = ds.shuffle(16)
        if repeat:
            ds = ds.repeat()
        return ds.batch(batch)
    return input_fn


def eval_input_fn(batch=3):
    return lambda: data.Dataset.from_tensor_slices(examples(EVAL_EXAMPLES, 2)).batch(batch)


class LabelSum:
    """A metric object of the user's own, with sum-reducible ``state_tensors()``."""

    def __init__(self) -> None:
        self.total = torch.zeros((), dtype=torch.float64)

    def update(self, labels) -> None:
        self.total += labels.sum()

    def compute(self):
        return self.total.clone()

    def reset(self) -> None:
        self.total.zero_()

    def state_tensors(self):
        return {"total": self.total}


LABEL_SUM = LabelSum()


class _StopOnRank1(est.SessionRunHook):
    """Requests a stop on rank 1 only, after global step ``step``."""

    def __init__(self, step: int) -> None:
        self.step = step

    def after_run(self, run_context, run_values):
        if os.environ.get("RANK") == "1" and run_context.session.global_step == self.step:
            run_context.request_stop()


LIVE = {}


def module_model_fn(features, labels, mode):
    """An ``nn.Module`` through ``est.get_module`` whose initial values differ per process."""
    def make():
        net = torch.nn.Linear(64, 3)
        with torch.no_grad():  # drawn from the process id: no two ranks agree
            net.weight.normal_(generator=torch.Generator().manual_seed(os.getpid()))
        return net

    net = est.get_module("net", make)
    logits = net(features.reshape(features.shape[0], -1))
    LIVE.setdefault("first", net.weight.detach().clone())  # the initial values
    LIVE["last"] = net.weight.detach().clone()
    loss = F.cross_entropy(logits, labels)
    train_op = est.train.GradientDescentOptimizer(0.1).minimize(
        loss, global_step=est.train.get_global_step())
    return est.EstimatorSpec(mode, loss=loss, train_op=train_op)


def model_fn(features, labels, mode, params):
    if params.get("fail_at") is not None and mode == est.ModeKeys.TRAIN and \
            os.environ.get("RANK") == "1" and est.train.get_global_step() == params["fail_at"]:
        raise ValueError("boom on rank 1")
    x = est.layers.conv2d(features, filters=4, kernel_size=3, padding="same",
                          activation=F.relu)
    x = est.layers.max_pooling2d(x, pool_size=2, strides=2)
    logits = est.layers.dense(est.layers.flatten(x), units=3)
    predictions = {"classes": logits.argmax(1)}
    if mode == est.ModeKeys.PREDICT:
        return est.EstimatorSpec(mode, predictions=predictions)
    loss = F.cross_entropy(logits, labels)
    metrics = {"accuracy": est.metrics.accuracy(labels, predictions["classes"]),
               "mean_label": est.metrics.mean(labels.float())}
    if mode == est.ModeKeys.EVAL:
        LABEL_SUM.update(labels)
        metrics["label_sum"] = LABEL_SUM
    est.summary.scalar("accuracy", metrics["accuracy"][1])
    train_op = est.train.MomentumOptimizer(0.1, momentum=0.9).minimize(
        loss, global_step=est.train.get_global_step())
    return est.EstimatorSpec(mode, loss=loss, train_op=train_op, eval_metric_ops=metrics)


class _KillAtStep(est.SessionRunHook):
    """SIGKILL rank 1 after global step ``step``, in the first attempt only."""

    def __init__(self, step: int) -> None:
        self.step = step

    def after_run(self, run_context, run_values):
        if (os.environ.get("RANK") == "1" and os.environ.get("TORCHELASTIC_RESTART_COUNT") == "0"
                and run_context.session.global_step == self.step):
            os.kill(os.getpid(), signal.SIGKILL)


def config(summaries=True, **kw):
    # without summaries a process need not import TensorBoard: a faster start
    return est.RunConfig(tf_random_seed=7, save_summary_steps=2 if summaries else None,
                         log_step_count_steps=4 if summaries else None, device="cpu", **kw)


def main(scenario: str, model_dir: str, out_dir: str) -> None:
    logging.basicConfig(level=logging.INFO, format=f"[rank {os.environ.get('RANK')}] %(message)s")
    torch.set_num_threads(1)
    params = {}
    result = {}
    if scenario == "train_eval":
        model = est.Estimator(model_fn, model_dir, config(save_checkpoints_steps=4), params)
        model.train(train_input_fn())
        result["eval"] = model.evaluate(eval_input_fn())
        result["predictions"] = [p["classes"].item() for p in model.predict(eval_input_fn())]
        gathering = est.Estimator(model_fn, model_dir, config(
            distribute=est.DistributeConfig(gather_predictions=True)))
        result["gathered"] = [p["classes"].item() for p in gathering.predict(eval_input_fn())]
        # uneven shards: 5 batches (not a Dataset) are dealt out 3 / 2
        uneven = est.Estimator(model_fn, model_dir + "_uneven", config(save_checkpoints_steps=100))
        images, labels = examples(20, 3)
        batches = [(images[i:i + 4], labels[i:i + 4]) for i in range(0, 20, 4)]
        uneven.train(lambda: batches)
        result["uneven_step"] = int(uneven.get_variable_value("global_step"))
        result["uneven_eval"] = uneven.evaluate(lambda: batches)
        # a hook stopping rank 1 alone stops every rank at the same step
        stopping = est.Estimator(model_fn, model_dir + "_stop", config(save_checkpoints_secs=1e-4))
        stopping.train(train_input_fn(repeat=True), hooks=[_StopOnRank1(3)])
        result["stop_step"] = int(stopping.get_variable_value("global_step"))
        # rank 0's initial values reach every rank; get_module's names are kept
        module = est.Estimator(module_model_fn, model_dir + "_module", config(False))
        module.train(train_input_fn(), steps=3)
        result["module_first"], result["module_last"] = LIVE["first"], LIVE["last"]
        result["module_names"] = module.get_variable_names()
    elif scenario in ("resume", "kill"):
        model = est.Estimator(model_fn, model_dir,
                              config(False, save_checkpoints_steps=3), params)
        hooks = [_KillAtStep(7)] if scenario == "kill" else []
        model.train(train_input_fn(shuffle=True, repeat=True), hooks=hooks, max_steps=11)
    elif scenario == "error":
        params["fail_at"] = 2
        model = est.Estimator(model_fn, model_dir, config(False, save_checkpoints_steps=100),
                              params)
        model.train(train_input_fn())
    else:
        raise SystemExit(f"unknown scenario {scenario!r}")
    variables = {name: model.get_variable_value(name) for name in model.get_variable_names()}
    result.update(variables=variables, global_step=int(variables["global_step"]))
    os.makedirs(out_dir, exist_ok=True)
    torch.save(result, os.path.join(out_dir, f"rank{os.environ.get('RANK', '0')}.pt"))


if __name__ == "__main__":
    main(*sys.argv[1:4])
