"""``add_metrics``: extend an Estimator's evaluation with more metrics (``tf.estimator.add_metrics``)."""

from __future__ import annotations

import inspect
from typing import Any, Callable, Dict

from estimator._fn_args import bind_model_fn
from estimator.estimator import Estimator
from estimator.spec import EstimatorSpec, ModeKeys

_METRIC_FN_ARGS = ("features", "labels", "predictions", "config")


def _check_metric_fn(metric_fn: Callable[..., Any]) -> tuple:
    if not callable(metric_fn):
        raise TypeError(f"add_metrics: metric_fn must be callable, got {metric_fn!r}")
    names = tuple(inspect.signature(metric_fn).parameters)
    unknown = [n for n in names if n not in _METRIC_FN_ARGS]
    if unknown:
        raise ValueError(f"add_metrics: metric_fn may only take arguments among "
                         f"{list(_METRIC_FN_ARGS)}; it takes {list(names)}")
    if "predictions" not in names:
        raise ValueError("add_metrics: metric_fn must take a `predictions` argument")
    return names


def add_metrics(estimator: Estimator, metric_fn: Callable[..., Dict[str, Any]]) -> Estimator:
    """A new Estimator (same ``model_dir``, config, params) whose evaluation also reports the
    metrics ``metric_fn`` returns; a metric with an existing name replaces it.

    ``metric_fn`` takes ``predictions`` and any of ``features``, ``labels``, ``config`` (by
    name) and returns a dict of ``est.metrics`` results, as TF's.

    >>> import estimator as est
    >>> def my_auc(labels, predictions):
    ...     return {"auc": est.metrics.auc(labels, predictions["logistic"])}
    >>> # classifier = est.add_metrics(classifier, my_auc)
    """
    if not isinstance(estimator, Estimator):
        raise TypeError(f"add_metrics: estimator must be an est.Estimator, got "
                        f"{type(estimator).__name__}")
    names = _check_metric_fn(metric_fn)
    config = estimator.config
    inner = estimator._model_fn  # the package's own Estimator: its model_fn, unbound

    def model_fn(features: Any, labels: Any, mode: str, params: Any) -> EstimatorSpec:
        call = bind_model_fn(inner, mode, params, config)
        spec = call(features, labels)
        if mode != ModeKeys.EVAL:
            return spec
        available = {"features": features, "labels": labels,
                     "predictions": spec.predictions, "config": config}
        new = metric_fn(**{n: available[n] for n in names})
        if not isinstance(new, dict):
            raise TypeError(f"add_metrics: metric_fn must return a dict of metrics, got "
                            f"{type(new).__name__}")
        ops = dict(spec.eval_metric_ops or {})
        ops.update(new)
        return EstimatorSpec(mode, predictions=spec.predictions, loss=spec.loss,
                             eval_metric_ops=ops, evaluation_hooks=spec.evaluation_hooks)

    return Estimator(model_fn, estimator.model_dir, config, params=estimator.params,
                     warm_start_from=estimator._warm_start_from)
