"""The seed programs, ported, on small generated data that a model can learn."""

import torch
import torch.nn.functional as F
from torch import nn

import data
import estimator as est
from estimator import layers

CPU = est.RunConfig(device="cpu", tf_random_seed=0, save_checkpoints_steps=1000,
                    save_summary_steps=None, log_step_count_steps=None)


def prototypes_data(n, shape, classes=10, noise=0.6, seed=0):
    """Each class is a random prototype image plus noise."""
    g = torch.Generator().manual_seed(seed)
    protos = torch.rand(classes, *shape, generator=torch.Generator().manual_seed(123))
    labels = torch.randint(0, classes, (n,), generator=g)
    x = protos[labels] + noise * torch.randn(n, *shape, generator=g)
    return x, labels


def input_fn(x, y, batch_size, epochs=1, shuffle=False):
    def fn():
        ds = data.Dataset.from_tensor_slices((x, y))
        if shuffle:
            ds = ds.shuffle(len(x), seed=1)
        return ds.repeat(epochs).batch(batch_size)
    return fn


def cnn_model_fn(features, labels, mode, params):
    """seeds/000: the MNIST CNN of the tf.layers tutorial."""
    input_layer = features.reshape(-1, 28, 28, 1)
    conv1 = layers.conv2d(inputs=input_layer, filters=32, kernel_size=[5, 5], padding="same",
                          activation=F.relu)
    pool1 = layers.max_pooling2d(inputs=conv1, pool_size=[2, 2], strides=2)
    conv2 = layers.conv2d(inputs=pool1, filters=64, kernel_size=[5, 5], padding="same",
                          activation=F.relu)
    pool2 = layers.max_pooling2d(inputs=conv2, pool_size=[2, 2], strides=2)
    pool2_flat = pool2.reshape(-1, 7 * 7 * 64)
    dense = layers.dense(inputs=pool2_flat, units=1024, activation=F.relu)
    dropout = layers.dropout(inputs=dense, rate=0.4, training=mode == est.ModeKeys.TRAIN)
    logits = layers.dense(inputs=dropout, units=10)
    predictions = {"classes": logits.argmax(1), "probabilities": logits.softmax(1)}
    if mode == est.ModeKeys.INFER:
        return est.EstimatorSpec(mode, predictions=predictions)
    loss = F.cross_entropy(logits, labels)
    train_op = est.train.GradientDescentOptimizer(params["learning_rate"]).minimize(
        loss, global_step=est.train.get_global_step())
    metrics = {"accuracy": est.metrics.accuracy(labels=labels, predictions=predictions["classes"])}
    return est.EstimatorSpec(mode, predictions=predictions, loss=loss, train_op=train_op,
                             eval_metric_ops=metrics)


def patch_images(n, seed=0, noise=0.3):
    """28x28 images: class k is a bright patch at the k-th place of a grid, plus noise."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 10, (n,), generator=g)
    x = noise * torch.randn(n, 28, 28, generator=g)
    for k in range(10):
        r, c = divmod(k, 4)
        x[y == k, r * 9:r * 9 + 8, c * 7:c * 7 + 7] += 1.0
    return x, y


def test_seed_mnist_cnn_learns(tmp_path):
    x, y = patch_images(384)
    test_x, test_y = patch_images(192, seed=1)
    train_input = input_fn(x, y, 32, epochs=None, shuffle=True)
    model = est.Estimator(cnn_model_fn, str(tmp_path), config=CPU,
                          params={"learning_rate": 0.05})
    before = model.train(train_input, steps=1).evaluate(input_fn(test_x, test_y, 64))
    after = model.train(train_input, steps=20).evaluate(input_fn(test_x, test_y, 64))
    assert after["global_step"] == 21
    assert after["loss"] < 0.2 * before["loss"]
    assert after["accuracy"] > 0.8  # chance is 0.1
    predictions = list(model.predict(input_fn(test_x[:8], test_y[:8], 4)))
    assert [int(p["classes"]) for p in predictions] == test_y[:8].tolist()
    assert predictions[0]["probabilities"].shape == (10,)


def softmax_model_fn(features, labels, mode):
    """seeds/002: linear softmax regression, gradient descent with learning rate 0.5."""
    W = est.get_variable("W", [784, 10], initializer=0.0)
    b = est.get_variable("b", [10], initializer=0.0)
    logits = features @ W + b
    loss = F.cross_entropy(logits, labels)
    train_op = est.train.GradientDescentOptimizer(0.5).minimize(
        loss, global_step=est.train.get_global_step())
    accuracy = est.metrics.accuracy(labels=labels, predictions=logits.argmax(1))
    return est.EstimatorSpec(mode, loss=loss, train_op=train_op,
                             eval_metric_ops={"accuracy": accuracy})


def test_seed_softmax_regression_learns(tmp_path):
    x, y = prototypes_data(3000, (784,), noise=1.0)
    test_x, test_y = prototypes_data(1000, (784,), noise=1.0, seed=7)
    model = est.Estimator(softmax_model_fn, str(tmp_path), config=CPU)
    model.train(input_fn(x, y, 100, epochs=None, shuffle=True), steps=1)
    before = model.evaluate(input_fn(test_x, test_y, 100))
    model.train(input_fn(x, y, 100, epochs=None, shuffle=True), max_steps=200)
    after = model.evaluate(input_fn(test_x, test_y, 100))
    assert after["loss"] < 0.5 * before["loss"]
    assert after["accuracy"] > 0.9


class MLP(nn.Module):
    """seeds/001's Sequential MLP as an ordinary nn.Module."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Dropout(0.2), nn.Linear(64, 64),
                                 nn.ReLU(), nn.Dropout(0.2), nn.Linear(64, num_classes))

    def forward(self, x):
        return self.net(x)


def test_get_module_model_with_an_ordinary_nn_module_learns(tmp_path):
    def model_fn(features, labels, mode):
        net = est.get_module("net", lambda: MLP(num_classes=10))
        logits = net(features)
        loss = F.cross_entropy(logits, labels)
        train_op = est.train.AdamOptimizer(0.01).minimize(
            loss, global_step=est.train.get_global_step())
        acc = est.metrics.accuracy(labels=labels, predictions=logits.argmax(1))
        return est.EstimatorSpec(mode, loss=loss, train_op=train_op,
                                 eval_metric_ops={"accuracy": acc})

    x, y = prototypes_data(2000, (64,), noise=0.5)
    model = est.Estimator(model_fn, str(tmp_path), config=CPU)
    before = model.train(input_fn(x, y, 50), steps=1).evaluate(input_fn(x, y, 500))
    model.train(input_fn(x, y, 50, epochs=3, shuffle=True))
    after = model.evaluate(input_fn(x, y, 500))
    assert after["loss"] < 0.3 * before["loss"]
    assert after["accuracy"] > 0.9
    assert "net/net/0/weight" in model.get_variable_names()
