"""TensorFlow 1.x's Estimator on PyTorch: an eager ``model_fn`` over a persistent model scope.

>>> import estimator as est
>>> est.ModeKeys.INFER
'infer'
"""

__distribution__ = "torch-estimator"
__version__ = "0.1.0"

import importlib
from typing import TYPE_CHECKING, Any, List

from estimator import (checkpoint, distribute, inputs, layers, losses, metrics, nn, summary,
                       train)
from estimator._named import identity
from estimator._train_step import clip_by_global_norm
from estimator.checkpoint import WarmStartSettings
from estimator.distribute import DistributeConfig, InputContext
from estimator.estimator import Estimator
from estimator.extenders import add_metrics
from estimator.exporter import BestExporter, Exporter, FinalExporter, LatestExporter
from estimator.hooks import (CheckpointSaverHook, CheckpointSaverListener, FinalOpsHook,
                             InMemoryEvaluatorHook, LoggingTensorHook, NanLossDuringTrainingError,
                             NanTensorHook, ProfilerHook, SecondOrStepTimer, SessionRunArgs,
                             SessionRunContext, SessionRunHook, SessionRunValues,
                             StepCounterHook, StopAtStepHook, SummarySaverHook)
from estimator.progress import ProgressAwareHandler, ProgressHook
from estimator.run_config import RunConfig
from estimator.scope import AUTO_REUSE
from estimator.spec import EstimatorSpec, ModeKeys
from estimator.training import EvalSpec, TrainSpec, train_and_evaluate
from estimator.variables import (VariableScope, get_module, get_variable, global_variables,
                                 trainable_variables, variable_scope)

if TYPE_CHECKING:  # at run time imported on first use (``__getattr__`` below)
    from estimator import experimental, export, feature_column
    from estimator.canned import (BaselineClassifier, BaselineRegressor, DNNClassifier,
                                  DNNLinearCombinedClassifier, DNNLinearCombinedRegressor,
                                  DNNRegressor, LinearClassifier, LinearRegressor)

# Names whose modules a program without them need not import (feature columns, the canned
# Estimators, export): ``est.<name>`` imports its module on first use.
_LAZY = {
    "experimental": "estimator.experimental",
    "export": "estimator.export",
    "feature_column": "estimator.feature_column",
    **{name: "estimator.canned" for name in (
        "BaselineClassifier", "BaselineRegressor", "DNNClassifier", "DNNLinearCombinedClassifier",
        "DNNLinearCombinedRegressor", "DNNRegressor", "LinearClassifier", "LinearRegressor")},
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        return _submodule(name)
    value = importlib.import_module(module)
    if module != f"{__name__}.{name}":
        value = getattr(value, name)
    globals()[name] = value
    return value


def _submodule(name: str) -> Any:
    """``est.<name>`` for a submodule no import has loaded yet (``est.canned``)."""
    if not name.startswith("__"):
        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{name}":
                raise
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> List[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "AUTO_REUSE",
    "BaselineClassifier",
    "BaselineRegressor",
    "BestExporter",
    "CheckpointSaverHook",
    "CheckpointSaverListener",
    "DNNClassifier",
    "DNNLinearCombinedClassifier",
    "DNNLinearCombinedRegressor",
    "DNNRegressor",
    "DistributeConfig",
    "Estimator",
    "EstimatorSpec",
    "EvalSpec",
    "Exporter",
    "FinalExporter",
    "FinalOpsHook",
    "InMemoryEvaluatorHook",
    "InputContext",
    "LatestExporter",
    "LinearClassifier",
    "LinearRegressor",
    "LoggingTensorHook",
    "ModeKeys",
    "NanLossDuringTrainingError",
    "NanTensorHook",
    "ProfilerHook",
    "ProgressAwareHandler",
    "ProgressHook",
    "RunConfig",
    "SecondOrStepTimer",
    "SessionRunArgs",
    "SessionRunContext",
    "SessionRunHook",
    "SessionRunValues",
    "StepCounterHook",
    "StopAtStepHook",
    "SummarySaverHook",
    "TrainSpec",
    "VariableScope",
    "WarmStartSettings",
    "add_metrics",
    "checkpoint",
    "clip_by_global_norm",
    "distribute",
    "experimental",
    "export",
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
    "train_and_evaluate",
    "trainable_variables",
    "variable_scope",
]
