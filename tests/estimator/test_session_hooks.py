"""SecondOrStepTimer, CheckpointSaverHook, StepCounterHook, SummarySaverHook, FinalOpsHook,
ProfilerHook and InMemoryEvaluatorHook."""

import json
import os

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import estimator as est
import train_eval_fixtures as fx
from estimator import checkpoint
from estimator.run_hooks import timer as timer_lib
from estimator.eval_events import scalar_events


def _steps_in(directory, tag):
    return [step for step, values in scalar_events(os.path.join(directory, "events.out.tfevents.*"))
            if tag in values]


# -- SecondOrStepTimer -------------------------------------------------------------------------
def test_step_timer_triggers_first_then_every_n_steps_never_twice_for_a_step():
    t = est.SecondOrStepTimer(every_steps=3)
    assert t.should_trigger_for_step(5) and t.last_triggered_step() is None
    assert t.update_last_triggered_step(5) == (None, None)
    assert [s for s in range(5, 12) if t.should_trigger_for_step(s)] == [8, 9, 10, 11]
    assert not t.should_trigger_for_step(5)
    secs, steps = t.update_last_triggered_step(8)
    assert steps == 3 and secs >= 0


def test_seconds_timer_follows_the_clock(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(timer_lib.time, "time", lambda: now[0])
    t = est.SecondOrStepTimer(every_secs=10)
    t.update_last_triggered_step(0)
    now[0] = 109.9
    assert not t.should_trigger_for_step(50)
    now[0] = 110.0
    assert t.should_trigger_for_step(50)
    assert t.update_last_triggered_step(50) == (10.0, 50)


@pytest.mark.parametrize("kwargs", [{}, {"every_secs": 1, "every_steps": 1}])
def test_timer_needs_exactly_one_period(kwargs):
    with pytest.raises(ValueError):
        est.SecondOrStepTimer(**kwargs)


# -- CheckpointSaverHook -----------------------------------------------------------------------
def _saved_steps(directory):
    return sorted(int(n[len("model.ckpt-"):-3]) for n in os.listdir(directory)
                  if n.startswith("model.ckpt-") and n.endswith(".pt"))


def test_checkpoint_saver_hook_replaces_the_config_schedule_and_takes_the_listeners(tmp_path):
    class Steps(est.CheckpointSaverListener):
        def __init__(self):
            self.saved = []

        def after_save(self, session, global_step_value):
            self.saved.append(global_step_value)

    mine, trains = Steps(), Steps()
    hook = est.CheckpointSaverHook(str(tmp_path / "ckpts"), save_steps=4, listeners=[mine])
    model = fx.estimator(tmp_path / "model", keep_checkpoint_max=0)  # config: every 10 steps
    model.train(fx.train_input_fn(), max_steps=10, hooks=[hook], saving_listeners=[trains])
    assert _saved_steps(tmp_path / "ckpts") == [4, 8, 10]
    assert mine.saved == trains.saved == [4, 8, 10]
    assert not os.path.exists(tmp_path / "model" / "checkpoint")
    assert checkpoint.load(str(tmp_path / "ckpts"))["global_step"] == 10


def test_checkpoint_saver_hook_stops_when_a_listener_says_so(tmp_path):
    class StopAt8(est.CheckpointSaverListener):
        def after_save(self, session, global_step_value):
            return global_step_value == 8

    model = fx.estimator(tmp_path)
    hook = est.CheckpointSaverHook(str(tmp_path), save_steps=4, listeners=[StopAt8()])
    model.train(fx.train_input_fn(), max_steps=100, hooks=[hook])
    assert model.get_variable_value("global_step") == 8


def test_checkpoint_saver_hook_saves_only_in_train(tmp_path):
    model = fx.estimator(tmp_path)
    model.train(fx.train_input_fn(), max_steps=2)
    hook = est.CheckpointSaverHook(str(tmp_path), save_steps=1)
    with pytest.raises(RuntimeError, match="only inside Estimator.train"):
        model.evaluate(fx.eval_input_fn(), hooks=[hook])


def test_checkpoint_saver_hook_refuses_tf_savers():
    with pytest.raises(ValueError, match="saver= and scaffold= are not supported"):
        est.CheckpointSaverHook("d", save_steps=1, saver=object())
    with pytest.raises(ValueError, match="Either every_secs or every_steps"):
        est.CheckpointSaverHook("d")


# -- StepCounterHook, SummarySaverHook, FinalOpsHook -------------------------------------------
def test_step_counter_hook_writes_steps_per_second(tmp_path):
    out = str(tmp_path / "counter")
    fx.estimator(tmp_path / "m").train(fx.train_input_fn(), max_steps=12,
                                       hooks=[est.StepCounterHook(every_n_steps=5, output_dir=out)])
    assert _steps_in(out, "global_step/sec") == [6, 11]  # TF: timed from the first step
    assert all(v["global_step/sec"] > 0 for _, v in
               scalar_events(os.path.join(out, "events.out.tfevents.*")))


def test_summary_saver_hook_writes_named_tensors_on_the_first_step_and_every_n(tmp_path):
    out = str(tmp_path / "summaries")
    hook = est.SummarySaverHook(save_steps=4, output_dir=out,
                                summary_op={"train_loss": "loss", "probs": "probabilities"})
    fx.estimator(tmp_path / "m").train(fx.train_input_fn(), max_steps=10, hooks=[hook])
    assert _steps_in(out, "train_loss") == [1, 5, 9]


def test_summary_saver_hook_needs_summary_op():
    with pytest.raises(ValueError, match="Exactly one of scaffold or summary_op"):
        est.SummarySaverHook(save_steps=1, output_dir="d")


def test_final_ops_hook_keeps_the_values_of_the_last_step(tmp_path):
    losses = []

    class Loss(est.SessionRunHook):
        def before_run(self, run_context):
            return est.SessionRunArgs("loss")

        def after_run(self, run_context, run_values):
            losses.append(float(run_values.results))

    final = est.FinalOpsHook({"loss": "loss"})
    computed = est.FinalOpsHook(lambda: torch.tensor(losses[-1]) * 2)
    fx.estimator(tmp_path).train(fx.train_input_fn(), max_steps=5,
                                 hooks=[Loss(), final, computed])
    assert final.final_ops_values == {"loss": pytest.approx(losses[-1])}
    assert computed.final_ops_values == pytest.approx(2 * losses[-1])


# -- ProfilerHook ------------------------------------------------------------------------------
def test_profiler_hook_writes_chrome_traces_every_n_steps(tmp_path):
    out = tmp_path / "profile"
    fx.estimator(tmp_path / "m").train(fx.train_input_fn(), max_steps=7,
                                       hooks=[est.ProfilerHook(save_steps=3, output_dir=str(out))])
    assert sorted(os.listdir(out)) == ["timeline-3.json", "timeline-6.json"]
    with open(out / "timeline-3.json") as f:
        trace = json.load(f)
    names = {e.get("name", "") for e in trace["traceEvents"]}
    assert any("addmm" in n or "linear" in n for n in names)  # the dense layers ran in it


# -- InMemoryEvaluatorHook ---------------------------------------------------------------------
def test_in_memory_evaluator_hook_evaluates_every_n_steps_and_at_the_end(tmp_path):
    model = fx.estimator(tmp_path, keep_checkpoint_max=0, save_checkpoints_steps=4)
    hook = est.InMemoryEvaluatorHook(model, fx.eval_input_fn(), every_n_iter=4, name="mem")
    model.train(fx.train_input_fn(), max_steps=10, hooks=[hook])
    history = est.experimental.read_eval_metrics(model.eval_dir("mem"))
    assert list(history) == [4, 8, 10]
    assert hook.eval_result["global_step"] == 10
    at_8 = model.evaluate(fx.eval_input_fn(),
                          checkpoint_path=os.path.join(model.model_dir, "model.ckpt-8.pt"))
    assert history[8]["loss"] == pytest.approx(at_8["loss"], rel=1e-6)


def test_in_memory_evaluator_hook_needs_a_positive_period(tmp_path):
    with pytest.raises(ValueError, match="invalid every_n_iter=0"):
        est.InMemoryEvaluatorHook(fx.estimator(tmp_path), fx.eval_input_fn(), every_n_iter=0)


def test_hooks_are_reexported_from_the_hooks_module():
    from estimator import hooks

    for name in ("CheckpointSaverHook", "CheckpointSaverListener", "FinalOpsHook",
                 "InMemoryEvaluatorHook", "ProfilerHook", "SecondOrStepTimer", "StepCounterHook",
                 "SummarySaverHook"):
        assert getattr(hooks, name) is getattr(est, name)


@settings(max_examples=30, deadline=None)
@given(every=st.integers(1, 5), increments=st.lists(st.integers(0, 4), max_size=30))
def test_step_timer_fires_when_every_steps_passed_since_the_last_trigger(every, increments):
    timer, step, last = est.SecondOrStepTimer(every_steps=every), 0, None
    for inc in increments:
        step += inc
        expected = last is None or (step != last and step >= last + every)
        assert timer.should_trigger_for_step(step) == expected
        if expected:
            timer.update_last_triggered_step(step)
            last = step
        assert timer.last_triggered_step() == last
