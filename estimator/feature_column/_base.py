"""The two kinds of feature column: dense (a float block per example) and categorical (ids).

Columns are frozen dataclasses (hashable, compared by value), as TF's are namedtuples. A dense
column has a flat width :attr:`DenseColumn.dimension` and :meth:`DenseColumn.dense`; a
categorical column has :attr:`CategoricalColumn.num_buckets` and :meth:`CategoricalColumn.ids`.
A column that owns variables (embeddings) creates them with ``est.get_variable`` in
:meth:`FeatureColumn.make_variables`, inside the model scope of the running ``model_fn``.
"""

from __future__ import annotations

from typing import Dict, Tuple

import torch

from estimator.feature_column._inputs import CategoricalIds, FeatureCache


class FeatureColumn:
    """Base of every feature column."""

    @property
    def name(self) -> str:
        raise NotImplementedError

    @property
    def keys(self) -> Tuple[str, ...]:
        """The feature keys this column reads."""
        raise NotImplementedError

    def make_variables(self, trainable: bool) -> Dict[str, torch.nn.Parameter]:
        """Create (or find) this column's variables in the current variable scope."""
        return {}


class SingleKeyColumn(FeatureColumn):
    """A column that reads one feature, ``key``, and is named after it."""

    key: str

    @property
    def name(self) -> str:
        return self.key

    @property
    def keys(self) -> Tuple[str, ...]:
        return (self.key,)


class DenseColumn(FeatureColumn):
    """A column that maps each example to ``dimension`` floats (``input_layer`` accepts it)."""

    @property
    def dimension_flat(self) -> int:
        raise NotImplementedError

    def dense(self, cache: FeatureCache, variables: Dict[str, torch.nn.Parameter]
              ) -> torch.Tensor:
        """``[batch, dimension_flat]`` float32 tensor for the features in ``cache``."""
        raise NotImplementedError


class CategoricalColumn(FeatureColumn):
    """A column that maps each example to a set of ids in ``[0, num_buckets)``."""

    @property
    def num_buckets(self) -> int:
        raise NotImplementedError

    def ids(self, cache: FeatureCache) -> CategoricalIds:
        """The example's ids (padded, with a validity mask and optional weights)."""
        return cache.get(self, "ids", self._ids)

    def _ids(self, cache: FeatureCache) -> CategoricalIds:
        raise NotImplementedError


def variable_name(column_name: str) -> str:
    """A column name usable as a variable-scope component."""
    return column_name.replace(".", "_").replace("/", "_")


def check_key(key: object, what: str) -> str:
    if not isinstance(key, str) or not key:
        raise ValueError(f"{what}: key must be a non-empty string, got {key!r}")
    return key
