"""Categorical columns: vocabulary (list or file), identity, hash bucket, weighted.

Input values are ``[batch, k]`` (``k`` values per example; a ``[batch]`` input is ``k = 1``).
As in TF's conversion of a dense input to a ``SparseTensor``, the entries ``""`` (strings) and
``-1`` (integers) are absent, so ragged lists padded with them are multivalent features.
Out-of-vocabulary strings hash to ``vocabulary_size + Fingerprint64(s) % num_oov_buckets``
exactly as TF (an integer is hashed as its decimal string, as TF does).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np
import torch

from estimator.feature_column._base import CategoricalColumn, SingleKeyColumn, check_key
from estimator.feature_column._hash import fingerprint64
from estimator.feature_column._inputs import (CategoricalIds, FeatureCache, categorical_values,
                                              weight_tensor)


def _dtype_name(dtype: Any, what: str) -> str:
    name = getattr(dtype, "name", None) or (dtype if isinstance(dtype, str) else None)
    if dtype is str or dtype is bytes or name in ("string", "str"):
        return "string"
    if dtype is int or name in ("int64", "int32", "int16", "int8", "uint8"):
        return "int64"
    if isinstance(dtype, torch.dtype) and not dtype.is_floating_point and dtype != torch.bool:
        return "int64"
    raise ValueError(f"{what}: dtype must be string or an integer dtype, got {dtype!r}")


def _string_ids(values: np.ndarray, lookup: Any) -> Tuple[np.ndarray, np.ndarray]:
    flat = values.reshape(-1)
    ids = np.empty(flat.shape, dtype=np.int64)
    mask = np.empty(flat.shape, dtype=bool)
    for i, s in enumerate(flat):
        if s == "":
            ids[i], mask[i] = 0, False
        else:
            ids[i], mask[i] = lookup(s), True
    return ids.reshape(values.shape), mask.reshape(values.shape)


def _to_ids(cache: FeatureCache, ids: Any, mask: Any) -> CategoricalIds:
    ids = torch.as_tensor(ids).to(cache.device)
    mask = torch.as_tensor(mask).to(cache.device)
    return CategoricalIds(torch.where(mask, ids, torch.zeros_like(ids)), mask)


class _Vocabulary(SingleKeyColumn, CategoricalColumn):
    """Shared lookup of the two vocabulary columns."""

    key: str
    dtype: str
    default_value: int
    num_oov_buckets: int

    @property
    def vocabulary(self) -> Tuple[Any, ...]:
        raise NotImplementedError

    @property
    def num_buckets(self) -> int:
        return len(self.vocabulary) + self.num_oov_buckets

    def _table(self) -> Dict[Any, int]:
        table = self.__dict__.get("_table_cache")
        if table is None:
            table = {v: i for i, v in enumerate(self.vocabulary)}
            object.__setattr__(self, "_table_cache", table)
        return table

    def _lookup(self, value: Any) -> int:
        j = self._table().get(value)
        if j is not None:
            return j
        if self.num_oov_buckets:
            return len(self.vocabulary) + fingerprint64(str(value)) % self.num_oov_buckets
        return self.default_value

    def _ids(self, cache: FeatureCache) -> CategoricalIds:
        values = categorical_values(cache, self.key, self, self.dtype)
        if self.dtype == "string":
            return _to_ids(cache, *_string_ids(values, self._lookup))
        raw = values.cpu().numpy()
        flat = raw.reshape(-1)
        ids = np.fromiter((self._lookup(int(v)) if v != -1 else -1 for v in flat),
                          dtype=np.int64, count=flat.size).reshape(raw.shape)
        return _to_ids(cache, ids, raw != -1)


def _oov_args(what: str, num_oov_buckets: int, default_value: Optional[int]) -> int:
    if not isinstance(num_oov_buckets, int) or num_oov_buckets < 0:
        raise ValueError(f"{what}: num_oov_buckets must be a non-negative int, got "
                         f"{num_oov_buckets!r}")
    if num_oov_buckets and default_value not in (None, -1):
        raise ValueError(f"{what}: can't give both default_value ({default_value}) and "
                         f"num_oov_buckets ({num_oov_buckets})")
    return -1 if default_value is None else int(default_value)


@dataclasses.dataclass(frozen=True)
class VocabularyListCategoricalColumn(_Vocabulary):
    """See :func:`categorical_column_with_vocabulary_list`."""

    key: str
    vocabulary_list: Tuple[Any, ...]
    dtype: str
    default_value: int
    num_oov_buckets: int

    @property
    def vocabulary(self) -> Tuple[Any, ...]:
        return self.vocabulary_list


def categorical_column_with_vocabulary_list(
        key: str, vocabulary_list: Sequence[Any], dtype: Any = None, default_value: int = -1,
        num_oov_buckets: int = 0) -> VocabularyListCategoricalColumn:
    """Ids by position in ``vocabulary_list`` (``tf.feature_column``'s of the same name).

    ``dtype`` (string or an integer dtype) defaults to the vocabulary's own. A value not in
    the list gets ``default_value`` (``-1``: absent) or, with ``num_oov_buckets``, one of the
    ids ``len(vocabulary_list) ...`` by TF's hash.

    >>> col = categorical_column_with_vocabulary_list("color", ["red", "green"])
    >>> input_layer({"color": ["green", "blue"]}, [indicator_column(col)])
    tensor([[0., 1.],
            [0., 0.]])
    """
    what = f"categorical_column_with_vocabulary_list({key!r})"
    check_key(key, what)
    if isinstance(vocabulary_list, (str, bytes)) or vocabulary_list is None:
        raise ValueError(f"{what}: vocabulary_list must be a list, got {vocabulary_list!r}")
    vocab = tuple(v.decode() if isinstance(v, bytes) else v for v in vocabulary_list)
    if not vocab:
        raise ValueError(f"{what}: vocabulary_list is empty")
    if len(set(vocab)) != len(vocab):
        dupes = sorted({str(v) for v in vocab if vocab.count(v) > 1})
        raise ValueError(f"{what}: duplicate keys in vocabulary_list: {dupes}")
    inferred = "string" if isinstance(vocab[0], str) else "int64"
    if any(isinstance(v, str) != (inferred == "string") for v in vocab) or (
            inferred == "int64" and not all(isinstance(v, (int, np.integer)) for v in vocab)):
        raise ValueError(f"{what}: vocabulary_list must be all strings or all ints, got "
                         f"{list(vocab)}")
    dt = inferred if dtype is None else _dtype_name(dtype, what)
    if dt != inferred:
        raise ValueError(f"{what}: dtype {dtype!r} does not match the vocabulary's ({inferred})")
    if dt == "int64":
        vocab = tuple(int(v) for v in vocab)
    default = _oov_args(what, num_oov_buckets, default_value)
    return VocabularyListCategoricalColumn(key, vocab, dt, default, num_oov_buckets)


@dataclasses.dataclass(frozen=True)
class VocabularyFileCategoricalColumn(_Vocabulary):
    """See :func:`categorical_column_with_vocabulary_file`."""

    key: str
    vocabulary_file: str
    vocabulary_size: int
    num_oov_buckets: int
    default_value: int
    dtype: str
    _vocabulary: Tuple[Any, ...] = dataclasses.field(compare=False, repr=False, default=())

    @property
    def vocabulary(self) -> Tuple[Any, ...]:
        return self._vocabulary


def categorical_column_with_vocabulary_file(
        key: str, vocabulary_file: str, vocabulary_size: Optional[int] = None,
        num_oov_buckets: int = 0, default_value: Optional[int] = None, dtype: Any = "string"
        ) -> VocabularyFileCategoricalColumn:
    """Ids by line number in ``vocabulary_file`` (one value per line, the first
    ``vocabulary_size`` lines; all by default), otherwise as
    :func:`categorical_column_with_vocabulary_list`. The file is read once, here.
    """
    what = f"categorical_column_with_vocabulary_file({key!r})"
    check_key(key, what)
    if not vocabulary_file:
        raise ValueError(f"{what}: Missing vocabulary_file")
    path = os.fspath(vocabulary_file)
    if not os.path.isfile(path):
        raise ValueError(f"{what}: vocabulary_file {path!r} does not exist")
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if vocabulary_size is None:
        vocabulary_size = len(lines)
    if vocabulary_size <= 0 or vocabulary_size > len(lines):
        raise ValueError(f"{what}: vocabulary_size must be in [1, {len(lines)}] (the file's "
                         f"lines), got {vocabulary_size}")
    dt = _dtype_name(dtype, what)
    vocab: Tuple[Any, ...] = tuple(lines[:vocabulary_size])
    if dt == "int64":
        try:
            vocab = tuple(int(v) for v in vocab)
        except ValueError as e:
            raise ValueError(f"{what}: dtype int64 but the file holds a non-integer line: {e}")
    if len(set(vocab)) != len(vocab):
        raise ValueError(f"{what}: duplicate lines in {path!r}")
    default = _oov_args(what, num_oov_buckets, default_value)
    return VocabularyFileCategoricalColumn(key, path, vocabulary_size, num_oov_buckets, default,
                                           dt, vocab)


@dataclasses.dataclass(frozen=True)
class IdentityCategoricalColumn(SingleKeyColumn, CategoricalColumn):
    """See :func:`categorical_column_with_identity`."""

    key: str
    number_buckets: int
    default_value: Optional[int] = None

    @property
    def num_buckets(self) -> int:
        return self.number_buckets

    def _ids(self, cache: FeatureCache) -> CategoricalIds:
        values = categorical_values(cache, self.key, self, "int64")
        present = values != -1
        inside = (values >= 0) & (values < self.number_buckets)
        if self.default_value is None:
            bad = present & ~inside
            if values.device.type == "cuda":
                torch._assert_async(~bad.any())
            elif bool(bad.any()):
                raise ValueError(
                    f"categorical_column_with_identity({self.key!r}): feature {self.key!r} has "
                    f"ids {sorted(set(values[bad].tolist()))[:5]} outside [0, "
                    f"{self.number_buckets}); give default_value= to map them")
            return CategoricalIds(torch.where(present, values, 0), present)
        ids = torch.where(inside, values, self.default_value)
        return CategoricalIds(torch.where(present, ids, 0), present)


def categorical_column_with_identity(key: str, num_buckets: int,
                                     default_value: Optional[int] = None
                                     ) -> IdentityCategoricalColumn:
    """Integer features used as ids in ``[0, num_buckets)``
    (``tf.feature_column.categorical_column_with_identity``). A value outside the range gets
    ``default_value``, or is an error without one; ``-1`` means absent.
    """
    what = f"categorical_column_with_identity({key!r})"
    check_key(key, what)
    if not isinstance(num_buckets, int) or num_buckets < 1:
        raise ValueError(f"{what}: num_buckets must be a positive int, got {num_buckets!r}")
    if default_value is not None and not 0 <= default_value < num_buckets:
        raise ValueError(f"{what}: default_value {default_value} not in [0, {num_buckets})")
    return IdentityCategoricalColumn(key, num_buckets, default_value)


@dataclasses.dataclass(frozen=True)
class HashedCategoricalColumn(SingleKeyColumn, CategoricalColumn):
    """See :func:`categorical_column_with_hash_bucket`."""

    key: str
    hash_bucket_size: int
    dtype: str = "string"

    @property
    def num_buckets(self) -> int:
        return self.hash_bucket_size

    def _ids(self, cache: FeatureCache) -> CategoricalIds:
        n = self.hash_bucket_size
        values = categorical_values(cache, self.key, self, self.dtype)
        if self.dtype == "string":
            return _to_ids(cache, *_string_ids(values, lambda s: fingerprint64(s) % n))
        raw = values.cpu().numpy()
        ids = np.fromiter((fingerprint64(str(int(v))) % n for v in raw.reshape(-1)),
                          dtype=np.int64, count=raw.size).reshape(raw.shape)
        return _to_ids(cache, ids, raw != -1)


def categorical_column_with_hash_bucket(key: str, hash_bucket_size: int, dtype: Any = "string"
                                        ) -> HashedCategoricalColumn:
    """Ids ``Fingerprint64(value) % hash_bucket_size``
    (``tf.feature_column.categorical_column_with_hash_bucket``).

    The hash is TF's own (FarmHash ``Fingerprint64``, as ``tf.strings.to_hash_bucket_fast``),
    so every value lands in the bucket it lands in under TF; integers are hashed as their
    decimal strings, as TF does.

    >>> col = categorical_column_with_hash_bucket("word", 10)
    >>> input_layer({"word": ["hello"]}, [indicator_column(col)]).argmax(1).item()
    6
    """
    what = f"categorical_column_with_hash_bucket({key!r})"
    check_key(key, what)
    if not isinstance(hash_bucket_size, int) or hash_bucket_size <= 1:
        raise ValueError(f"{what}: hash_bucket_size must be an int > 1, got {hash_bucket_size!r}")
    return HashedCategoricalColumn(key, hash_bucket_size, _dtype_name(dtype, what))


@dataclasses.dataclass(frozen=True)
class WeightedCategoricalColumn(CategoricalColumn):
    """See :func:`weighted_categorical_column`."""

    categorical_column: CategoricalColumn
    weight_feature_key: str
    dtype: torch.dtype = torch.float32

    @property
    def name(self) -> str:
        return f"{self.categorical_column.name}_weighted_by_{self.weight_feature_key}"

    @property
    def keys(self) -> Tuple[str, ...]:
        return self.categorical_column.keys + (self.weight_feature_key,)

    @property
    def num_buckets(self) -> int:
        return self.categorical_column.num_buckets

    def _ids(self, cache: FeatureCache) -> CategoricalIds:
        inner = self.categorical_column.ids(cache)
        w = weight_tensor(cache, self.weight_feature_key, self, inner.ids.shape)
        if inner.weights is not None:
            w = w * inner.weights
        return CategoricalIds(inner.ids, inner.mask, w)


def weighted_categorical_column(categorical_column: CategoricalColumn, weight_feature_key: str,
                                dtype: Any = torch.float32) -> WeightedCategoricalColumn:
    """Give each id of ``categorical_column`` the weight in feature ``weight_feature_key``
    (same shape as the ids), as ``tf.feature_column.weighted_categorical_column``; indicator
    columns then sum weights and embeddings combine with them.
    """
    if not isinstance(categorical_column, CategoricalColumn):
        raise ValueError("weighted_categorical_column: categorical_column must be a categorical "
                         f"column, got {type(categorical_column).__name__}")
    check_key(weight_feature_key, "weighted_categorical_column")
    if dtype not in (torch.float32, "float32", torch.float64, "float64"):
        raise ValueError(f"weighted_categorical_column: dtype must be float, got {dtype!r}")
    return WeightedCategoricalColumn(categorical_column, weight_feature_key, torch.float32)
