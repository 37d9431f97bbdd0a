"""models: each network as a layers model_fn and as an nn.Module; shapes, init, equivalence."""

import math

import numpy as np
import pytest
import torch

import data
import estimator as est
import models
from models import dogs_vs_cats, mlp, mnist_cnn, softmax

# --- the nn.Module forms -------------------------------------------------------------------


@pytest.mark.parametrize("size, pooled", [(28, 7), (30, 8), (32, 8)])
def test_seed_cnn_output_shape_for_any_image_size(size, pooled):
    net = models.SeedCNN(num_classes=3, image_size=size)
    assert net.fc_layer1.in_features == pooled * pooled * 64  # "same" pooling rounds up
    assert net(torch.rand(2, size, size, 3)).shape == (2, 3)


def test_seed_cnn_channels_first_equals_channels_last_on_the_same_image():
    torch.manual_seed(0)
    last = models.SeedCNN(num_classes=2)
    first = models.SeedCNN(num_classes=2, data_format="channels_first")
    first.load_state_dict(last.state_dict())
    x = torch.rand(3, 28, 28, 3)
    torch.testing.assert_close(first(x.permute(0, 3, 1, 2)), last(x))


def test_seed_cnn_init_is_truncated_normal_0_1_and_biases_0_1():
    torch.manual_seed(0)
    net = models.SeedCNN(num_classes=2)
    w = net.fc_layer1.weight.detach()
    assert float(w.abs().max()) <= 0.2
    # a normal(0, 0.1) truncated at 2 stddevs has stddev 0.1 * 0.8796
    assert abs(float(w.std()) - 0.08796) < 0.002
    for layer in (net.layer_1, net.layer_2, net.fc_layer1, net.read_out_fc2):
        assert torch.all(layer.bias == 0.1)


def test_seed_cnn_rejects_unknown_data_format():
    with pytest.raises(ValueError, match="data_format"):
        models.SeedCNN(data_format="NHWC")


@pytest.mark.parametrize("shape", [(4, 784), (4, 28, 28, 1)])
def test_mnist_cnn_takes_flat_or_image_inputs(shape):
    assert models.MnistCNN()(torch.rand(*shape)).shape == (4, 10)


def test_mnist_cnn_dropout_only_in_training():
    torch.manual_seed(0)
    net = models.MnistCNN().eval()
    x = torch.rand(2, 784)
    torch.testing.assert_close(net(x), net(x))
    assert not torch.equal(net.train()(x), net(x))


def test_softmax_regression_starts_at_zero_and_outputs_uniform_probabilities():
    net = models.SoftmaxRegression()
    logits = net(torch.rand(5, 28, 28, 1))
    assert logits.shape == (5, 10) and torch.all(logits == 0)


def test_mlp_is_the_seed_stack_of_layers():
    net = models.MLP(input_dim=20)
    kinds = [type(layer).__name__ for layer in net.layers]
    assert kinds == ["Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout", "Linear"]
    assert [net.layers[i].out_features for i in (0, 3, 6)] == [64, 64, 10]
    assert net(torch.rand(7, 20)).shape == (7, 10)


# --- the model_fn forms, through the Estimator ---------------------------------------------

_CASES = {
    # name: (module, features shape of one example, num_classes)
    "dogs_vs_cats": (dogs_vs_cats, (28, 28, 3), 2),
    "mnist_cnn": (mnist_cnn, (28, 28, 1), 10),
    "softmax": (softmax, (784,), 10),
    "mlp": (mlp, (20,), 10),
}


def _input_fn(features, labels, batch_size=8, epochs=1):
    return lambda: data.Dataset.from_tensor_slices((features, labels)).repeat(epochs).batch(
        batch_size)


@pytest.mark.parametrize("name", sorted(_CASES))
@pytest.mark.parametrize("form", ["model_fn", "module_model_fn"])
def test_model_fn_trains_evaluates_and_predicts_with_expected_shapes(tmp_path, name, form):
    module, shape, classes = _CASES[name]
    torch.manual_seed(0)
    x, y = torch.rand(8, *shape), torch.randint(0, classes, (8,))
    model = est.Estimator(getattr(module, form), str(tmp_path))
    model.train(_input_fn(x, y), steps=2)
    results = model.evaluate(_input_fn(x, y))
    assert results["global_step"] == 1  # 8 examples, batch 8, one epoch: the input ends
    assert 0.0 <= results["accuracy"] <= 1.0 and math.isfinite(results["loss"])
    out = list(model.predict(lambda: data.Dataset.from_tensor_slices(x).batch(4)))
    assert len(out) == 8
    assert tuple(out[0]["probabilities"].shape) == (classes,)
    assert abs(float(out[0]["probabilities"].sum()) - 1.0) < 1e-5
    assert 0 <= int(out[0]["classes"]) < classes


def test_unknown_params_key_names_it_and_the_known_keys(tmp_path):
    model = est.Estimator(softmax.model_fn, str(tmp_path), params={"learning_rte": 0.1})
    with pytest.raises(ValueError, match=r"learning_rte.*learning_rate"):
        model.train(_input_fn(torch.rand(4, 784), torch.zeros(4, dtype=torch.long)), steps=1)


def test_unknown_optimizer_is_rejected(tmp_path):
    model = est.Estimator(mlp.model_fn, str(tmp_path), params={"optimizer": "lbfgs"})
    with pytest.raises(ValueError, match="optimizer"):
        model.train(_input_fn(torch.rand(4, 20), torch.zeros(4, dtype=torch.long)), steps=1)


def test_layers_seed_cnn_and_module_seed_cnn_compute_the_same_function(tmp_path):
    torch.manual_seed(0)
    x, y = torch.rand(6, 30, 30, 3), torch.randint(0, 2, (6,))
    model = est.Estimator(dogs_vs_cats.model_fn, str(tmp_path))
    model.train(_input_fn(x, y, batch_size=6), steps=1)
    value = model.get_variable_value
    net = models.SeedCNN(num_classes=2, image_size=30).eval()
    for module, layer in [(net.layer_1, "conv2d"), (net.layer_2, "conv2d_1"),
                          (net.fc_layer1, "dense"), (net.read_out_fc2, "dense_1")]:
        module.weight.data.copy_(torch.as_tensor(value(f"{layer}/kernel")))
        module.bias.data.copy_(torch.as_tensor(value(f"{layer}/bias")))
    predicted = list(model.predict(lambda: data.Dataset.from_tensor_slices(x).batch(6)))
    expected = net(x).softmax(1)
    got = torch.stack([torch.as_tensor(p["probabilities"]) for p in predicted])
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def _stripes(n, seed, size=16):
    """Class 0: horizontal stripes, class 1: vertical; random colour, phase, noise."""
    g = np.random.default_rng(seed)
    labels = g.integers(0, 2, n)
    images = g.normal(0.3, 0.1, (n, size, size, 3))
    for i, label in enumerate(labels):
        phase, period = g.integers(0, 4), g.integers(3, 5)
        mask = ((np.arange(size) + phase) % period) < 2
        band = mask[:, None] if label == 0 else mask[None, :]
        images[i][np.broadcast_to(band, (size, size))] = g.uniform(0.7, 1, 3)
    return torch.tensor(np.clip(images, 0, 1), dtype=torch.float32), torch.tensor(labels)


def test_seed_cnn_learns_a_small_synthetic_task(tmp_path):
    torch.manual_seed(0)
    train_x, train_y = _stripes(256, seed=1)
    test_x, test_y = _stripes(128, seed=2)
    model = est.Estimator(dogs_vs_cats.module_model_fn, str(tmp_path),
                          config=est.RunConfig(tf_random_seed=0))
    model.train(_input_fn(train_x, train_y, 32, epochs=None), steps=30)
    results = model.evaluate(_input_fn(test_x, test_y, 64))
    assert results["global_step"] == 30
    assert results["loss"] < 0.4  # chance level is ln 2 = 0.69
    assert results["accuracy"] >= 0.85
