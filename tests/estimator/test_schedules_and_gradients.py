"""Learning-rate schedules (values from TF: fixtures/lr_schedules.json), global-step functions,
compute_gradients / apply_gradients and trainable_variables, through the Estimator."""

import json
import os

import pytest
import torch
import torch.nn.functional as F

import data
import estimator as est

with open(os.path.join(os.path.dirname(__file__), "fixtures", "lr_schedules.json")) as f:
    TF = json.load(f)
CPU = est.RunConfig(device="cpu", tf_random_seed=0, save_summary_steps=None,
                    log_step_count_steps=None)
X = torch.randn(16, 3, generator=torch.Generator().manual_seed(1))
Y = (X.sum(1) > 0).long()


def input_fn():
    return data.Dataset.from_tensor_slices((X, Y)).batch(4)


CASES = [(fn, case) for fn, cases in TF.items() if fn != "steps" for case in cases]


@pytest.mark.parametrize("fn,case", CASES, ids=[f"{fn}-{i}" for i, (fn, _) in enumerate(CASES)])
def test_schedule_values_equal_tensorflow(fn, case):
    kwargs = dict(case["kwargs"])
    if fn == "piecewise_constant":
        got = [est.train.piecewise_constant(s, **kwargs) for s in TF["steps"]]
    else:
        got = [getattr(est.train, fn)(global_step=s, **kwargs) for s in TF["steps"]]
    # TF computes in float32: equal to its rounding (eps * learning_rate)
    assert got == pytest.approx(case["values"], rel=1e-6, abs=1.2e-8)


def test_piecewise_constant_needs_one_more_value_than_boundaries():
    with pytest.raises(ValueError, match="1 less than the length of values"):
        est.train.piecewise_constant(3, [1, 2], [0.1, 0.2])


def test_schedule_drives_the_optimizer_learning_rate(tmp_path):
    seen = []

    class LrHook(est.SessionRunHook):
        def after_run(self, run_context, run_values):
            seen.append(model_lr[-1])

    model_lr = []

    def model_fn(features, labels, mode):
        loss = F.cross_entropy(est.layers.dense(features, 2), labels)
        step = est.train.get_or_create_global_step()
        lr = est.train.piecewise_constant(step, [1], [0.5, 0.1])
        model_lr.append(lr)
        opt = est.train.GradientDescentOptimizer(lr)
        return est.EstimatorSpec(mode, loss=loss,
                                 train_op=opt.minimize(loss, global_step=step))

    est.Estimator(model_fn, str(tmp_path), config=CPU).train(input_fn, hooks=[LrHook()])
    assert seen == [0.5, 0.5, 0.1, 0.1]


def test_get_global_step_and_get_or_create_work_in_every_mode(tmp_path):
    steps = []

    def model_fn(features, labels, mode):
        steps.append((mode, est.train.get_global_step(), est.train.get_or_create_global_step()))
        logits = est.layers.dense(features, 2)
        if mode == est.ModeKeys.PREDICT:
            return est.EstimatorSpec(mode, predictions=logits)
        loss = F.cross_entropy(logits, labels)
        train_op = est.train.AdamOptimizer().minimize(loss, global_step=est.train.get_global_step())
        return est.EstimatorSpec(mode, loss=loss, train_op=train_op)

    model = est.Estimator(model_fn, str(tmp_path), config=CPU)
    model.train(input_fn, steps=2)
    model.evaluate(input_fn, steps=1)
    next(model.predict(input_fn))
    assert steps == [("train", 0, 0), ("train", 1, 1), ("eval", 2, 2), ("infer", 2, 2)]


def test_create_global_step_in_model_fn_raises_as_tf(tmp_path):
    def model_fn(features, labels, mode):
        est.train.create_global_step()

    with pytest.raises(ValueError, match='"global_step" already exists'):
        est.Estimator(model_fn, str(tmp_path), config=CPU).train(input_fn, steps=1)


def _train_with(tmp_path, make_train_op, steps=3):
    def model_fn(features, labels, mode):
        logits = est.layers.dense(est.layers.dense(features, 4, name="hidden"), 2, name="out")
        loss = F.cross_entropy(logits, labels)
        return est.EstimatorSpec(mode, loss=loss, train_op=make_train_op(loss))

    model = est.Estimator(model_fn, str(tmp_path), config=CPU)
    model.train(input_fn, steps=steps)
    return {n: model.get_variable_value(n) for n in model.get_variable_names()}


def test_compute_then_apply_gradients_equals_minimize(tmp_path):
    def two_phase(loss):
        opt = est.train.MomentumOptimizer(0.1, momentum=0.9)
        grads_and_vars = opt.compute_gradients(loss)
        return opt.apply_gradients(grads_and_vars, global_step=est.train.get_global_step())

    def one_phase(loss):
        return est.train.MomentumOptimizer(0.1, momentum=0.9).minimize(
            loss, global_step=est.train.get_global_step())

    a, b = _train_with(tmp_path / "a", two_phase), _train_with(tmp_path / "b", one_phase)
    assert a["global_step"] == b["global_step"] == 3
    for name in a:
        assert torch.allclose(a[name], b[name], atol=1e-6), name


def test_gradients_can_be_clipped_and_filtered_between_the_phases(tmp_path):
    initial = _train_with(tmp_path / "init", lambda loss: est.train.GradientDescentOptimizer(
        0.0).minimize(loss, global_step=est.train.get_global_step()), steps=1)

    def clipped(loss):
        opt = est.train.GradientDescentOptimizer(1.0)
        grads_and_vars = opt.compute_gradients(loss)
        names = [v.name for v in est.trainable_variables()]
        assert names == ["hidden/kernel:0", "hidden/bias:0", "out/kernel:0", "out/bias:0"]
        kept = [(g.clamp(-1e-3, 1e-3), v) for g, v in grads_and_vars if "hidden" not in v.name]
        return opt.apply_gradients(kept, global_step=est.train.get_global_step())

    after = _train_with(tmp_path / "clip", clipped, steps=1)  # same seed: same initial values
    assert torch.equal(after["hidden/kernel"], initial["hidden/kernel"])  # filtered out
    moved = (after["out/kernel"] - initial["out/kernel"]).abs()
    assert moved.max() > 0 and moved.max() <= 1e-3 + 1e-7  # clipped


def test_apply_gradients_without_any_gradient_raises(tmp_path):
    def none_grads(loss):
        opt = est.train.GradientDescentOptimizer(1.0)
        return opt.apply_gradients([(None, v) for v in est.trainable_variables()])

    with pytest.raises(ValueError, match="No gradients provided for any variable"):
        _train_with(tmp_path, none_grads)


def test_trainable_variables_filter_by_name_as_in_the_official_resnet(tmp_path):
    found = []

    def model_fn(features, labels, mode):
        x = est.layers.batch_normalization(est.layers.dense(features, 4), training=True)
        loss = F.cross_entropy(est.layers.dense(x, 2), labels)
        l2 = sum(v.square().sum() for v in est.trainable_variables()
                 if "batch_normalization" not in v.name)
        found.append([v.name for v in est.trainable_variables()
                      if "batch_normalization" not in v.name])
        return est.EstimatorSpec(mode, loss=loss + 1e-4 * l2,
                                 train_op=est.train.AdamOptimizer().minimize(
                                     loss, global_step=est.train.get_global_step()))

    est.Estimator(model_fn, str(tmp_path), config=CPU).train(input_fn, steps=2)
    assert found[1] == ["dense/kernel:0", "dense/bias:0", "dense_1/kernel:0", "dense_1/bias:0"]
