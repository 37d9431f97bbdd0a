"""``crossed_column``: hashed conjunctions of categorical features, computed as TF computes them.

For each example, every combination of one value from each crossed input becomes one id:
``FingerprintCat64`` chained from ``hash_key`` over the inputs' value hashes, modulo
``hash_bucket_size`` (TF's ``SparseCrossHashed``). A string value's hash is ``Fingerprint64``;
an integer (an id of a categorical column, or a raw integer feature) is used as is. As in TF,
inputs given as categorical columns come first and raw feature keys after them, and raw string
features keep every entry (``""`` included), because TF crosses them as dense tensors.
"""

from __future__ import annotations

import dataclasses
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from estimator.feature_column._base import CategoricalColumn
from estimator.feature_column._hash import fingerprint64
from estimator.feature_column._inputs import CategoricalIds, FeatureCache, categorical_values

_DEFAULT_HASH_KEY = 0xDECAFCAFFE
_KMUL = np.uint64(0xC6A4A7935BD1E995)
_S47 = np.uint64(47)


def _shift_mix(v: np.ndarray) -> np.ndarray:
    return v ^ (v >> _S47)


def _cat64(fp1: np.ndarray, fp2: np.ndarray) -> np.ndarray:
    """Vectorized ``FingerprintCat64`` on uint64 arrays (numpy wraps on overflow)."""
    with np.errstate(over="ignore"):
        result = fp1 ^ _KMUL
        result = result ^ (_shift_mix(fp2 * _KMUL) * _KMUL)
        result = result * _KMUL
        result = _shift_mix(result) * _KMUL
        return _shift_mix(result)


@dataclasses.dataclass(frozen=True)
class CrossedColumn(CategoricalColumn):
    """See :func:`crossed_column`."""

    inputs: Tuple[Union[str, CategoricalColumn], ...]
    hash_bucket_size: int
    hash_key: int = _DEFAULT_HASH_KEY

    @property
    def name(self) -> str:
        names = [k if isinstance(k, str) else k.name for k in self.inputs]
        return "_X_".join(sorted(names))

    @property
    def keys(self) -> Tuple[str, ...]:
        out: List[str] = []
        for k in self.inputs:
            out.extend([k] if isinstance(k, str) else k.keys)
        return tuple(out)

    @property
    def num_buckets(self) -> int:
        return self.hash_bucket_size

    def _leaves(self) -> List[Union[str, CategoricalColumn]]:
        out: List[Union[str, CategoricalColumn]] = []
        for k in self.inputs:
            out.extend(k._leaves() if isinstance(k, CrossedColumn) else [k])
        return out

    def _hashes(self, cache: FeatureCache, leaf: Union[str, CategoricalColumn]
                ) -> Tuple[np.ndarray, np.ndarray]:
        if isinstance(leaf, str):
            value = cache.raw(leaf, self)
            text = not isinstance(value, torch.Tensor) and np.asarray(
                value[0] if isinstance(value, list) and value else value).dtype.kind in "USO"
            values = categorical_values(cache, leaf, self, "string" if text else "int64")
            if text:
                flat = values.reshape(-1)
                h = np.fromiter((fingerprint64(s) for s in flat), dtype=np.uint64,
                                count=flat.size).reshape(values.shape)
            else:
                h = values.cpu().numpy().astype(np.int64).view(np.uint64)
            return h, np.ones(h.shape, dtype=bool)
        ids = leaf.ids(cache)
        if ids.weights is not None:
            raise ValueError(f"crossed_column {self.name!r} does not support weighted "
                             f"categorical columns; given {leaf.name!r}")
        return (ids.ids.cpu().numpy().astype(np.int64).view(np.uint64),
                ids.mask.cpu().numpy())

    def _ids(self, cache: FeatureCache) -> CategoricalIds:
        leaves = self._leaves()
        ordered = ([k for k in leaves if not isinstance(k, str)] +
                   [k for k in leaves if isinstance(k, str)])
        parts = [self._hashes(cache, k) for k in ordered]
        batch = {p[0].shape[0] for p in parts}
        if len(batch) != 1:
            raise ValueError(f"crossed_column {self.name!r}: its inputs have different batch "
                             f"sizes {sorted(batch)}")
        n = batch.pop()
        acc = np.full((n, 1), np.uint64(self.hash_key), dtype=np.uint64)
        mask = np.ones((n, 1), dtype=bool)
        for h, m in parts:
            acc = _cat64(acc[:, :, None], h[:, None, :]).reshape(n, -1)
            mask = (mask[:, :, None] & m[:, None, :]).reshape(n, -1)
        ids = (acc % np.uint64(self.hash_bucket_size)).astype(np.int64)
        return CategoricalIds(torch.as_tensor(ids).to(cache.device),
                              torch.as_tensor(mask).to(cache.device))


def crossed_column(keys: Sequence[Union[str, CategoricalColumn]], hash_bucket_size: int,
                   hash_key: Optional[int] = None) -> CrossedColumn:
    """Cross ``keys`` (feature keys or categorical columns, at least two) into
    ``hash_bucket_size`` buckets (``tf.feature_column.crossed_column``), with TF's hash, so
    each combination gets the id TF gives it.

    >>> col = crossed_column(["city", "kind"], 1000)
    >>> col.name
    'city_X_kind'
    >>> ids = input_layer({"city": ["paris"], "kind": ["x"]}, [indicator_column(col)])
    >>> ids.argmax(1).item()
    401
    """
    if isinstance(keys, (str, bytes)) or len(keys) < 2:
        raise ValueError(f"crossed_column: keys must be a list of at least 2 keys or "
                         f"categorical columns, got {keys!r}")
    if not isinstance(hash_bucket_size, int) or hash_bucket_size < 1:
        raise ValueError(f"crossed_column: hash_bucket_size must be a positive int, got "
                         f"{hash_bucket_size!r}")
    from estimator.feature_column.categorical import HashedCategoricalColumn

    for k in keys:
        if isinstance(k, HashedCategoricalColumn):
            raise ValueError("crossed_column does not support hashed categorical columns; "
                             f"use the feature key {k.key!r} instead")
        if not isinstance(k, (str, CategoricalColumn)):
            raise ValueError("crossed_column: keys must be feature keys (str) or categorical "
                             f"columns, got {k!r}")
    return CrossedColumn(tuple(keys), hash_bucket_size,
                         _DEFAULT_HASH_KEY if hash_key is None else int(hash_key))
