"""Build serialized ``tf.train.Example`` protos from plain Python values."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch

from data.tfrecord._proto import Example

__all__ = ["serialize_example"]


def _as_list(key: str, value: Any) -> list:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        return value.ravel().tolist()
    if isinstance(value, (bytes, str, int, float, np.generic)):
        return [value.item() if isinstance(value, np.generic) else value]
    if isinstance(value, (list, tuple)):
        return list(value)
    raise TypeError(f"serialize_example: feature {key!r} must be a number, bytes, str, a list "
                    f"of them, or an array, got {type(value).__name__}")


def serialize_example(features: Mapping[str, Any]) -> bytes:
    """A serialized ``tf.train.Example`` holding ``features``.

    Each value is a number, ``bytes``/``str`` or a list/array of them: integers (and bools) go
    in an ``int64_list``, floats in a ``float_list``, strings in a ``bytes_list`` (``str`` is
    UTF-8 encoded). An empty list becomes an empty ``int64_list``. This is the short form of
    ``Example(features=Features(feature={...})).SerializeToString()``.

    >>> record = serialize_example({"image/class/label": 7, "image/format": "JPEG"})
    >>> len(record) > 0
    True
    """
    example = Example()
    feature_map = example.features.feature
    for key, value in features.items():
        values = _as_list(key, value)
        feature = feature_map[key]
        if values and all(isinstance(v, (bytes, str)) for v in values):
            feature.bytes_list.value.extend(v.encode() if isinstance(v, str) else v
                                            for v in values)
        elif all(isinstance(v, (bool, int, np.integer)) for v in values):
            feature.int64_list.value.extend(int(v) for v in values)
        elif all(isinstance(v, (bool, int, float, np.number)) for v in values):
            feature.float_list.value.extend(float(v) for v in values)
        else:
            raise TypeError(f"serialize_example: feature {key!r} mixes value types "
                            f"{sorted({type(v).__name__ for v in values})}; one list holds "
                            "integers, floats or strings")
    return example.SerializeToString()
