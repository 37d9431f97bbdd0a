import logging

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import estimator as est

CPU = est.RunConfig(device="cpu", save_checkpoints_steps=1000, log_step_count_steps=None,
                    save_summary_steps=None, tf_random_seed=0)


def make_batches(n=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(8, 5, generator=g), torch.randint(0, 3, (8,), generator=g))
            for _ in range(n)]


def initial_net():
    torch.manual_seed(1)
    return nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 3))


def model_fn_with(optimizer_factory):
    init = initial_net().state_dict()

    def model_fn(features, labels, mode):
        def build():
            net = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 3))
            net.load_state_dict(init)
            return net

        logits = est.get_module("net", build)(features)
        loss = F.cross_entropy(logits, labels)
        train_op = optimizer_factory().minimize(loss, global_step=est.train.get_global_step())
        return est.EstimatorSpec(mode, loss=loss, train_op=train_op)

    return model_fn


def reference(torch_opt_factory, batches, lr_schedule=None):
    net = initial_net()
    opt = torch_opt_factory(net.parameters())
    for step, (x, y) in enumerate(batches):
        if lr_schedule is not None:
            for g in opt.param_groups:
                g["lr"] = lr_schedule(step)
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(net(x), y).backward()
        opt.step()
    return {f"net/{k.replace('.', '/')}": v for k, v in net.state_dict().items()}


def assert_same_parameters(model, expected):
    for name, value in expected.items():
        assert torch.equal(model.get_variable_value(name), value), name


def test_adam_model_fn_matches_plain_pytorch_loop_step_for_step(tmp_path):
    batches = make_batches(6)
    model = est.Estimator(model_fn_with(lambda: est.train.AdamOptimizer(0.01)), str(tmp_path),
                          config=CPU)
    model.train(lambda: batches)
    assert_same_parameters(model, reference(
        lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.9, 0.999), eps=1e-8, fused=True),
        batches))


def test_adam_moments_survive_a_resume_from_checkpoint(tmp_path):
    batches = make_batches(6)
    model = est.Estimator(model_fn_with(lambda: est.train.AdamOptimizer(0.01)), str(tmp_path),
                          config=CPU)
    model.train(lambda: batches[:2])
    model.train(lambda: batches[2:])
    assert model.get_variable_value("global_step") == 6
    assert_same_parameters(model, reference(lambda p: torch.optim.Adam(p, lr=0.01, fused=True),
                                            batches))


@pytest.mark.parametrize("ours, theirs", [
    (lambda: est.train.GradientDescentOptimizer(0.1), lambda p: torch.optim.SGD(p, lr=0.1)),
    (lambda: est.train.MomentumOptimizer(0.1, momentum=0.9),
     lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)),
    (lambda: est.train.AdagradOptimizer(0.1),
     lambda p: torch.optim.Adagrad(p, lr=0.1, initial_accumulator_value=0.1, fused=True)),
    (lambda: est.train.RMSPropOptimizer(0.01),
     lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-10)),
    (lambda: est.train.Optimizer(torch.optim.AdamW, learning_rate=0.01, weight_decay=0.1),
     lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1, fused=True)),
])
def test_tf_named_optimizers_run_their_torch_counterparts(tmp_path, ours, theirs):
    batches = make_batches(4)
    model = est.Estimator(model_fn_with(ours), str(tmp_path), config=CPU)
    model.train(lambda: batches)
    assert_same_parameters(model, reference(theirs, batches))


def _built(optimizer, params, **kwargs):
    return est.train.Optimizer(optimizer, 0.01, **kwargs).build(params)


def test_adam_adamw_and_adagrad_run_fused_on_cpu_unless_an_implementation_is_asked_for():
    params = list(initial_net().parameters())
    for cls in (torch.optim.Adam, torch.optim.AdamW, torch.optim.Adagrad):
        assert _built(cls, params).defaults["fused"] is True
        assert not _built(cls, params, foreach=False).defaults["fused"]
        assert not _built(cls, params, fused=False).defaults["fused"]
        assert _built(cls, [{"params": params}]).defaults["fused"] is True
    assert "fused" not in _built(torch.optim.RMSprop, params).defaults
    assert not _built(torch.optim.SGD, params).defaults["fused"]  # not faster for SGD

    class MyAdam(torch.optim.Adam):  # a subclass may change the step: left as it is
        pass

    assert not _built(MyAdam, params).defaults["fused"]
    assert not _built(torch.optim.Adam, [torch.zeros(2, dtype=torch.int64)]).defaults["fused"]


@pytest.mark.parametrize("cls", [torch.optim.Adam, torch.optim.AdamW, torch.optim.Adagrad])
def test_the_fused_step_is_the_default_step_up_to_rounding(tmp_path, cls):
    batches = make_batches(6)
    model = est.Estimator(model_fn_with(lambda: est.train.Optimizer(cls, 0.01)), str(tmp_path),
                          config=CPU)
    model.train(lambda: batches)
    for name, value in reference(lambda p: cls(p, lr=0.01), batches).items():
        torch.testing.assert_close(model.get_variable_value(name), value, rtol=1e-5, atol=1e-6)


def test_exponential_decay_is_written_into_the_optimizer_each_step(tmp_path):
    batches = make_batches(5)

    def opt():
        lr = est.train.exponential_decay(0.5, est.train.get_global_step(), decay_steps=2,
                                         decay_rate=0.5, staircase=True)
        return est.train.GradientDescentOptimizer(lr)

    model = est.Estimator(model_fn_with(opt), str(tmp_path), config=CPU)
    model.train(lambda: batches)
    assert_same_parameters(model, reference(lambda p: torch.optim.SGD(p, lr=0.5), batches,
                                            lr_schedule=lambda s: 0.5 * 0.5 ** (s // 2)))


def test_callable_and_tensor_learning_rates(tmp_path):
    batches = make_batches(3)
    rates = iter([0.3, 0.2, 0.1])
    model = est.Estimator(
        model_fn_with(lambda: est.train.GradientDescentOptimizer(lambda: next(rates))),
        str(tmp_path / "a"), config=CPU)
    model.train(lambda: batches)
    assert_same_parameters(model, reference(lambda p: torch.optim.SGD(p, lr=1.0), batches,
                                            lr_schedule=lambda s: [0.3, 0.2, 0.1][s]))
    model = est.Estimator(
        model_fn_with(lambda: est.train.GradientDescentOptimizer(torch.tensor(0.3))),
        str(tmp_path / "b"), config=CPU)
    model.train(lambda: batches)
    assert_same_parameters(model, reference(lambda p: torch.optim.SGD(p, lr=0.3), batches))


def test_minimize_without_global_step_warns_and_the_loop_advances_it(tmp_path, caplog):
    def model_fn(features, labels, mode):
        loss = F.mse_loss(est.layers.dense(features, 1).squeeze(1), labels.float())
        return est.EstimatorSpec(mode, loss=loss,
                                 train_op=est.train.GradientDescentOptimizer(0.1).minimize(loss))

    with caplog.at_level(logging.WARNING, logger="estimator"):
        model = est.Estimator(model_fn, str(tmp_path), config=CPU).train(
            lambda: make_batches(3), steps=2)
    assert model.get_variable_value("global_step") == 2
    assert "did not advance the global step" in caplog.text


def test_var_list_limits_the_update_to_those_variables(tmp_path):
    def model_fn(features, labels, mode):
        with est.variable_scope("frozen"):
            h = est.layers.dense(features, 4)
        logits = est.layers.dense(h, 3)
        loss = F.cross_entropy(logits, labels)
        head = est.get_module("dense", lambda: pytest.fail("dense exists already"))
        train_op = est.train.GradientDescentOptimizer(0.5).minimize(
            loss, global_step=est.train.get_global_step(), var_list=[head])
        return est.EstimatorSpec(mode, loss=loss, train_op=train_op)

    model = est.Estimator(model_fn, str(tmp_path), config=CPU)
    model.train(lambda: make_batches(1), steps=1)
    first = model.get_variable_value("frozen/dense/kernel"), model.get_variable_value("dense/kernel")
    model.train(lambda: make_batches(3), steps=2)
    assert torch.equal(model.get_variable_value("frozen/dense/kernel"), first[0])
    assert not torch.equal(model.get_variable_value("dense/kernel"), first[1])


def test_exponential_decay_rejects_bad_decay_steps():
    with pytest.raises(ValueError, match="decay_steps must be > 0"):
        est.train.exponential_decay(0.1, 0, decay_steps=0, decay_rate=0.5)


def test_parameters_created_after_the_first_step_join_the_optimizer(tmp_path, caplog):
    def model_fn(features, labels, mode):
        logits = est.layers.dense(features, 3)
        if est.train.get_global_step() >= 1:
            logits = logits + est.layers.dense(features, 3, name="late")
        loss = F.cross_entropy(logits, labels)
        train_op = est.train.GradientDescentOptimizer(0.5).minimize(
            loss, global_step=est.train.get_global_step())
        return est.EstimatorSpec(mode, loss=loss, train_op=train_op)

    with caplog.at_level(logging.WARNING, logger="estimator"):
        model = est.Estimator(model_fn, str(tmp_path), config=CPU).train(
            lambda: make_batches(3))
    assert "added as a new param group" in caplog.text
    assert torch.any(model.get_variable_value("late/bias") != 0)


def test_a_restored_optimizer_keeps_the_kernel_this_process_chose(tmp_path):
    # which kernel runs the step is not state: a checkpoint that names another (e.g. written
    # where no fused kernel exists) resumes with the one built here, and its step counters
    # are placed for it
    import hashlib

    batches = make_batches(6)
    model = est.Estimator(model_fn_with(lambda: est.train.AdamOptimizer(0.01)), str(tmp_path),
                          config=CPU)
    model.train(lambda: batches[:3])
    path = str(tmp_path / "model.ckpt-3.pt")
    payload = torch.load(path, weights_only=True)
    for state in payload["optimizers"].values():
        for group in state["param_groups"]:
            assert group["fused"] is True
            group["fused"] = None
    torch.save(payload, path)
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    with open(path + ".sha256") as f:
        sidecar = f.read()
    with open(path + ".sha256", "w") as f:
        f.write(sidecar.replace(sidecar.split()[0], digest))
    model.train(lambda: batches[3:])
    assert model.get_variable_value("global_step") == 6
    assert_same_parameters(model, reference(lambda p: torch.optim.Adam(p, lr=0.01, fused=True),
                                            batches))
