"""Heads: from logits to predictions, loss, metrics and the train op, as TF's canned heads.

A head turns the ``[batch, logits_dimension]`` logits of a premade estimator's network into an
``EstimatorSpec``. :class:`BinaryClassHead` (``n_classes == 2``; one logit, sigmoid
cross-entropy), :class:`MultiClassHead` (softmax cross-entropy) and :class:`RegressionHead`
(squared error) follow TF's ``binary_class_head``/``multi_class_head``/``regression_head``:
the same prediction keys, metric keys, label handling (``label_vocabulary``), example weights
(``weight_column``) and loss reductions.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F

from estimator import metrics
from estimator.canned.keys import MetricKeys, PredictionKeys
from estimator.feature_column._inputs import FeatureCache
from estimator.feature_column.numeric import NumericColumn, numeric_column
from estimator.spec import EstimatorSpec, ModeKeys

#: ``loss_reduction`` values: TF 2's ``ReductionV2`` and TF 1's ``tf.losses.Reduction`` names.
_REDUCTIONS = {
    "sum_over_batch_size": "sum_over_batch_size",
    "weighted_sum_over_batch_size": "sum_over_batch_size",
    "sum": "sum",
    "weighted_sum": "sum",
    "weighted_mean": "mean",
    "weighted_sum_by_nonzero_weights": "sum_by_nonzero_weights",
}
SUM_OVER_BATCH_SIZE = "sum_over_batch_size"

WeightColumn = Union[None, str, NumericColumn]


def check_loss_reduction(loss_reduction: Any, where: str) -> str:
    """The canonical name of ``loss_reduction`` (a string or an enum-like ``.value``)."""
    value = getattr(loss_reduction, "value", loss_reduction)
    if value not in _REDUCTIONS:
        raise ValueError(f"{where}: invalid loss_reduction {loss_reduction!r}; expected one of "
                         f"{sorted(_REDUCTIONS)} (NONE and AUTO are not valid for a head)")
    return _REDUCTIONS[value]


def _weight_column(weight_column: WeightColumn, where: str) -> Optional[NumericColumn]:
    if weight_column is None or isinstance(weight_column, NumericColumn):
        return weight_column
    if isinstance(weight_column, str):
        return numeric_column(weight_column)
    raise TypeError(f"{where}: weight_column must be a feature key (str) or a numeric_column, "
                    f"got {weight_column!r}")


def _check_range(x: torch.Tensor, low: float, high: float, message: str) -> None:
    """``low <= x <= high``; without a host sync on accelerators (an async device assert)."""
    if x.device.type == "cuda":
        torch._assert_async(((x >= low) & (x <= high)).all())
        return
    lo, hi = torch.aminmax(x)
    if lo.item() < low or hi.item() > high:
        bad = x[(x < low) | (x > high)].reshape(-1)[:5].tolist()
        raise ValueError(f"{message}; got {bad}")


class Head:
    """What the three heads share: example weights, loss reduction, the spec per mode."""

    logits_dimension: int

    def __init__(self, weight_column: WeightColumn, loss_reduction: Any, where: str) -> None:
        self.weight_column = _weight_column(weight_column, where)
        self.loss_reduction = check_loss_reduction(loss_reduction, where)
        self.where = where

    # -- per subclass -------------------------------------------------------------------------
    def predictions(self, logits: torch.Tensor, strings: bool) -> Dict[str, Any]:
        """The prediction dict; ``strings``: include the (host-side) string class names."""
        raise NotImplementedError

    def labels(self, labels: Any, logits: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def unweighted_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def metrics(self, predictions: Dict[str, Any], labels: torch.Tensor,
                unweighted_loss: torch.Tensor, weights: Optional[torch.Tensor]
                ) -> Dict[str, Any]:
        raise NotImplementedError

    # -- shared -------------------------------------------------------------------------------
    def weights(self, features: Mapping[str, Any], batch: int) -> Optional[torch.Tensor]:
        """``[batch, 1]`` example weights from ``weight_column``, or ``None``."""
        if self.weight_column is None:
            return None
        w = self.weight_column.dense(FeatureCache(features), {})
        if tuple(w.shape) != (batch, 1):
            raise ValueError(f"{self.where}: weight_column {self.weight_column.key!r} must give "
                             f"one weight per example, shape ({batch}, 1); got {tuple(w.shape)}")
        return w

    def mean_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The mean of the per-example losses (the unweighted mean reductions)."""
        return self.unweighted_loss(logits, labels).mean()

    def reduce(self, unweighted: torch.Tensor, weights: Optional[torch.Tensor]) -> torch.Tensor:
        """The training loss from the ``[batch, d]`` per-example losses, as TF reduces it."""
        if weights is None and self.loss_reduction in ("sum_over_batch_size", "mean"):
            return unweighted.mean()
        w = torch.ones_like(unweighted[:, :1]) if weights is None else weights
        total = (unweighted * w).sum()
        if self.loss_reduction == "sum":
            return total
        if self.loss_reduction == "sum_over_batch_size":
            return total / max(unweighted.numel(), 1)
        wide = w.expand_as(unweighted)
        if self.loss_reduction == "mean":
            return torch.where(wide.sum() > 0, total / wide.sum(), torch.zeros_like(total))
        nonzero = (wide != 0).sum()
        return torch.where(nonzero > 0, total / nonzero.clamp_min(1), torch.zeros_like(total))

    def create_estimator_spec(self, features: Mapping[str, Any], mode: str,
                              logits: torch.Tensor, labels: Any,
                              train_op_fn: Callable[[torch.Tensor], Any]) -> EstimatorSpec:
        """The ``EstimatorSpec`` for ``mode``; ``train_op_fn(loss)`` makes the train op."""
        if logits.dim() != 2 or logits.shape[1] != self.logits_dimension:
            raise ValueError(f"{self.where}: logits must have shape [batch, "
                             f"{self.logits_dimension}], got {tuple(logits.shape)}")
        if mode == ModeKeys.PREDICT:
            return EstimatorSpec(mode, predictions=self.predictions(logits, strings=True))
        if mode == ModeKeys.EVAL:  # class names (host-side strings) only for predict
            predictions = self.predictions(logits, strings=False)
        else:  # training fetches only the logits: the rest would cost a step for nothing
            predictions = {PredictionKeys.LOGITS: logits}
        if labels is None:
            raise ValueError(f"{self.where}: labels must be given in {mode} mode; input_fn "
                             "must return (features, labels)")
        label_values = self.labels(labels, logits)
        weights = self.weights(features, logits.shape[0])
        if (mode == ModeKeys.TRAIN and weights is None
                and self.loss_reduction in ("sum_over_batch_size", "mean")):
            loss = self.mean_loss(logits, label_values)  # no per-example losses to keep
        else:
            unweighted = self.unweighted_loss(logits, label_values)
            loss = self.reduce(unweighted, weights)
        if mode == ModeKeys.EVAL:
            with torch.no_grad():
                ops = self.metrics(predictions, label_values, unweighted, weights)
            return EstimatorSpec(mode, predictions=predictions, loss=loss, eval_metric_ops=ops)
        return EstimatorSpec(mode, predictions=predictions, loss=loss,
                             train_op=train_op_fn(loss))


def _class_strings(vocabulary: Optional[Sequence[str]], n: int) -> np.ndarray:
    names = vocabulary if vocabulary is not None else [str(i) for i in range(n)]
    out = np.empty(n, dtype=object)
    for i, name in enumerate(names):
        out[i] = name.encode("utf-8")
    return out


class _ClassHead(Head):
    def __init__(self, n_classes: int, weight_column: WeightColumn,
                 label_vocabulary: Optional[Sequence[str]], loss_reduction: Any,
                 where: str) -> None:
        super().__init__(weight_column, loss_reduction, where)
        if not isinstance(n_classes, int) or n_classes < 2:
            raise ValueError(f"{where}: n_classes must be an int > 1, got {n_classes!r}")
        if label_vocabulary is not None:
            if isinstance(label_vocabulary, (str, bytes)) or not all(
                    isinstance(v, str) for v in label_vocabulary):
                raise ValueError(f"{where}: label_vocabulary must be a list of strings, got "
                                 f"{label_vocabulary!r}")
            if len(label_vocabulary) != n_classes:
                raise ValueError(f"{where}: label_vocabulary has {len(label_vocabulary)} "
                                 f"entries but n_classes is {n_classes}")
            if len(set(label_vocabulary)) != n_classes:
                raise ValueError(f"{where}: label_vocabulary has duplicates: {label_vocabulary}")
        self.n_classes = n_classes
        self.label_vocabulary = None if label_vocabulary is None else list(label_vocabulary)
        self._strings = _class_strings(self.label_vocabulary, n_classes)
        self._ids = None if label_vocabulary is None else {
            v: i for i, v in enumerate(label_vocabulary)}

    def class_outputs(self, class_ids: torch.Tensor, strings: bool) -> Dict[str, Any]:
        batch = class_ids.shape[0]
        all_ids = torch.arange(self.n_classes, dtype=torch.int32, device=class_ids.device)
        out: Dict[str, Any] = {PredictionKeys.CLASS_IDS: class_ids,
               PredictionKeys.ALL_CLASS_IDS: all_ids.expand(batch, -1)}
        if strings:  # bytes, as TF's string tensors give them
            out[PredictionKeys.CLASSES] = self._strings[class_ids.detach().cpu().numpy()]
            out[PredictionKeys.ALL_CLASSES] = np.tile(self._strings, (batch, 1))
        return out

    def label_ids(self, labels: Any, batch: int, device: torch.device) -> torch.Tensor:
        """``[batch, 1]`` int64 class ids from ``labels`` (ids, or strings with a vocabulary)."""
        if self._ids is not None:
            if isinstance(labels, torch.Tensor):
                raise ValueError(f"{self.where}: with label_vocabulary the labels must be "
                                 f"strings, got a {labels.dtype} tensor")
            flat = np.asarray(labels, dtype=object).reshape(-1)
            ids = []
            for v in flat:
                s = v.decode("utf-8") if isinstance(v, bytes) else str(v)
                if s not in self._ids:
                    raise ValueError(f"{self.where}: label {s!r} is not in label_vocabulary "
                                     f"{self.label_vocabulary}")
                ids.append(self._ids[s])
            out = torch.tensor(ids, dtype=torch.int64, device=device)
        else:
            out = labels if isinstance(labels, torch.Tensor) else torch.as_tensor(np.asarray(labels))
            if not (out.dtype.is_floating_point or out.dtype in (
                    torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8, torch.bool)):
                raise ValueError(f"{self.where}: labels must be class ids (numbers) without "
                                 f"label_vocabulary; got dtype {out.dtype}")
            if out.device != device:
                out = out.to(device)
        if out.numel() != batch:
            raise ValueError(f"{self.where}: expected one label per example ({batch}), got "
                             f"labels of shape {tuple(out.shape)}")
        return out.reshape(batch, 1)


class BinaryClassHead(_ClassHead):
    """Two classes, one logit, sigmoid cross-entropy (TF's ``BinaryClassHead``)."""

    logits_dimension = 1

    def __init__(self, weight_column: WeightColumn = None,
                 label_vocabulary: Optional[Sequence[str]] = None,
                 loss_reduction: Any = SUM_OVER_BATCH_SIZE, where: str = "BinaryClassHead"
                 ) -> None:
        super().__init__(2, weight_column, label_vocabulary, loss_reduction, where)

    def predictions(self, logits: torch.Tensor, strings: bool) -> Dict[str, Any]:
        logistic = torch.sigmoid(logits)
        two = torch.cat([torch.zeros_like(logits), logits], 1)
        class_ids = two.argmax(1, keepdim=True)
        return {PredictionKeys.LOGITS: logits, PredictionKeys.LOGISTIC: logistic,
                PredictionKeys.PROBABILITIES: two.softmax(1),
                **self.class_outputs(class_ids, strings)}

    def labels(self, labels: Any, logits: torch.Tensor) -> torch.Tensor:
        ids = self.label_ids(labels, logits.shape[0], logits.device).float()
        if self._ids is None:
            _check_range(ids, 0, 1, f"{self.where}: labels must be in [0, 1] (n_classes=2)")
        return ids

    def unweighted_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(logits, labels, reduction="none")

    def mean_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(logits, labels)  # one kernel, the same mean

    def metrics(self, predictions: Dict[str, Any], labels: torch.Tensor,
                unweighted_loss: torch.Tensor, weights: Optional[torch.Tensor]
                ) -> Dict[str, Any]:
        class_ids = predictions[PredictionKeys.CLASS_IDS]
        logistic = predictions[PredictionKeys.LOGISTIC]
        label_mean = metrics.mean(labels, weights, name=MetricKeys.LABEL_MEAN)
        baseline = torch.maximum(label_mean[0], 1 - label_mean[0])
        return {
            MetricKeys.ACCURACY: metrics.accuracy(labels, class_ids, weights,
                                                  name=MetricKeys.ACCURACY),
            MetricKeys.ACCURACY_BASELINE: (baseline, baseline),
            MetricKeys.AUC: metrics.auc(labels, logistic, weights, name=MetricKeys.AUC),
            MetricKeys.AUC_PR: metrics.auc(labels, logistic, weights, curve="PR",
                                           summation_method="careful_interpolation",
                                           name=MetricKeys.AUC_PR),
            MetricKeys.LOSS_MEAN: metrics.mean(unweighted_loss, weights,
                                               name=MetricKeys.LOSS_MEAN),
            MetricKeys.LABEL_MEAN: label_mean,
            MetricKeys.PRECISION: metrics.precision(labels, class_ids, weights,
                                                    name=MetricKeys.PRECISION),
            MetricKeys.PREDICTION_MEAN: metrics.mean(logistic, weights,
                                                     name=MetricKeys.PREDICTION_MEAN),
            MetricKeys.RECALL: metrics.recall(labels, class_ids, weights,
                                              name=MetricKeys.RECALL),
        }


class MultiClassHead(_ClassHead):
    """``n_classes > 2``, softmax cross-entropy (TF's ``MultiClassHead``)."""

    def __init__(self, n_classes: int, weight_column: WeightColumn = None,
                 label_vocabulary: Optional[Sequence[str]] = None,
                 loss_reduction: Any = SUM_OVER_BATCH_SIZE, where: str = "MultiClassHead"
                 ) -> None:
        super().__init__(n_classes, weight_column, label_vocabulary, loss_reduction, where)
        self.logits_dimension = n_classes

    def predictions(self, logits: torch.Tensor, strings: bool) -> Dict[str, Any]:
        class_ids = logits.argmax(1, keepdim=True)
        return {PredictionKeys.LOGITS: logits, PredictionKeys.PROBABILITIES: logits.softmax(1),
                **self.class_outputs(class_ids, strings)}

    def labels(self, labels: Any, logits: torch.Tensor) -> torch.Tensor:
        ids = self.label_ids(labels, logits.shape[0], logits.device)
        if self._ids is None:
            if ids.dtype.is_floating_point:
                raise ValueError(f"{self.where}: labels must be integer class ids, got "
                                 f"{ids.dtype}")
            _check_range(ids, 0, self.n_classes - 1,
                         f"{self.where}: labels must be in [0, {self.n_classes})")
        return ids.long()

    def unweighted_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, labels.reshape(-1), reduction="none").unsqueeze(1)

    def metrics(self, predictions: Dict[str, Any], labels: torch.Tensor,
                unweighted_loss: torch.Tensor, weights: Optional[torch.Tensor]
                ) -> Dict[str, Any]:
        return {
            MetricKeys.ACCURACY: metrics.accuracy(labels, predictions[PredictionKeys.CLASS_IDS],
                                                  weights, name=MetricKeys.ACCURACY),
            MetricKeys.LOSS_MEAN: metrics.mean(unweighted_loss, weights,
                                               name=MetricKeys.LOSS_MEAN),
        }


class RegressionHead(Head):
    """``label_dimension`` real targets, squared error (TF's ``RegressionHead``)."""

    def __init__(self, label_dimension: int = 1, weight_column: WeightColumn = None,
                 loss_reduction: Any = SUM_OVER_BATCH_SIZE, where: str = "RegressionHead"
                 ) -> None:
        super().__init__(weight_column, loss_reduction, where)
        if not isinstance(label_dimension, int) or label_dimension < 1:
            raise ValueError(f"{where}: label_dimension must be a positive int, got "
                             f"{label_dimension!r}")
        self.logits_dimension = label_dimension

    def predictions(self, logits: torch.Tensor, strings: bool) -> Dict[str, Any]:
        return {PredictionKeys.PREDICTIONS: logits}

    def labels(self, labels: Any, logits: torch.Tensor) -> torch.Tensor:
        y = labels if isinstance(labels, torch.Tensor) else torch.as_tensor(np.asarray(labels))
        if not (y.dtype.is_floating_point or y.dtype in (torch.int64, torch.int32)):
            raise ValueError(f"{self.where}: labels must be numbers, got dtype {y.dtype}")
        if y.numel() != logits.numel():
            raise ValueError(f"{self.where}: expected labels of shape [batch, "
                             f"{self.logits_dimension}] = {tuple(logits.shape)}, got "
                             f"{tuple(y.shape)}")
        return y.to(logits.device, torch.float32).reshape(logits.shape)

    def unweighted_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return (logits - labels).square()

    def metrics(self, predictions: Dict[str, Any], labels: torch.Tensor,
                unweighted_loss: torch.Tensor, weights: Optional[torch.Tensor]
                ) -> Dict[str, Any]:
        w = None if weights is None else weights.expand_as(labels)
        return {
            MetricKeys.LOSS_MEAN: metrics.mean(unweighted_loss, w, name=MetricKeys.LOSS_MEAN),
            MetricKeys.LABEL_MEAN: metrics.mean(labels, w, name=MetricKeys.LABEL_MEAN),
            MetricKeys.PREDICTION_MEAN: metrics.mean(predictions[PredictionKeys.PREDICTIONS], w,
                                                     name=MetricKeys.PREDICTION_MEAN),
        }


def classification_head(n_classes: int, weight_column: WeightColumn,
                        label_vocabulary: Optional[Sequence[str]], loss_reduction: Any,
                        where: str) -> _ClassHead:
    """The binary head for ``n_classes == 2``, else the multi-class head (as TF chooses)."""
    if n_classes == 2:
        return BinaryClassHead(weight_column, label_vocabulary, loss_reduction, where)
    return MultiClassHead(n_classes, weight_column, label_vocabulary, loss_reduction, where)
