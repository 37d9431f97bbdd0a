"""The classification head every model here shares: predictions, loss, accuracy, train op.

Also the ``params`` convention: each model module has a ``DEFAULT_PARAMS`` dict; the
``params`` an ``Estimator`` passes are merged over it, and an unknown key is an error (a typo
must not silently train with a default).
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

import torch
import torch.nn.functional as F

import estimator as est
from estimator._packages import require

# Every model module imports this one: a top-level `models` that is not ours (another
# distribution's, installed over it) fails here, loudly, naming both places.
require("models")

#: ``params["optimizer"]`` values and the ``est.train`` optimizer each names.
OPTIMIZERS = {
    "adagrad": "AdagradOptimizer",
    "adam": "AdamOptimizer",
    "momentum": "MomentumOptimizer",
    "rmsprop": "RMSPropOptimizer",
    "sgd": "GradientDescentOptimizer",
}


def merge_params(defaults: Mapping[str, Any], params: Optional[Mapping[str, Any]],
                 where: str) -> Dict[str, Any]:
    """``defaults`` updated with ``params``; unknown keys raise ``ValueError`` naming them."""
    params = dict(params or {})
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise ValueError(f"{where}: unknown params {unknown}; the known keys (with defaults) "
                         f"are {dict(defaults)}")
    merged = {**defaults, **params}
    if "optimizer" in merged and merged["optimizer"] not in OPTIMIZERS:
        raise ValueError(f"{where}: params['optimizer'] must be one of {sorted(OPTIMIZERS)}, "
                         f"got {merged['optimizer']!r}")
    return merged


def make_optimizer(name: str, learning_rate: float) -> Any:
    """The ``est.train`` optimizer called ``name`` (a key of :data:`OPTIMIZERS`)."""
    if name == "momentum":
        return est.train.MomentumOptimizer(learning_rate, momentum=0.9)
    return getattr(est.train, OPTIMIZERS[name])(learning_rate)


def classifier_spec(logits: torch.Tensor, labels: Optional[torch.Tensor], mode: str,
                    params: Mapping[str, Any]) -> Any:
    """The ``EstimatorSpec`` of a softmax classifier over ``logits`` (the tutorial's head).

    Predictions ``classes`` and ``probabilities``; loss: mean sparse softmax cross-entropy;
    metric and summary ``accuracy``; train op: ``params["optimizer"]`` (default ``"sgd"``) at
    ``params["learning_rate"]`` minimising the loss.
    """
    predictions = {"classes": logits.argmax(1), "probabilities": logits.softmax(1)}
    if mode == est.ModeKeys.PREDICT:
        return est.EstimatorSpec(mode, predictions=predictions)
    if labels is None:
        raise ValueError(f"model_fn: mode {mode!r} needs labels; the input_fn gave none")
    loss = F.cross_entropy(logits, labels.long())
    accuracy = est.metrics.accuracy(labels=labels, predictions=predictions["classes"])
    est.summary.scalar("accuracy", accuracy[1])
    metrics = {"accuracy": accuracy}
    if mode == est.ModeKeys.TRAIN:
        optimizer = make_optimizer(params.get("optimizer", "sgd"), params["learning_rate"])
        train_op = optimizer.minimize(loss, global_step=est.train.get_global_step())
        return est.EstimatorSpec(mode, predictions=predictions, loss=loss, train_op=train_op,
                                 eval_metric_ops=metrics)
    return est.EstimatorSpec(mode, loss=loss, eval_metric_ops=metrics)
