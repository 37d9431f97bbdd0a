"""Raw feature values as tensors: what every column reads from ``features``.

Features arrive as a dict whose values are torch tensors, numpy arrays, pandas Series, lists of
numbers, lists of ``str``/``bytes`` (what ``Dataset.batch`` makes of strings), or lists of such
lists for multivalent features. :class:`FeatureCache` holds one call's features and the
transformed value of each column, so a column used twice (in a cross and alone) is computed once.
Errors name the column and the feature key.
"""

from __future__ import annotations

from collections import abc
from typing import Any, Dict, Mapping, NamedTuple, Optional

import numpy as np
import torch


class CategoricalIds(NamedTuple):
    """Sparse ids in padded form: ``ids`` and ``mask`` ``[batch, k]``, optional ``weights``.

    Entries where ``mask`` is false are absent (TF drops them from its ``SparseTensor``). A
    present entry may hold id ``-1`` (a value missing from a vocabulary without OOV buckets):
    lookups skip it, as TF's ``safe_embedding_lookup_sparse``, but crosses keep it, as TF's.
    """

    ids: torch.Tensor
    mask: torch.Tensor
    weights: Optional[torch.Tensor] = None

    def valid(self) -> "CategoricalIds":
        """The same ids with ``-1`` entries masked out (and set to 0, safe to look up)."""
        ok = self.mask & (self.ids >= 0)
        return CategoricalIds(torch.where(ok, self.ids, 0), ok, self.weights)


def _device_of(features: Mapping[str, Any]) -> torch.device:
    from estimator.scope import active_scope

    scope = active_scope()
    if scope is not None:
        return scope.device
    for value in features.values():
        if isinstance(value, torch.Tensor):
            return value.device
    return torch.device("cpu")


class FeatureCache:
    """The features of one call and the columns already transformed from them."""

    def __init__(self, features: Mapping[str, Any]) -> None:
        if not isinstance(features, abc.Mapping):
            raise TypeError("features must be a dict of feature key -> values, got "
                            f"{type(features).__name__}")
        self.features = features
        self.device = _device_of(features)
        self._done: Dict[Any, Any] = {}

    def raw(self, key: str, column: Any) -> Any:
        if key not in self.features:
            raise KeyError(
                f"feature column {column.name!r} needs the feature {key!r}, which is not in "
                f"features (keys: {sorted(map(str, self.features))})")
        value = self.features[key]
        if hasattr(value, "to_numpy") and not isinstance(value, torch.Tensor):  # pandas
            value = value.to_numpy()
        return value

    def get(self, column: Any, kind: str, make: Any) -> Any:
        """``make(self)`` once per (column, kind) in this call."""
        key = (id(column), kind)  # by identity: hashing a column hashes all its fields
        hit = self._done.get(key)
        if hit is None:
            hit = self._done[key] = (make(self), column)  # the column kept alive with its id
        return hit[0]


def _is_text(x: Any) -> bool:
    return isinstance(x, (str, bytes, np.str_, np.bytes_))


def _decode(x: Any) -> str:
    return x.decode("utf-8") if isinstance(x, (bytes, np.bytes_)) else str(x)


def as_batch_rows(value: Any) -> int:
    if isinstance(value, (torch.Tensor, np.ndarray)):
        return int(value.shape[0]) if value.ndim else 1
    return len(value)


def numeric_tensor(cache: FeatureCache, key: str, column: Any) -> torch.Tensor:
    """The feature ``key`` as a float/int tensor ``[batch, ...]`` on the cache's device."""
    value = cache.raw(key, column)
    if isinstance(value, torch.Tensor):
        tensor = value
    else:
        array = np.asarray(value)
        if array.dtype.kind in "USO":
            raise TypeError(
                f"feature column {column.name!r} expects numbers for feature {key!r}, got "
                f"strings (e.g. {array.reshape(-1)[:1].tolist()}); use a categorical column")
        tensor = torch.as_tensor(array if array.flags.writeable else array.copy())
    if tensor.dtype == torch.bool or tensor.is_complex():
        raise TypeError(f"feature column {column.name!r}: feature {key!r} has dtype "
                        f"{tensor.dtype}; expected a real number dtype")
    if tensor.dim() == 0:
        tensor = tensor.reshape(1)
    return tensor if tensor.device == cache.device else tensor.to(cache.device)


def _pad_rows(rows: list, fill: Any) -> list:
    width = max((len(r) for r in rows), default=0)
    return [list(r) + [fill] * (width - len(r)) for r in rows]


def categorical_values(cache: FeatureCache, key: str, column: Any, dtype: str) -> Any:
    """The feature ``key`` as ``[batch, k]`` values: a numpy object array of ``str`` when
    ``dtype == "string"``, else an int64 tensor. Padding/missing entries are ``""`` and ``-1``.
    """
    value = cache.raw(key, column)
    if isinstance(value, torch.Tensor):
        if dtype == "string":
            raise TypeError(
                f"feature column {column.name!r} has dtype string but feature {key!r} is a "
                f"{value.dtype} tensor; give strings or use an integer column (dtype=int64)")
        if value.is_floating_point() or value.dtype == torch.bool:
            raise TypeError(f"feature column {column.name!r} needs integer ids for feature "
                            f"{key!r}, got a {value.dtype} tensor")
        t = value.reshape(value.shape[0], -1) if value.dim() else value.reshape(1, 1)
        return t.long()
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], (list, tuple)):
        fill = "" if value[0] and _is_text(value[0][0]) or dtype == "string" else -1
        value = _pad_rows([list(r) for r in value], fill)
    array = np.asarray(value, dtype=object if _looks_text(value) else None)
    if array.ndim == 0:
        array = array.reshape(1)
    array = array.reshape(array.shape[0], -1)
    text = array.dtype.kind in "USO"
    if dtype == "string":
        if not text:
            raise TypeError(
                f"feature column {column.name!r} has dtype string but feature {key!r} holds "
                f"{array.dtype} values; give strings or use an integer column (dtype=int64)")
        out = np.empty(array.shape, dtype=object)
        flat, src = out.reshape(-1), array.reshape(-1)
        for i, x in enumerate(src):
            flat[i] = _decode(x)
        return out
    if text:
        raise TypeError(f"feature column {column.name!r} has an integer dtype but feature "
                        f"{key!r} holds strings (e.g. {array.reshape(-1)[:1].tolist()})")
    if array.dtype.kind not in "iu":
        raise TypeError(f"feature column {column.name!r} needs integer ids for feature "
                        f"{key!r}, got {array.dtype} values")
    return torch.as_tensor(array.astype(np.int64)).to(cache.device)


def _looks_text(value: Any) -> bool:
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "USO"
    if isinstance(value, (list, tuple)):
        first = value[0] if value else None
        while isinstance(first, (list, tuple)) and first:
            first = first[0]
        return _is_text(first)
    return _is_text(value)


def weight_tensor(cache: FeatureCache, key: str, column: Any, shape: torch.Size) -> torch.Tensor:
    """The float weights of feature ``key``, shaped like the ids they weigh."""
    w = numeric_tensor(cache, key, column).float()
    w = w.reshape(w.shape[0], -1)
    if tuple(w.shape) != tuple(shape):
        raise ValueError(f"feature column {column.name!r}: weights {key!r} have shape "
                         f"{tuple(w.shape)} but the ids have shape {tuple(shape)}")
    return w
