"""The TrainOp's step options: clipping, accumulation, tensor learning rates, optimize_loss."""

import json
import math
import os

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import estimator as est
from estimator.scope import ModelScope

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
CPU = dict(device="cpu", save_checkpoints_steps=1000, log_step_count_steps=None,
           save_summary_steps=None, tf_random_seed=0)


def batches(n, size, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(size, 5, generator=g), torch.randint(0, 3, (size,), generator=g))
            for _ in range(n)]


def net_factory():
    torch.manual_seed(3)
    return nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 3))


def make_model_fn(optimizer=lambda: est.train.GradientDescentOptimizer(0.5), **minimize):
    def model_fn(features, labels, mode):
        logits = est.get_module("net", net_factory)(features)
        loss = F.cross_entropy(logits, labels)
        train_op = optimizer().minimize(loss, global_step=est.train.get_global_step(), **minimize)
        return est.EstimatorSpec(mode, loss=loss, train_op=train_op)
    return model_fn


def variables(model):
    return {n: model.get_variable_value(n) for n in model.get_variable_names()}


# -- clip_by_global_norm ------------------------------------------------------------------------
def test_clip_by_global_norm_matches_tensorflow_outputs():
    with open(os.path.join(FIXTURES, "clip_by_global_norm.json")) as f:
        cases = json.load(f)["cases"]
    for case in cases:
        tensors = [torch.tensor(t) for t in case["tensors"]]
        clipped, norm = est.clip_by_global_norm(tensors, case["clip_norm"])
        assert math.isclose(float(norm), case["global_norm"], rel_tol=1e-6) or (
            math.isinf(case["global_norm"]) and math.isinf(float(norm)))
        for got, want in zip(clipped, case["clipped"]):
            torch.testing.assert_close(got, torch.tensor(want), rtol=1e-6, atol=1e-7,
                                       equal_nan=True)


def test_clip_by_global_norm_keeps_none_and_uses_given_norm():
    clipped, norm = est.clip_by_global_norm([torch.tensor([3.0, 4.0]), None], 1.0,
                                            use_norm=torch.tensor(10.0))
    assert clipped[1] is None and float(norm) == 10.0
    torch.testing.assert_close(clipped[0], torch.tensor([0.3, 0.4]))


def test_clip_by_global_norm_rejects_non_positive_clip_norm():
    with pytest.raises(ValueError, match="clip_norm must be a positive number"):
        est.clip_by_global_norm([torch.ones(2)], 0.0)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=1, max_size=4), st.floats(0.01, 10.0),
       st.integers(0, 2**16))
def test_clip_by_global_norm_agrees_with_clip_grad_norm(shapes, clip_norm, seed):
    g = torch.Generator().manual_seed(seed)
    params = [nn.Parameter(torch.zeros(n)) for n in shapes]
    for p in params:
        p.grad = torch.randn(p.shape, generator=g) * 3
    ours, norm = est.clip_by_global_norm([p.grad for p in params], clip_norm)
    torch_norm = nn.utils.clip_grad_norm_(params, clip_norm)
    torch.testing.assert_close(norm, torch_norm)
    for a, p in zip(ours, params):  # torch adds 1e-6 to the norm; otherwise the same scaling
        torch.testing.assert_close(a, p.grad, rtol=1e-5, atol=1e-6)


# -- minimize(clip_norm=) -------------------------------------------------------------------------
def test_minimize_clip_norm_clips_gradients_before_the_update(tmp_path):
    data = batches(4, 8)
    model = est.Estimator(make_model_fn(clip_norm=0.05), str(tmp_path),
                          config=est.RunConfig(**CPU))
    model.train(lambda: data)
    net = net_factory()
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    for x, y in data:
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(net(x), y).backward()
        grads = [p.grad for p in net.parameters()]
        norm = torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))
        for p in net.parameters():
            p.grad = p.grad * (0.05 / max(float(norm), 0.05))
        opt.step()
    for k, v in net.state_dict().items():
        torch.testing.assert_close(model.get_variable_value("net/" + k.replace(".", "/")), v)


def test_minimize_rejects_bad_step_options():
    scope = ModelScope()
    with scope.call("train"):
        loss = est.layers.dense(torch.ones(2, 2), units=1).sum()
        with pytest.raises(ValueError, match="clip_norm must be a positive number"):
            est.train.AdamOptimizer().minimize(loss, clip_norm=-1)
        with pytest.raises(ValueError, match="gradient_accumulation_steps must be an int >= 1"):
            est.train.AdamOptimizer().minimize(loss, gradient_accumulation_steps=0)


# -- accumulation -------------------------------------------------------------------------------
@pytest.mark.parametrize("optimizer", [lambda: est.train.GradientDescentOptimizer(0.5),
                                       lambda: est.train.AdamOptimizer(0.01)])
def test_accumulating_k_batches_equals_one_batch_k_times_larger(tmp_path, optimizer):
    small = batches(12, 4, seed=1)
    large = [(torch.cat([small[i][0], small[i + 1][0], small[i + 2][0]]),
              torch.cat([small[i][1], small[i + 1][1], small[i + 2][1]]))
             for i in range(0, 12, 3)]
    acc = est.Estimator(make_model_fn(optimizer, gradient_accumulation_steps=3),
                        str(tmp_path / "acc"), config=est.RunConfig(**CPU))
    acc.train(lambda: small)
    big = est.Estimator(make_model_fn(optimizer), str(tmp_path / "big"),
                        config=est.RunConfig(**CPU))
    big.train(lambda: large)
    assert acc.evaluate(lambda: small[:1])["global_step"] == 4  # updates, not batches
    a, b = variables(acc), variables(big)
    for name in b:
        torch.testing.assert_close(a[name], b[name], rtol=1e-5, atol=1e-6)


def test_checkpoint_in_the_middle_of_an_accumulation_resumes_exactly(tmp_path):
    data = batches(10, 4, seed=2)
    fn = make_model_fn(lambda: est.train.MomentumOptimizer(0.1, 0.9),
                       gradient_accumulation_steps=4)
    straight = est.Estimator(fn, str(tmp_path / "a"), config=est.RunConfig(**CPU))
    straight.train(lambda: data)
    split = est.Estimator(fn, str(tmp_path / "b"), config=est.RunConfig(**CPU))
    split.train(lambda: data[:6])  # step 1 done, 2 batches summed when it saves
    ckpt = torch.load(split.latest_checkpoint(), weights_only=True)
    assert ckpt["global_step"] == 1
    assert ckpt["scope"]["train_ops"]["Momentum"]["micro_step"] == 2
    split.train(lambda: data[6:])
    a, b = variables(straight), variables(split)
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


def test_accumulation_counts_global_steps_and_checkpoints_by_updates(tmp_path):
    seen = []

    class Steps(est.SessionRunHook):
        def after_run(self, run_context, run_values):
            seen.append(run_context.session.global_step)

    model = est.Estimator(make_model_fn(gradient_accumulation_steps=2), str(tmp_path),
                          config=est.RunConfig(**{**CPU, "save_checkpoints_steps": 2}))
    model.train(lambda: batches(8, 4), hooks=[Steps()])
    assert seen == [0, 1, 1, 2, 2, 3, 3, 4]
    names = sorted(os.path.basename(p) for p in os.listdir(tmp_path) if p.endswith(".pt"))
    assert names == ["model.ckpt-2.pt", "model.ckpt-4.pt"]


def test_max_steps_counts_updates_when_accumulating(tmp_path):
    model = est.Estimator(make_model_fn(gradient_accumulation_steps=3), str(tmp_path),
                          config=est.RunConfig(**CPU))
    model.train(lambda: batches(30, 4), max_steps=2)
    assert model.evaluate(lambda: batches(1, 4))["global_step"] == 2


# -- learning rates ----------------------------------------------------------------------------
def test_tensor_learning_rate_is_applied_without_reading_it_to_the_host(tmp_path, monkeypatch):
    data = batches(5, 8)
    lr = torch.tensor(0.25, dtype=torch.float64)  # float64: nothing else in the run is

    def model_fn(features, labels, mode):
        logits = est.get_module("net", net_factory)(features)
        loss = F.cross_entropy(logits, labels)
        rate = lr * 0.5 ** est.train.get_global_step()  # a tensor on the model's device
        op = est.train.GradientDescentOptimizer(rate).minimize(
            loss, global_step=est.train.get_global_step())
        return est.EstimatorSpec(mode, loss=loss, train_op=op)

    def reference():
        net = net_factory()
        opt = torch.optim.SGD(net.parameters(), lr=0.25)
        for step, (x, y) in enumerate(data):
            opt.param_groups[0]["lr"] = float(lr * 0.5 ** step)
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(net(x), y).backward()
            opt.step()
        return net

    expected = reference()
    reads = []
    item, to_float = torch.Tensor.item, torch.Tensor.__float__

    def counting_item(self):
        if self.dtype == lr.dtype:
            reads.append("item")
        return item(self)

    def counting_float(self):
        if self.dtype == lr.dtype:
            reads.append("float")
        return to_float(self)

    model = est.Estimator(model_fn, str(tmp_path), config=est.RunConfig(**CPU))
    monkeypatch.setattr(torch.Tensor, "item", counting_item)
    monkeypatch.setattr(torch.Tensor, "__float__", counting_float)
    model.train(lambda: data)
    monkeypatch.undo()
    assert reads == []
    for k, v in expected.state_dict().items():
        assert torch.equal(model.get_variable_value("net/" + k.replace(".", "/")), v), k


def test_tensor_learning_rate_is_copied_into_the_param_group_in_place():
    scope = ModelScope()
    lr = torch.tensor(0.1)
    for step in range(3):
        with scope.call("train"):
            loss = est.layers.dense(torch.ones(2, 3), units=1).pow(2).sum()
            op = est.train.GradientDescentOptimizer(lr * (step + 1)).minimize(loss, global_step=0)
        op()
        group_lr = scope.optimizers["GradientDescent"].param_groups[0]["lr"]
        if step == 0:
            first = group_lr
        assert isinstance(group_lr, torch.Tensor) and group_lr is first
        assert math.isclose(float(group_lr), 0.1 * (step + 1), rel_tol=1e-6)


# -- optimize_loss ------------------------------------------------------------------------------
def test_optimize_loss_matches_minimize_with_the_same_options(tmp_path):
    data = batches(6, 8)

    def via_optimize_loss(features, labels, mode):
        logits = est.get_module("net", net_factory)(features)
        loss = F.cross_entropy(logits, labels)
        op = est.train.optimize_loss(
            loss, est.train.get_global_step(), learning_rate=0.1, optimizer="Momentum",
            clip_gradients=0.1,
            learning_rate_decay_fn=lambda lr, step: est.train.exponential_decay(lr, step, 2, 0.5))
        return est.EstimatorSpec(mode, loss=loss, train_op=op)

    def via_minimize(features, labels, mode):
        logits = est.get_module("net", net_factory)(features)
        loss = F.cross_entropy(logits, labels)
        lr = est.train.exponential_decay(0.1, est.train.get_global_step(), 2, 0.5)
        with est.variable_scope("OptimizeLoss"):
            op = est.train.MomentumOptimizer(lr, momentum=0.9).minimize(
                loss, global_step=est.train.get_global_step(), clip_norm=0.1)
        return est.EstimatorSpec(mode, loss=loss, train_op=op)

    a = est.Estimator(via_optimize_loss, str(tmp_path / "a"), config=est.RunConfig(**CPU))
    b = est.Estimator(via_minimize, str(tmp_path / "b"), config=est.RunConfig(**CPU))
    a.train(lambda: data)
    b.train(lambda: data)
    va, vb = variables(a), variables(b)
    for name in vb:
        assert torch.equal(va[name], vb[name]), name


def test_optimize_loss_writes_loss_and_learning_rate_summaries():
    scope = ModelScope()
    with scope.call("train", summary_step=True):
        loss = est.layers.dense(torch.ones(2, 3), units=1).pow(2).mean()
        est.train.optimize_loss(loss, 0, 0.01, est.train.AdamOptimizer)
    assert [(kind, name) for kind, name, _ in scope.summaries] == [
        ("scalar", "OptimizeLoss/loss"), ("scalar", "OptimizeLoss/learning_rate")]


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(optimizer="Ftrl"), ValueError, "should be one of"),
    (dict(optimizer="SGD", learning_rate=None), ValueError, "learning_rate is None"),
    (dict(optimizer=object()), ValueError, "unrecognized optimizer"),
    (dict(optimizer="SGD", gradient_noise_scale=1.0), NotImplementedError, "gradient_noise"),
    (dict(optimizer="SGD", clip_gradients=lambda gv: gv), NotImplementedError, "clipping function"),
])
def test_optimize_loss_errors_name_the_argument(kwargs, error, match):
    scope = ModelScope()
    with scope.call("train"):
        loss = est.layers.dense(torch.ones(2, 3), units=1).sum()
        kwargs = {"learning_rate": 0.1, **kwargs}
        with pytest.raises(error, match=match):
            est.train.optimize_loss(loss, 0, **kwargs)


def _conv_fn(features, labels, mode):
    x = est.layers.conv2d(features, filters=4, kernel_size=3)
    loss = x.float().pow(2).mean()
    op = est.train.GradientDescentOptimizer(0.1).minimize(
        loss, global_step=est.train.get_global_step())
    return est.EstimatorSpec(mode, loss=loss, train_op=op)


def test_channels_last_scope_stores_conv_kernels_channels_last():
    scope = ModelScope()
    scope.channels_last = True  # what the Estimator sets for RunConfig(channels_last=True) on CUDA
    with scope.call("train"):
        est.layers.conv2d(torch.rand(2, 6, 6, 3), filters=4, kernel_size=3)
        est.layers.dense(torch.rand(2, 3), units=2)
    kernel = dict(scope.root.named_parameters())["conv2d.kernel"]
    assert kernel.is_contiguous(memory_format=torch.channels_last) and not kernel.is_contiguous()
    assert dict(scope.root.named_parameters())["dense.kernel"].is_contiguous()


def test_channels_last_is_ignored_off_cuda(tmp_path):
    model = est.Estimator(_conv_fn, str(tmp_path), config=est.RunConfig(channels_last=True, **CPU))
    model.train(lambda: [(torch.rand(2, 6, 6, 3), None)])
    assert model.get_variable_value("conv2d/kernel").is_contiguous()  # saved as it was stored
    with pytest.raises(ValueError, match="channels_last must be a bool"):
        est.RunConfig(channels_last="yes")
