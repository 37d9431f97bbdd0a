"""TensorFlow 1.x's Estimator on PyTorch: an eager ``model_fn`` over a persistent model scope.

>>> import estimator as est
>>> est.ModeKeys.INFER
'infer'
"""

from estimator import checkpoint, experimental, export, layers, metrics, summary, train
from estimator.checkpoint import WarmStartSettings
from estimator.estimator import Estimator
from estimator.exporter import BestExporter, Exporter, FinalExporter, LatestExporter
from estimator.hooks import (CheckpointSaverHook, CheckpointSaverListener, FinalOpsHook,
                             InMemoryEvaluatorHook, LoggingTensorHook, NanLossDuringTrainingError,
                             NanTensorHook, ProfilerHook, SecondOrStepTimer, SessionRunArgs,
                             SessionRunContext, SessionRunHook, SessionRunValues,
                             StepCounterHook, StopAtStepHook, SummarySaverHook)
from estimator.run_config import RunConfig
from estimator.spec import EstimatorSpec, ModeKeys
from estimator.training import EvalSpec, TrainSpec, train_and_evaluate
from estimator.variables import get_module, get_variable, variable_scope

__all__ = [
    "BestExporter",
    "CheckpointSaverHook",
    "CheckpointSaverListener",
    "Estimator",
    "EstimatorSpec",
    "EvalSpec",
    "Exporter",
    "FinalExporter",
    "FinalOpsHook",
    "InMemoryEvaluatorHook",
    "LatestExporter",
    "LoggingTensorHook",
    "ModeKeys",
    "NanLossDuringTrainingError",
    "NanTensorHook",
    "ProfilerHook",
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
    "WarmStartSettings",
    "checkpoint",
    "experimental",
    "export",
    "get_module",
    "get_variable",
    "layers",
    "metrics",
    "summary",
    "train",
    "train_and_evaluate",
    "variable_scope",
]
