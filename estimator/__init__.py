"""TensorFlow 1.x's Estimator on PyTorch: an eager ``model_fn`` over a persistent model scope.

>>> import estimator as est
>>> est.ModeKeys.INFER
'infer'
"""

__distribution__ = "torch-estimator"
__version__ = "0.1.0"

from estimator import checkpoint, feature_column, layers, metrics, summary, train
from estimator.canned import (BaselineClassifier, BaselineRegressor, DNNClassifier,
                              DNNLinearCombinedClassifier, DNNLinearCombinedRegressor,
                              DNNRegressor, LinearClassifier, LinearRegressor)
from estimator._train_step import clip_by_global_norm
from estimator.checkpoint import WarmStartSettings
from estimator.estimator import Estimator
from estimator.extenders import add_metrics
from estimator.hooks import (LoggingTensorHook, NanLossDuringTrainingError, NanTensorHook,
                             SessionRunArgs, SessionRunContext, SessionRunHook, SessionRunValues,
                             StopAtStepHook)
from estimator.progress import ProgressAwareHandler, ProgressHook
from estimator.run_config import RunConfig
from estimator.spec import EstimatorSpec, ModeKeys
from estimator.variables import get_module, get_variable, variable_scope

__all__ = [
    "BaselineClassifier",
    "BaselineRegressor",
    "DNNClassifier",
    "DNNLinearCombinedClassifier",
    "DNNLinearCombinedRegressor",
    "DNNRegressor",
    "Estimator",
    "EstimatorSpec",
    "LinearClassifier",
    "LinearRegressor",
    "LoggingTensorHook",
    "ModeKeys",
    "NanLossDuringTrainingError",
    "NanTensorHook",
    "ProgressAwareHandler",
    "ProgressHook",
    "RunConfig",
    "SessionRunArgs",
    "SessionRunContext",
    "SessionRunHook",
    "SessionRunValues",
    "StopAtStepHook",
    "WarmStartSettings",
    "add_metrics",
    "checkpoint",
    "clip_by_global_norm",
    "feature_column",
    "get_module",
    "get_variable",
    "layers",
    "metrics",
    "summary",
    "train",
    "variable_scope",
]
