"""``est.metrics.AUC``: TF 1.x's ``tf.metrics.auc`` over fixed thresholds.

The thresholds, the bucketed confusion counts, and the summation rules (trapezoidal, minoring,
majoring, and TF's careful interpolation of the PR curve) follow TF's ``compute_auc``.
"""

from __future__ import annotations

import logging
import numbers
from typing import Any, Dict, Optional, Sequence, Union

import torch

from estimator.metrics._base import DeviceLike, Metric, TensorLike, _div_no_nan

# The warning is part of est.metrics' behaviour, so it keeps that module's logger name.
_log = logging.getLogger("estimator.metrics")

_AUC_CURVES = ("ROC", "PR")
_AUC_SUMMATIONS = ("trapezoidal", "careful_interpolation", "minoring", "majoring")
_KEPSILON = 1e-7  # TF's endpoint offset: thresholds start at -1e-7 and end at 1 + 1e-7
_EPSILON = 1e-6  # TF's smoothing of recall and precision in compute_auc


class AUC(Metric):
    """Area under the ROC or PR curve over fixed thresholds, TF 1.x's ``tf.metrics.auc``.

    ``predictions`` are probabilities in ``[0, 1]``; ``labels`` are cast to bool. The thresholds are
    ``[-1e-7, 1/(n-1), ..., (n-2)/(n-1), 1 + 1e-7]`` (or ``thresholds`` plus both endpoints) and a
    prediction counts as positive at a threshold it is strictly greater than, exactly as in TF.
    The state is a weighted histogram of predictions between thresholds, so an update is one
    ``bucketize`` and two ``scatter_add_`` whatever ``num_thresholds`` is.

    TF asserts that predictions lie in ``[0, 1]``; checking per batch would cost a host sync, so
    here a prediction outside ``[0, 1]`` (or NaN) makes the result NaN instead (a common cause:
    passing logits instead of probabilities).

    >>> m = AUC()
    >>> m.update(labels=torch.tensor([0, 0, 1, 1]), predictions=torch.tensor([0.1, 0.4, 0.35, 0.8]))
    >>> round(float(m.compute()), 2)
    0.75
    """

    tf_name = "auc"

    def __init__(
        self,
        num_thresholds: int = 200,
        curve: str = "ROC",
        summation_method: str = "trapezoidal",
        thresholds: Optional[Sequence[float]] = None,
        device: DeviceLike = None,
    ) -> None:
        super().__init__(device)
        self._settings = self.settings(
            num_thresholds=num_thresholds,
            curve=curve,
            summation_method=summation_method,
            thresholds=thresholds,
        )
        self.num_thresholds: int = self._settings["num_thresholds"]
        self.curve: str = curve
        self.summation_method: str = summation_method
        if thresholds is not None:
            inner = list(self._settings["thresholds"])
        else:
            n = self.num_thresholds
            inner = [(i + 1) * 1.0 / (n - 1) for i in range(n - 2)]
        if curve == "PR" and summation_method == "trapezoidal":
            _log.warning(
                "Trapezoidal rule is known to produce incorrect PR-AUCs; please switch to "
                '"careful_interpolation" instead.'
            )
        # float32 like TF, which compares float32 predictions with float32 threshold constants.
        self._thresholds_cpu = torch.tensor(
            [0.0 - _KEPSILON] + inner + [1.0 + _KEPSILON], dtype=torch.float32
        )
        self._thresholds = self._thresholds_cpu.to(self._device)
        # Bucket k holds the weight of predictions strictly above exactly k thresholds.
        self.add_state("positive_weights", (self.num_thresholds + 1,))
        self.add_state("negative_weights", (self.num_thresholds + 1,))
        self.add_state("out_of_range")

    @classmethod
    def settings(  # type: ignore[override]
        cls,
        num_thresholds: int = 200,
        curve: str = "ROC",
        summation_method: str = "trapezoidal",
        thresholds: Optional[Sequence[float]] = None,
    ) -> Dict[str, Any]:
        if curve not in _AUC_CURVES:
            raise ValueError(f"auc: `curve` must be 'ROC' or 'PR', got {curve!r}.")
        if summation_method not in _AUC_SUMMATIONS:
            raise ValueError(
                f"auc: `summation_method` must be one of {_AUC_SUMMATIONS}, "
                f"got {summation_method!r}."
            )
        if thresholds is not None:
            given = tuple(sorted(float(t) for t in thresholds))
            num_thresholds = len(given) + 2  # TF ignores num_thresholds when thresholds are given
        else:
            given = None
            if (
                isinstance(num_thresholds, bool)
                or not isinstance(num_thresholds, numbers.Integral)
                or num_thresholds < 2
            ):
                raise ValueError(
                    f"auc: `num_thresholds` must be an int >= 2, got {num_thresholds!r}."
                )
            num_thresholds = int(num_thresholds)
        return {
            "num_thresholds": num_thresholds,
            "curve": curve,
            "summation_method": summation_method,
            "thresholds": given,
        }

    @property
    def thresholds(self) -> torch.Tensor:
        """The float32 thresholds, endpoints included (on the CPU)."""
        return self._thresholds_cpu.clone()

    def config(self) -> Dict[str, Any]:
        return dict(self._settings)

    def to(self, device: Union[torch.device, str]) -> "AUC":
        super().to(device)
        self._thresholds = self._thresholds_cpu.to(self._device)
        return self

    def update(
        self, labels: TensorLike, predictions: TensorLike, weights: Optional[TensorLike] = None
    ) -> None:
        """Add a batch of bool-cast ``labels`` and probabilities ``predictions``."""
        super().update(labels, predictions, weights)

    def _update(
        self, labels: TensorLike, predictions: TensorLike, weights: Optional[TensorLike]
    ) -> None:
        predictions, given, w = self._inputs(predictions, weights, labels)
        assert given is not None  # _inputs converts the labels it is given
        dtype = self.positive_weights.dtype
        pred = predictions.to(torch.float32).reshape(-1).contiguous()  # bucketize wants it
        positive = given.to(torch.bool).reshape(-1)
        if w is None:
            w = torch.ones(pred.shape, dtype=dtype, device=self._device)
        else:
            w = w.to(dtype).expand_as(predictions).reshape(-1)
        bucket = torch.bucketize(pred, self._thresholds)  # = number of thresholds < pred
        self.positive_weights.scatter_add_(0, bucket, w * positive)
        self.negative_weights.scatter_add_(0, bucket, w * ~positive)
        bad = (pred < 0) | (pred > 1) | pred.isnan()
        self.out_of_range.add_(bad.sum())

    def confusion(self) -> Dict[str, torch.Tensor]:
        """Weighted ``tp``, ``fn``, ``tn``, ``fp`` at each threshold (TF's local variables)."""
        pos, neg = self.positive_weights, self.negative_weights
        # At threshold i, buckets k > i are predicted positive.
        return {
            "tp": pos.flip(0).cumsum(0).flip(0)[1:],
            "fn": pos.cumsum(0)[:-1],
            "tn": neg.cumsum(0)[:-1],
            "fp": neg.flip(0).cumsum(0).flip(0)[1:],
        }

    def _compute(self) -> torch.Tensor:
        c = self.confusion()
        tp, fn, tn, fp = c["tp"], c["fn"], c["tn"], c["fp"]
        if self.curve == "PR" and self.summation_method == "careful_interpolation":
            value = _interpolate_pr_auc(tp, fp, fn)
        else:
            rec = (tp + _EPSILON) / (tp + fn + _EPSILON)
            if self.curve == "ROC":
                x, y = fp / (fp + tn + _EPSILON), rec
            else:
                x, y = rec, (tp + _EPSILON) / (tp + fp + _EPSILON)
            dx = x[:-1] - x[1:]
            if self.summation_method == "minoring":
                height = torch.minimum(y[:-1], y[1:])
            elif self.summation_method == "majoring":
                height = torch.maximum(y[:-1], y[1:])
            else:
                height = (y[:-1] + y[1:]) / 2.0
            value = (dx * height).sum()
        return torch.where(self.out_of_range > 0, torch.full_like(value, float("nan")), value)


def _interpolate_pr_auc(tp: torch.Tensor, fp: torch.Tensor, fn: torch.Tensor) -> torch.Tensor:
    """TF's closed-form PR-AUC interpolation (Davis & Goadrich 2006) between thresholds."""
    dtp = tp[:-1] - tp[1:]
    p = tp + fp
    slope = _div_no_nan(dtp, (p[:-1] - p[1:]).clamp_min(0))
    intercept = tp[1:] - slope * p[1:]
    both = (p[:-1] > 0) & (p[1:] > 0)
    ratio = torch.where(both, _div_no_nan(p[:-1], p[1:].clamp_min(0)), torch.ones_like(p[1:]))
    return _div_no_nan(
        slope * (dtp + intercept * ratio.log()), (tp[1:] + fn[1:]).clamp_min(0)
    ).sum()
