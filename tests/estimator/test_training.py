"""TrainSpec, EvalSpec, train_and_evaluate and saving listeners, with TF's local semantics."""

import os

import pytest
import torch

import estimator as est
import train_eval_fixtures as fx
from estimator import checkpoint


def _specs(max_steps=30, throttle_secs=0, steps=None, **eval_kwargs):
    return (est.TrainSpec(fx.train_input_fn(), max_steps=max_steps),
            est.EvalSpec(fx.eval_input_fn(), steps=steps, throttle_secs=throttle_secs,
                         **eval_kwargs))


class Recorder(est.CheckpointSaverListener):
    def __init__(self, stop_at=None):
        self.calls, self.stop_at = [], stop_at

    def begin(self):
        self.calls.append("begin")

    def before_save(self, session, global_step_value):
        self.calls.append(("before_save", global_step_value))

    def after_save(self, session, global_step_value):
        self.calls.append(("after_save", global_step_value))
        return global_step_value == self.stop_at

    def end(self, session, global_step_value):
        self.calls.append(("end", global_step_value))


# -- specs -------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, error, match", [
    ({"input_fn": 1}, TypeError, "`input_fn` must be callable"),
    ({"max_steps": 0}, ValueError, r"Must specify max_steps > 0, given: 0"),
    ({"hooks": [object()]}, TypeError, "All hooks must be SessionRunHook"),
    ({"saving_listeners": [object()]}, TypeError, "CheckpointSaverListener"),
])
def test_train_spec_validates_as_tf(kwargs, error, match):
    args = dict(input_fn=fx.train_input_fn())
    args.update(kwargs)
    with pytest.raises(error, match=match):
        est.TrainSpec(**args)


def test_specs_have_tf_defaults():
    train = est.TrainSpec(fx.train_input_fn())
    assert (train.max_steps, train.hooks, train.saving_listeners) == (None, (), ())
    spec = est.EvalSpec(fx.eval_input_fn())
    assert (spec.steps, spec.name, spec.hooks, spec.exporters, spec.start_delay_secs,
            spec.throttle_secs) == (100, None, (), (), 120, 600)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"steps": 0}, ValueError, "Must specify steps > 0"),
    ({"name": 3}, TypeError, "`name` must be string"),
    ({"throttle_secs": -1}, ValueError, "throttle_secs >= 0"),
    ({"start_delay_secs": -1}, ValueError, "start_delay_secs >= 0"),
    ({"exporters": [object()]}, TypeError, "must be an Exporter"),
])
def test_eval_spec_validates_as_tf(kwargs, error, match):
    with pytest.raises(error, match=match):
        est.EvalSpec(fx.eval_input_fn(), **kwargs)


def test_eval_spec_takes_one_exporter_and_refuses_duplicate_names():
    receiver = est.export.build_raw_serving_input_receiver_fn({"x": torch.zeros(1, 4)})
    one = est.LatestExporter("a", receiver)
    assert est.EvalSpec(fx.eval_input_fn(), exporters=one).exporters == (one,)
    with pytest.raises(ValueError, match="unique names"):
        est.EvalSpec(fx.eval_input_fn(), exporters=[one, est.FinalExporter("a", receiver)])


# -- train_and_evaluate ------------------------------------------------------------------------
def test_evaluates_after_every_checkpoint_when_throttle_is_zero(tmp_path):
    model = fx.estimator(tmp_path)
    metrics, exports = est.train_and_evaluate(model, *_specs(throttle_secs=0))
    history = est.experimental.read_eval_metrics(model.eval_dir())
    assert list(history) == [10, 20, 30]
    assert metrics["global_step"] == 30 and exports == []
    assert history[30] == {"accuracy": metrics["accuracy"], "loss": pytest.approx(metrics["loss"])}


def test_throttle_skips_checkpoints_and_the_end_is_always_evaluated(tmp_path):
    model = fx.estimator(tmp_path)
    metrics, _ = est.train_and_evaluate(model, *_specs(max_steps=35, throttle_secs=3600))
    # the first checkpoint (10) evaluates; 20 and 30 are throttled; the final one (35) evaluates
    assert list(est.experimental.read_eval_metrics(model.eval_dir())) == [10, 35]
    assert metrics["global_step"] == 35


def test_the_final_checkpoint_is_not_evaluated_twice(tmp_path):
    model = fx.estimator(tmp_path)
    est.train_and_evaluate(model, *_specs(max_steps=30, throttle_secs=3600))
    assert list(est.experimental.read_eval_metrics(model.eval_dir())) == [10, 30]


def test_in_memory_evaluation_equals_evaluate_on_the_saved_checkpoint(tmp_path):
    model = fx.estimator(tmp_path, keep_checkpoint_max=0)
    est.train_and_evaluate(model, *_specs(throttle_secs=0, name="live"))
    live = est.experimental.read_eval_metrics(model.eval_dir("live"))
    for step in (10, 20, 30):
        reloaded = model.evaluate(fx.eval_input_fn(),
                                  checkpoint_path=os.path.join(model.model_dir,
                                                               f"model.ckpt-{step}.pt"))
        assert reloaded["global_step"] == step
        assert live[step]["accuracy"] == reloaded["accuracy"]
        assert live[step]["loss"] == pytest.approx(reloaded["loss"], rel=1e-6)


def test_evaluations_never_reload_a_checkpoint(tmp_path, monkeypatch):
    loads = []
    real_load = checkpoint.load
    monkeypatch.setattr(checkpoint, "load", lambda *a, **k: loads.append(a) or real_load(*a, **k))
    model = fx.estimator(tmp_path)
    est.train_and_evaluate(model, *_specs(throttle_secs=0))
    assert len(est.experimental.read_eval_metrics(model.eval_dir())) == 3
    assert loads == []


def test_evaluations_leave_training_unchanged(tmp_path):
    """Dropout draws the same numbers, and the model returns to train mode after each eval."""
    params = {"dropout": 0.5, "eval_draws": True}
    plain = fx.estimator(tmp_path / "plain", params)
    plain.train(fx.train_input_fn(), max_steps=30)
    evaluated = fx.estimator(tmp_path / "evaluated", params)
    est.train_and_evaluate(evaluated, *_specs(throttle_secs=0))
    for name in plain.get_variable_names():
        assert torch.equal(plain.get_variable_value(name), evaluated.get_variable_value(name)), name


def test_training_metrics_are_not_reset_by_evaluations(tmp_path):
    seen = []

    class Watch(est.SessionRunHook):
        def before_run(self, run_context):
            return est.SessionRunArgs("accuracy")

        def after_run(self, run_context, run_values):
            seen.append(float(run_values.results))

    plain = fx.estimator(tmp_path / "plain")
    plain.train(fx.train_input_fn(), hooks=[Watch()], max_steps=30)
    without, seen[:] = list(seen), []
    est.train_and_evaluate(fx.estimator(tmp_path / "evaluated"),
                           est.TrainSpec(fx.train_input_fn(), max_steps=30, hooks=[Watch()]),
                           est.EvalSpec(fx.eval_input_fn(), steps=None, throttle_secs=0))
    assert seen == without  # the streaming training accuracy kept accumulating


def test_returns_none_when_training_is_already_done(tmp_path):
    model = fx.estimator(tmp_path)
    model.train(fx.train_input_fn(), max_steps=10)
    assert est.train_and_evaluate(model, *_specs(max_steps=10)) == (None, None)


def test_needs_an_estimator_and_specs(tmp_path):
    train, evaluation = _specs()
    with pytest.raises(TypeError, match="`estimator` must have type"):
        est.train_and_evaluate(object(), train, evaluation)
    with pytest.raises(TypeError, match="`eval_spec` must have type"):
        est.train_and_evaluate(fx.estimator(tmp_path), train, None)


def test_eval_hooks_and_steps_are_used(tmp_path):
    batches = []

    class Count(est.SessionRunHook):
        def begin(self):
            batches.append(0)

        def after_run(self, run_context, run_values):
            batches[-1] += 1

    est.train_and_evaluate(fx.estimator(tmp_path), *_specs(throttle_secs=0, steps=1,
                                                           hooks=[Count()]))
    assert batches == [1, 1, 1]


# -- saving listeners --------------------------------------------------------------------------
def test_listeners_are_called_around_each_save_and_at_the_end(tmp_path):
    listener = Recorder()
    fx.estimator(tmp_path).train(fx.train_input_fn(), max_steps=25, saving_listeners=[listener])
    assert listener.calls == ["begin", ("before_save", 10), ("after_save", 10),
                              ("before_save", 20), ("after_save", 20),
                              ("before_save", 25), ("after_save", 25), ("end", 25)]


def test_a_listener_returning_true_stops_training(tmp_path):
    listener = Recorder(stop_at=20)
    model = fx.estimator(tmp_path)
    model.train(fx.train_input_fn(), max_steps=100, saving_listeners=[listener])
    assert model.get_variable_value("global_step") == 20
    assert listener.calls[-1] == ("end", 20)


def test_listener_session_is_the_live_model(tmp_path):
    seen = {}

    class Peek(est.CheckpointSaverListener):
        def after_save(self, session, global_step_value):
            seen[global_step_value] = (session.global_step,
                                       session.scope.root.dense.kernel.detach().clone())

    model = fx.estimator(tmp_path)
    model.train(fx.train_input_fn(), max_steps=10, saving_listeners=[Peek()])
    assert seen[10][0] == 10
    assert torch.equal(seen[10][1], model.get_variable_value("dense/kernel"))


def test_listeners_need_a_checkpoint_schedule(tmp_path):
    model = est.Estimator(fx.model_fn, str(tmp_path),
                          config=fx.config(save_checkpoints_steps=None,
                                           save_checkpoints_secs=None))
    with pytest.raises(ValueError, match="There should be a CheckpointSaverHook"):
        model.train(fx.train_input_fn(), max_steps=3, saving_listeners=[Recorder()])
