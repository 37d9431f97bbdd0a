"""Dense views of categorical columns: ``indicator_column``, ``embedding_column``,
``shared_embeddings``.

An embedding's table is the variable ``<column name>/embedding_weights`` (shape
``[num_buckets, dimension]``) in the variable scope where ``input_layer`` runs, created with
``est.get_variable``; shared embeddings use one table named after the group. Combiners work as
TF's ``safe_embedding_lookup_sparse``: absent ids are skipped, an example without ids gives
zeros, ``"mean"`` and ``"sqrtn"`` also skip ids of weight ``<= 0``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch

import estimator as est
from estimator.feature_column._base import (CategoricalColumn, DenseColumn, FeatureColumn,
                                            variable_name)
from estimator.feature_column._inputs import CategoricalIds, FeatureCache

_COMBINERS = ("mean", "sqrtn", "sum")


def combine(ids: CategoricalIds, rows: torch.Tensor, combiner: str) -> torch.Tensor:
    """Combine ``rows`` (``[batch, k, d]``, looked up by ``ids.valid()``) as ``combiner``."""
    ids = ids.valid()
    w = ids.mask.to(rows.dtype)
    if ids.weights is not None:
        w = w * ids.weights.to(rows.dtype)
    if combiner != "sum":
        w = w * (w > 0)
    total = (rows * w.unsqueeze(-1)).sum(1)
    if combiner == "sum":
        return total
    norm = w.sum(1) if combiner == "mean" else w.square().sum(1).sqrt()
    return torch.where(norm.unsqueeze(-1) > 0, total / norm.clamp_min(1e-30).unsqueeze(-1),
                       torch.zeros_like(total))


def clip_rows(rows: torch.Tensor, max_norm: Optional[float]) -> torch.Tensor:
    """TF's ``embedding_lookup(max_norm=)``: scale rows whose L2 norm exceeds ``max_norm``."""
    if max_norm is None:
        return rows
    norms = rows.norm(dim=-1, keepdim=True)
    return rows * torch.where(norms > max_norm, max_norm / norms.clamp_min(1e-30),
                              torch.ones_like(norms))


@dataclasses.dataclass(frozen=True)
class IndicatorColumn(DenseColumn):
    """See :func:`indicator_column`."""

    categorical_column: CategoricalColumn

    @property
    def name(self) -> str:
        return f"{self.categorical_column.name}_indicator"

    @property
    def keys(self) -> Tuple[str, ...]:
        return self.categorical_column.keys

    @property
    def dimension_flat(self) -> int:
        return self.categorical_column.num_buckets

    def dense(self, cache: FeatureCache, variables: Dict[str, Any]) -> torch.Tensor:
        ids = self.categorical_column.ids(cache).valid()
        w = ids.mask.float()
        if ids.weights is not None:
            w = w * ids.weights
        out = torch.zeros(ids.ids.shape[0], self.dimension_flat, device=ids.ids.device)
        return out.scatter_add_(1, ids.ids, w)


def indicator_column(categorical_column: CategoricalColumn) -> IndicatorColumn:
    """Multi-hot view of a categorical column (``tf.feature_column.indicator_column``): for
    each example, the count of each id (or the sum of its weights).

    >>> import torch
    >>> col = indicator_column(categorical_column_with_identity("i", 4))
    >>> input_layer({"i": torch.tensor([[1, 1], [3, -1]])}, [col])
    tensor([[0., 2., 0., 0.],
            [0., 0., 0., 1.]])
    """
    if not isinstance(categorical_column, CategoricalColumn):
        raise ValueError("indicator_column: categorical_column must be a categorical column, "
                         f"got {type(categorical_column).__name__}")
    return IndicatorColumn(categorical_column)


def _truncated_normal(stddev: float) -> Callable[[torch.Tensor], torch.Tensor]:
    def init(t: torch.Tensor) -> torch.Tensor:
        return torch.nn.init.trunc_normal_(t, 0.0, stddev, -2 * stddev, 2 * stddev)
    return init


def _check_embedding_args(what: str, dimension: int, combiner: str,
                          initializer: Any, max_norm: Optional[float]) -> None:
    if not isinstance(dimension, int) or dimension < 1:
        raise ValueError(f"{what}: dimension must be a positive int, got {dimension!r}")
    if combiner not in _COMBINERS:
        raise ValueError(f"{what}: combiner must be one of {list(_COMBINERS)}, got {combiner!r}")
    if initializer is not None and not callable(initializer):
        raise ValueError(f"{what}: initializer must be callable, got {initializer!r}")
    if max_norm is not None and not max_norm > 0:
        raise ValueError(f"{what}: max_norm must be positive, got {max_norm!r}")


@dataclasses.dataclass(frozen=True)
class EmbeddingColumn(DenseColumn):
    """See :func:`embedding_column`."""

    categorical_column: CategoricalColumn
    dimension: int
    combiner: str = "mean"
    initializer: Optional[Callable[[torch.Tensor], Any]] = None
    max_norm: Optional[float] = None
    trainable: bool = True

    @property
    def name(self) -> str:
        return f"{self.categorical_column.name}_embedding"

    @property
    def keys(self) -> Tuple[str, ...]:
        return self.categorical_column.keys

    @property
    def dimension_flat(self) -> int:
        return self.dimension

    def _table_name(self) -> str:
        return variable_name(self.name)

    def make_variables(self, trainable: bool) -> Dict[str, torch.nn.Parameter]:
        init = self.initializer or _truncated_normal(1.0 / math.sqrt(self.dimension))
        table = est.get_variable(f"{self._table_name()}/embedding_weights",
                                 [self.categorical_column.num_buckets, self.dimension],
                                 initializer=init, trainable=trainable and self.trainable)
        return {"embedding_weights": table}

    def dense(self, cache: FeatureCache, variables: Dict[str, Any]) -> torch.Tensor:
        ids = self.categorical_column.ids(cache).valid()
        rows = clip_rows(torch.nn.functional.embedding(ids.ids, variables["embedding_weights"]),
                         self.max_norm)
        return combine(ids, rows, self.combiner)


def embedding_column(categorical_column: CategoricalColumn, dimension: int,
                     combiner: str = "mean",
                     initializer: Optional[Callable[[torch.Tensor], Any]] = None,
                     ckpt_to_load_from: Optional[str] = None,
                     tensor_name_in_ckpt: Optional[str] = None,
                     max_norm: Optional[float] = None, trainable: bool = True
                     ) -> EmbeddingColumn:
    """A trainable ``dimension``-float embedding of a categorical column
    (``tf.feature_column.embedding_column``).

    ``initializer`` fills the ``[num_buckets, dimension]`` table in place (a
    ``torch.nn.init``-style function; TF's default, a truncated normal of stddev
    ``1/sqrt(dimension)``, otherwise); ``combiner`` is ``"mean"``, ``"sqrtn"`` or ``"sum"``
    over an example's ids; ``max_norm`` clips each looked-up row. Loading a table from another
    checkpoint is ``warm_start_from`` on the Estimator (``ckpt_to_load_from`` is not supported).
    """
    what = f"embedding_column({getattr(categorical_column, 'name', categorical_column)!r})"
    if not isinstance(categorical_column, CategoricalColumn):
        raise ValueError(f"{what}: categorical_column must be a categorical column, got "
                         f"{type(categorical_column).__name__}")
    if ckpt_to_load_from is not None or tensor_name_in_ckpt is not None:
        raise ValueError(f"{what}: ckpt_to_load_from/tensor_name_in_ckpt are not supported; "
                         "warm-start the table with Estimator(warm_start_from=...)")
    _check_embedding_args(what, dimension, combiner, initializer, max_norm)
    return EmbeddingColumn(categorical_column, dimension, combiner, initializer, max_norm,
                           trainable)


@dataclasses.dataclass(frozen=True)
class SharedEmbeddingColumn(EmbeddingColumn):
    """One of the columns of :func:`shared_embeddings`."""

    shared_name: str = ""
    num_shared_buckets: int = 0

    @property
    def name(self) -> str:
        return f"{self.categorical_column.name}_shared_embedding"

    def _table_name(self) -> str:
        return variable_name(self.shared_name)

    def make_variables(self, trainable: bool) -> Dict[str, torch.nn.Parameter]:
        from estimator.scope import AUTO_REUSE, current_scope

        with current_scope().reusing(AUTO_REUSE):  # the columns of a group share one table
            return super().make_variables(trainable)


def shared_embeddings(categorical_columns: Sequence[CategoricalColumn], dimension: int,
                      combiner: str = "mean",
                      initializer: Optional[Callable[[torch.Tensor], Any]] = None,
                      shared_embedding_collection_name: Optional[str] = None,
                      ckpt_to_load_from: Optional[str] = None,
                      tensor_name_in_ckpt: Optional[str] = None,
                      max_norm: Optional[float] = None, trainable: bool = True
                      ) -> List[SharedEmbeddingColumn]:
    """Embedding columns that share one table (``tf.feature_column.shared_embeddings``).

    The columns must have the same ``num_buckets``; the table is named
    ``shared_embedding_collection_name`` (default: the sorted column names joined by ``_``,
    plus ``_shared_embedding``). Returns one column per input, in order.
    """
    cols = list(categorical_columns)
    what = "shared_embeddings"
    if not cols:
        raise ValueError(f"{what}: categorical_columns is empty")
    for c in cols:
        if not isinstance(c, CategoricalColumn):
            raise ValueError(f"{what}: all categorical_columns must be categorical columns, "
                             f"got {type(c).__name__}")
    sizes = {c.name: c.num_buckets for c in cols}
    if len(set(sizes.values())) != 1:
        raise ValueError(f"{what}: all categorical_columns must have the same num_buckets, "
                         f"got {sizes}")
    if ckpt_to_load_from is not None or tensor_name_in_ckpt is not None:
        raise ValueError(f"{what}: ckpt_to_load_from/tensor_name_in_ckpt are not supported")
    _check_embedding_args(what, dimension, combiner, initializer, max_norm)
    name = shared_embedding_collection_name or (
        "_".join(sorted(c.name for c in cols)) + "_shared_embedding")
    return [SharedEmbeddingColumn(c, dimension, combiner, initializer, max_norm, trainable,
                                  name, cols[0].num_buckets) for c in cols]


def shared_embedding_columns(*args: Any, **kwargs: Any) -> List[SharedEmbeddingColumn]:
    """TF 1.x's name for :func:`shared_embeddings`."""
    return shared_embeddings(*args, **kwargs)


def as_dense(column: Any, where: str) -> DenseColumn:
    if isinstance(column, DenseColumn):
        return column
    if isinstance(column, FeatureColumn):
        raise ValueError(
            f"{where}: items of feature_columns must be dense columns (numeric, bucketized, "
            f"indicator, embedding); wrap the categorical column {column.name!r} with "
            "embedding_column or indicator_column")
    raise ValueError(f"{where}: items of feature_columns must be feature columns, got {column!r}")
