"""What the premade estimators' model functions share: argument checks and the batch size."""

from __future__ import annotations

from collections import abc
from typing import Any, List, Mapping

import numpy as np
import torch

from estimator.feature_column._layers import check_columns


def check_features(features: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(features, abc.Mapping):
        raise ValueError(f"{where}: features should be a dict of feature key -> values (what "
                         f"feature columns read); got {type(features).__name__}")
    return features


def columns(feature_columns: Any, where: str) -> List[Any]:
    return check_columns(feature_columns, where)


def batch_size_of(features: Mapping[str, Any]) -> int:
    """The number of examples in ``features`` (the first dimension of its first value)."""
    for value in features.values():
        if isinstance(value, (torch.Tensor, np.ndarray)):
            return int(value.shape[0]) if value.ndim else 1
        if hasattr(value, "__len__"):
            return len(value)
    raise ValueError("cannot tell the batch size: features is empty")
