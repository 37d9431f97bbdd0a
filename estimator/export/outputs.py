"""What a signature returns: ``PredictOutput``, ``ClassificationOutput``, ``RegressionOutput``.

``EstimatorSpec(export_outputs={key: output})`` names the signatures of an export; without it
the export has one, ``serving_default``, returning the spec's ``predictions``.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

import torch

__all__ = ["ClassificationOutput", "DEFAULT_SERVING_SIGNATURE_DEF_KEY", "ExportOutput",
           "PredictOutput", "RegressionOutput"]

DEFAULT_SERVING_SIGNATURE_DEF_KEY = "serving_default"


def _tensor(name: str, value: Any, kind: str) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise ValueError(f"{kind} {name} must be a torch.Tensor, got {type(value).__name__}")
    return value


class ExportOutput:
    """Base class: ``outputs`` (name -> tensor) and ``method_name`` (TF Serving's)."""

    method_name = ""

    @property
    def outputs(self) -> Dict[str, torch.Tensor]:
        raise NotImplementedError


class PredictOutput(ExportOutput):
    """Any tensors, by name (a lone tensor is named ``output``).

    >>> sorted(PredictOutput({"classes": torch.zeros(2)}).outputs)
    ['classes']
    """

    method_name = "tensorflow/serving/predict"

    def __init__(self, outputs: Any) -> None:
        if isinstance(outputs, torch.Tensor):
            outputs = {"output": outputs}
        if not isinstance(outputs, Mapping):
            raise ValueError(f"Prediction outputs must be a tensor or a dict of tensors, got "
                             f"{type(outputs).__name__}")
        for key, value in outputs.items():
            if not isinstance(key, str):
                raise ValueError(f"Prediction output key must be a string; got {key!r}.")
            _tensor(f"output {key!r}", value, "Prediction")
        self._outputs = dict(outputs)

    @property
    def outputs(self) -> Dict[str, torch.Tensor]:
        return dict(self._outputs)


class ClassificationOutput(ExportOutput):
    """``scores`` (float, ``[batch, num_classes]``) and/or ``classes`` (``[batch, ...]``).

    >>> sorted(ClassificationOutput(scores=torch.zeros(2, 3)).outputs)
    ['scores']
    """

    method_name = "tensorflow/serving/classify"

    def __init__(self, scores: Optional[torch.Tensor] = None,
                 classes: Optional[torch.Tensor] = None) -> None:
        if scores is None and classes is None:
            raise ValueError("Cannot create a ClassificationOutput with empty arguments. At "
                             "least one of `scores` and `classes` must be defined.")
        if scores is not None:
            _tensor("scores", scores, "Classification")
            if not scores.is_floating_point():
                raise ValueError("Classification scores must be a float tensor; got "
                                 f"{scores.dtype}")
        if classes is not None:
            _tensor("classes", classes, "Classification")
        self.scores, self.classes = scores, classes

    @property
    def outputs(self) -> Dict[str, torch.Tensor]:
        out = {}
        if self.scores is not None:
            out["scores"] = self.scores
        if self.classes is not None:
            out["classes"] = self.classes
        return out


class RegressionOutput(ExportOutput):
    """One float tensor ``value``, returned as ``outputs``.

    >>> sorted(RegressionOutput(torch.zeros(2)).outputs)
    ['outputs']
    """

    method_name = "tensorflow/serving/regress"

    def __init__(self, value: torch.Tensor) -> None:
        _tensor("value", value, "Regression")
        if not value.is_floating_point():
            raise ValueError(f"Regression output value must be a float tensor; got {value.dtype}")
        self.value = value

    @property
    def outputs(self) -> Dict[str, torch.Tensor]:
        return {"outputs": self.value}


def signatures_of(export_outputs: Optional[Mapping[str, Any]], predictions: Any
                  ) -> Dict[str, ExportOutput]:
    """The signatures of an export, as TF: ``export_outputs`` (one of them the default), or
    ``serving_default`` returning ``predictions``."""
    if export_outputs is None:
        return {DEFAULT_SERVING_SIGNATURE_DEF_KEY: PredictOutput(predictions)}
    if not isinstance(export_outputs, Mapping):
        raise TypeError(f"export_outputs must be a dict and not {type(export_outputs).__name__}")
    for key, output in export_outputs.items():
        if not isinstance(output, ExportOutput):
            raise ValueError(f"Values in export_outputs must be ExportOutput objects "
                             f"(est.export.PredictOutput, ...); export_outputs[{key!r}] is "
                             f"{type(output).__name__}")
    signatures = dict(export_outputs)
    if DEFAULT_SERVING_SIGNATURE_DEF_KEY not in signatures:
        if len(signatures) != 1:
            raise ValueError("Multiple export_outputs were provided, but none of them is "
                             "specified as the default. Do this by naming one of them with "
                             f"{DEFAULT_SERVING_SIGNATURE_DEF_KEY!r}; keys: {sorted(signatures)}")
        signatures[DEFAULT_SERVING_SIGNATURE_DEF_KEY] = next(iter(signatures.values()))
    return signatures
