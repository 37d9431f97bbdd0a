"""TensorFlow 1.x's Estimator on PyTorch: an eager ``model_fn`` over a persistent model scope.

>>> import estimator as est
>>> est.ModeKeys.INFER
'infer'
"""

__distribution__ = "torch-estimator"
__version__ = "0.1.0"

from estimator import (checkpoint, distribute, feature_column, inputs, layers, losses, metrics, nn,
                       summary, train)
from estimator._named import identity
from estimator.canned import (BaselineClassifier, BaselineRegressor, DNNClassifier,
                              DNNLinearCombinedClassifier, DNNLinearCombinedRegressor,
                              DNNRegressor, LinearClassifier, LinearRegressor)
from estimator._train_step import clip_by_global_norm
from estimator.checkpoint import WarmStartSettings
from estimator.distribute import DistributeConfig, InputContext
from estimator.estimator import Estimator
from estimator.extenders import add_metrics
from estimator.hooks import (LoggingTensorHook, NanLossDuringTrainingError, NanTensorHook,
                             SessionRunArgs, SessionRunContext, SessionRunHook, SessionRunValues,
                             StopAtStepHook)
from estimator.progress import ProgressAwareHandler, ProgressHook
from estimator.run_config import RunConfig
from estimator.scope import AUTO_REUSE
from estimator.spec import EstimatorSpec, ModeKeys
from estimator.variables import (VariableScope, get_module, get_variable, global_variables,
                                 trainable_variables, variable_scope)

__all__ = [
    "AUTO_REUSE",
    "BaselineClassifier",
    "BaselineRegressor",
    "DNNClassifier",
    "DNNLinearCombinedClassifier",
    "DNNLinearCombinedRegressor",
    "DNNRegressor",
    "DistributeConfig",
    "Estimator",
    "EstimatorSpec",
    "InputContext",
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
    "VariableScope",
    "WarmStartSettings",
    "add_metrics",
    "checkpoint",
    "clip_by_global_norm",
    "distribute",
    "feature_column",
    "get_module",
    "get_variable",
    "global_variables",
    "identity",
    "inputs",
    "layers",
    "losses",
    "metrics",
    "nn",
    "summary",
    "train",
    "trainable_variables",
    "variable_scope",
]
