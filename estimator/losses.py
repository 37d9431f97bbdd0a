"""``est.losses``: ``tf.losses`` (TF 1.x) -- weighted, reduced losses with TF's ``Reduction``.

Every loss computes per-element losses, multiplies them by ``weights`` (a scalar, or a tensor of
the losses' rank whose dimensions are 1 or equal to theirs; per-example ``[batch]`` weights also
work for ``[batch, 1]`` losses) and reduces them as ``reduction`` says; the default,
``Reduction.SUM_BY_NONZERO_WEIGHTS``, divides the weighted sum by the number of non-zero
weights, which for ``weights=1.0`` is the mean. Losses are computed in float32 (as TF casts
them) unless the inputs are float64. ``scope`` is accepted and ignored; each loss is added to the
step's loss collection (``get_losses``, ``get_total_loss``) unless ``loss_collection=None``.

>>> import torch
>>> float(sparse_softmax_cross_entropy(torch.tensor([0, 1], dtype=torch.uint8), torch.zeros(2, 2)))
0.6931471824645996
"""

from __future__ import annotations

from typing import Any, List, Optional

import torch

from estimator import nn as _nn

__all__ = ["Reduction", "absolute_difference", "add_loss", "compute_weighted_loss",
           "get_losses", "get_regularization_loss", "get_regularization_losses",
           "get_total_loss", "hinge_loss", "huber_loss", "log_loss", "mean_squared_error",
           "sigmoid_cross_entropy", "softmax_cross_entropy", "sparse_softmax_cross_entropy"]

LOSSES = "losses"
REGULARIZATION_LOSSES = "regularization_losses"


class Reduction:
    """How a loss reduces its weighted per-element values (TF's string values).

    >>> Reduction.SUM_BY_NONZERO_WEIGHTS
    'weighted_sum_by_nonzero_weights'
    """

    NONE = "none"
    SUM = "weighted_sum"
    SUM_OVER_BATCH_SIZE = "weighted_sum_over_batch_size"
    MEAN = "weighted_mean"
    SUM_BY_NONZERO_WEIGHTS = "weighted_sum_by_nonzero_weights"
    SUM_OVER_NONZERO_WEIGHTS = SUM_BY_NONZERO_WEIGHTS

    @classmethod
    def all(cls) -> tuple:
        return (cls.NONE, cls.SUM, cls.MEAN, cls.SUM_OVER_BATCH_SIZE,
                cls.SUM_OVER_NONZERO_WEIGHTS, cls.SUM_BY_NONZERO_WEIGHTS)

    @classmethod
    def validate(cls, key: Any) -> None:
        if key not in cls.all():
            raise ValueError(f"Invalid Reduction Key {key}. Key should be one of {cls.all()}.")


def _as_tensor(value: Any, arg: str, fn: str) -> torch.Tensor:
    if value is None:
        raise ValueError(f"{fn}: argument `{arg}` must not be None.")
    if isinstance(value, dict):
        raise TypeError(f"{fn}: `{arg}` is a dict (keys {sorted(value)}); pass one tensor")
    return value if isinstance(value, torch.Tensor) else torch.as_tensor(value)


def _float(value: Any, arg: str, fn: str) -> torch.Tensor:
    t = _as_tensor(value, arg, fn)
    return t if t.dtype == torch.float64 else t.to(torch.float32)


def _broadcast_weights(weights: torch.Tensor, losses: torch.Tensor, fn: str) -> torch.Tensor:
    if weights.dim() == 0:
        return weights
    if weights.dim() == losses.dim() - 1 and losses.shape[-1] == 1:
        weights = weights.unsqueeze(-1)  # per-example weights for [batch, 1] losses
    if weights.dim() != losses.dim() or any(
            w not in (1, n) for w, n in zip(weights.shape, losses.shape)):
        raise ValueError(
            f"{fn}: weights of shape {tuple(weights.shape)} cannot be broadcast to the losses "
            f"of shape {tuple(losses.shape)}; give a scalar or a tensor of the same rank whose "
            "dimensions are 1 or equal to the losses'")
    return weights


def compute_weighted_loss(losses: Any, weights: Any = 1.0, scope: Any = None,
                          loss_collection: Optional[str] = LOSSES,
                          reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> torch.Tensor:
    """``losses * weights`` reduced by ``reduction``, as ``tf.losses.compute_weighted_loss``.

    >>> import torch
    >>> float(compute_weighted_loss(torch.tensor([1.0, 3.0]), torch.tensor([1.0, 0.0])))
    1.0
    >>> float(compute_weighted_loss(torch.tensor([1.0, 3.0]), reduction=Reduction.SUM))
    4.0
    """
    fn = "compute_weighted_loss"
    Reduction.validate(reduction)
    losses = _float(losses, "losses", fn)
    python_weight = isinstance(weights, (int, float)) and not isinstance(weights, bool)
    w = _broadcast_weights(_as_tensor(weights, "weights", fn).to(losses.dtype).to(losses.device),
                           losses, fn)
    weighted = losses * w
    if reduction == Reduction.NONE:
        loss = weighted
    else:
        loss = weighted.sum()
        if reduction == Reduction.MEAN:
            loss = _div_no_nan(loss, (torch.ones_like(losses) * w).sum())
        elif reduction == Reduction.SUM_BY_NONZERO_WEIGHTS:
            if python_weight and weights != 0:
                present = torch.tensor(float(losses.numel()), dtype=losses.dtype)
            else:
                present = torch.broadcast_to((w != 0).to(losses.dtype), losses.shape).sum()
            loss = _div_no_nan(loss, present.to(loss.device))
        elif reduction == Reduction.SUM_OVER_BATCH_SIZE:
            loss = _div_no_nan(loss, torch.tensor(float(losses.numel()), dtype=losses.dtype,
                                                  device=loss.device))
    if loss_collection is not None:
        add_loss(loss, loss_collection)
    return loss


def _div_no_nan(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    zero = den == 0
    return torch.where(zero, torch.zeros_like(num), num / torch.where(zero, torch.ones_like(den), den))


def _check_same_shape(a: torch.Tensor, b: torch.Tensor, names: str, fn: str) -> None:
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(f"{fn}: {names} must have the same shape, got {tuple(a.shape)} and "
                         f"{tuple(b.shape)}")


def absolute_difference(labels: Any, predictions: Any, weights: Any = 1.0, scope: Any = None,
                        loss_collection: Optional[str] = LOSSES,
                        reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> torch.Tensor:
    """``|predictions - labels|``, weighted and reduced."""
    fn = "absolute_difference"
    p, y = _float(predictions, "predictions", fn), _float(labels, "labels", fn)
    _check_same_shape(p, y, "predictions and labels", fn)
    return compute_weighted_loss((p - y).abs(), weights, scope, loss_collection, reduction)


def mean_squared_error(labels: Any, predictions: Any, weights: Any = 1.0, scope: Any = None,
                       loss_collection: Optional[str] = LOSSES,
                       reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> torch.Tensor:
    """``(predictions - labels) ** 2``, weighted and reduced.

    >>> import torch
    >>> float(mean_squared_error(torch.tensor([1, 2]), torch.tensor([1.0, 4.0])))
    2.0
    """
    fn = "mean_squared_error"
    p, y = _float(predictions, "predictions", fn), _float(labels, "labels", fn)
    _check_same_shape(p, y, "predictions and labels", fn)
    return compute_weighted_loss((p - y).square(), weights, scope, loss_collection, reduction)


def huber_loss(labels: Any, predictions: Any, weights: Any = 1.0, delta: float = 1.0,
               scope: Any = None, loss_collection: Optional[str] = LOSSES,
               reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> torch.Tensor:
    """Quadratic within ``delta`` of the labels, linear beyond, weighted and reduced."""
    fn = "huber_loss"
    p, y = _float(predictions, "predictions", fn), _float(labels, "labels", fn)
    _check_same_shape(p, y, "predictions and labels", fn)
    error = (p - y).abs()
    quadratic = error.clamp(max=delta)
    losses = 0.5 * quadratic * quadratic + delta * (error - quadratic)
    return compute_weighted_loss(losses, weights, scope, loss_collection, reduction)


def log_loss(labels: Any, predictions: Any, weights: Any = 1.0, epsilon: float = 1e-7,
             scope: Any = None, loss_collection: Optional[str] = LOSSES,
             reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> torch.Tensor:
    """Binary log loss of probabilities ``predictions``: ``-y log(p + eps) - (1 - y) log(1 - p + eps)``."""
    fn = "log_loss"
    p, y = _float(predictions, "predictions", fn), _float(labels, "labels", fn)
    _check_same_shape(p, y, "predictions and labels", fn)
    losses = -y * torch.log(p + epsilon) - (1 - y) * torch.log(1 - p + epsilon)
    return compute_weighted_loss(losses, weights, scope, loss_collection, reduction)


def hinge_loss(labels: Any, logits: Any, weights: Any = 1.0, scope: Any = None,
               loss_collection: Optional[str] = LOSSES,
               reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> torch.Tensor:
    """``max(0, 1 - (2 y - 1) * logits)`` for 0/1 ``labels``, weighted and reduced."""
    fn = "hinge_loss"
    x, y = _float(logits, "logits", fn), _float(labels, "labels", fn)
    _check_same_shape(x, y, "logits and labels", fn)
    losses = torch.relu(1 - (2 * y - 1) * x)
    return compute_weighted_loss(losses, weights, scope, loss_collection, reduction)


def sigmoid_cross_entropy(multi_class_labels: Any, logits: Any, weights: Any = 1.0,
                          label_smoothing: float = 0, scope: Any = None,
                          loss_collection: Optional[str] = LOSSES,
                          reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> torch.Tensor:
    """Sigmoid cross-entropy; ``label_smoothing`` moves the labels towards 1/2."""
    fn = "sigmoid_cross_entropy"
    logits = _as_tensor(logits, "logits", fn)
    labels = _as_tensor(multi_class_labels, "multi_class_labels", fn).to(logits.dtype)
    if label_smoothing > 0:
        labels = labels * (1 - label_smoothing) + 0.5 * label_smoothing
    losses = _nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)
    return compute_weighted_loss(losses, weights, scope, loss_collection, reduction)


def softmax_cross_entropy(onehot_labels: Any, logits: Any, weights: Any = 1.0,
                          label_smoothing: float = 0, scope: Any = None,
                          loss_collection: Optional[str] = LOSSES,
                          reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> torch.Tensor:
    """Softmax cross-entropy with one-hot labels; ``label_smoothing`` moves them towards
    ``1 / num_classes``."""
    fn = "softmax_cross_entropy"
    logits = _as_tensor(logits, "logits", fn)
    labels = _as_tensor(onehot_labels, "onehot_labels", fn).to(logits.dtype)
    if label_smoothing > 0:
        labels = labels * (1.0 - label_smoothing) + label_smoothing / labels.shape[-1]
    losses = _nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    return compute_weighted_loss(losses, weights, scope, loss_collection, reduction)


def sparse_softmax_cross_entropy(labels: Any, logits: Any, weights: Any = 1.0, scope: Any = None,
                                 loss_collection: Optional[str] = LOSSES,
                                 reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS
                                 ) -> torch.Tensor:
    """Softmax cross-entropy with class-index ``labels`` of any integer dtype.

    A trailing size-1 dimension of ``labels`` (``[batch, 1]``) is squeezed, as in TF.
    """
    fn = "sparse_softmax_cross_entropy"
    logits = _as_tensor(logits, "logits", fn)
    labels = _as_tensor(labels, "labels", fn)
    if labels.dim() == logits.dim() and labels.shape[-1] == 1:
        labels = labels.squeeze(-1)
    w = weights
    if isinstance(w, torch.Tensor) and w.dim() == labels.dim() + 1 and w.shape[-1] == 1:
        w = w.squeeze(-1)
    losses = _nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    return compute_weighted_loss(losses, w, scope, loss_collection, reduction)


# -- the step's loss collections (TF's GraphKeys.LOSSES / REGULARIZATION_LOSSES) ----------------
def _collection(name: str) -> Optional[List[torch.Tensor]]:
    from estimator.scope import active_scope

    scope = active_scope()
    return None if scope is None else scope.collection(name)


def add_loss(loss: torch.Tensor, loss_collection: str = LOSSES) -> None:
    """Add ``loss`` to this step's ``loss_collection`` (a no-op outside a ``model_fn``)."""
    collection = _collection(loss_collection) if loss_collection else None
    if collection is not None:
        collection.append(loss)


def get_losses(scope: Any = None, loss_collection: str = LOSSES) -> List[torch.Tensor]:
    """The losses added in this ``model_fn`` call (by ``est.losses.*`` or ``add_loss``)."""
    return list(_collection(loss_collection) or [])


def get_regularization_losses(scope: Any = None) -> List[torch.Tensor]:
    """The regularization losses added in this call (``add_loss(l, "regularization_losses")``)."""
    return get_losses(loss_collection=REGULARIZATION_LOSSES)


def get_regularization_loss(scope: Any = None, name: str = "total_regularization_loss"
                            ) -> torch.Tensor:
    """The sum of :func:`get_regularization_losses` (0.0 when there are none)."""
    losses = get_regularization_losses()
    return torch.stack([l.reshape(()) for l in losses]).sum() if losses else torch.tensor(0.0)


def get_total_loss(add_regularization_losses: bool = True, name: str = "total_loss",
                   scope: Any = None) -> torch.Tensor:
    """The sum of this call's losses (and regularization losses), as ``tf.losses.get_total_loss``."""
    losses = get_losses()
    if add_regularization_losses:
        losses += get_regularization_losses()
    if not losses:
        raise ValueError("No losses found: call est.losses.* (or add_loss) before get_total_loss")
    return torch.stack([l.reshape(()) for l in losses]).sum()
