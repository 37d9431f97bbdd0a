"""The Estimator's TF semantics a ported TF 1.x program relies on, and the boundary errors
(bad arguments, input_fn results and model_fn outputs named where they arrive)."""

import logging

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import data
import estimator as est

CPU = est.RunConfig(device="cpu", tf_random_seed=0, save_summary_steps=None,
                    log_step_count_steps=None)
X = torch.randn(12, 3, generator=torch.Generator().manual_seed(0))
Y = (X[:, 0] > 0).long()


def input_fn():
    return data.Dataset.from_tensor_slices((X, Y)).batch(4)


def model_fn(features, labels, mode):
    logits = est.layers.dense(features, 2)
    if mode == est.ModeKeys.PREDICT:
        return est.EstimatorSpec(mode, predictions={"classes": logits.argmax(1)})
    loss = F.cross_entropy(logits, labels)
    train_op = est.train.GradientDescentOptimizer(0.1).minimize(
        loss, global_step=est.train.get_global_step())
    return est.EstimatorSpec(mode, loss=loss, train_op=train_op, eval_metric_ops={
        "accuracy": est.metrics.accuracy(labels=labels, predictions=logits.argmax(1))})


# -- evaluate / predict -----------------------------------------------------------------------
def test_predict_without_a_checkpoint_runs_from_the_initial_values(tmp_path, caplog):
    model = est.Estimator(model_fn, str(tmp_path), config=CPU)
    with caplog.at_level(logging.INFO, logger="estimator"):
        preds = list(model.predict(input_fn))
    assert len(preds) == 12 and "running initialization to predict" in caplog.text


def test_warm_start_applies_to_evaluate_and_predict(tmp_path):
    source = est.Estimator(model_fn, str(tmp_path / "src"), config=CPU).train(input_fn, steps=5)
    warm = est.Estimator(model_fn, str(tmp_path / "new"), config=CPU,
                         warm_start_from=str(tmp_path / "src"))
    assert warm.evaluate(input_fn)["loss"] == pytest.approx(source.evaluate(input_fn)["loss"])
    got = [p["classes"] for p in warm.predict(input_fn)]
    assert got == [p["classes"] for p in source.predict(input_fn)]


def test_predict_passes_labels_none_and_model_fn_may_omit_labels(tmp_path):
    est.Estimator(model_fn, str(tmp_path), config=CPU).train(input_fn, steps=1)
    seen = []

    def predict_fn(features, mode):  # no labels argument, input still yields labels
        seen.append(mode)
        return est.EstimatorSpec(mode, predictions=est.layers.dense(features, 2))

    def with_labels(features, labels, mode):
        seen.append(labels)
        return est.EstimatorSpec(mode, predictions=est.layers.dense(features, 2))

    assert len(list(est.Estimator(predict_fn, str(tmp_path), config=CPU).predict(input_fn))) == 12
    list(est.Estimator(with_labels, str(tmp_path), config=CPU).predict(input_fn))
    assert seen[:1] == ["infer"] and all(s is None for s in seen[3:])


def test_predict_keys_with_non_dict_predictions_raise(tmp_path):
    def fn(features, mode):
        return est.EstimatorSpec(mode, predictions=est.layers.dense(features, 2))

    with pytest.raises(ValueError, match="predict_keys argument is not valid in case of non-dict"):
        next(est.Estimator(fn, str(tmp_path), config=CPU).predict(input_fn, predict_keys=["a"]))


def test_evaluate_reports_the_value_element_of_a_pair(tmp_path):
    def fn(features, labels, mode):
        loss = F.cross_entropy(est.layers.dense(features, 2), labels)
        return est.EstimatorSpec(mode, loss=loss, eval_metric_ops={
            "pair": (torch.tensor(7.0), torch.tensor(-1.0))})

    assert est.Estimator(fn, str(tmp_path), config=CPU).evaluate(input_fn)["pair"] == 7.0


@pytest.mark.parametrize("name", ["loss", "global_step"])
def test_metric_named_loss_or_global_step_raises(tmp_path, name):
    def fn(features, labels, mode):
        loss = F.cross_entropy(est.layers.dense(features, 2), labels)
        return est.EstimatorSpec(mode, loss=loss, eval_metric_ops={
            name: est.metrics.mean(loss)})

    with pytest.raises(ValueError, match=f'Metric with name "{name}" is not allowed'):
        est.Estimator(fn, str(tmp_path), config=CPU).evaluate(input_fn)


def test_evaluating_a_checkpoint_with_train_only_state_works(tmp_path):
    def fn(features, labels, mode):
        logits = est.layers.dense(features, 2)
        loss = F.cross_entropy(logits, labels)
        if mode == est.ModeKeys.TRAIN:  # state the eval graph never builds
            ema = est.get_variable("ema_loss", [], initializer=0.0, trainable=False)
            with torch.no_grad():
                ema.mul_(0.9).add_(0.1 * loss.detach())
        return est.EstimatorSpec(mode, loss=loss, train_op=est.train.AdamOptimizer().minimize(
            loss, global_step=est.train.get_global_step()))

    model = est.Estimator(fn, str(tmp_path), config=CPU).train(input_fn, steps=3)
    assert "ema_loss" in model.get_variable_names()
    assert model.evaluate(input_fn)["global_step"] == 3


@pytest.mark.parametrize("shape", [(1,), (1, 1)])
def test_loss_of_one_element_is_accepted(shape):
    spec = est.EstimatorSpec(est.ModeKeys.EVAL, loss=torch.ones(shape))
    assert spec.loss.shape == ()


def test_estimator_spec_replace_revalidates():
    spec = est.EstimatorSpec(est.ModeKeys.PREDICT, predictions=torch.zeros(2))
    assert spec._replace(predictions=torch.ones(2)).predictions.tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="missing loss"):
        spec._replace(mode=est.ModeKeys.EVAL)


def test_train_steps_n_twice_on_an_input_of_exactly_n_batches(tmp_path):
    model = est.Estimator(model_fn, str(tmp_path), config=CPU)
    model.train(input_fn, steps=3)  # 12 examples, batch 4: exactly 3 batches
    model.train(input_fn, steps=3)
    assert model.get_variable_value("global_step") == 6


# -- constructor validation as TF ---------------------------------------------------------------
def test_constructor_validates_model_fn_params_and_config():
    with pytest.raises(ValueError, match="model_fn must be provided"):
        est.Estimator(None)
    with pytest.raises(ValueError, match="does not include params argument"):
        est.Estimator(lambda features, labels: None, params={"a": 1})
    with pytest.raises(ValueError, match=r"following not expected args: \['extra'\]"):
        est.Estimator(lambda features, labels, extra: None)
    with pytest.raises(ValueError, match="config must be an instance of `RunConfig`"):
        est.Estimator(model_fn, config={"device": "cpu"})
    with pytest.raises(TypeError, match="params must be a dict.*list"):
        est.Estimator(lambda features, params: None, params=[1, 2])
    with pytest.raises(TypeError, match="model_dir must be a path.*int"):
        est.Estimator(model_fn, model_dir=5)


def test_device_that_does_not_exist_names_the_devices_there():
    if torch.cuda.device_count() > 7:
        pytest.skip("this machine has a cuda:7")
    with pytest.raises(ValueError, match=r"'cuda:7' does not exist on this machine\. Devices here: cpu"):
        est.RunConfig(device="cuda:7")


# -- input_fn return forms ----------------------------------------------------------------------
def _train_steps(tmp_path, fn, steps=2):
    seen = []

    def record(features, labels, mode):
        seen.append((features, labels))
        return model_fn(features if not isinstance(features, dict) else features["x"], labels, mode)

    est.Estimator(record, str(tmp_path), config=CPU).train(fn, steps=steps)
    return seen


def test_input_fn_may_return_a_batch_of_tensors_arrays_or_dicts(tmp_path):
    seen = _train_steps(tmp_path / "t", lambda: (X, Y))
    assert len(seen) == 2 and torch.equal(seen[1][1], Y)  # the same batch every step, as TF
    seen = _train_steps(tmp_path / "a", lambda: ({"x": X.numpy()}, Y.numpy()))
    assert torch.equal(seen[0][0]["x"], X)
    model = est.Estimator(model_fn, str(tmp_path / "t"), config=CPU)
    assert model.evaluate(lambda: (X, Y))["global_step"] == 2  # evaluated once


def test_input_fn_may_return_dataset_none_and_a_dataloader_of_lists(tmp_path):
    seen = _train_steps(tmp_path / "d", lambda: (input_fn(), None))
    assert torch.equal(seen[0][1], Y[:4])
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, Y), batch_size=4)
    seen = _train_steps(tmp_path / "l", lambda: loader)
    assert isinstance(seen[0][0], torch.Tensor) and torch.equal(seen[0][1], Y[:4])


def test_input_fn_tuple_of_other_length_raises_as_tf(tmp_path):
    with pytest.raises(ValueError, match=r"\(features, labels\) as a len 2 tuple"):
        est.Estimator(model_fn, str(tmp_path), config=CPU).train(lambda: (X, Y, Y), steps=1)


@pytest.mark.parametrize("result,match", [
    ("data/*.jpg", "got a str"),
    ({"x": X, "names": ["a", "b"]}, r"features\['names'\] is a list"),
])
def test_input_fn_returning_a_str_or_a_bad_dict_raises_naming_it(tmp_path, result, match):
    with pytest.raises(TypeError, match=match):
        est.Estimator(model_fn, str(tmp_path), config=CPU).train(lambda: result, steps=1)


# -- model_fn outputs and arguments -------------------------------------------------------------
def test_a_single_hook_is_accepted_for_a_list(tmp_path):
    hook = est.StopAtStepHook(num_steps=1)
    model = est.Estimator(model_fn, str(tmp_path), config=CPU).train(input_fn, hooks=hook)
    assert model.get_variable_value("global_step") == 1
    spec = est.EstimatorSpec(est.ModeKeys.EVAL, loss=torch.tensor(1.0), evaluation_hooks=hook)
    assert spec.evaluation_hooks == (hook,)
    with pytest.raises(TypeError, match=r"hooks\[0\] is a str"):
        model.train(input_fn, hooks=["not a hook"])


def test_an_int_loss_raises_naming_the_dtype():
    with pytest.raises(TypeError, match="loss must be a scalar torch.Tensor, got int"):
        est.EstimatorSpec(est.ModeKeys.EVAL, loss=3)
    with pytest.raises(TypeError, match="floating-point tensor, got dtype torch.int64"):
        est.EstimatorSpec(est.ModeKeys.EVAL, loss=torch.tensor(3))


def test_dict_features_where_a_layer_expects_a_tensor_names_the_keys(tmp_path):
    def fn(features, labels, mode):
        return model_fn(features, labels, mode)

    with pytest.raises(TypeError, match=r"est.layers.dense: inputs is a dict .*\['pixels', 'x'\]"):
        est.Estimator(fn, str(tmp_path), config=CPU).train(
            lambda: ({"x": X, "pixels": X}, Y), steps=1)


def test_eval_metric_pair_holding_strings_raises_naming_the_key():
    with pytest.raises(TypeError, match=r"eval_metric_ops\['acc'\].*element 0 is a str"):
        est.EstimatorSpec(est.ModeKeys.EVAL, loss=torch.tensor(1.0),
                          eval_metric_ops={"acc": ("accuracy", "update")})


def test_layers_cast_float64_inputs_to_their_dtype():
    from estimator.scope import ModelScope
    with ModelScope().call("train"):
        y = est.layers.dense(np.random.normal(size=(2, 3)), 4)
        z = est.layers.conv2d(torch.ones(1, 4, 4, 1, dtype=torch.float64), 2, 3)
        b = est.layers.batch_normalization(torch.ones(2, 3, dtype=torch.float64))
    assert y.dtype == z.dtype == b.dtype == torch.float32


# -- RunConfig's TF arguments -------------------------------------------------------------------
def test_run_config_maps_session_config_and_warns_once_for_the_rest(caplog):
    with caplog.at_level(logging.WARNING, logger="estimator"):
        config = est.RunConfig(session_config={"intra_op_parallelism_threads": 2,
                                               "device_count": {"GPU": 0},
                                               "gpu_options_unknown": 1})
        est.RunConfig(session_config={"gpu_options_unknown": 1})
    assert config.intra_op_parallelism_threads == 2 and config.device.type == "cpu"
    assert caplog.text.count("gpu_options_unknown") == 1


def test_run_config_tf_arguments_and_values():
    config = est.RunConfig(save_summary_steps=0, keep_checkpoint_max=None,
                           keep_checkpoint_every_n_hours=2, log_step_count_steps=50,
                           device_fn=None, protocol=None, session_creation_timeout_secs=10)
    assert config.save_summary_steps == 0 and config.keep_checkpoint_max is None
    with pytest.raises(ValueError, match="keep_checkpoint_every_n_hours should be > 0"):
        est.RunConfig(keep_checkpoint_every_n_hours=0)
    with pytest.raises(ValueError, match="tf_random_seed must be integer"):
        est.RunConfig(tf_random_seed=1.5)


def test_run_config_distribute_strategy_points_to_torchrun():
    class MirroredStrategy:  # stands in for a TF strategy object
        pass

    with pytest.raises(ValueError, match="train_distribute.*torchrun"):
        est.RunConfig(train_distribute=MirroredStrategy())
    assert est.RunConfig(train_distribute=None, eval_distribute=None).train_distribute is None


def test_save_summary_steps_zero_writes_no_summaries(tmp_path):
    config = CPU.replace(save_summary_steps=0)
    est.Estimator(model_fn, str(tmp_path), config=config).train(input_fn)
    assert not list(tmp_path.glob("events.out.tfevents.*"))


def test_keep_checkpoint_every_n_hours_keeps_old_checkpoints_on_disk(tmp_path, monkeypatch):
    import time

    from estimator.checkpoint import _files

    clock = [time.time() + 100 * 3600]  # a clock ahead of the files' own times
    monkeypatch.setattr(_files, "time", type("Clock", (), {"time": staticmethod(lambda: clock[0])}))

    class Tick(est.SessionRunHook):  # each step takes half an hour
        def after_run(self, run_context, run_values):
            clock[0] += 1800

    config = CPU.replace(save_checkpoints_steps=1, keep_checkpoint_max=2,
                         keep_checkpoint_every_n_hours=1)
    est.Estimator(model_fn, str(tmp_path), config=config).train(
        lambda: data.Dataset.from_tensor_slices((X, Y)).repeat(2).batch(4), hooks=[Tick()])
    on_disk = sorted(int(p.name.split("-")[1].split(".")[0]) for p in tmp_path.glob("model.ckpt-*.pt"))
    # steps 1..6 at half-hour intervals; kept: the two newest and one per hour before them
    assert on_disk == [3, 5, 6]
    assert est.Estimator(model_fn, str(tmp_path), config=config).latest_checkpoint().endswith(
        "model.ckpt-6.pt")


def test_a_batch_of_two_strings_stays_features(tmp_path):
    seen = []

    def fn(features, mode):
        seen.append(features)
        return est.EstimatorSpec(mode, predictions=torch.zeros(len(features)))

    model = est.Estimator(fn, str(tmp_path), config=CPU)
    list(model.predict(lambda: data.Dataset.from_tensor_slices(["a", "b"]).batch(2)))
    assert seen == [["a", "b"]]
