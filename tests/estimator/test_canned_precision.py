"""Mixed precision in the premade estimators: wide and deep's grouped step loss-scales too."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import data
import estimator as est

fc = est.feature_column
CPU = dict(device="cpu", tf_random_seed=3, save_checkpoints_steps=1000,
           log_step_count_steps=None, save_summary_steps=None, intra_op_parallelism_threads=1)


def make_data(n=160, seed=0):
    rng = np.random.RandomState(seed)
    x = rng.randn(n, 3).astype(np.float32)
    y = (x @ np.array([1.5, -1.0, 0.5], dtype=np.float32) > 0).astype(np.int64)
    color = np.array(["red", "green", "blue"])[rng.randint(0, 3, n)]
    return {"x": x, "color": color}, y


def batches(start=0, stop=None, batch=16):
    features, labels = make_data()
    cut = slice(start * batch, None if stop is None else stop * batch)
    return lambda: data.Dataset.from_tensor_slices(
        ({k: v[cut] for k, v in features.items()}, labels[cut])).batch(batch)


class _InfGrad(torch.autograd.Function):
    """Identity forward; an infinite gradient backward (a loss-scale overflow on demand)."""

    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return grad * float("inf")


def wide_and_deep(model_dir, policy, overflow_at=(), **optimizers):
    calls = [0]

    def activation(x):  # one hidden layer: one call per batch
        calls[0] += 1
        y = F.relu(x)
        return _InfGrad.apply(y) if calls[0] in overflow_at else y

    color = fc.categorical_column_with_vocabulary_list("color", ["red", "green", "blue"])
    return est.DNNLinearCombinedClassifier(
        model_dir=str(model_dir), linear_feature_columns=[color, fc.numeric_column("x", (3,))],
        dnn_feature_columns=[fc.embedding_column(color, 2), fc.numeric_column("x", (3,))],
        dnn_hidden_units=[8], dnn_activation_fn=activation, **optimizers,
        config=est.RunConfig(mixed_precision=policy, **CPU))


def variables(model):
    return {n: model.get_variable_value(n) for n in model.get_variable_names()}


def test_wide_and_deep_fp16_resumes_bitwise(tmp_path):
    straight = wide_and_deep(tmp_path / "a", "fp16")
    straight.train(batches())  # 10 batches
    split = wide_and_deep(tmp_path / "b", "fp16")
    split.train(batches(0, 5))
    scaler = torch.load(split.latest_checkpoint(), weights_only=True)["scope"]["train_ops"]
    assert set(scaler) == {"Adagrad"} and scaler["Adagrad"]["scaler"]["_growth_tracker"] == 5
    wide_and_deep(tmp_path / "b", "fp16").train(batches(5))
    a, b = variables(straight), variables(split)
    assert a["global_step"] == b["global_step"] == 10
    for n in a:
        assert torch.equal(torch.as_tensor(a[n]), torch.as_tensor(b[n])), n
    ckpt_a = torch.load(straight.latest_checkpoint(), weights_only=True)["scope"]["train_ops"]
    ckpt_b = torch.load(split.latest_checkpoint(), weights_only=True)["scope"]["train_ops"]
    assert ckpt_a == ckpt_b


def test_wide_and_deep_fp16_overflow_skips_both_optimizers(tmp_path):
    # an inf gradient in the deep part only: neither part steps, the global step stays
    model = wide_and_deep(tmp_path / "a", "fp16", overflow_at=(3,))
    steps = []

    class Record(est.SessionRunHook):
        def after_run(self, run_context, run_values):
            steps.append(run_context.session.global_step)

    model.train(batches(0, 6), hooks=[Record()])
    assert steps == [1, 2, 2, 3, 4, 5]
    scaler = torch.load(model.latest_checkpoint(), weights_only=True)["scope"]["train_ops"]
    assert scaler["Adagrad"]["scaler"]["scale"] == 2.0 ** 14
    features, labels = make_data()
    kept = np.r_[0:32, 48:96]  # the batches but the third
    clean = wide_and_deep(tmp_path / "b", "fp16")
    clean.train(lambda: data.Dataset.from_tensor_slices(
        ({k: v[kept] for k, v in features.items()}, labels[kept])).batch(16))
    a, b = variables(model), variables(clean)
    for n in a:
        assert torch.equal(torch.as_tensor(a[n]), torch.as_tensor(b[n])), n


def test_wide_and_deep_bf16_trains(tmp_path):
    model = wide_and_deep(tmp_path, "bf16", dnn_optimizer=est.train.AdagradOptimizer(0.3),
                          linear_optimizer=est.train.GradientDescentOptimizer(0.3))
    seen = []

    class Loss(est.SessionRunHook):
        def before_run(self, run_context):
            return est.SessionRunArgs({"loss": "loss"})

        def after_run(self, run_context, run_values):
            seen.append(float(run_values.results["loss"]))

    for _ in range(8):
        model.train(batches(), hooks=[Loss()])
    results = model.evaluate(batches())
    assert results["global_step"] == 80
    assert all(np.isfinite(seen)) and np.mean(seen[-10:]) < np.mean(seen[:10])
    assert results["accuracy"] > 0.8
    scope = torch.load(model.latest_checkpoint(), weights_only=True)["scope"]
    assert not scope.get("train_ops")  # bf16 needs no loss scaling


def test_grouped_step_clips_by_the_norm_over_both_optimizers():
    from estimator import _train_step

    a = torch.nn.Parameter(torch.zeros(1))
    b = torch.nn.Parameter(torch.zeros(1))
    opts = [torch.optim.SGD([a], lr=1.0), torch.optim.SGD([b], lr=1.0)]
    loss = (3 * a + 4 * b).sum()  # gradients 3 and 4: global norm 5
    applied = _train_step.run_many(opts, loss, None, _train_step.StepState(None),
                                   _train_step.StepOptions(clip_norm=1.0))
    assert applied
    assert a.item() == pytest.approx(-0.6) and b.item() == pytest.approx(-0.8)
