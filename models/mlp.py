"""The Keras ``Sequential`` MLP of the TensorFlow introduction.

``Dense(64, relu) → Dropout(0.5) → Dense(64, relu) → Dropout(0.5) → Dense(10)`` on flat
features ``[N, input_dim]`` (the introduction uses ``input_dim=20``; inputs of more dimensions are
flattened). Dropout is active in training only. Trained with Adam at 0.001, as the Keras
workshop compiles its ``Sequential`` model (``model.compile(optimizer=AdamOptimizer(0.001))``).

- :func:`model_fn`: ``est.layers.dense``/``dropout`` (glorot-uniform kernels, zero biases, as
  Keras' defaults).
- :class:`MLP`: the same as an ``nn.Module``.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

import torch
import torch.nn.functional as F
from torch import nn

import estimator as est
from estimator import layers
from models import _head

__all__ = ["DEFAULT_PARAMS", "MLP", "model_fn", "module_model_fn"]

#: ``params`` keys of :func:`model_fn` and :func:`module_model_fn`, with their defaults.
DEFAULT_PARAMS = {"num_classes": 10, "hidden_units": 64, "dropout": 0.5, "optimizer": "adam",
                  "learning_rate": 1e-3}


class MLP(nn.Module):
    """The introduction's Sequential MLP: ``[N, input_dim]`` in, ``[N, num_classes]`` logits out.

    >>> MLP(input_dim=20)(torch.rand(5, 20)).shape
    torch.Size([5, 10])
    """

    def __init__(self, input_dim: int = 20, num_classes: int = 10, hidden_units: int = 64,
                 dropout: float = 0.5) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(input_dim, hidden_units), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden_units, hidden_units), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden_units, num_classes),
        )
        for layer in self.layers:
            if isinstance(layer, nn.Linear):  # Keras' defaults, as est.layers.dense
                nn.init.xavier_uniform_(layer.weight)
                nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x.reshape(x.shape[0], -1))


def model_fn(features: torch.Tensor, labels: Optional[torch.Tensor], mode: str,
             params: Optional[Mapping[str, Any]] = None) -> Any:
    """The MLP with ``est.layers`` (see :data:`DEFAULT_PARAMS`)."""
    p = _head.merge_params(DEFAULT_PARAMS, params, "models.mlp.model_fn")
    training = mode == est.ModeKeys.TRAIN
    x = features.reshape(features.shape[0], -1)
    for _ in range(2):
        x = layers.dense(x, units=p["hidden_units"], activation=F.relu)
        x = layers.dropout(x, rate=p["dropout"], training=training)
    return _head.classifier_spec(layers.dense(x, units=p["num_classes"]), labels, mode, p)


def module_model_fn(features: torch.Tensor, labels: Optional[torch.Tensor], mode: str,
                    params: Optional[Mapping[str, Any]] = None) -> Any:
    """The same as :func:`model_fn` with :class:`MLP` through ``est.get_module``."""
    p = _head.merge_params(DEFAULT_PARAMS, params, "models.mlp.module_model_fn")
    input_dim = features[0].numel()
    net = est.get_module("net", lambda: MLP(input_dim, p["num_classes"], p["hidden_units"],
                                            p["dropout"]))
    return _head.classifier_spec(net(features), labels, mode, p)
