"""The FTRL optimizer against TensorFlow's updates (fixtures/ftrl_tf.json, written by
fixtures/make_ftrl_fixtures.py with TF 2.15), and its place in ``est.train``."""

import json
import os

import numpy as np
import pytest
import torch

import estimator as est
from estimator.optimizers import Ftrl

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "fixtures", "ftrl_tf.json")) as f:
    FIXTURE = json.load(f)

_TORCH_NAMES = {"learning_rate": "lr"}


@pytest.mark.parametrize("case", FIXTURE["cases"], ids=lambda c: json.dumps(c["kwargs"]))
def test_steps_match_tensorflow(case):
    w = torch.nn.Parameter(torch.tensor(FIXTURE["w0"], dtype=torch.float64))
    target = torch.tensor(FIXTURE["target"], dtype=torch.float64)
    scale = torch.tensor(FIXTURE["scale"], dtype=torch.float64)
    # TF keeps hyperparameters in float32 and casts them to the variable's dtype
    kwargs = {_TORCH_NAMES.get(k, k): float(np.float32(v)) for k, v in case["kwargs"].items()}
    opt = Ftrl([w], **kwargs)
    for expected in case["trajectory"]:
        opt.zero_grad()
        (scale * (w - target) ** 2).sum().backward()
        opt.step()
        np.testing.assert_allclose(w.detach().numpy(), expected, rtol=1e-9, atol=1e-12)


def test_l1_makes_weights_exactly_zero():
    w = torch.nn.Parameter(torch.tensor([0.0, 0.0]))
    opt = Ftrl([w], lr=0.1, l1_regularization_strength=10.0)
    (w * torch.tensor([1.0, -2.0])).sum().backward()
    opt.step()
    assert w.tolist() == [0.0, 0.0]


def test_state_round_trips_through_state_dict():
    w = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    opt = Ftrl([w], lr=0.1)
    (w ** 2).sum().backward()
    opt.step()
    state = opt.state_dict()
    assert set(state["state"][0]) == {"accumulator", "linear"}
    fresh = Ftrl([w], lr=0.1)
    fresh.load_state_dict(state)
    assert torch.equal(fresh.state[w]["linear"], opt.state[w]["linear"])


@pytest.mark.parametrize("kwargs, arg", [({"lr": 0.0}, "learning rate"),
                                         ({"learning_rate_power": 0.5}, "learning_rate_power"),
                                         ({"l1_regularization_strength": -1.0}, "l1_")])
def test_bad_arguments_raise_naming_them(kwargs, arg):
    with pytest.raises(ValueError, match=arg):
        Ftrl([torch.nn.Parameter(torch.zeros(1))], **{"lr": 0.1, **kwargs})


def test_ftrl_optimizer_minimizes_inside_a_model_fn():
    def model_fn(features, labels, mode):
        pred = est.layers.dense(features, units=1)
        loss = ((pred.squeeze(1) - labels) ** 2).mean()
        opt = est.train.FtrlOptimizer(0.5)
        return est.EstimatorSpec(mode, loss=loss, train_op=opt.minimize(
            loss, global_step=est.train.get_global_step()))

    torch.manual_seed(0)
    x = torch.randn(64, 3)
    y = x @ torch.tensor([1.0, -2.0, 0.5])
    model = est.Estimator(model_fn, config=est.RunConfig(device="cpu", tf_random_seed=1))
    before = model.train(lambda: [(x, y)], steps=1).evaluate(lambda: [(x, y)])["loss"]
    after = model.train(lambda: [(x, y)] * 200).evaluate(lambda: [(x, y)])["loss"]
    assert after < 0.05 * before
    assert est.train.FtrlOptimizer(0.1).name == "Ftrl"
