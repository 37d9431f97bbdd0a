"""est.experimental early stopping: hooks reading the eval event files as TF's do."""

import os

import pytest
from torch.utils.tensorboard import SummaryWriter

import estimator as est
import train_eval_fixtures as fx
from estimator.eval_events import scalar_events


def _write_evals(directory, history):
    """Eval event files as evaluate writes them: one scalar per metric at each step."""
    writer = SummaryWriter(str(directory))
    for step, metrics in history.items():
        for name, value in metrics.items():
            writer.add_scalar(name, value, step)
    writer.close()


def _train_with(model, hook, max_steps=20):
    model.train(fx.train_input_fn(), max_steps=max_steps, hooks=[hook])
    return model.get_variable_value("global_step")


def test_read_eval_metrics_reads_what_evaluate_wrote(tmp_path):
    model = fx.estimator(tmp_path)
    expected = {}
    for step in (3, 6):
        model.train(fx.train_input_fn(), max_steps=step)
        results = model.evaluate(fx.eval_input_fn())
        expected[step] = {"accuracy": results["accuracy"], "loss": results["loss"]}
    history = est.experimental.read_eval_metrics(model.eval_dir())
    assert list(history) == [3, 6]
    for step in (3, 6):
        assert history[step] == pytest.approx(expected[step], rel=1e-6)
    # as TF: one event per evaluation holding every metric (BestExporter compares events)
    events = list(scalar_events(os.path.join(model.eval_dir(), "events.out.tfevents.*")))
    assert [(step, sorted(values)) for step, values in events] == [
        (3, ["accuracy", "loss"]), (6, ["accuracy", "loss"])]


def test_read_eval_metrics_of_a_missing_folder_is_empty(tmp_path):
    assert est.experimental.read_eval_metrics(str(tmp_path / "nothing")) == {}


@pytest.mark.parametrize("max_steps_without_decrease, stops", [(20, True), (21, False)])
def test_stop_if_no_decrease(tmp_path, max_steps_without_decrease, stops):
    model = fx.estimator(tmp_path / "m")
    # best loss at step 20; step 40 is 20 steps later without a decrease
    _write_evals(model.eval_dir(), {10: {"loss": 1.0}, 20: {"loss": 0.5}, 30: {"loss": 0.6},
                                    40: {"loss": 0.7}})
    hook = est.experimental.stop_if_no_decrease_hook(
        model, "loss", max_steps_without_decrease, run_every_secs=None, run_every_steps=1)
    assert _train_with(model, hook) == (1 if stops else 20)


def test_stop_if_no_increase_counts_only_from_min_steps(tmp_path):
    model = fx.estimator(tmp_path / "m")
    _write_evals(model.eval_dir(), {10: {"accuracy": 0.9}, 20: {"accuracy": 0.5},
                                    30: {"accuracy": 0.6}, 40: {"accuracy": 0.55}})
    stop = est.experimental.stop_if_no_increase_hook(model, "accuracy", 30, run_every_secs=None,
                                                     run_every_steps=1)
    assert _train_with(model, stop) == 1  # 0.9 at step 10, nothing better by step 40
    later = fx.estimator(tmp_path / "later")
    _write_evals(later.eval_dir(), {10: {"accuracy": 0.9}, 20: {"accuracy": 0.5},
                                    30: {"accuracy": 0.6}, 40: {"accuracy": 0.55}})
    ignore_10 = est.experimental.stop_if_no_increase_hook(
        later, "accuracy", 30, min_steps=11, run_every_secs=None, run_every_steps=1)
    assert _train_with(later, ignore_10) == 20  # best is 0.6 at 30, only 10 steps before 40


@pytest.mark.parametrize("make, threshold, stops", [
    (est.experimental.stop_if_higher_hook, 0.8, True),
    (est.experimental.stop_if_higher_hook, 0.9, False),  # strictly higher
    (est.experimental.stop_if_lower_hook, 0.6, True),
    (est.experimental.stop_if_lower_hook, 0.5, False),
])
def test_threshold_hooks(tmp_path, make, threshold, stops):
    model = fx.estimator(tmp_path / "m")
    _write_evals(model.eval_dir(), {10: {"accuracy": 0.5}, 20: {"accuracy": 0.9}})
    hook = make(model, "accuracy", threshold, run_every_secs=None, run_every_steps=1)
    assert _train_with(model, hook) == (1 if stops else 20)


def test_threshold_hook_ignores_evaluations_before_min_steps(tmp_path):
    model = fx.estimator(tmp_path / "m")
    _write_evals(model.eval_dir(), {10: {"accuracy": 0.95}, 20: {"accuracy": 0.5}})
    hook = est.experimental.stop_if_higher_hook(model, "accuracy", 0.9, min_steps=15,
                                                run_every_secs=None, run_every_steps=1)
    assert _train_with(model, hook) == 20


def test_run_every_steps_sets_how_often_the_files_are_read(tmp_path):
    calls = []
    model = fx.estimator(tmp_path)
    hook = est.experimental.make_early_stopping_hook(
        model, lambda: calls.append(1) or len(calls) == 3, run_every_secs=None,
        run_every_steps=4)
    assert _train_with(model, hook) == 9  # checked at steps 1, 5, 9
    assert len(calls) == 3


def test_early_stopping_during_train_and_evaluate(tmp_path):
    model = fx.estimator(tmp_path, save_checkpoints_steps=2)
    hook = est.experimental.stop_if_higher_hook(model, "accuracy", 0.0, run_every_secs=None,
                                                run_every_steps=1)
    metrics, _ = est.train_and_evaluate(
        model, est.TrainSpec(fx.train_input_fn(), max_steps=50, hooks=[hook]),
        est.EvalSpec(fx.eval_input_fn(), steps=None, throttle_secs=0))
    # the first evaluation (step 2) is written, the hook reads it at step 3 and stops
    assert model.get_variable_value("global_step") == 3
    assert list(est.experimental.read_eval_metrics(model.eval_dir())) == [2, 3]
    assert metrics["global_step"] == 3


def test_make_early_stopping_hook_checks_its_arguments(tmp_path):
    model = fx.estimator(tmp_path)
    with pytest.raises(ValueError, match="Only one of `run_every_secs` and `run_every_steps`"):
        est.experimental.make_early_stopping_hook(model, lambda: False, run_every_secs=1,
                                                  run_every_steps=1)
    with pytest.raises(TypeError, match="`estimator` must have type"):
        est.experimental.make_early_stopping_hook(object(), lambda: False)
    with pytest.raises(TypeError, match="`should_stop_fn` must be callable"):
        est.experimental.make_early_stopping_hook(model, 3)


def test_a_missing_metric_is_named(tmp_path):
    model = fx.estimator(tmp_path / "m")
    _write_evals(model.eval_dir(), {10: {"loss": 0.5}})
    hook = est.experimental.stop_if_higher_hook(model, "auc", 0.5, run_every_secs=None,
                                                run_every_steps=1)
    with pytest.raises(KeyError, match="'auc' is not in the evaluation at step 10"):
        _train_with(model, hook)
