"""RunConfig(mixed_precision=...): autocast in train/eval, fp16 loss scaling, exact resume."""

import os

import pytest
import torch
import torch.nn.functional as F

import data
import estimator as est
from estimator import layers

CPU = dict(device="cpu", save_checkpoints_steps=1000, log_step_count_steps=None,
           save_summary_steps=None, tf_random_seed=0)
seen_dtypes = []


def input_fn(n=8, seed=0):
    """n batches of 8 as a checkpointable pipeline (so a resumed run continues mid-input)."""
    def fn():
        g = torch.Generator().manual_seed(seed)
        images = torch.rand(8 * n, 12, 12, 3, generator=g)
        labels = torch.randint(0, 2, (8 * n,), generator=g)
        return data.Dataset.from_tensor_slices((images, labels)).batch(8)
    return fn


class _InfGrad(torch.autograd.Function):
    """Identity forward; an infinite gradient backward (a loss-scale overflow on demand)."""

    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return grad * float("inf")


def model_fn(features, labels, mode, params):
    x = layers.conv2d(features, filters=8, kernel_size=3, padding="same", activation=F.relu)
    x = layers.max_pooling2d(x, pool_size=2, strides=2)
    logits = layers.dense(layers.flatten(x), units=2)
    seen_dtypes.append((mode, logits.dtype))
    if mode == est.ModeKeys.PREDICT:
        return est.EstimatorSpec(mode, predictions={"logits": logits})
    if mode == "train" and "calls" in params:  # overflow on the chosen train batches
        params["calls"][0] += 1
        if params["calls"][0] in params["overflow_at"]:
            logits = _InfGrad.apply(logits)
    loss = F.cross_entropy(logits.float(), labels)
    accuracy = est.metrics.accuracy(labels=labels, predictions=logits.argmax(1))
    op = est.train.MomentumOptimizer(0.05, 0.9).minimize(
        loss, global_step=est.train.get_global_step())
    return est.EstimatorSpec(mode, loss=loss, train_op=op, eval_metric_ops={"acc": accuracy})


def make(model_dir, policy, **params):
    return est.Estimator(model_fn, str(model_dir), params=params,
                         config=est.RunConfig(mixed_precision=policy, **CPU))


def variables(model):
    return {n: model.get_variable_value(n) for n in model.get_variable_names()}


def test_mixed_precision_values_are_checked():
    with pytest.raises(ValueError, match="mixed_precision must be None, 'bf16' or 'fp16'"):
        est.RunConfig(mixed_precision="fp8")
    assert est.RunConfig(mixed_precision="mixed_bfloat16").mixed_precision == "mixed_bfloat16"


def test_bf16_autocasts_train_and_eval_but_not_predict(tmp_path):
    model = make(tmp_path, "bf16")
    seen_dtypes.clear()
    model.train(input_fn(2))
    model.evaluate(input_fn(1))
    next(model.predict(input_fn(1)))
    assert seen_dtypes == [("train", torch.bfloat16)] * 2 + [("eval", torch.bfloat16),
                                                             ("infer", torch.float32)]
    # parameters stay float32
    assert all(v.dtype == torch.float32 for n, v in variables(model).items() if n != "global_step")


def test_bf16_trains_and_differs_from_fp32(tmp_path):
    bf16, fp32 = make(tmp_path / "bf16", "bf16"), make(tmp_path / "fp32", None)
    bf16.train(input_fn())
    fp32.train(input_fn())
    a, b = variables(bf16), variables(fp32)
    assert any(not torch.equal(a[n], b[n]) for n in a)
    flat_a = torch.cat([a[n].flatten().float() for n in sorted(a)])
    flat_b = torch.cat([b[n].flatten().float() for n in sorted(b)])
    assert float((flat_a - flat_b).norm() / flat_b.norm()) < 0.05  # lower precision, same run
    assert bf16.evaluate(input_fn(2))["loss"] == pytest.approx(
        fp32.evaluate(input_fn(2))["loss"], rel=0.05)


@pytest.mark.parametrize("policy", ["bf16", "fp16"])
def test_stop_and_resume_is_bitwise_equal(tmp_path, policy):
    straight = make(tmp_path / "a", policy)
    straight.train(input_fn(8))
    split = make(tmp_path / "b", policy)
    split.train(input_fn(8), max_steps=3)
    split.train(input_fn(8))  # resumes at the saved input position
    a, b = variables(straight), variables(split)
    for n in a:
        assert torch.equal(a[n], b[n]), n


def test_fp16_keeps_a_loss_scaler_per_train_op_in_the_checkpoint(tmp_path):
    model = make(tmp_path, "fp16")
    model.train(input_fn(3))
    ckpt = torch.load(model.latest_checkpoint(), weights_only=True)
    scaler = ckpt["scope"]["train_ops"]["Momentum"]["scaler"]
    assert scaler["scale"] == 2.0 ** 15 and scaler["growth_interval"] == 2000
    assert scaler["_growth_tracker"] == 3


def test_fp16_overflow_skips_the_update_and_the_global_step(tmp_path):
    model = make(tmp_path / "a", "fp16", overflow_at=(3,), calls=[0])
    steps = []

    class Record(est.SessionRunHook):
        def after_run(self, run_context, run_values):
            steps.append(run_context.session.global_step)

    model.train(input_fn(6), hooks=[Record()])
    # batch 3 overflowed: no update, global step stays 2; batches 4-6 make steps 3-5
    assert steps == [1, 2, 2, 3, 4, 5]
    ckpt = torch.load(model.latest_checkpoint(), weights_only=True)
    scaler = ckpt["scope"]["train_ops"]["Momentum"]["scaler"]
    assert scaler["scale"] == 2.0 ** 14 and scaler["_growth_tracker"] == 3
    # The skipped batch changed nothing: training on the other five gives the same model.
    batches = list(input_fn(6)())
    clean = make(tmp_path / "b", "fp16")
    clean.train(lambda: batches[:2] + batches[3:])
    a, b = variables(model), variables(clean)
    for n in a:
        assert torch.equal(a[n], b[n]), n


def test_fp16_scaler_state_resumes(tmp_path):
    model = make(tmp_path, "fp16", overflow_at=(1,), calls=[0])
    model.train(input_fn(3))
    model2 = make(tmp_path, "fp16")
    model2.train(input_fn(1))
    ckpt = torch.load(model2.latest_checkpoint(), weights_only=True)
    scaler = ckpt["scope"]["train_ops"]["Momentum"]["scaler"]
    # restored (2**14 after the overflow, 2 good steps) and one more good step
    assert scaler["scale"] == 2.0 ** 14 and scaler["_growth_tracker"] == 3


def test_fp16_with_clipping_unscales_first(tmp_path):
    # clip_norm applies to the true (unscaled) gradients: with a tiny clip the update of a
    # plain SGD step has exactly the clip's size, whatever the loss scale is.
    def clip_fn(features, labels, mode):
        logits = layers.dense(features, units=1, use_bias=False,
                              kernel_initializer=torch.nn.init.zeros_)
        loss = (logits.float() - labels).pow(2).mean()
        op = est.train.GradientDescentOptimizer(1.0).minimize(
            loss, global_step=est.train.get_global_step(), clip_norm=1e-3)
        return est.EstimatorSpec(mode, loss=loss, train_op=op)

    model = est.Estimator(clip_fn, str(tmp_path),
                          config=est.RunConfig(mixed_precision="fp16", **CPU))
    model.train(lambda: [(torch.ones(4, 3), torch.full((4, 1), 0.01))])
    kernel = model.get_variable_value("dense/kernel")
    assert float(kernel.norm()) == pytest.approx(1e-3, rel=1e-3)


def test_predictions_and_eval_metrics_work_under_bf16(tmp_path):
    model = make(tmp_path, "bf16")
    model.train(input_fn(2))
    results = model.evaluate(input_fn(2))
    assert 0.0 <= results["acc"] <= 1.0 and results["global_step"] == 2
    assert os.path.isdir(os.path.join(str(tmp_path), "eval"))


def test_fp16_with_accumulation_resumes_mid_accumulation_exactly(tmp_path):
    def acc_fn(features, labels, mode):
        x = layers.conv2d(features, filters=4, kernel_size=3, activation=F.relu)
        logits = layers.dense(layers.flatten(x), units=2)
        loss = F.cross_entropy(logits.float(), labels)
        op = est.train.AdamOptimizer(0.01).minimize(
            loss, global_step=est.train.get_global_step(), gradient_accumulation_steps=3,
            clip_norm=1.0)
        return est.EstimatorSpec(mode, loss=loss, train_op=op)

    config = est.RunConfig(mixed_precision="fp16", **CPU)
    straight = est.Estimator(acc_fn, str(tmp_path / "a"), config=config)
    straight.train(input_fn(10))  # 10 batches: 3 updates, 1 batch summed at the end
    split = est.Estimator(acc_fn, str(tmp_path / "b"), config=config)
    split.train(lambda: data.Dataset.from_tensor_slices(
        tuple(t[:40] for t in _tensors(10))).batch(8))  # 5 batches: 1 update + 2 summed
    ckpt = torch.load(split.latest_checkpoint(), weights_only=True)
    assert ckpt["scope"]["train_ops"]["Adam"]["micro_step"] == 2
    split.train(lambda: data.Dataset.from_tensor_slices(
        tuple(t[40:] for t in _tensors(10))).batch(8))
    a, b = variables(straight), variables(split)
    for n in a:
        assert torch.equal(a[n], b[n]), n


def _tensors(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(8 * n, 12, 12, 3, generator=g),
            torch.randint(0, 2, (8 * n,), generator=g))
