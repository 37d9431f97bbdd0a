import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from estimator import layers
from estimator.layers import same_padding
from estimator.scope import ModelScope


def run(fn, *args, mode="eval", scope=None, **kwargs):
    scope = scope or ModelScope(seed=0)
    with scope.call(mode):
        out = fn(*args, **kwargs)
    return out, scope


class TorchCNN(nn.Module):
    """The layers model below written as an ordinary NCHW module."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 5, padding=2)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.fc1 = nn.Linear(7 * 7 * 16, 32)
        self.bn = nn.BatchNorm1d(32, eps=1e-3, momentum=0.01)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x_nhwc):
        x = x_nhwc.permute(0, 3, 1, 2)
        x = F.max_pool2d(F.relu(self.conv1(x)), 2, 2)
        x = F.avg_pool2d(F.relu(self.conv2(x)), 2, 2)
        x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)  # TF flattens NHWC
        return self.fc2(self.bn(F.relu(self.fc1(x))))


def layers_cnn(x, training=False):
    x = layers.conv2d(x, filters=8, kernel_size=5, padding="same", activation=F.relu)
    x = layers.max_pooling2d(x, pool_size=2, strides=2)
    x = layers.conv2d(x, filters=16, kernel_size=3, padding="same", activation=F.relu)
    x = layers.average_pooling2d(x, pool_size=2, strides=2)
    x = layers.dense(layers.flatten(x), units=32, activation=F.relu)
    x = layers.batch_normalization(x, training=training)
    x = layers.dropout(x, rate=0.4, training=training)
    return layers.dense(x, units=10)


def test_layers_model_matches_the_same_nn_module_for_identical_weights():
    x = torch.randn(4, 28, 28, 3)
    out, scope = run(layers_cnn, x)
    net = TorchCNN().eval()
    p = dict(scope.root.named_parameters())
    b = dict(scope.root.named_buffers())
    with torch.no_grad():
        for mine, theirs in [("conv2d", net.conv1), ("conv2d_1", net.conv2), ("dense", net.fc1),
                             ("dense_1", net.fc2)]:
            theirs.weight.copy_(p[f"{mine}.kernel"])
            theirs.bias.copy_(p[f"{mine}.bias"])
        net.bn.weight.copy_(p["batch_normalization.gamma"] * 1.5)
        net.bn.bias.copy_(p["batch_normalization.beta"] + 0.25)
        net.bn.running_mean.copy_(torch.linspace(-1, 1, 32))
        net.bn.running_var.copy_(torch.linspace(0.5, 2, 32))
        p["batch_normalization.gamma"].copy_(net.bn.weight)
        p["batch_normalization.beta"].copy_(net.bn.bias)
        b["batch_normalization.moving_mean"].copy_(net.bn.running_mean)
        b["batch_normalization.moving_variance"].copy_(net.bn.running_var)
    out, _ = run(layers_cnn, x, scope=scope)
    torch.testing.assert_close(out, net(x), rtol=1e-5, atol=1e-5)


def test_training_batch_norm_matches_torch_with_tf_momentum_and_epsilon():
    x = torch.randn(16, 4, 4, 6) * 3 + 1
    bn = nn.BatchNorm2d(6, eps=1e-3, momentum=0.01).train()
    expected = bn(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
    out, scope = run(layers.batch_normalization, x, training=True)
    torch.testing.assert_close(out, expected)
    b = dict(scope.root.named_buffers())
    torch.testing.assert_close(b["batch_normalization.moving_mean"], bn.running_mean)
    torch.testing.assert_close(b["batch_normalization.moving_variance"], bn.running_var)


def test_batch_norm_inference_uses_moving_statistics():
    x = torch.randn(8, 5)
    out, _ = run(layers.batch_normalization, x, training=False)
    torch.testing.assert_close(out, x / math.sqrt(1 + 1e-3))


@settings(max_examples=40, deadline=None)
@given(size=st.integers(1, 20), kernel=st.integers(1, 6), stride=st.integers(1, 4))
def test_same_padding_gives_tf_output_size_with_extra_pixel_after(size, kernel, stride):
    before, after = same_padding(size, kernel, stride)
    assert after - before in (0, 1)
    assert (size + before + after - kernel) // stride + 1 == math.ceil(size / stride)


def test_conv2d_same_stride_2_matches_tf_shape_and_asymmetric_padding():
    x = torch.randn(2, 28, 28, 3)
    out, scope = run(layers.conv2d, x, filters=4, kernel_size=5, strides=2, padding="same")
    assert out.shape == (2, 14, 14, 4)  # TF: ceil(28 / 2)
    p = dict(scope.root.named_parameters())
    # TF pads 1 before and 2 after (total 3) in each spatial dimension.
    padded = F.pad(x.permute(0, 3, 1, 2), (1, 2, 1, 2))
    expected = F.conv2d(padded, p["conv2d.kernel"], p["conv2d.bias"], stride=2)
    torch.testing.assert_close(out, expected.permute(0, 2, 3, 1))


def test_conv2d_valid_output_shape():
    out, _ = run(layers.conv2d, torch.randn(1, 28, 28, 1), filters=2, kernel_size=5)
    assert out.shape == (1, 24, 24, 2)


def test_nhwc_results_are_zero_copy_views_of_channels_last_outputs():
    out, _ = run(layers.conv2d, torch.randn(2, 8, 8, 3), filters=4, kernel_size=3, padding="same")
    assert out.is_contiguous()  # NHWC memory: the permute back needed no copy


def test_channels_first_data_format():
    out, _ = run(layers.conv2d, torch.randn(2, 3, 9, 9), filters=4, kernel_size=3, strides=2,
                 padding="same", data_format="channels_first")
    assert out.shape == (2, 4, 5, 5)


def test_max_pool_same_pads_with_minus_infinity():
    x = -torch.ones(1, 3, 3, 1)
    out, _ = run(layers.max_pooling2d, x, pool_size=2, strides=2, padding="same")
    assert out.shape == (1, 2, 2, 1) and torch.all(out == -1)


def test_average_pool_same_averages_real_pixels_only():
    x = torch.arange(9.0).reshape(1, 3, 3, 1)
    out, _ = run(layers.average_pooling2d, x, pool_size=2, strides=2, padding="same")
    assert out.flatten().tolist() == [2.0, 3.5, 6.5, 8.0]


def test_dense_defaults_glorot_kernel_zero_bias_and_initializers():
    _, scope = run(layers.dense, torch.ones(1, 300), units=100)
    p = dict(scope.root.named_parameters())
    limit = math.sqrt(6 / 400)
    assert p["dense.kernel"].abs().max() <= limit and torch.all(p["dense.bias"] == 0)
    out, _ = run(layers.dense, torch.ones(2, 3), units=2, kernel_initializer=nn.init.ones_,
                 bias_initializer=lambda t: nn.init.constant_(t, 0.5), activation=torch.neg)
    assert out.tolist() == [[-3.5, -3.5], [-3.5, -3.5]]


def test_dropout_only_when_training():
    x = torch.ones(1000)
    assert torch.equal(run(layers.dropout, x, rate=0.5)[0], x)
    dropped = run(layers.dropout, x, rate=0.5, training=True)[0]
    assert set(dropped.unique().tolist()) == {0.0, 2.0}


def test_dropout_noise_shape_drops_whole_slices():
    x = torch.ones(8, 5, 5, 16)
    out = run(layers.dropout, x, rate=0.5, noise_shape=(8, 1, 1, 16), training=True)[0]
    per_slice = out.permute(0, 3, 1, 2).reshape(8 * 16, 25)
    assert torch.all(per_slice == per_slice[:, :1])  # each (example, channel) kept or dropped
    assert set(per_slice[:, 0].tolist()) == {0.0, 2.0}
    none_dims = run(layers.dropout, x, rate=0.5, noise_shape=(None, 1, 1, None),
                    training=True)[0]
    assert none_dims.shape == x.shape


def test_dropout_bad_noise_shape_names_both_shapes():
    with pytest.raises(ValueError, match=r"noise_shape \(3, 1\).*\(8, 16\)"):
        run(layers.dropout, torch.ones(8, 16), rate=0.5, noise_shape=(3, 1), training=True)


def test_bad_padding_raises():
    with pytest.raises(ValueError, match='padding must be "same" or "valid"'):
        run(layers.conv2d, torch.ones(1, 4, 4, 1), filters=1, kernel_size=2, padding="full")
