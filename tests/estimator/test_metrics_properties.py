"""Every est.metrics class, streamed over random batches, against a numpy reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from estimator import metrics

PROPERTY = settings(max_examples=40, deadline=None)


# ---------------------------------------------------------------- random streamed batches


def _weights(
    rng: np.random.Generator, n: int, kind: str, trailing: int
) -> np.ndarray | float | None:
    """Weights in one of TF's accepted forms, with some exact zeros (masking)."""
    if kind == "none":
        return None
    if kind == "scalar":
        return float(rng.choice([0.0, 0.5, 2.0]))
    w = rng.uniform(0.0, 2.0, size=n) * (rng.uniform(size=n) > 0.2)
    if kind == "per_example":
        return w  # shape [n]; expanded to [n, 1] when the values have a trailing dimension
    return w.reshape(n, 1) if trailing else w.reshape(n)  # kind == "column"


def _dense_weights(w: np.ndarray | float | None, shape: tuple) -> np.ndarray:
    if w is None:
        return np.ones(shape)
    w = np.asarray(w, dtype=np.float64)
    if w.ndim == 1 and len(shape) == 2:
        w = w[:, None]
    return np.broadcast_to(w, shape)


def _div_no_nan(num: float, den: float) -> float:
    return 0.0 if den <= 0 else num / den


batches_args = dict(
    seed=st.integers(0, 2**32 - 1),
    sizes=st.lists(st.integers(0, 12), min_size=1, max_size=4),
    weight_kind=st.sampled_from(["none", "scalar", "per_example", "column"]),
    trailing=st.sampled_from([0, 3]),
)


def _stream(metric, batches):
    for labels, predictions, weights in batches:
        metric.update(labels, predictions, weights)
    return float(metric.compute())


def _concat(batches, trailing):
    labels = np.concatenate([b[0] for b in batches])
    predictions = np.concatenate([b[1] for b in batches])
    w = np.concatenate([_dense_weights(b[2], np.shape(b[1])) for b in batches])
    return labels, predictions, w


def _make_batches(seed, sizes, weight_kind, trailing, draw):
    rng = np.random.default_rng(seed)
    batches = []
    for n in sizes:
        shape = (n, trailing) if trailing else (n,)
        labels, predictions = draw(rng, shape)
        batches.append((labels, predictions, _weights(rng, n, weight_kind, trailing)))
    return batches


# ---------------------------------------------------------------- means of element-wise values


def _classes(rng, shape):
    return rng.integers(0, 3, size=shape), rng.integers(0, 3, size=shape)


def _reals(rng, shape):
    return rng.normal(size=shape).astype(np.float32), rng.normal(size=shape).astype(np.float32)


@PROPERTY
@given(**batches_args)
def test_accuracy_streamed_equals_numpy_on_concatenation(seed, sizes, weight_kind, trailing):
    batches = _make_batches(seed, sizes, weight_kind, trailing, _classes)
    labels, predictions, w = _concat(batches, trailing)
    expected = _div_no_nan(np.sum(w * (labels == predictions)), np.sum(w))
    assert _stream(metrics.Accuracy(), batches) == pytest.approx(expected, rel=1e-6, abs=1e-7)


@PROPERTY
@given(**batches_args)
def test_mean_squared_error_streamed_equals_numpy(seed, sizes, weight_kind, trailing):
    batches = _make_batches(seed, sizes, weight_kind, trailing, _reals)
    labels, predictions, w = _concat(batches, trailing)
    sq = (labels.astype(np.float64) - predictions.astype(np.float64)) ** 2
    expected = _div_no_nan(np.sum(w * sq), np.sum(w))
    assert _stream(metrics.MeanSquaredError(), batches) == pytest.approx(
        expected, rel=1e-6, abs=1e-7
    )
    assert _stream(metrics.RootMeanSquaredError(), batches) == pytest.approx(
        np.sqrt(expected), rel=1e-6, abs=1e-7
    )


@PROPERTY
@given(**batches_args)
def test_mean_absolute_error_streamed_equals_numpy(seed, sizes, weight_kind, trailing):
    batches = _make_batches(seed, sizes, weight_kind, trailing, _reals)
    labels, predictions, w = _concat(batches, trailing)
    ab = np.abs(labels.astype(np.float64) - predictions.astype(np.float64))
    expected = _div_no_nan(np.sum(w * ab), np.sum(w))
    assert _stream(metrics.MeanAbsoluteError(), batches) == pytest.approx(
        expected, rel=1e-6, abs=1e-7
    )


@PROPERTY
@given(**batches_args)
def test_mean_streamed_equals_numpy(seed, sizes, weight_kind, trailing):
    batches = _make_batches(seed, sizes, weight_kind, trailing, _reals)
    metric = metrics.Mean()
    for _, values, weights in batches:
        metric.update(torch.from_numpy(values), weights)
    _, values, w = _concat(batches, trailing)
    expected = _div_no_nan(np.sum(w * values.astype(np.float64)), np.sum(w))
    assert float(metric.compute()) == pytest.approx(expected, rel=1e-6, abs=1e-7)


# ---------------------------------------------------------------- precision / recall


def _binary(rng, shape):
    labels = rng.integers(0, 2, size=shape)
    # Predictions are cast to bool as in TF: any nonzero value (0.3, -1.0) is a positive.
    predictions = rng.choice([0.0, 0.0, 0.3, 1.0, -1.0], size=shape).astype(np.float32)
    return labels, predictions


@PROPERTY
@given(**batches_args)
def test_precision_and_recall_streamed_equal_numpy(seed, sizes, weight_kind, trailing):
    batches = _make_batches(seed, sizes, weight_kind, trailing, _binary)
    labels, predictions, w = _concat(batches, trailing)
    lab, pred = labels != 0, predictions != 0
    tp, fp, fn = np.sum(w * (lab & pred)), np.sum(w * (~lab & pred)), np.sum(w * (lab & ~pred))
    assert _stream(metrics.Precision(), batches) == pytest.approx(
        _div_no_nan(tp, tp + fp), rel=1e-6, abs=1e-7
    )
    assert _stream(metrics.Recall(), batches) == pytest.approx(
        _div_no_nan(tp, tp + fn), rel=1e-6, abs=1e-7
    )


# ---------------------------------------------------------------- AUC


def _tf_thresholds(num_thresholds: int) -> np.ndarray:
    inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
    return np.array([0.0 - 1e-7] + inner + [1.0 + 1e-7], dtype=np.float32)


def _brute_force_tf_auc(labels, predictions, w, num_thresholds, curve, summation_method):
    """TF 1.x tf.metrics.auc, transcribed: an [N, T] comparison, then TF's compute_auc."""
    thresholds = _tf_thresholds(num_thresholds)
    above = predictions.astype(np.float32).reshape(-1, 1) > thresholds.reshape(1, -1)
    lab = (labels != 0).reshape(-1, 1)
    w = w.reshape(-1, 1)
    tp = np.sum(w * (lab & above), 0)
    fn = np.sum(w * (lab & ~above), 0)
    tn = np.sum(w * (~lab & ~above), 0)
    fp = np.sum(w * (~lab & above), 0)
    eps = 1e-6
    if curve == "PR" and summation_method == "careful_interpolation":
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = np.maximum(p[:-1] - p[1:], 0)
        slope = np.where(dp == 0, 0.0, dtp / np.where(dp == 0, 1, dp))
        intercept = tp[1:] - slope * p[1:]
        ratio = np.where((p[:-1] > 0) & (p[1:] > 0), p[:-1] / np.where(p[1:] > 0, p[1:], 1), 1.0)
        den = np.maximum(tp[1:] + fn[1:], 0)
        num = slope * (dtp + intercept * np.log(ratio))
        return float(np.sum(np.where(den == 0, 0.0, num / np.where(den == 0, 1, den))))
    rec = (tp + eps) / (tp + fn + eps)
    if curve == "ROC":
        x, y = fp / (fp + tn + eps), rec
    else:
        x, y = rec, (tp + eps) / (tp + fp + eps)
    height = {  # careful_interpolation differs from trapezoidal only for PR, handled above
        "trapezoidal": (y[:-1] + y[1:]) / 2.0,
        "careful_interpolation": (y[:-1] + y[1:]) / 2.0,
        "minoring": np.minimum(y[:-1], y[1:]),
        "majoring": np.maximum(y[:-1], y[1:]),
    }[summation_method]
    return float(np.sum((x[:-1] - x[1:]) * height))


def _exact_roc_auc(scores, labels, w) -> float:
    """Exact weighted ROC AUC (Mann-Whitney; a tied positive/negative pair counts one half)."""
    scores, pos_w = scores.reshape(-1), (w * (labels != 0)).reshape(-1)
    neg_w = (w * (labels == 0)).reshape(-1)
    _, inverse = np.unique(scores, return_inverse=True)
    pos_u, neg_u = np.bincount(inverse, pos_w), np.bincount(inverse, neg_w)
    neg_below = np.cumsum(neg_u) - neg_u
    return float(np.sum(pos_u * (neg_below + 0.5 * neg_u)) / (pos_w.sum() * neg_w.sum()))


def _probabilities(rng, shape):
    labels = rng.integers(0, 2, size=shape)
    # Some mass exactly at 0, 1 and on thresholds, where "strictly greater" matters.
    grid = rng.integers(0, 5, size=shape) / 4.0
    uniform = rng.uniform(size=shape)
    predictions = np.where(rng.uniform(size=shape) < 0.3, grid, uniform).astype(np.float32)
    return labels, predictions


@PROPERTY
@given(
    **batches_args,
    num_thresholds=st.sampled_from([2, 3, 5, 17, 200]),
    curve=st.sampled_from(["ROC", "PR"]),
    summation_method=st.sampled_from(
        ["trapezoidal", "careful_interpolation", "minoring", "majoring"]
    ),
)
def test_auc_streamed_equals_brute_force_tf_algorithm(
    seed, sizes, weight_kind, trailing, num_thresholds, curve, summation_method
):
    batches = _make_batches(seed, sizes, weight_kind, trailing, _probabilities)
    labels, predictions, w = _concat(batches, trailing)
    expected = _brute_force_tf_auc(labels, predictions, w, num_thresholds, curve, summation_method)
    metric = metrics.AUC(
        num_thresholds=num_thresholds, curve=curve, summation_method=summation_method
    )
    assert _stream(metric, batches) == pytest.approx(expected, rel=1e-6, abs=1e-6)


@PROPERTY
@given(
    seed=st.integers(0, 2**32 - 1),
    sizes=st.lists(st.integers(1, 60), min_size=1, max_size=4),
    num_thresholds=st.sampled_from([50, 200, 2000]),
)
def test_auc_is_exact_roc_auc_up_to_pairs_sharing_a_bin(seed, sizes, num_thresholds):
    rng = np.random.default_rng(seed)
    batches = []
    for n in sizes:
        labels = rng.integers(0, 2, size=n)
        predictions = np.clip(rng.normal(0.5 + 0.15 * (labels - 0.5), 0.2), 0, 1).astype(np.float32)
        batches.append((labels, predictions, rng.uniform(0.5, 2.0, size=n)))
    labels, predictions, w = _concat(batches, 0)
    if labels.min() == labels.max():
        return  # the exact AUC needs both classes
    value = _stream(metrics.AUC(num_thresholds=num_thresholds), batches)
    # Trapezoidal ROC over thresholds is exactly the ROC AUC of the binned scores ...
    bins = np.searchsorted(_tf_thresholds(num_thresholds), predictions, side="left")
    assert value == pytest.approx(_exact_roc_auc(bins, labels, w), abs=1e-5)
    # ... so it differs from the exact AUC by at most half the positive/negative pairs in one bin.
    pos = np.bincount(bins, w * labels, minlength=num_thresholds + 1)
    neg = np.bincount(bins, w * (1 - labels), minlength=num_thresholds + 1)
    bound = 0.5 * np.sum(pos * neg) / (pos.sum() * neg.sum())
    assert abs(value - _exact_roc_auc(predictions, labels, w)) <= bound + 1e-5


def test_auc_with_many_thresholds_is_close_to_exact_roc_auc():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, size=20_000)
    predictions = (1 / (1 + np.exp(-rng.normal(labels - 0.5, 1.0)))).astype(np.float32)
    metric = metrics.AUC(num_thresholds=5000)
    for chunk in np.array_split(np.arange(labels.size), 7):
        metric.update(labels[chunk], predictions[chunk])
    exact = _exact_roc_auc(predictions, labels, np.ones(labels.size))
    assert 0.6 < exact < 0.8  # a curve far from both trivial values
    assert float(metric.compute()) == pytest.approx(exact, abs=2e-4)


@pytest.mark.parametrize("curve", ["ROC", "PR"])
@pytest.mark.parametrize(
    "summation_method", ["trapezoidal", "careful_interpolation", "minoring", "majoring"]
)
def test_auc_on_a_large_weighted_stream_equals_brute_force(curve, summation_method):
    # Hundreds of points per bin interval, so every interval of every summation rule is exercised.
    rng = np.random.default_rng(7)
    labels, predictions = _probabilities(rng, (3000,))
    w = rng.uniform(0.0, 2.0, size=3000)
    metric = metrics.AUC(num_thresholds=9, curve=curve, summation_method=summation_method)
    for chunk in np.array_split(np.arange(3000), 5):
        metric.update(labels[chunk], predictions[chunk], w[chunk])
    expected = _brute_force_tf_auc(labels, predictions, w, 9, curve, summation_method)
    assert 0.3 < expected < 0.9
    assert float(metric.compute()) == pytest.approx(expected, rel=1e-6)
