"""TensorFlow 1.x's Estimator on PyTorch: an eager ``model_fn`` over a persistent model scope.

>>> import estimator as est
>>> est.ModeKeys.INFER
'infer'
"""

from estimator import checkpoint, distribute, layers, metrics, summary, train
from estimator.checkpoint import WarmStartSettings
from estimator.distribute import DistributeConfig, InputContext
from estimator.estimator import Estimator
from estimator.hooks import (LoggingTensorHook, NanLossDuringTrainingError, NanTensorHook,
                             SessionRunArgs, SessionRunContext, SessionRunHook, SessionRunValues,
                             StopAtStepHook)
from estimator.run_config import RunConfig
from estimator.spec import EstimatorSpec, ModeKeys
from estimator.variables import get_module, get_variable, variable_scope

__all__ = [
    "DistributeConfig",
    "Estimator",
    "EstimatorSpec",
    "InputContext",
    "LoggingTensorHook",
    "ModeKeys",
    "NanLossDuringTrainingError",
    "NanTensorHook",
    "RunConfig",
    "SessionRunArgs",
    "SessionRunContext",
    "SessionRunHook",
    "SessionRunValues",
    "StopAtStepHook",
    "WarmStartSettings",
    "checkpoint",
    "distribute",
    "get_module",
    "get_variable",
    "layers",
    "metrics",
    "summary",
    "train",
    "variable_scope",
]
