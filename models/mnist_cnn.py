"""The MNIST CNN of the ``tf.layers`` tutorial.

conv 5x5x32 "same" + ReLU, 2x2/2 max pool, conv 5x5x64 "same" + ReLU, 2x2/2 max pool, dense
1024 + ReLU, dropout 0.4 (training only), dense 10; trained by plain SGD at learning rate 0.001
(``optimize_loss(..., learning_rate=0.001, optimizer="SGD")``).

Two forms, same network:

- :func:`model_fn`: built with ``est.layers`` (glorot-uniform kernels, zero biases, TF's
  defaults); ``features`` are images ``[N, 28, 28, 1]`` or flat ``[N, 784]`` (reshaped like the
  tutorial's ``tf.reshape(features, [-1, 28, 28, 1])``).
- :class:`MnistCNN`: an ordinary ``nn.Module`` taking the same inputs.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

import torch
import torch.nn.functional as F
from torch import nn

import estimator as est
from estimator import layers
from models import _head

__all__ = ["DEFAULT_PARAMS", "MnistCNN", "model_fn", "module_model_fn"]

#: ``params`` keys of :func:`model_fn` and :func:`module_model_fn`, with their defaults.
DEFAULT_PARAMS = {"num_classes": 10, "optimizer": "sgd", "learning_rate": 0.001,
                  "dropout": 0.4}


def _as_images(features: torch.Tensor) -> torch.Tensor:
    return features.reshape(-1, 28, 28, 1)


class MnistCNN(nn.Module):
    """The tutorial's MNIST CNN as an ``nn.Module``: ``[N, 28, 28, 1]`` or ``[N, 784]`` in,
    ``[N, num_classes]`` logits out. Inputs are NHWC (TF's layout), like :func:`model_fn`'s.

    >>> MnistCNN()(torch.rand(2, 784)).shape
    torch.Size([2, 10])
    """

    def __init__(self, num_classes: int = 10, dropout: float = 0.4) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 5, padding=2)
        self.conv2 = nn.Conv2d(32, 64, 5, padding=2)
        self.dense = nn.Linear(7 * 7 * 64, 1024)
        self.dropout = nn.Dropout(dropout)
        self.logits = nn.Linear(1024, num_classes)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = _as_images(features).permute(0, 3, 1, 2)
        x = F.max_pool2d(F.relu(self.conv1(x)), 2, 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2, 2)
        x = x.permute(0, 2, 3, 1).reshape(x.shape[0], 7 * 7 * 64)  # HWC order, as tf.reshape
        return self.logits(self.dropout(F.relu(self.dense(x))))


def model_fn(features: torch.Tensor, labels: Optional[torch.Tensor], mode: str,
             params: Optional[Mapping[str, Any]] = None) -> Any:
    """The tutorial's ``cnn_model_fn`` with ``est.layers`` (see :data:`DEFAULT_PARAMS`)."""
    p = _head.merge_params(DEFAULT_PARAMS, params, "models.mnist_cnn.model_fn")
    input_layer = _as_images(features)
    conv1 = layers.conv2d(input_layer, filters=32, kernel_size=[5, 5], padding="same",
                          activation=F.relu)
    pool1 = layers.max_pooling2d(conv1, pool_size=[2, 2], strides=2)
    conv2 = layers.conv2d(pool1, filters=64, kernel_size=[5, 5], padding="same",
                          activation=F.relu)
    pool2 = layers.max_pooling2d(conv2, pool_size=[2, 2], strides=2)
    pool2_flat = pool2.reshape(-1, 7 * 7 * 64)
    dense = layers.dense(pool2_flat, units=1024, activation=F.relu)
    dropout = layers.dropout(dense, rate=p["dropout"], training=mode == est.ModeKeys.TRAIN)
    logits = layers.dense(dropout, units=p["num_classes"])
    return _head.classifier_spec(logits, labels, mode, p)


def module_model_fn(features: torch.Tensor, labels: Optional[torch.Tensor], mode: str,
                    params: Optional[Mapping[str, Any]] = None) -> Any:
    """The same as :func:`model_fn` with :class:`MnistCNN` through ``est.get_module``."""
    p = _head.merge_params(DEFAULT_PARAMS, params, "models.mnist_cnn.module_model_fn")
    net = est.get_module("net", lambda: MnistCNN(p["num_classes"], p["dropout"]))
    return _head.classifier_spec(net(features), labels, mode, p)
