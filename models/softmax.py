"""Softmax regression on MNIST ("TensorFlow in a hurry").

``y = x @ W + b`` with ``W`` ``[784, 10]`` and ``b`` ``[10]`` both initialised to zeros, mean
softmax cross-entropy, ``GradientDescentOptimizer(0.5)``; the tutorial
reports 0.9183 test accuracy on MNIST after 1000 steps of batch 100.

- :func:`model_fn`: ``est.get_variable("W")``/``("b")`` in the model scope; ``features``
  ``[N, 784]`` (or ``[N, 28, 28, 1]``, flattened).
- :class:`SoftmaxRegression`: the same as an ``nn.Module`` (parameters ``W``, ``b`` in TF's
  ``[in, out]`` layout, so values move between the two forms as is).
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

import torch
from torch import nn

import estimator as est
from models import _head

__all__ = ["DEFAULT_PARAMS", "SoftmaxRegression", "model_fn", "module_model_fn"]

#: ``params`` keys of :func:`model_fn` and :func:`module_model_fn`, with their defaults.
DEFAULT_PARAMS = {"num_classes": 10, "optimizer": "sgd", "learning_rate": 0.5}


class SoftmaxRegression(nn.Module):
    """Logits ``x @ W + b`` of flattened inputs; ``W`` and ``b`` start at zero, as in the tutorial.

    >>> SoftmaxRegression()(torch.rand(3, 784)).shape
    torch.Size([3, 10])
    """

    def __init__(self, input_dim: int = 784, num_classes: int = 10) -> None:
        super().__init__()
        self.W = nn.Parameter(torch.zeros(input_dim, num_classes))
        self.b = nn.Parameter(torch.zeros(num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], -1) @ self.W + self.b


def model_fn(features: torch.Tensor, labels: Optional[torch.Tensor], mode: str,
             params: Optional[Mapping[str, Any]] = None) -> Any:
    """The tutorial's softmax regression in the model scope (see :data:`DEFAULT_PARAMS`)."""
    p = _head.merge_params(DEFAULT_PARAMS, params, "models.softmax.model_fn")
    x = features.reshape(features.shape[0], -1)
    w = est.get_variable("W", [x.shape[1], p["num_classes"]], initializer=0.0)
    b = est.get_variable("b", [p["num_classes"]], initializer=0.0)
    return _head.classifier_spec(x @ w + b, labels, mode, p)


def module_model_fn(features: torch.Tensor, labels: Optional[torch.Tensor], mode: str,
                    params: Optional[Mapping[str, Any]] = None) -> Any:
    """The same as :func:`model_fn` with :class:`SoftmaxRegression` through ``est.get_module``."""
    p = _head.merge_params(DEFAULT_PARAMS, params, "models.softmax.module_model_fn")
    input_dim = features[0].numel()
    net = est.get_module("net", lambda: SoftmaxRegression(input_dim, p["num_classes"]))
    return _head.classifier_spec(net(features), labels, mode, p)
