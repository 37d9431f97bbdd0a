"""``est.nn``: TF's per-example cross-entropies (``tf.nn.*_cross_entropy_with_logits``).

Each returns one loss per example (no reduction), accepts labels of any integer (sparse) or
numeric (dense) dtype, and takes ``name=`` so a hook can fetch the result by that name.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
import torch.nn.functional as F

from estimator._named import record

__all__ = ["sigmoid_cross_entropy_with_logits", "softmax_cross_entropy_with_logits",
           "softmax_cross_entropy_with_logits_v2", "sparse_softmax_cross_entropy_with_logits"]


def _tensor(value: Any, arg: str, fn: str) -> torch.Tensor:
    if value is None:
        raise ValueError(f"{fn}: argument `{arg}` must not be None")
    if isinstance(value, dict):
        raise TypeError(f"{fn}: `{arg}` is a dict (keys {sorted(value)}); pass one tensor")
    return value if isinstance(value, torch.Tensor) else torch.as_tensor(value)


def _logits(logits: Any, fn: str) -> torch.Tensor:
    logits = _tensor(logits, "logits", fn)
    if not logits.is_floating_point():
        raise TypeError(f"{fn}: logits must be a floating-point tensor, got {logits.dtype}")
    return logits


def sparse_softmax_cross_entropy_with_logits(_sentinel: Any = None, labels: Any = None,
                                             logits: Any = None, name: Optional[str] = None
                                             ) -> torch.Tensor:
    """Per-example softmax cross-entropy with class-index ``labels`` (shape ``logits[:-1]``).

    ``labels`` may have any integer dtype (int32, uint8, ...), as TF programs feed them.

    >>> import torch
    >>> sparse_softmax_cross_entropy_with_logits(
    ...     labels=torch.tensor([0], dtype=torch.int32), logits=torch.zeros(1, 2))
    tensor([0.6931])
    """
    fn = "sparse_softmax_cross_entropy_with_logits"
    _no_positional(_sentinel, fn)
    logits = _logits(logits, fn)
    labels = _tensor(labels, "labels", fn)
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise TypeError(f"{fn}: labels must be integer class indices, got {labels.dtype}")
    if tuple(labels.shape) != tuple(logits.shape[:-1]):
        raise ValueError(f"{fn}: labels of shape {tuple(labels.shape)} must have the shape of "
                         f"logits without its last dimension, {tuple(logits.shape[:-1])}")
    classes = logits.shape[-1]
    losses = F.cross_entropy(logits.reshape(-1, classes), labels.reshape(-1).long(),
                             reduction="none").reshape(labels.shape)
    record(losses, name)
    return losses


def softmax_cross_entropy_with_logits(_sentinel: Any = None, labels: Any = None,
                                      logits: Any = None, dim: int = -1,
                                      name: Optional[str] = None, axis: Optional[int] = None
                                      ) -> torch.Tensor:
    """Per-example softmax cross-entropy with a probability distribution ``labels``.

    As TF 1.x's ``tf.nn.softmax_cross_entropy_with_logits``, no gradient flows into ``labels``
    (use :func:`softmax_cross_entropy_with_logits_v2` for that).
    """
    return _softmax_xent(_sentinel, labels, logits, axis if axis is not None else dim, name,
                         "softmax_cross_entropy_with_logits", detach_labels=True)


def softmax_cross_entropy_with_logits_v2(_sentinel: Any = None, labels: Any = None,
                                         logits: Any = None, axis: Optional[int] = None,
                                         name: Optional[str] = None, dim: int = -1
                                         ) -> torch.Tensor:
    """As :func:`softmax_cross_entropy_with_logits`, with gradients into ``labels`` too."""
    return _softmax_xent(_sentinel, labels, logits, axis if axis is not None else dim, name,
                         "softmax_cross_entropy_with_logits_v2", detach_labels=False)


def _softmax_xent(sentinel: Any, labels: Any, logits: Any, axis: int, name: Optional[str],
                  fn: str, detach_labels: bool) -> torch.Tensor:
    _no_positional(sentinel, fn)
    logits = _logits(logits, fn)
    labels = _tensor(labels, "labels", fn).to(logits.dtype)
    if tuple(labels.shape) != tuple(logits.shape):
        raise ValueError(f"{fn}: labels of shape {tuple(labels.shape)} must have the shape of "
                         f"logits, {tuple(logits.shape)}")
    if detach_labels:
        labels = labels.detach()
    losses = -(labels * F.log_softmax(logits, dim=axis)).sum(dim=axis)
    record(losses, name)
    return losses


def sigmoid_cross_entropy_with_logits(_sentinel: Any = None, labels: Any = None,
                                      logits: Any = None, name: Optional[str] = None
                                      ) -> torch.Tensor:
    """Element-wise sigmoid cross-entropy: ``max(x, 0) - x * z + log(1 + exp(-|x|))``.

    >>> import torch
    >>> sigmoid_cross_entropy_with_logits(labels=torch.tensor([1]), logits=torch.tensor([0.0]))
    tensor([0.6931])
    """
    fn = "sigmoid_cross_entropy_with_logits"
    _no_positional(_sentinel, fn)
    logits = _logits(logits, fn)
    labels = _tensor(labels, "labels", fn).to(logits.dtype)
    if tuple(labels.shape) != tuple(logits.shape):
        raise ValueError(f"{fn}: labels and logits must have the same shape, got "
                         f"{tuple(labels.shape)} and {tuple(logits.shape)}")
    losses = F.binary_cross_entropy_with_logits(logits, labels, reduction="none")
    record(losses, name)
    return losses


def _no_positional(sentinel: Any, fn: str) -> None:
    if sentinel is not None:
        raise ValueError(f"{fn}: only call it with named arguments (labels=..., logits=...)")
