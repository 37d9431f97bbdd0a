import pytest
import torch
import torch.nn.functional as F
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import data
import estimator as est
from estimator.scope import current_scope

CPU = est.RunConfig(device="cpu", tf_random_seed=0, save_checkpoints_steps=1000,
                    save_summary_steps=3, log_step_count_steps=4)
X = torch.randn(32, 3, generator=torch.Generator().manual_seed(0))


def input_fn():
    return data.Dataset.from_tensor_slices((X, (X[:, 0] > 0).long())).batch(4)


def model_fn(features, labels, mode):
    logits = est.layers.dense(features, 2)
    loss = F.cross_entropy(logits, labels)
    acc = est.metrics.accuracy(labels=labels, predictions=logits.argmax(1))
    est.summary.scalar("step_value", torch.tensor(float(est.train.get_global_step())))
    with est.variable_scope("stats"):
        est.summary.histogram("logits", logits)
    est.summary.image("inputs", features.reshape(-1, 1, 3, 1).expand(-1, 1, 3, 3)[:2])
    train_op = est.train.GradientDescentOptimizer(0.1).minimize(
        loss, global_step=est.train.get_global_step())
    return est.EstimatorSpec(mode, loss=loss, train_op=train_op, eval_metric_ops={"acc": acc})


def events(path):
    acc = EventAccumulator(str(path), size_guidance={"scalars": 0, "histograms": 0, "images": 0})
    acc.Reload()
    return acc


def test_training_summaries_are_written_on_summary_steps_only(tmp_path):
    est.Estimator(model_fn, str(tmp_path), config=CPU).train(input_fn)
    ev = events(tmp_path)
    tags = ev.Tags()
    assert {"loss", "global_step/sec", "step_value"} <= set(tags["scalars"])
    # first step of the call, then every save_summary_steps
    assert [e.step for e in ev.Scalars("loss")] == [1, 3, 6]
    values = {e.step: e.value for e in ev.Scalars("step_value")}
    assert values == {1: 0.0, 3: 2.0, 6: 5.0}  # recorded before each step's update
    assert [e.step for e in ev.Scalars("global_step/sec")] == [4, 8]
    assert tags["histograms"] == ["stats/logits"]
    assert sorted(tags["images"]) == ["inputs/image/0", "inputs/image/1"]


def test_loss_summary_matches_the_step_loss(tmp_path):
    losses = {}

    class Keep(est.SessionRunHook):
        def before_run(self, run_context):
            return est.SessionRunArgs("loss")

        def after_run(self, run_context, run_values):
            losses[run_context.session.global_step] = float(run_values.results)

    est.Estimator(model_fn, str(tmp_path), config=CPU).train(input_fn, hooks=[Keep()])
    for e in events(tmp_path).Scalars("loss"):
        assert e.value == pytest.approx(losses[e.step], rel=1e-6)


def test_evaluation_results_go_to_eval_dirs_at_the_global_step(tmp_path):
    model = est.Estimator(model_fn, str(tmp_path), config=CPU).train(input_fn, steps=5)
    results = model.evaluate(input_fn)
    named = model.evaluate(input_fn, name="valid")
    for sub, res in (("eval", results), ("eval_valid", named)):
        ev = events(tmp_path / sub)
        assert set(ev.Tags()["scalars"]) == {"acc", "loss"}
        [loss] = ev.Scalars("loss")
        assert loss.step == 5 and loss.value == pytest.approx(res["loss"], rel=1e-6)
        assert ev.Scalars("acc")[0].value == pytest.approx(res["acc"], rel=1e-6)


def test_summary_calls_outside_summary_steps_record_nothing(tmp_path):
    recorded = []

    def fn(features, labels, mode):
        spec = model_fn(features, labels, mode)
        recorded.append(len(current_scope().summaries))
        return spec

    config = CPU.replace(save_summary_steps=100)
    est.Estimator(fn, str(tmp_path), config=config).train(input_fn)
    assert recorded[0] == 3 and recorded[1:] == [0] * 7
