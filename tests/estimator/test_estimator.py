import logging

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import data
import estimator as est

CPU = est.RunConfig(device="cpu", tf_random_seed=0, save_checkpoints_steps=1000,
                    save_summary_steps=None, log_step_count_steps=None)
X = torch.randn(10, 4, generator=torch.Generator().manual_seed(0))
Y = (X[:, 0] > 0).long()


def input_fn(batch_size=4, epochs=1, shuffle=False):
    def fn():
        ds = data.Dataset.from_tensor_slices((X, Y))
        if shuffle:
            ds = ds.shuffle(10, seed=3)
        return ds.repeat(epochs).batch(batch_size)
    return fn


def model_fn(features, labels, mode, params):
    logits = est.layers.dense(features, units=2)
    classes = logits.argmax(1)
    predictions = {"classes": classes, "probabilities": logits.softmax(1)}
    if mode == est.ModeKeys.PREDICT:
        return est.EstimatorSpec(mode, predictions=predictions)
    loss = F.cross_entropy(logits, labels)
    metrics = {"accuracy": est.metrics.accuracy(labels=labels, predictions=classes),
               "mse": est.metrics.mean_squared_error(labels=labels.float(),
                                                     predictions=classes.float())}
    train_op = est.train.GradientDescentOptimizer(params.get("lr", 0.5)).minimize(
        loss, global_step=est.train.get_global_step())
    return est.EstimatorSpec(mode, predictions=predictions, loss=loss, train_op=train_op,
                             eval_metric_ops=metrics)


@pytest.fixture
def model(tmp_path):
    return est.Estimator(model_fn, str(tmp_path), config=CPU)


def test_training_stops_cleanly_when_the_input_ends(model):
    assert model.train(input_fn(epochs=2)) is model
    assert model.get_variable_value("global_step") == 5  # 20 elements in batches of 4
    assert model.get_variable_names() == ["dense/bias", "dense/kernel", "global_step"]


def test_evaluate_returns_every_metric_weighted_loss_and_global_step(model):
    model.train(input_fn(), steps=2)
    results = model.evaluate(input_fn(batch_size=4))
    assert set(results) == {"accuracy", "mse", "loss", "global_step"}
    assert results["global_step"] == 2
    w, b = model.get_variable_value("dense/kernel"), model.get_variable_value("dense/bias")
    logits = X @ w.T + b
    expected_loss = F.cross_entropy(logits, Y).item()  # mean over examples, not over batches
    assert results["loss"] == pytest.approx(expected_loss, rel=1e-5)
    assert results["accuracy"] == pytest.approx((logits.argmax(1) == Y).float().mean().item())
    assert results["mse"] == pytest.approx((logits.argmax(1) != Y).float().mean().item())


def test_evaluate_steps_limits_the_batches(model):
    model.train(input_fn(), steps=1)
    results = model.evaluate(input_fn(batch_size=2, epochs=None), steps=3)
    w, b = model.get_variable_value("dense/kernel"), model.get_variable_value("dense/bias")
    assert results["loss"] == pytest.approx(F.cross_entropy(X[:6] @ w.T + b, Y[:6]).item(),
                                            rel=1e-5)


def test_steps_count_from_the_restored_step_and_max_steps_is_absolute(model):
    model.train(input_fn(epochs=None), steps=3)
    model.train(input_fn(epochs=None), steps=2)
    assert model.get_variable_value("global_step") == 5
    model.train(input_fn(epochs=None), max_steps=7)
    assert model.get_variable_value("global_step") == 7


def test_train_already_at_max_steps_returns_without_calling_input_fn(model):
    model.train(input_fn(epochs=None), max_steps=2)
    model.train(lambda: pytest.fail("input_fn was called"), max_steps=2)
    assert model.get_variable_value("global_step") == 2


def test_an_exhausted_input_restarts_on_the_next_train_call(model):
    for _ in range(3):
        model.train(input_fn(epochs=1, shuffle=True))
    assert model.get_variable_value("global_step") == 9


def test_train_resumes_the_input_where_it_stopped(tmp_path):
    seen = []

    def recording_model_fn(features, labels, mode):
        seen.append(labels.tolist())
        return model_fn(features, labels, mode, {})

    model = est.Estimator(recording_model_fn, str(tmp_path), config=CPU)
    model.train(input_fn(batch_size=2), steps=2)
    model.train(input_fn(batch_size=2))
    assert [y for batch in seen for y in batch] == Y.tolist()


def test_predict_yields_single_examples_with_selected_keys(model):
    model.train(input_fn(), steps=1)
    preds = list(model.predict(input_fn(), predict_keys=["classes"]))
    assert len(preds) == 10 and all(set(p) == {"classes"} and p["classes"].dim() == 0
                                    for p in preds)
    batches = list(model.predict(input_fn(), yield_single_examples=False))
    assert [b["probabilities"].shape for b in batches] == [(4, 2), (4, 2), (2, 2)]
    assert torch.equal(torch.stack([p["classes"] for p in preds]),
                       torch.cat([b["classes"] for b in batches]))


def test_predict_single_examples_of_scalar_predictions_raises(tmp_path):
    def scalar_fn(features, labels, mode):
        est.layers.dense(features, units=1)
        return est.EstimatorSpec(mode, predictions={"total": features.sum()})
    model = est.Estimator(scalar_fn, str(tmp_path), config=CPU)
    with pytest.raises(ValueError, match="batch size as its first dimension"):
        list(model.predict(input_fn()))
    assert len(list(model.predict(input_fn(), yield_single_examples=False))) == 3


def test_predict_unknown_key_raises(model):
    model.train(input_fn(), steps=1)
    with pytest.raises(ValueError, match=r"predict_keys \['nope'\]"):
        list(model.predict(input_fn(), predict_keys=["nope"]))


def test_evaluate_without_a_checkpoint_runs_from_the_initial_values_and_logs(model, caplog):
    with caplog.at_level(logging.INFO, logger="estimator"):
        results = model.evaluate(input_fn())
    assert "Could not find trained model in model_dir" in caplog.text
    assert "running initialization to evaluate" in caplog.text
    assert results["global_step"] == 0 and 0 <= results["accuracy"] <= 1
    assert model.latest_checkpoint() is None  # nothing was written


def test_model_fn_returning_something_else_raises_type_error(tmp_path):
    bad = est.Estimator(lambda features, labels, mode: {"loss": 1}, str(tmp_path), config=CPU)
    with pytest.raises(TypeError, match="model_fn must return an EstimatorSpec, got dict"):
        bad.train(input_fn())


def test_model_fn_without_labels_argument_but_labelled_input_raises(tmp_path):
    bad = est.Estimator(lambda features, mode: None, str(tmp_path), config=CPU)
    with pytest.raises(ValueError, match="does not take 'labels'"):
        bad.train(input_fn())


def test_model_fn_must_take_features_checked_at_construction():
    with pytest.raises(ValueError, match="must include features argument"):
        est.Estimator(lambda x, labels: None, config=CPU)


def test_params_and_config_reach_model_fn_and_input_fn(tmp_path):
    got = {}

    def fn(features, labels, mode, params, config):
        got["model"] = (params["lr"], config.model_dir)
        return model_fn(features, labels, mode, params)

    def in_fn(params, mode):
        got["input"] = (params["lr"], mode)
        return input_fn()()

    est.Estimator(fn, str(tmp_path), config=CPU, params={"lr": 0.1}).train(in_fn, steps=1)
    assert got == {"model": (0.1, str(tmp_path)), "input": (0.1, "train")}


def test_root_module_mode_and_autograd_follow_estimator_mode(tmp_path):
    modes = []

    def fn(features, labels, mode):
        net = est.get_module("net", lambda: nn.Sequential(nn.Linear(4, 2), nn.Dropout(0.5)))
        modes.append((mode, net.training, net[1].training, torch.is_grad_enabled()))
        logits = net(features)
        if mode == est.ModeKeys.PREDICT:
            return est.EstimatorSpec(mode, predictions=logits)
        loss = F.cross_entropy(logits, labels)
        return est.EstimatorSpec(mode, loss=loss, predictions=logits,
                                 train_op=est.train.AdamOptimizer().minimize(
                                     loss, global_step=est.train.get_global_step()))

    model = est.Estimator(fn, str(tmp_path), config=CPU).train(input_fn(), steps=1)
    model.evaluate(input_fn(), steps=1)
    next(model.predict(input_fn()))
    assert modes == [("train", True, True, True), ("eval", False, False, False),
                     ("infer", False, False, False)]


class Counter:
    """A torchmetrics-style metric: the fraction of positive labels."""

    def __init__(self):
        self.reset()

    def update(self, labels):
        self.n, self.pos = self.n + labels.numel(), self.pos + int(labels.sum())

    def compute(self):
        return torch.tensor(self.pos / self.n)

    def reset(self):
        self.n = self.pos = 0


def test_torchmetrics_style_objects_in_eval_metric_ops(tmp_path):
    updated_by_loop, updated_by_user = Counter(), Counter()

    def fn(features, labels, mode):
        spec = model_fn(features, labels, mode, {})
        if mode == est.ModeKeys.EVAL:
            updated_by_user.update(labels)
            ops = {"by_loop": (updated_by_loop, (labels,)), "by_user": updated_by_user}
            return est.EstimatorSpec(mode, loss=spec.loss, eval_metric_ops=ops)
        return spec

    model = est.Estimator(fn, str(tmp_path), config=CPU).train(input_fn(), steps=1)
    expected = Y.float().mean().item()
    for _ in range(2):  # the loop resets both between evaluations
        results = model.evaluate(input_fn())
        assert results["by_loop"] == pytest.approx(expected)
        assert results["by_user"] == pytest.approx(expected)


def test_evaluate_logs_the_results_line_like_tf(model, caplog):
    model.train(input_fn(), steps=1)
    with caplog.at_level(logging.INFO, logger="estimator"):
        model.evaluate(input_fn())
    assert "Saving dict for global step 1: accuracy = " in caplog.text
    assert "Evaluation stopped after 3 batches: the input is exhausted" in caplog.text


def test_train_logs_loss_rate_and_why_it_stopped(tmp_path, caplog):
    config = CPU.replace(log_step_count_steps=2)
    with caplog.at_level(logging.INFO, logger="estimator"):
        est.Estimator(model_fn, str(tmp_path), config=config).train(input_fn(epochs=2))
    assert "loss = " in caplog.text and ", step = 1" in caplog.text
    assert "global_step/sec: " in caplog.text
    assert "Training stopped at global step 5: the input is exhausted." in caplog.text


def test_train_with_both_steps_and_max_steps_raises(model):
    with pytest.raises(ValueError, match="steps or max_steps, not both"):
        model.train(input_fn(), steps=1, max_steps=2)


def test_warm_start_initializes_a_new_model_from_another_model_dir(tmp_path):
    source = est.Estimator(model_fn, str(tmp_path / "a"), config=CPU).train(input_fn(), steps=2)
    target = est.Estimator(model_fn, str(tmp_path / "b"), config=CPU, params={"lr": 0.0},
                           warm_start_from=str(tmp_path / "a"))
    target.train(input_fn(), steps=1)
    assert target.get_variable_value("global_step") == 1  # the source's step is not taken
    for name in ("dense/kernel", "dense/bias"):
        assert torch.equal(target.get_variable_value(name), source.get_variable_value(name))


def test_evaluate_and_predict_use_checkpoint_path_when_given(model):
    model.train(input_fn(epochs=None), steps=1)
    first = model.latest_checkpoint()
    model.train(input_fn(epochs=None), steps=2)
    assert model.evaluate(input_fn(), checkpoint_path=first)["global_step"] == 1
    assert model.evaluate(input_fn())["global_step"] == 3
    old = [p["classes"] for p in model.predict(input_fn(), checkpoint_path=first)]
    assert len(old) == 10
