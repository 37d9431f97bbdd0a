import logging

import pytest
import torch
import torch.nn.functional as F

import data
import estimator as est
from estimator.hooks import HookList

CPU = est.RunConfig(device="cpu", tf_random_seed=0, save_checkpoints_steps=1000,
                    save_summary_steps=None, log_step_count_steps=None)


def input_fn(n=40, batch=4):
    x = torch.randn(n, 3, generator=torch.Generator().manual_seed(0))
    return lambda: data.Dataset.from_tensor_slices((x, (x[:, 0] > 0).long())).batch(batch)


def make_model_fn(spec_hooks=(), loss_fn=None):
    def model_fn(features, labels, mode):
        logits = est.layers.dense(features, 2)
        loss = F.cross_entropy(logits, labels)
        if loss_fn is not None:
            loss = loss_fn(loss, est.train.get_global_step())
        train_op = est.train.GradientDescentOptimizer(0.1).minimize(
            loss, global_step=est.train.get_global_step())
        return est.EstimatorSpec(mode, loss=loss, train_op=train_op,
                                 predictions={"classes": logits.argmax(1)},
                                 training_hooks=spec_hooks, evaluation_hooks=spec_hooks)
    return model_fn


class Recorder(est.SessionRunHook):
    def __init__(self, stop_at=None):
        self.calls, self.stop_at, self.results = [], stop_at, []

    def begin(self):
        self.calls.append("begin")

    def after_create_session(self, session, coord):
        self.calls.append(("created", session.global_step))

    def before_run(self, run_context):
        self.calls.append("before")
        return est.SessionRunArgs({"loss": "loss", "classes": "classes"})

    def after_run(self, run_context, run_values):
        self.calls.append(("after", run_context.session.global_step))
        self.results.append(run_values.results)
        if run_context.session.global_step == self.stop_at:
            run_context.request_stop()

    def end(self, session):
        self.calls.append(("end", session.global_step))


def test_hook_methods_run_in_order_and_request_stop_ends_after_that_step(tmp_path):
    hook = Recorder(stop_at=2)
    est.Estimator(make_model_fn(), str(tmp_path), config=CPU).train(input_fn(), hooks=[hook])
    assert hook.calls == ["begin", ("created", 0), "before", ("after", 1), "before",
                          ("after", 2), ("end", 2)]
    assert set(hook.results[0]) == {"loss", "classes"}
    assert hook.results[0]["loss"].dim() == 0 and not hook.results[0]["loss"].requires_grad
    assert hook.results[0]["classes"].shape == (4,)


def test_hook_list_is_itself_a_hook():
    a, b = Recorder(), Recorder()
    hooks = HookList([a, b])
    assert isinstance(hooks, est.SessionRunHook)
    hooks.begin()
    assert a.calls == b.calls == ["begin"]
    with pytest.raises(TypeError, match="SessionRunHook instances"):
        HookList([object()])


def test_spec_training_and_evaluation_hooks_run(tmp_path):
    hook = Recorder()
    model = est.Estimator(make_model_fn(spec_hooks=[hook]), str(tmp_path), config=CPU)
    model.train(input_fn(), steps=3)
    assert hook.calls[:3] == ["begin", ("created", 0), "before"]
    assert hook.calls.count("before") == 3 and hook.calls[-1] == ("end", 3)
    assert len(hook.results) == 3 and all(r["loss"].dim() == 0 for r in hook.results)


def test_stop_at_step_hook_num_steps_and_last_step(tmp_path):
    model = est.Estimator(make_model_fn(), str(tmp_path), config=CPU)
    model.train(input_fn(), hooks=[est.StopAtStepHook(num_steps=3)])
    assert model.get_variable_value("global_step") == 3
    model.train(input_fn(), hooks=[est.StopAtStepHook(last_step=5)])
    assert model.get_variable_value("global_step") == 5
    with pytest.raises(ValueError, match="exactly one of num_steps and last_step"):
        est.StopAtStepHook()


def test_logging_tensor_hook_logs_named_tensors_every_n_iter(tmp_path, caplog):
    hook = est.LoggingTensorHook({"the_loss": "loss"}, every_n_iter=2)
    with caplog.at_level(logging.INFO, logger="estimator"):
        est.Estimator(make_model_fn(), str(tmp_path), config=CPU).train(input_fn(), steps=5,
                                                                        hooks=[hook])
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("the_loss = ")]
    assert len(lines) == 3  # iterations 0, 2, 4


def test_fetching_an_unknown_name_raises_listing_the_available_ones(tmp_path):
    hook = est.LoggingTensorHook(["logits"], every_n_iter=1)
    with pytest.raises(KeyError, match=r"'logits'.*available: \['classes', 'loss'\]"):
        est.Estimator(make_model_fn(), str(tmp_path), config=CPU).train(input_fn(), hooks=[hook])


def nan_from_step_3(loss, step):
    return loss * float("nan") if step >= 2 else loss


def test_nan_tensor_hook_fails_naming_the_step(tmp_path):
    model = est.Estimator(make_model_fn(loss_fn=nan_from_step_3), str(tmp_path), config=CPU)
    with pytest.raises(est.NanLossDuringTrainingError, match="non-finite at global step 3"):
        model.train(input_fn(), hooks=[est.NanTensorHook()])


def test_nan_tensor_hook_checked_every_n_iter_still_names_the_first_step(tmp_path):
    model = est.Estimator(make_model_fn(loss_fn=nan_from_step_3), str(tmp_path), config=CPU)
    with pytest.raises(est.NanLossDuringTrainingError, match="at global step 3"):
        model.train(input_fn(), hooks=[est.NanTensorHook(every_n_iter=4)])


def test_nan_tensor_hook_without_failing_requests_a_stop(tmp_path, caplog):
    # The hook warns and stops at step 3; as in TF (whose Estimator always adds a failing
    # NanTensorHook), the run still ends in NanLossDuringTrainingError, and nothing is saved.
    model = est.Estimator(make_model_fn(loss_fn=nan_from_step_3), str(tmp_path), config=CPU)
    steps = []

    class Steps(est.SessionRunHook):
        def after_run(self, run_context, run_values):
            steps.append(run_context.session.global_step)

    with caplog.at_level(logging.WARNING, logger="estimator"):
        with pytest.raises(est.NanLossDuringTrainingError, match="before saving"):
            model.train(input_fn(), hooks=[
                est.NanTensorHook(fail_on_nan_loss=False, every_n_iter=1), Steps()])
    assert "non-finite at global step 3; stopping" in caplog.text
    assert steps == [1, 2, 3]
    assert model.latest_checkpoint() is None


def test_the_loop_catches_a_nan_loss_on_logging_steps(tmp_path):
    config = CPU.replace(log_step_count_steps=2)
    model = est.Estimator(make_model_fn(loss_fn=nan_from_step_3), str(tmp_path), config=config)
    # Found on logging step 4, naming the first bad step, which the device recorded.
    with pytest.raises(est.NanLossDuringTrainingError,
                       match=r"non-finite \(NaN or inf\) at global step 3 \(found at step 4"):
        model.train(input_fn())


def test_nan_tensor_hook_reads_the_device_only_on_logging_steps(tmp_path, monkeypatch):
    reads = []
    real = est.hooks.FirstNonFinite.first_bad_step
    monkeypatch.setattr(est.hooks.FirstNonFinite, "first_bad_step",
                        lambda self: reads.append(1) or real(self))
    hook = est.NanTensorHook()
    config = CPU.replace(log_step_count_steps=5)
    est.Estimator(make_model_fn(), str(tmp_path), config=config).train(input_fn(), hooks=[hook])
    # 10 steps: the hook reads at steps 1, 5, 10 and at the end; the loop at its log steps
    # (1, 5, 10) and before its one save (10).
    assert len(reads) == 4 + 4


def test_first_non_finite_names_the_first_bad_step():
    watch = est.hooks.FirstNonFinite()
    assert watch.first_bad_step() is None
    for step, loss in enumerate([0.5, 1.0, float("inf"), float("nan"), 2.0], start=1):
        watch.record(torch.tensor([loss, 0.0]), step)
    assert watch.first_bad_step() == 3


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_first_non_finite_records_without_a_host_sync_on_cuda():
    losses = [torch.tensor(v, device="cuda") for v in (1.0, 2.0, float("nan"), 3.0)]
    watch = est.hooks.FirstNonFinite()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for step, loss in enumerate(losses, start=1):
            watch.record(loss, step)
    finally:
        torch.cuda.set_sync_debug_mode(0)
    assert watch.first_bad_step() == 3
