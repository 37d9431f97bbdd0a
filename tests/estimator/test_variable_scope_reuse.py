"""variable_scope(reuse=...) as TF: a network built twice in one model_fn shares its weights."""

import logging

import pytest
import torch
import torch.nn.functional as F

import data
import estimator as est
from estimator.scope import ModelScope

CPU = est.RunConfig(device="cpu", tf_random_seed=0, save_summary_steps=None,
                    log_step_count_steps=None)
X = torch.randn(64, 4, generator=torch.Generator().manual_seed(0))
Y = (X[:, 0] + X[:, 1] > 0).long()


def conv_net(x, reuse, is_training):
    with est.variable_scope("ConvNet", reuse=reuse):
        h = est.layers.dense(x, 16, activation=F.relu)
        h = est.layers.dropout(h, rate=0.25, training=is_training)
        return est.layers.dense(h, 2)


def model_fn(features, labels, mode):
    logits_train = conv_net(features, reuse=False, is_training=True)
    logits_test = conv_net(features, reuse=True, is_training=False)
    pred_classes = logits_test.argmax(1)
    if mode == est.ModeKeys.PREDICT:
        return est.EstimatorSpec(mode, predictions=pred_classes)
    loss = est.losses.sparse_softmax_cross_entropy(labels=labels, logits=logits_train)
    train_op = est.train.AdamOptimizer(0.05).minimize(loss, global_step=est.train.get_global_step())
    acc = est.metrics.accuracy(labels=labels, predictions=pred_classes)
    return est.EstimatorSpec(mode, predictions=pred_classes, loss=loss, train_op=train_op,
                             eval_metric_ops={"accuracy": acc})


def input_fn():
    return data.Dataset.from_tensor_slices((X, Y)).repeat(10).batch(16)


def test_train_and_test_graphs_share_weights_so_test_accuracy_is_learned(tmp_path):
    model = est.Estimator(model_fn, str(tmp_path), config=CPU).train(input_fn)
    assert model.get_variable_names() == [
        "ConvNet/dense/bias", "ConvNet/dense/kernel", "ConvNet/dense_1/bias",
        "ConvNet/dense_1/kernel", "global_step"]  # one set of weights, not two
    results = model.evaluate(lambda: data.Dataset.from_tensor_slices((X, Y)).batch(16))
    assert results["accuracy"] > 0.9


def test_reuse_true_for_a_layer_not_created_yet_raises_does_not_exist():
    with ModelScope().call("train"):
        with pytest.raises(ValueError, match="Variable ConvNet/dense does not exist"):
            conv_net(X, reuse=True, is_training=False)


def test_building_twice_without_reuse_raises_already_exists():
    with ModelScope().call("train"):
        conv_net(X, reuse=False, is_training=True)
        with pytest.raises(ValueError, match="Variable ConvNet/dense already exists, disallowed"):
            conv_net(X, reuse=False, is_training=False)


def test_auto_reuse_creates_then_shares():
    scope = ModelScope()
    with scope.call("train"):
        a = conv_net(X, reuse=est.AUTO_REUSE, is_training=False)
        b = conv_net(X, reuse=est.AUTO_REUSE, is_training=False)
    assert torch.equal(a, b) and len(scope.variable_names()) == 4


def test_reuse_is_inherited_by_inner_scopes_and_reuse_variables_turns_it_on():
    scope = ModelScope()
    with scope.call("train"):
        with est.variable_scope("outer") as vs:
            with est.variable_scope("inner"):
                a = est.layers.dense(X, 3)
            vs.reuse_variables()
            assert vs.reuse is True
            with est.variable_scope("inner", reuse=False):  # cannot turn reuse off inside
                b = est.layers.dense(X, 3)
        with est.variable_scope(vs, reuse=True):  # reopen by the scope object
            with est.variable_scope("inner"):
                c = est.layers.dense(X, 3)
    assert torch.equal(a, b) and torch.equal(a, c)
    assert scope.variable_names() == ["outer/inner/dense/kernel", "outer/inner/dense/bias"]


def test_default_name_scopes_are_made_unique():
    scope = ModelScope()
    with scope.call("train"):
        for _ in range(2):
            with est.variable_scope(None, default_name="block") as vs:
                est.layers.dense(X, 2)
        assert vs.name == "block_1"
    assert scope.variable_names() == ["block/dense/kernel", "block/dense/bias",
                                      "block_1/dense/kernel", "block_1/dense/bias"]


def test_get_variable_follows_reuse():
    scope = ModelScope()
    with scope.call("train"):
        with est.variable_scope("v"):
            w = est.get_variable("w", [2])
        with est.variable_scope("v", reuse=True):
            assert est.get_variable("w", [2]) is w
        with est.variable_scope("v"), pytest.raises(ValueError, match="v/w already exists"):
            est.get_variable("w", [2])


def test_reuse_must_be_a_tf_value():
    with ModelScope().call("train"), pytest.raises(ValueError, match="reuse must be True"):
        with est.variable_scope("a", reuse="yes"):
            pass


def test_identity_names_a_tensor_for_logging_tensor_hook(tmp_path, caplog):
    def fn(features, labels, mode):
        logits = est.layers.dense(features, 2)
        est.identity(F.softmax(logits, 1), name="softmax_tensor")
        with est.variable_scope("head"):
            est.identity(logits.sum(), name="total")
        loss = est.losses.sparse_softmax_cross_entropy(labels, logits)
        return est.EstimatorSpec(mode, loss=loss, train_op=est.train.GradientDescentOptimizer(
            0.1).minimize(loss, global_step=est.train.get_global_step()))

    hook = est.LoggingTensorHook({"probabilities": "softmax_tensor", "t": "head/total:0"},
                                 every_n_iter=2)
    with caplog.at_level(logging.INFO, logger="estimator"):
        est.Estimator(fn, str(tmp_path), config=CPU).train(input_fn, steps=3, hooks=[hook])
    lines = [r.getMessage() for r in caplog.records if "probabilities = " in r.getMessage()]
    assert len(lines) == 2 and "t = " in lines[0]
    bad = est.LoggingTensorHook(["nope"], every_n_iter=1)
    with pytest.raises(KeyError, match=r"'nope'.*softmax_tensor"):
        est.Estimator(fn, str(tmp_path / "b"), config=CPU).train(input_fn, steps=1, hooks=[bad])


def test_a_layers_own_reuse_argument_shares_it_by_name():
    scope = ModelScope()
    with scope.call("train"):
        a = est.layers.dense(X, 3, name="fc")
        b = est.layers.dense(X, 3, name="fc", reuse=True)
        with pytest.raises(ValueError, match="Variable other does not exist"):
            est.layers.dense(X, 3, name="other", reuse=True)
        c = est.layers.conv2d(X.reshape(-1, 2, 2, 1), 2, 1, name="conv", reuse=est.AUTO_REUSE)
        d = est.layers.conv2d(X.reshape(-1, 2, 2, 1), 2, 1, name="conv", reuse=est.AUTO_REUSE)
    assert torch.equal(a, b) and torch.equal(c, d)
    assert scope.variable_names() == ["fc/kernel", "fc/bias", "conv/kernel", "conv/bias"]
