"""torch.compile through RunConfig(compile=...) and get_module(..., compile=...)."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import data
import estimator as est

pytest.importorskip("torch._dynamo")
from torch._dynamo.testing import CompileCounter  # noqa: E402

CPU = dict(device="cpu", save_checkpoints_steps=1000, log_step_count_steps=None,
           save_summary_steps=None, tf_random_seed=0)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 6 * 6, 2)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv(x.permute(0, 3, 1, 2))), 2)
        return self.fc(x.flatten(1))


def input_fn(n=6, batch=8, seed=0, remainder=0):
    def fn():
        g = torch.Generator().manual_seed(seed)
        count = n * batch + remainder
        return data.Dataset.from_tensor_slices(
            (torch.rand(count, 12, 12, 3, generator=g),
             torch.randint(0, 2, (count,), generator=g))).batch(batch)
    return fn


def model_fn_with(factory=Net, **get_module_kwargs):
    def model_fn(features, labels, mode):
        logits = est.get_module("net", factory, **get_module_kwargs)(features)
        loss = F.cross_entropy(logits, labels)
        op = est.train.AdamOptimizer(0.01).minimize(loss, global_step=est.train.get_global_step())
        return est.EstimatorSpec(mode, loss=loss, train_op=op,
                                 eval_metric_ops={"acc": est.metrics.accuracy(labels, logits.argmax(1))})
    return model_fn


@pytest.fixture(autouse=True)
def fresh_dynamo():
    """Each test starts with empty Dynamo caches (the count of compiled graphs is per test)."""
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def variables(model):
    return {n: model.get_variable_value(n) for n in model.get_variable_names()}


@pytest.fixture(scope="module")
def eager_run(tmp_path_factory):
    model = est.Estimator(model_fn_with(), str(tmp_path_factory.mktemp("eager")),
                          config=est.RunConfig(**CPU))
    model.train(input_fn())
    return variables(model)


def test_compile_setting_is_checked():
    with pytest.raises(ValueError, match="compile must be a bool, a torch.compile backend"):
        est.RunConfig(compile=3)


@pytest.mark.parametrize("backend", ["eager", "aot_eager"])
def test_compiled_module_keeps_checkpoint_names_and_trains_the_same(tmp_path, eager_run, backend):
    model = est.Estimator(model_fn_with(), str(tmp_path),
                          config=est.RunConfig(compile=backend, **CPU))
    model.train(input_fn())
    got = variables(model)
    assert sorted(got) == sorted(eager_run) == ["global_step", "net/conv/bias", "net/conv/weight",
                                                "net/fc/bias", "net/fc/weight"]
    for name, value in eager_run.items():
        torch.testing.assert_close(got[name], value, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("backend", ["eager", "aot_eager"])
def test_compiled_run_resumes_bitwise(tmp_path, backend):
    config = est.RunConfig(compile=backend, **CPU)
    straight = est.Estimator(model_fn_with(), str(tmp_path / "a"), config=config)
    straight.train(input_fn())
    split = est.Estimator(model_fn_with(), str(tmp_path / "b"), config=config)
    split.train(input_fn(), max_steps=2)
    split.train(input_fn())
    a, b = variables(straight), variables(split)
    for name in a:
        assert torch.equal(a[name], b[name]), name


def test_factory_returning_torch_compile_keeps_names(tmp_path, eager_run):
    model = est.Estimator(model_fn_with(lambda: torch.compile(Net(), backend="eager")),
                          str(tmp_path), config=est.RunConfig(**CPU))
    model.train(input_fn(2))
    assert sorted(variables(model)) == sorted(eager_run)  # no "_orig_mod"


def test_recompiles_only_when_the_shape_or_mode_changes(tmp_path):
    counter = CompileCounter()
    model = est.Estimator(model_fn_with(compile={"backend": counter}), str(tmp_path),
                          config=est.RunConfig(**CPU))
    model.train(input_fn(n=5, remainder=3))  # 5 batches of 8, one of 3
    assert counter.frame_count == 2  # batch 8; then the batch dimension becomes dynamic
    model.train(input_fn(n=4, remainder=5))  # new module objects, same code: graphs reused
    assert counter.frame_count == 2
    model.evaluate(input_fn(n=2))  # eval mode, no grad: one more
    assert counter.frame_count == 3
    model.evaluate(input_fn(n=2, remainder=1))  # and its dynamic batch size
    assert counter.frame_count == 4


def test_get_module_compile_false_overrides_run_config(tmp_path):
    counter = CompileCounter()
    model = est.Estimator(model_fn_with(compile=False), str(tmp_path),
                          config=est.RunConfig(compile={"backend": counter}, **CPU))
    model.train(input_fn(2))
    assert counter.frame_count == 0


def test_compile_with_bf16_autocast(tmp_path, eager_run):
    counter = CompileCounter()
    model = est.Estimator(model_fn_with(), str(tmp_path),
                          config=est.RunConfig(compile={"backend": counter},
                                               mixed_precision="bf16", **CPU))
    model.train(input_fn())
    results = model.evaluate(input_fn(2))
    assert counter.frame_count >= 1 and results["global_step"] == 6
    got = variables(model)
    assert sorted(got) == sorted(eager_run)
