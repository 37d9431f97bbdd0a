"""TensorFlow 1.x's Estimator on PyTorch: an eager ``model_fn`` over a persistent model scope.

>>> import estimator as est
>>> est.ModeKeys.INFER
'infer'
"""

from estimator import checkpoint, inputs, layers, losses, metrics, nn, summary, train
from estimator._named import identity
from estimator.checkpoint import WarmStartSettings
from estimator.estimator import Estimator
from estimator.hooks import (LoggingTensorHook, NanLossDuringTrainingError, NanTensorHook,
                             SessionRunArgs, SessionRunContext, SessionRunHook, SessionRunValues,
                             StopAtStepHook)
from estimator.run_config import RunConfig
from estimator.scope import AUTO_REUSE
from estimator.spec import EstimatorSpec, ModeKeys
from estimator.variables import (VariableScope, get_module, get_variable, global_variables,
                                 trainable_variables, variable_scope)

__all__ = [
    "AUTO_REUSE",
    "Estimator",
    "EstimatorSpec",
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
    "VariableScope",
    "WarmStartSettings",
    "checkpoint",
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
