"""Access to the fixtures real TensorFlow wrote (see fixtures/make_tf_fixtures.py)."""

from __future__ import annotations

import functools
import json
import math
import os
from typing import Any

import numpy as np
import torch

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")

_DTYPES = {"int64": torch.int64, "int32": torch.int32, "float32": torch.float32,
           "float64": torch.float64, "uint8": torch.uint8, "int16": torch.int16}


def path(name: str) -> str:
    return os.path.join(FIXTURES, name)


@functools.lru_cache(maxsize=None)
def expected() -> Any:
    with open(path("expected.json")) as f:
        return json.load(f)


@functools.lru_cache(maxsize=None)
def image_ops() -> Any:
    return dict(np.load(path("image_ops.npz")))


def _nest(flat, shape):
    if not shape:
        return flat[0]
    step = math.prod(shape[1:])
    return [_nest(flat[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]


def value(j: Any) -> Any:
    """A JSON-encoded TF value as our API returns it: a tensor, or (nested lists of) bytes."""
    if j["dtype"] == "string":
        return _nest([v.encode("latin-1") for v in j["value"]], j["shape"])
    return torch.tensor(j["value"], dtype=_DTYPES[j["dtype"]]).reshape(j["shape"])


def assert_equal(ours: Any, j: Any) -> None:
    """``ours`` equals the JSON-encoded TF value ``j`` exactly (dtype, shape and values)."""
    if isinstance(j, dict) and "indices" in j:  # a SparseTensor
        assert ours.indices.tolist() == j["indices"]
        assert ours.dense_shape.tolist() == j["dense_shape"]
        assert_equal(ours.values, j["values"])
        return
    want = value(j)
    if isinstance(want, torch.Tensor):
        assert isinstance(ours, torch.Tensor), f"expected a tensor, got {type(ours).__name__}"
        assert ours.dtype == want.dtype and ours.shape == want.shape, (ours, want)
        assert torch.equal(ours, want), (ours, want)
    else:
        assert ours == want
