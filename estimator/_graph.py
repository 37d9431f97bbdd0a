"""The model's structure for TensorBoard's Graphs tab: one traced PREDICT-mode ``model_fn``.

After the first ``train()`` of a model_dir (one that started without a checkpoint, with
summaries on), the Estimator traces ``model_fn`` in PREDICT mode over the first training
batch's features, with the trained parameters, and writes the graph with
``SummaryWriter.add_graph``. Nothing is created or changed: the model scope's modules are only
called, gradients are off and the random generators are restored afterwards. A ``model_fn``
that cannot be traced (Python branching on tensor values, non-tensor features, no PREDICT
branch) is skipped with a DEBUG log line; the training it followed is unaffected.

The graph is ``SummaryWriter.add_graph``'s, traced once: ``add_graph`` traces with
``torch.jit.trace``'s default ``check_trace=True``, which runs the model twice more to compare
traces, costing more than the trace itself on a program's first ``train()``.
"""

from __future__ import annotations

from collections import abc
import logging
import warnings
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch
from torch import nn

from estimator.scope import ModelScope
from estimator.spec import EstimatorSpec, ModeKeys

logger = logging.getLogger("estimator")


class ModelFnPredict(nn.Module):
    """Flat feature tensors -> ``model_fn`` in PREDICT mode -> the prediction tensors."""

    def __init__(self, scope: ModelScope, call: Callable[[Any, Any], Any],
                 keys: List[str]) -> None:
        super().__init__()
        self.root = scope.root  # the parameters appear in the graph under their own names
        self._scope, self._call, self._keys = scope, call, keys

    def forward(self, *tensors: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        features: Any = dict(zip(self._keys, tensors)) if self._keys else tensors[0]
        with self._scope.call(ModeKeys.PREDICT):
            spec = self._call(features, None)
        if not isinstance(spec, EstimatorSpec):
            raise TypeError(f"model_fn returned {type(spec).__name__}, not an EstimatorSpec")
        predictions = spec.predictions
        if isinstance(predictions, abc.Mapping):
            return tuple(predictions[k] for k in sorted(predictions)
                         if isinstance(predictions[k], torch.Tensor))
        assert predictions is not None  # a PREDICT spec is checked to have predictions
        return (predictions,)


def _flat_features(features: Any) -> Tuple[List[str], Tuple[torch.Tensor, ...]]:
    if isinstance(features, torch.Tensor):
        return [], (features,)
    if isinstance(features, dict) and features and all(
            isinstance(v, torch.Tensor) for v in features.values()):
        keys = sorted(features)
        return keys, tuple(features[k] for k in keys)
    raise TypeError(f"features of type {type(features).__name__} are not tensors or a dict of "
                    "tensors")


def write_graph(writer: Any, scope: ModelScope, call: Callable[[Any, Any], Any],
                features: Any) -> bool:
    """Trace and write the PREDICT step; ``False`` (and a DEBUG line) when it cannot be traced."""
    was_training = scope.root.training
    try:
        keys, tensors = _flat_features(features)
        step = ModelFnPredict(scope, call, keys)
        scope.root.train(False)
        with torch.random.fork_rng(devices=[]), torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)  # shapes are constants here
            warnings.simplefilter("ignore", DeprecationWarning)  # add_graph still uses jit.trace
            _add_graph(writer, step, tensors)
        return True
    except Exception as e:  # tracing fails in many ways; each only means "no graph"
        logger.debug("No model graph for TensorBoard: tracing model_fn in PREDICT mode failed "
                     "(%s: %s).", type(e).__name__, str(e).splitlines()[0] if str(e) else "")
        return False
    finally:
        scope.root.train(was_training)


def _add_graph(writer: Any, step: nn.Module, tensors: Tuple[torch.Tensor, ...]) -> None:
    """``writer.add_graph(step, tensors)``, without its two checking reruns of the model."""
    try:
        from tensorboard.compat.proto.config_pb2 import RunMetadata
        from tensorboard.compat.proto.graph_pb2 import GraphDef
        from tensorboard.compat.proto.step_stats_pb2 import DeviceStepStats, StepStats
        from tensorboard.compat.proto.versions_pb2 import VersionDef
        from torch.utils.tensorboard._pytorch_graph import parse
        file_writer = writer._get_file_writer()
    except (ImportError, AttributeError):  # another torch or writer: the public call
        writer.add_graph(step, tensors)
        return
    step.train(False)  # as add_graph's trace
    trace = torch.jit.trace(step, tensors, check_trace=False)
    graph = trace.graph
    torch._C._jit_pass_inline(graph)
    # add_graph's GraphDef and (CPU) step stats, field for field
    stats = RunMetadata(step_stats=StepStats(dev_stats=[DeviceStepStats(device="/device:CPU:0")]))
    file_writer.add_graph((GraphDef(node=parse(graph, trace, tensors),
                                    versions=VersionDef(producer=22)), stats))


class FirstFeatures:
    """Wraps a bound ``model_fn`` and keeps the features of its first call."""

    def __init__(self, call: Callable[[Any, Any], Any]) -> None:
        self._call = call
        self.features: Any = None
        self.seen = False

    def __call__(self, features: Any, labels: Any) -> Any:
        if not self.seen:
            self.features, self.seen = features, True
        return self._call(features, labels)


def graph_wanted(payload: Optional[Dict[str, Any]], config: Any) -> bool:
    """Write the graph once per model_dir: on a train() from scratch, with summaries on."""
    return payload is None and bool(config.save_summary_steps)
