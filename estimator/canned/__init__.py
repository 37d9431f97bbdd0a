"""Premade estimators (``tf.estimator.DNNClassifier`` and its siblings) and their heads.

Each is an :class:`~estimator.Estimator` with a library ``model_fn``: feature columns in, a
network (DNN, linear, both, or a bias), and a head for the loss, predictions and metrics, with
TF's keys (:class:`PredictionKeys`, :class:`MetricKeys`). Checkpoints, resume, hooks and
summaries are the Estimator's.
"""

from estimator.canned.baseline import BaselineClassifier, BaselineRegressor
from estimator.canned.dnn import DNNClassifier, DNNRegressor
from estimator.canned.dnn_linear_combined import (DNNLinearCombinedClassifier,
                                                  DNNLinearCombinedRegressor)
from estimator.canned.head import BinaryClassHead, MultiClassHead, RegressionHead
from estimator.canned.keys import MetricKeys, PredictionKeys
from estimator.canned.linear import LinearClassifier, LinearRegressor

__all__ = [
    "BaselineClassifier",
    "BaselineRegressor",
    "BinaryClassHead",
    "DNNClassifier",
    "DNNLinearCombinedClassifier",
    "DNNLinearCombinedRegressor",
    "DNNRegressor",
    "LinearClassifier",
    "LinearRegressor",
    "MetricKeys",
    "MultiClassHead",
    "PredictionKeys",
    "RegressionHead",
]
