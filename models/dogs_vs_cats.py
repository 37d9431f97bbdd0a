"""The dogs-vs-cats CNN of the reference tutorial (two 5x5 conv layers, dense 1024, N logits).

As in the tutorial: conv 5x5x32 "same" + ReLU, 2x2 max pool ("same"), conv 5x5x64 + ReLU,
2x2 max pool, dense 1024 + ReLU, dense N; kernels drawn from a normal of stddev 0.1 truncated
at two stddevs (``tf.truncated_normal(shape, stddev=0.1)``) and biases set to 0.1.

Two forms, same network:

- :func:`define_model` / :func:`model_fn`: built with ``est.layers`` inside ``model_fn``; input
  NHWC float (``[N, H, W, C]``, the pipeline's layout).
- :class:`SeedCNN`: an ordinary ``nn.Module`` for ``est.get_module``, with sub-modules named as
  the tutorial's variable scopes (``layer_1``, ``layer_2``, ``fc_layer1``, ``read_out_fc2``);
  see its docstring. Its weights have the layouts of the ``est.layers`` form's variables.

The tutorial trains it with ``GradientDescentOptimizer(0.5)``, which makes this network diverge
(the loss explodes at step 2, then sticks at ln 2 with one class predicted): the default here is
Adam with learning rate 1e-3 (``params={"optimizer": "sgd", "learning_rate": 0.5}`` restores the
tutorial's choice).
"""

from __future__ import annotations

import math
from typing import Any, Dict, Mapping, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import nn

import estimator as est
from estimator import layers
from models import _head

__all__ = ["DEFAULT_PARAMS", "SeedCNN", "define_model", "model_fn", "module_model_fn",
           "truncated_normal_"]

#: ``params`` keys of :func:`model_fn` and :func:`module_model_fn`, with their defaults.
DEFAULT_PARAMS = {"num_classes": 2, "optimizer": "adam", "learning_rate": 1e-3}

_STDDEV = 0.1
_BIAS = 0.1


def truncated_normal_(tensor: torch.Tensor, stddev: float = _STDDEV) -> torch.Tensor:
    """TF's ``truncated_normal``: normal(0, stddev) redrawn outside two stddevs, in place."""
    with torch.no_grad():
        return nn.init.trunc_normal_(tensor, mean=0.0, std=stddev, a=-2 * stddev, b=2 * stddev)


def _pooled(size: int) -> int:
    # two 2x2/2 max pools with "same" padding: ceil, then ceil again
    return math.ceil(math.ceil(size / 2) / 2)


class SeedCNN(nn.Module):
    """The tutorial's CNN as an ``nn.Module``.

    Args:
        num_classes: number of logits ``N``.
        image_size: ``(height, width)`` of the inputs; fixes the size of the first dense layer.
        channels: input channels (3 for RGB).
        data_format: ``"channels_last"`` (default) takes ``[N, H, W, C]`` batches, as the
            reference pipeline and ``est.layers`` produce them; ``"channels_first"`` takes
            ``[N, C, H, W]`` as usual in PyTorch. Both flatten the feature map in (H, W, C) order,
            as the tutorial's ``tf.reshape`` does, so weights move between the two forms as is.

    >>> net = SeedCNN(num_classes=2)
    >>> net(torch.rand(4, 28, 28, 3)).shape
    torch.Size([4, 2])
    """

    def __init__(self, num_classes: int = 2, image_size: Union[int, Sequence[int]] = (28, 28),
                 channels: int = 3, data_format: str = "channels_last") -> None:
        super().__init__()
        if data_format not in ("channels_last", "channels_first"):
            raise ValueError(f"data_format must be 'channels_last' or 'channels_first', "
                             f"got {data_format!r}")
        height, width = (image_size, image_size) if isinstance(image_size, int) else image_size
        self.data_format = data_format
        self.layer_1 = nn.Conv2d(channels, 32, 5, padding=2)
        self.layer_2 = nn.Conv2d(32, 64, 5, padding=2)
        self.fc_layer1 = nn.Linear(_pooled(height) * _pooled(width) * 64, 1024)
        self.read_out_fc2 = nn.Linear(1024, num_classes)
        # "same" 2x2/2 pooling pads at the end: ceil_mode gives exactly those windows
        self.pool = nn.MaxPool2d(2, 2, ceil_mode=True)
        for layer in (self.layer_1, self.layer_2, self.fc_layer1, self.read_out_fc2):
            truncated_normal_(layer.weight)
            assert layer.bias is not None
            nn.init.constant_(layer.bias, _BIAS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.data_format == "channels_last":
            x = x.permute(0, 3, 1, 2)
        x = self.pool(F.relu(self.layer_1(x)))
        x = self.pool(F.relu(self.layer_2(x)))
        x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)  # (H, W, C) order, as tf.reshape
        x = F.relu(self.fc_layer1(x))
        return self.read_out_fc2(x)


def define_model(features: torch.Tensor, num_classes: int = 2) -> torch.Tensor:
    """The tutorial's ``define_model``: NHWC float images → ``[N, num_classes]`` logits.

    Call it inside a ``model_fn``: the layers create their variables on the first call and
    reuse them after (``conv2d/kernel``, ``conv2d_1/kernel``, ``dense/kernel``,
    ``dense_1/kernel`` and their biases, in PyTorch layouts).
    """
    init: Dict[str, Any] = {"kernel_initializer": truncated_normal_, "bias_initializer": _BIAS}
    x = layers.conv2d(features, filters=32, kernel_size=5, padding="same", activation=F.relu,
                      **init)
    x = layers.max_pooling2d(x, pool_size=2, strides=2, padding="same")
    x = layers.conv2d(x, filters=64, kernel_size=5, padding="same", activation=F.relu, **init)
    x = layers.max_pooling2d(x, pool_size=2, strides=2, padding="same")
    x = layers.dense(layers.flatten(x), units=1024, activation=F.relu, **init)
    return layers.dense(x, units=num_classes, **init)


def model_fn(features: torch.Tensor, labels: Optional[torch.Tensor], mode: str,
             params: Optional[Mapping[str, Any]] = None) -> Any:
    """``model_fn`` of the tutorial's CNN built in the model scope (see :data:`DEFAULT_PARAMS`).

    >>> import estimator as est  # doctest: +SKIP
    >>> est.Estimator(model_fn, "model_dir", params={"learning_rate": 1e-4})  # doctest: +SKIP
    """
    p = _head.merge_params(DEFAULT_PARAMS, params, "models.dogs_vs_cats.model_fn")
    return _head.classifier_spec(define_model(features, p["num_classes"]), labels, mode, p)


def module_model_fn(features: torch.Tensor, labels: Optional[torch.Tensor], mode: str,
                    params: Optional[Mapping[str, Any]] = None) -> Any:
    """The same as :func:`model_fn` with :class:`SeedCNN` through ``est.get_module``."""
    p = _head.merge_params(DEFAULT_PARAMS, params, "models.dogs_vs_cats.module_model_fn")
    size, channels = tuple(features.shape[1:3]), features.shape[3]
    net = est.get_module("net", lambda: SeedCNN(p["num_classes"], size, channels))
    return _head.classifier_spec(net(features), labels, mode, p)
