"""A small classifier and its data, shared by the train_and_evaluate / hook / export tests."""

import torch
import torch.nn.functional as F

import data
import estimator as est

X = torch.randn(32, 4, generator=torch.Generator().manual_seed(0))
Y = (X[:, 0] + 0.5 * X[:, 1] > 0).long()
XE = torch.randn(16, 4, generator=torch.Generator().manual_seed(1))
YE = (XE[:, 0] + 0.5 * XE[:, 1] > 0).long()


def config(**changes):
    settings = dict(device="cpu", tf_random_seed=0, save_checkpoints_steps=10,
                    save_summary_steps=None, log_step_count_steps=None)
    settings.update(changes)
    return est.RunConfig(**settings)


def train_input_fn(batch_size=4, epochs=None):
    def fn():
        return data.Dataset.from_tensor_slices((X, Y)).repeat(epochs).batch(batch_size)
    return fn


def eval_input_fn(batch_size=8):
    def fn():
        return data.Dataset.from_tensor_slices((XE, YE)).batch(batch_size)
    return fn


def model_fn(features, labels, mode, params):
    x = features["x"] if isinstance(features, dict) else features
    hidden = est.layers.dense(x, units=8, activation=torch.relu)
    if params.get("dropout"):  # an nn.Module: follows the Estimator's train/eval mode
        hidden = est.get_module("drop", lambda: torch.nn.Dropout(params["dropout"]))(hidden)
    logits = est.layers.dense(hidden, units=2)
    predictions = {"classes": logits.argmax(1), "probabilities": logits.softmax(1)}
    if mode == est.ModeKeys.PREDICT:
        return est.EstimatorSpec(mode, predictions=predictions,
                                 export_outputs=params.get("export_outputs", lambda p: None)(
                                     predictions))
    loss = F.cross_entropy(logits, labels)
    if mode == est.ModeKeys.EVAL and params.get("eval_draws"):  # evaluation uses the RNG too
        loss = loss + 0 * torch.rand(())
    accuracy = est.metrics.accuracy(labels=labels, predictions=predictions["classes"])
    train_op = est.train.GradientDescentOptimizer(params.get("lr", 0.3)).minimize(
        loss, global_step=est.train.get_global_step())
    return est.EstimatorSpec(mode, predictions=predictions, loss=loss, train_op=train_op,
                             eval_metric_ops={"accuracy": accuracy})


def estimator(model_dir, params=None, **config_changes):
    return est.Estimator(model_fn, str(model_dir), config=config(**config_changes),
                         params=params or {})


def untraceable_model_fn(features, labels, mode, params):
    """Branches in Python on a tensor's value: torch.export cannot trace that."""
    x = features["x"] if isinstance(features, dict) else features
    logits = est.layers.dense(x, units=2)
    if logits.sum() > 0:  # data-dependent control flow
        logits = logits * 2
    predictions = {"classes": logits.argmax(1), "logits": logits}
    if mode == est.ModeKeys.PREDICT:
        return est.EstimatorSpec(mode, predictions=predictions)
    loss = F.cross_entropy(logits, labels)
    train_op = est.train.GradientDescentOptimizer(0.1).minimize(
        loss, global_step=est.train.get_global_step())
    return est.EstimatorSpec(mode, loss=loss, train_op=train_op)
