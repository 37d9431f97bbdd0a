"""Streaming evaluation metrics: ``est.metrics``, named and computed as TF 1.x's ``tf.metrics``.

Two ways to use them:

* Inside ``model_fn``, the TF-named functions (``accuracy``, ``mean``, ``precision``, ``recall``,
  ``auc``, ``mean_squared_error``, ``root_mean_squared_error``, ``mean_absolute_error``). Each
  call finds its metric in the active model scope (created on the first call, named like TF:
  ``accuracy``, ``accuracy_1``, ... or ``name=``), adds the batch to it and returns a
  :class:`MetricOp` ``(value, update_op)``.
* Anywhere, the classes (:class:`Accuracy`, :class:`Mean`, ...): ``update`` / ``compute`` /
  ``reset``, torchmetrics-style; ``eval_metric_ops`` accepts them (``model_fn`` then updates
  them) as well as the ``MetricOp`` that the functions return.

``value`` versus ``update_op``: in a TF graph ``value`` reads the metric's variables whenever it
runs (in ``Estimator.evaluate``, after the last update) and ``update_op`` adds the batch and
returns the new value. Here ``model_fn`` runs once per batch, so the function adds the batch and
**both** elements hold the running value including this batch: ``accuracy[1]`` in a summary is
the running accuracy, and the ``value`` of the last evaluation batch is what ``evaluate`` reports.

State tensors live on the model's device; ``update`` and ``compute`` never read a value back to
the host (no ``.item()``, no branching on tensor values, no boolean-mask indexing), so a metric
costs a few small kernels per step and no synchronisation. All state is summed across replicas,
so a distributed all-reduce is ``metric.sync(torch.distributed.all_reduce)``.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Type

import torch

from estimator.metrics._auc import AUC
from estimator.metrics._base import DeviceLike, Metric, TensorLike, _div_no_nan
from estimator.scope import current_scope

__all__ = [
    "AUC",
    "Accuracy",
    "Mean",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "Metric",
    "MetricOp",
    "Precision",
    "Recall",
    "RootMeanSquaredError",
    "accuracy",
    "auc",
    "mean",
    "mean_absolute_error",
    "mean_squared_error",
    "precision",
    "recall",
    "root_mean_squared_error",
]


class Mean(Metric):
    """The weighted mean of ``values`` (TF ``tf.metrics.mean``): ``sum(w * v) / sum(w)``.

    >>> m = Mean()
    >>> m.update(torch.tensor([1.0, 3.0]), weights=torch.tensor([1.0, 0.0]))
    >>> float(m.compute())
    1.0
    """

    tf_name = "mean"

    def __init__(self, device: DeviceLike = None) -> None:
        super().__init__(device)
        self.add_state("total")
        self.add_state("count")

    def update(
        self, values: TensorLike, weights: Optional[TensorLike] = None
    ) -> None:
        """Add ``values`` (any shape) with optional ``weights`` broadcastable to them."""
        super().update(values, weights)

    def _update(self, values: TensorLike, weights: Optional[TensorLike]) -> None:
        values, _, w = self._inputs(values, weights, pred_arg="values")
        self._add(values, w)

    def _add(self, values: torch.Tensor, weights: Optional[torch.Tensor]) -> None:
        dtype = self.total.dtype
        values = values.to(dtype)
        if weights is None:
            self.total.add_(values.sum())
            self.count.add_(values.numel())
        else:
            weights = weights.to(dtype).expand_as(values)
            self.total.add_((values * weights).sum())
            self.count.add_(weights.sum())

    def _compute(self) -> torch.Tensor:
        # TF: div_no_nan(total, maximum(count, 0)) -- a negative total weight reads as 0.
        return _div_no_nan(self.total, self.count.clamp_min(0))


class _PairMean(Mean):
    """A weighted mean of an element-wise function of ``(labels, predictions)``."""

    def update(  # type: ignore[override]
        self, labels: TensorLike, predictions: TensorLike, weights: Optional[TensorLike] = None
    ) -> None:
        """Add a batch: ``labels`` and ``predictions`` of the same shape, optional ``weights``."""
        Metric.update(self, labels, predictions, weights)

    def _update(  # type: ignore[override]
        self, labels: TensorLike, predictions: TensorLike, weights: Optional[TensorLike]
    ) -> None:
        predictions, given, w = self._inputs(predictions, weights, labels)
        assert given is not None  # _inputs converts the labels it is given
        self._add(self._values(given, predictions), w)

    def _values(self, labels: torch.Tensor, predictions: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class Accuracy(_PairMean):
    """How often ``predictions`` equals ``labels`` (TF casts predictions to the labels' dtype).

    >>> m = Accuracy()
    >>> m.update(labels=torch.tensor([0, 2, 3]), predictions=torch.tensor([1, 2, 3]))
    >>> round(float(m.compute()), 4)
    0.6667
    """

    tf_name = "accuracy"

    def _values(self, labels: torch.Tensor, predictions: torch.Tensor) -> torch.Tensor:
        return predictions.to(labels.dtype) == labels


class MeanSquaredError(_PairMean):
    """The weighted mean of ``(labels - predictions) ** 2``."""

    tf_name = "mean_squared_error"

    def _values(self, labels: torch.Tensor, predictions: torch.Tensor) -> torch.Tensor:
        dtype = self.total.dtype
        return (labels.to(dtype) - predictions.to(dtype)).square()


class RootMeanSquaredError(MeanSquaredError):
    """The square root of the streaming :class:`MeanSquaredError`."""

    tf_name = "root_mean_squared_error"

    def _compute(self) -> torch.Tensor:
        return super()._compute().sqrt()


class MeanAbsoluteError(_PairMean):
    """The weighted mean of ``|labels - predictions|``."""

    tf_name = "mean_absolute_error"

    def _values(self, labels: torch.Tensor, predictions: torch.Tensor) -> torch.Tensor:
        dtype = self.total.dtype
        return (labels.to(dtype) - predictions.to(dtype)).abs()


class _BinaryCounts(Metric):
    """Weighted true positives and one other count of bool-cast labels and predictions."""

    _other: str  # the name of the second count, set by each subclass

    def __init__(self, device: DeviceLike = None) -> None:
        super().__init__(device)
        self.add_state("true_positives")
        self.add_state(self._other)

    def update(
        self, labels: TensorLike, predictions: TensorLike, weights: Optional[TensorLike] = None
    ) -> None:
        """Add a batch; ``labels`` and ``predictions`` are cast to bool (nonzero is positive)."""
        super().update(labels, predictions, weights)

    def _update(
        self, labels: TensorLike, predictions: TensorLike, weights: Optional[TensorLike]
    ) -> None:
        predictions, given, w = self._inputs(predictions, weights, labels)
        assert given is not None  # _inputs converts the labels it is given
        dtype = self.true_positives.dtype
        pred, lab = predictions.to(torch.bool), given.to(torch.bool)
        tp = (lab & pred).to(dtype)
        other = self._other_mask(lab, pred).to(dtype)
        if w is not None:
            w = w.to(dtype)
            tp, other = tp * w, other * w
        self.true_positives.add_(tp.sum())
        self._states[self._other].add_(other.sum())

    def _other_mask(self, lab: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _compute(self) -> torch.Tensor:
        tp = self.true_positives
        return _div_no_nan(tp, tp + self._states[self._other])


class Precision(_BinaryCounts):
    """``tp / (tp + fp)`` of bool-cast labels and predictions; 0 when nothing is predicted positive.

    >>> m = Precision()
    >>> m.update(labels=torch.tensor([1, 0, 1]), predictions=torch.tensor([1, 1, 0]))
    >>> float(m.compute())
    0.5
    """

    tf_name = "precision"
    _other = "false_positives"

    def _other_mask(self, lab: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
        return pred & ~lab


class Recall(_BinaryCounts):
    """``tp / (tp + fn)`` of bool-cast labels and predictions; 0 when there are no positives."""

    tf_name = "recall"
    _other = "false_negatives"

    def _other_mask(self, lab: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
        return lab & ~pred

class MetricOp(tuple):
    """``(value, update_op)`` as TF returns it, plus the :class:`Metric` behind it as ``.metric``.

    Both elements are the running value including the latest batch (0-d tensors on the model's
    device); ``eval_metric_ops`` values may be a ``MetricOp`` and the Estimator reads ``.metric``.
    """

    metric: Metric

    def __new__(cls, value: torch.Tensor, update_op: torch.Tensor, metric: Metric) -> "MetricOp":
        op = super().__new__(cls, (value, update_op))
        op.metric = metric
        return op

    @property
    def value(self) -> torch.Tensor:
        return self[0]

    @property
    def update_op(self) -> torch.Tensor:
        return self[1]


def _current_scope(fn_name: str, cls: Type[Metric]) -> Any:
    try:
        return current_scope()
    except RuntimeError as err:
        raise RuntimeError(
            f"est.metrics.{fn_name}() must be called inside a model_fn run by an Estimator, which "
            f"keeps its state across batches. Outside one, use the metric object: "
            f"m = est.metrics.{cls.__name__}(); m.update(...); m.compute()."
        ) from err


def _streaming(
    fn_name: str, name: Optional[str], cls: Type[Metric], config: Dict[str, Any], *args: Any
) -> MetricOp:
    scope = _current_scope(fn_name, cls)
    metric = scope.get_or_create_metric(name or fn_name, lambda: cls(device=scope.device, **config))
    label = f"est.metrics.{fn_name}(name={name or fn_name!r})"
    if type(metric) is not cls:
        raise ValueError(
            f"{label}: that name already holds a {type(metric).__name__} in this model_fn; "
            f"give each metric its own `name=`."
        )
    created, wanted = metric.config(), cls.settings(**config)
    if created != wanted:
        diff = ", ".join(
            f"{k}={wanted[k]!r} (was {created[k]!r})" for k in created if created[k] != wanted[k]
        )
        raise ValueError(
            f"{label}: the metric was created on an earlier call with other settings; this call "
            f"passes {diff}. Give each configuration its own `name=`."
        )
    metric.update(*args)
    value = metric.compute()
    return MetricOp(value, value, metric)


def mean(
    values: TensorLike, weights: Optional[TensorLike] = None, name: Optional[str] = None
) -> MetricOp:
    """Streaming weighted mean of ``values`` (``tf.metrics.mean``): ``(value, update_op)``."""
    return _streaming("mean", name, Mean, {}, values, weights)


def accuracy(
    labels: TensorLike,
    predictions: TensorLike,
    weights: Optional[TensorLike] = None,
    name: Optional[str] = None,
) -> MetricOp:
    """Streaming accuracy (``tf.metrics.accuracy``); ``accuracy(...)[1]`` is the running value.

    >>> # inside model_fn:
    >>> # acc = est.metrics.accuracy(labels=labels, predictions=logits.argmax(1))
    >>> # est.summary.scalar("accuracy", acc[1])
    """
    return _streaming("accuracy", name, Accuracy, {}, labels, predictions, weights)


def precision(
    labels: TensorLike,
    predictions: TensorLike,
    weights: Optional[TensorLike] = None,
    name: Optional[str] = None,
) -> MetricOp:
    """Streaming binary precision of bool-cast labels and predictions (``tf.metrics.precision``)."""
    return _streaming("precision", name, Precision, {}, labels, predictions, weights)


def recall(
    labels: TensorLike,
    predictions: TensorLike,
    weights: Optional[TensorLike] = None,
    name: Optional[str] = None,
) -> MetricOp:
    """Streaming binary recall of bool-cast labels and predictions (``tf.metrics.recall``)."""
    return _streaming("recall", name, Recall, {}, labels, predictions, weights)


def auc(
    labels: TensorLike,
    predictions: TensorLike,
    weights: Optional[TensorLike] = None,
    num_thresholds: int = 200,
    curve: str = "ROC",
    name: Optional[str] = None,
    summation_method: str = "trapezoidal",
    thresholds: Optional[Sequence[float]] = None,
) -> MetricOp:
    """Streaming ROC or PR AUC over fixed thresholds (``tf.metrics.auc``); see :class:`AUC`."""
    config = {
        "num_thresholds": num_thresholds,
        "curve": curve,
        "summation_method": summation_method,
        "thresholds": thresholds,
    }
    return _streaming("auc", name, AUC, config, labels, predictions, weights)


def mean_squared_error(
    labels: TensorLike,
    predictions: TensorLike,
    weights: Optional[TensorLike] = None,
    name: Optional[str] = None,
) -> MetricOp:
    """Streaming weighted mean of squared errors (``tf.metrics.mean_squared_error``)."""
    return _streaming(
        "mean_squared_error", name, MeanSquaredError, {}, labels, predictions, weights
    )


def root_mean_squared_error(
    labels: TensorLike,
    predictions: TensorLike,
    weights: Optional[TensorLike] = None,
    name: Optional[str] = None,
) -> MetricOp:
    """Square root of the streaming mean squared error (``tf.metrics.root_mean_squared_error``)."""
    return _streaming(
        "root_mean_squared_error", name, RootMeanSquaredError, {}, labels, predictions, weights
    )


def mean_absolute_error(
    labels: TensorLike,
    predictions: TensorLike,
    weights: Optional[TensorLike] = None,
    name: Optional[str] = None,
) -> MetricOp:
    """Streaming weighted mean of absolute errors (``tf.metrics.mean_absolute_error``)."""
    return _streaming(
        "mean_absolute_error", name, MeanAbsoluteError, {}, labels, predictions, weights
    )
