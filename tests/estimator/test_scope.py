import pytest
import torch
import torch.nn.functional as F
from torch import nn

import estimator as est
from estimator import layers
from estimator.checkpoint import CheckpointMismatchError
from estimator.scope import ModelScope, current_scope


def cnn_fn(x, mode="train"):
    x = layers.conv2d(x, filters=4, kernel_size=3, padding="same", activation=F.relu)
    x = layers.batch_normalization(x, training=mode == "train")
    with est.variable_scope("head"):
        x = layers.dense(layers.flatten(x), units=8, activation=F.relu)
        x = layers.dropout(x, rate=0.5, training=mode == "train")
    w = est.get_variable("w", [8, 3])
    net = est.get_module("net", lambda: nn.Linear(3, 2))
    return net(x @ w)


@pytest.fixture
def run_twice():
    """Run ``fn`` in create mode, then in reuse mode; return both snapshots."""

    def run(fn, *args, scope=None, modes=("train", "eval")):
        scope = scope or ModelScope(seed=0)
        snapshots = []
        for mode in modes:
            with scope.call(mode):
                fn(*args, mode=mode)
            snapshots.append({name: p for name, p in scope.root.named_parameters()})
        return scope, snapshots

    return run


def test_second_call_reuses_names_shapes_and_parameter_objects(run_twice):
    _, (first, second) = run_twice(cnn_fn, torch.randn(2, 5, 5, 3))
    assert list(first) == list(second)
    assert all(first[n] is second[n] for n in first)
    assert {n: tuple(p.shape) for n, p in first.items()} == {
        "conv2d.kernel": (4, 3, 3, 3), "conv2d.bias": (4,),
        "batch_normalization.gamma": (4,), "batch_normalization.beta": (4,),
        "head.dense.kernel": (8, 100), "head.dense.bias": (8,),
        "w": (8, 3), "net.weight": (2, 3), "net.bias": (2,)}


def test_auto_names_count_per_call_like_tf():
    scope = ModelScope()
    for _ in range(2):
        with scope.call("train"):
            x = torch.randn(1, 4)
            layers.dense(layers.dense(x, 3), 3)
            with est.variable_scope("s"):
                layers.dense(x, 2)
    assert scope.variable_names() == [
        "dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias", "s/dense/kernel",
        "s/dense/bias"]


def test_explicit_name_twice_in_a_call_without_reuse_raises_already_exists():
    scope = ModelScope()
    with scope.call("train"):
        layers.dense(torch.ones(1, 2), 2, name="shared")
        with pytest.raises(ValueError, match="Variable shared already exists, disallowed"):
            layers.dense(torch.ones(1, 2), 2, name="shared")


def test_explicit_name_under_reuse_shares_the_layer_within_a_call():
    scope = ModelScope()
    x = torch.randn(3, 2)
    with scope.call("train"):
        with est.variable_scope("s"):
            a = layers.dense(x, 2, name="shared")
        with est.variable_scope("s", reuse=True):
            b = layers.dense(x, 2, name="shared")
    assert torch.equal(a, b)
    assert scope.variable_names() == ["s/shared/kernel", "s/shared/bias"]


def test_current_scope_outside_model_fn_raises_clearly():
    with pytest.raises(RuntimeError, match="only inside a model_fn"):
        current_scope()
    with pytest.raises(RuntimeError, match="no model scope is active"):
        layers.dense(torch.ones(1, 2), 2)


def test_shape_mismatch_on_reuse_names_layer_and_both_shapes():
    scope = ModelScope()
    with scope.call("train"):
        layers.dense(torch.ones(1, 2), 3)
    with scope.call("train"), pytest.raises(ValueError, match=r"'dense'.*\(3, 2\).*\(3, 5\)"):
        layers.dense(torch.ones(1, 5), 3)


def test_get_variable_shape_mismatch_raises():
    scope = ModelScope()
    with scope.call("train"):
        est.get_variable("v", [2])
    with scope.call("train"), pytest.raises(ValueError, match=r"'v' exists with shape \(2,\)"):
        est.get_variable("v", [3])


def test_pending_restore_loads_each_module_when_created():
    saved = {"dense.kernel": torch.full((3, 2), 2.0), "dense.bias": torch.ones(3)}
    scope = ModelScope(restore=saved)
    with scope.call("eval"):
        y = layers.dense(torch.ones(1, 2), 3)
    assert y.tolist() == [[5.0, 5.0, 5.0]]
    scope.check_restored()


def test_unclaimed_restore_keys_raise_after_first_step_listing_them():
    saved = {"dense.kernel": torch.zeros(3, 2), "dense.bias": torch.zeros(3),
             "old/dense.kernel": torch.zeros(1)}
    scope = ModelScope(restore=saved)
    with scope.call("eval"):
        layers.dense(torch.ones(1, 2), 3)
    with pytest.raises(CheckpointMismatchError, match=r"unclaimed keys.*'old/dense/kernel'"):
        scope.check_restored()


def test_created_variables_missing_from_checkpoint_raise():
    scope = ModelScope(restore={"dense.kernel": torch.zeros(3, 2), "dense.bias": torch.zeros(3)})
    with scope.call("eval"):
        layers.dense(layers.dense(torch.ones(1, 2), 3), 1)
    with pytest.raises(ValueError, match=r"missing keys.*'dense_1/kernel', 'dense_1/bias'"):
        scope.check_restored()


def test_restore_shape_mismatch_names_variable_and_both_shapes():
    scope = ModelScope(restore={"dense.kernel": torch.zeros(4, 2), "dense.bias": torch.zeros(4)})
    with scope.call("eval"), pytest.raises(ValueError, match=r"'dense/kernel' has shape \(4, 2\).*\(3, 2\)"):
        layers.dense(torch.ones(1, 2), 3)


def test_initialization_leaves_the_global_rng_untouched():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    with ModelScope(seed=1).call("train"):
        layers.dense(torch.ones(1, 50), 50)
        est.get_module("net", lambda: nn.Linear(10, 10))
    assert torch.equal(torch.rand(3), expected)


def test_initialization_depends_on_seed_and_name_only():
    def kernels(seed):
        scope = ModelScope(seed=seed)
        with scope.call("train"):
            layers.dense(torch.ones(1, 4), 4)
            layers.dense(torch.ones(1, 4), 4)
        return [p.detach().clone() for p in scope.root.parameters() if p.dim() == 2]

    a, b, c = kernels(0), kernels(0), kernels(1)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], a[1])
    assert not torch.equal(a[0], c[0])


def test_metrics_are_created_once_and_named_by_call_order():
    scope = ModelScope()
    made = []
    for _ in range(2):
        with scope.call("eval"):
            m1 = scope.get_or_create_metric("accuracy", lambda: made.append(1) or object())
            m2 = scope.get_or_create_metric("accuracy", lambda: made.append(2) or object())
            m3 = scope.get_or_create_metric("mine", lambda: made.append(3) or object())
    assert made == [1, 2, 3]
    assert list(scope.metrics) == ["accuracy", "accuracy_1", "mine"]
    assert scope.metrics["accuracy"] is m1 and scope.metrics["accuracy_1"] is m2
    assert m3 is scope.metrics["mine"]


def test_metric_factory_result_is_moved_to_the_scope_device():
    class Tiny:
        device = None

        def to(self, device):
            self.device = device
            return self

    scope = ModelScope(device="cpu")
    with scope.call("eval"):
        metric = scope.get_or_create_metric("tiny", Tiny)
    assert metric.device == torch.device("cpu") == scope.device


def test_get_module_keeps_an_ordinary_module_in_the_tree():
    scope = ModelScope()
    with scope.call("train"):
        net = est.get_module("net", lambda: nn.Sequential(nn.Linear(2, 2), nn.ReLU()))
        assert est.get_module("net", lambda: pytest.fail("factory ran twice")) is net
    assert scope.root.net is net
    assert scope.variable_names() == ["net/0/weight", "net/0/bias"]


def test_get_variable_initializers():
    scope = ModelScope()
    with scope.call("train"):
        c = est.get_variable("c", [2, 2], initializer=3.0)
        f = est.get_variable("f", [4], initializer=torch.nn.init.ones_)
        g = est.get_variable("g", [100, 200])
    assert c.tolist() == [[3.0, 3.0], [3.0, 3.0]] and f.tolist() == [1.0] * 4
    limit = (6 / 300) ** 0.5
    assert g.abs().max() <= limit and g.abs().max() > 0.9 * limit
