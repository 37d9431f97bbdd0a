"""``numeric_column`` and ``bucketized_column``."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

import torch

from estimator.feature_column._base import (CategoricalColumn, DenseColumn, SingleKeyColumn,
                                            check_key)
from estimator.feature_column._inputs import CategoricalIds, FeatureCache, numeric_tensor

_DTYPES = {"float32": torch.float32, "float64": torch.float64, "float16": torch.float16,
           "int32": torch.int32, "int64": torch.int64}


def _dtype(dtype: Any, what: str) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    name = getattr(dtype, "name", dtype)
    if isinstance(name, str) and name in _DTYPES:
        return _DTYPES[name]
    raise ValueError(f"{what}: dtype must be a torch float or int dtype, got {dtype!r}")


@dataclasses.dataclass(frozen=True)
class NumericColumn(SingleKeyColumn, DenseColumn):
    """Real-valued feature; see :func:`numeric_column`."""

    key: str
    shape: Tuple[int, ...] = (1,)
    default_value: Any = None
    dtype: torch.dtype = torch.float32
    normalizer_fn: Optional[Callable[[torch.Tensor], torch.Tensor]] = None

    @property
    def dimension_flat(self) -> int:
        return math.prod(self.shape)

    def values(self, cache: FeatureCache) -> torch.Tensor:
        """``[batch, *shape]`` values (normalized), before the cast to float32."""
        return cache.get(self, "values", self._values)

    def _values(self, cache: FeatureCache) -> torch.Tensor:
        x = numeric_tensor(cache, self.key, self)
        if x.dim() == 1:
            x = x.unsqueeze(1)
        width = self.dimension_flat
        if x.numel() != x.shape[0] * width:
            raise ValueError(
                f"numeric_column {self.key!r} has shape {self.shape} but feature {self.key!r} "
                f"has shape {tuple(x.shape)} ({x[0].numel()} values per example, expected "
                f"{width})")
        if x.shape[1:] != self.shape:
            x = x.reshape(x.shape[0], *self.shape)
        if x.dtype != self.dtype:
            x = x.to(self.dtype)
        if self.normalizer_fn is not None:
            x = self.normalizer_fn(x)
        return x

    def dense(self, cache: FeatureCache, variables: Dict[str, Any]) -> torch.Tensor:
        raw = cache.features.get(self.key)
        if (type(raw) is torch.Tensor and raw.dim() == 1 and raw.dtype == torch.float32
                and self.shape == (1,) and self.normalizer_fn is None
                and raw.device == cache.device):
            return raw.unsqueeze(1)  # the common case, without the general path's checks
        x = self.values(cache)
        if x.dim() != 2:
            x = x.reshape(x.shape[0], -1)
        return x if x.dtype == torch.float32 else x.float()


def numeric_column(key: str, shape: Sequence[int] = (1,), default_value: Any = None,
                   dtype: Any = torch.float32,
                   normalizer_fn: Optional[Callable[[torch.Tensor], torch.Tensor]] = None
                   ) -> NumericColumn:
    """A real-valued feature of ``shape`` per example (``tf.feature_column.numeric_column``).

    ``normalizer_fn`` is applied to the ``[batch, *shape]`` tensor; ``input_layer`` flattens
    the result to ``prod(shape)`` floats. ``default_value`` is kept for parsing ``tf.Example``
    input, as in TF (a missing dense feature is an error here).

    >>> import torch
    >>> col = numeric_column("x", shape=(2,), normalizer_fn=lambda t: t * 10)
    >>> input_layer({"x": torch.tensor([[1.0, 2.0]])}, [col])
    tensor([[10., 20.]])
    """
    check_key(key, "numeric_column")
    shape = (int(shape),) if isinstance(shape, int) else tuple(int(d) for d in shape)
    if not shape or any(d <= 0 for d in shape):
        raise ValueError(f"numeric_column({key!r}): shape dimensions must be positive, got {shape}")
    if normalizer_fn is not None and not callable(normalizer_fn):
        raise TypeError(f"numeric_column({key!r}): normalizer_fn must be callable, got "
                        f"{normalizer_fn!r}")
    dt = _dtype(dtype, f"numeric_column({key!r})")
    if default_value is not None:
        flat = torch.as_tensor(default_value, dtype=torch.float64).reshape(-1)
        if flat.numel() not in (1, math.prod(shape)):
            raise ValueError(f"numeric_column({key!r}): default_value {default_value!r} does not "
                             f"fit shape {shape}")
        default_value = tuple(flat.tolist()) if flat.numel() > 1 else float(flat)
    return NumericColumn(key, shape, default_value, dt, normalizer_fn)


@dataclasses.dataclass(frozen=True)
class BucketizedColumn(DenseColumn, CategoricalColumn):
    """Bucketized numeric feature; see :func:`bucketized_column`."""

    source_column: NumericColumn
    boundaries: Tuple[float, ...]

    @property
    def name(self) -> str:
        return f"{self.source_column.name}_bucketized"

    @property
    def keys(self) -> Tuple[str, ...]:
        return self.source_column.keys

    @property
    def num_buckets(self) -> int:
        return (len(self.boundaries) + 1) * self.source_column.dimension_flat

    @property
    def dimension_flat(self) -> int:
        return self.num_buckets

    def buckets(self, cache: FeatureCache) -> torch.Tensor:
        """``[batch, n]`` bucket index of each of the ``n`` source values."""
        x = self.source_column.values(cache)
        x = x.reshape(x.shape[0], -1)
        boundaries = torch.tensor(self.boundaries, dtype=torch.float64, device=x.device)
        return torch.bucketize(x.double(), boundaries, right=True)

    def dense(self, cache: FeatureCache, variables: Dict[str, Any]) -> torch.Tensor:
        b = self.buckets(cache)
        one_hot = torch.nn.functional.one_hot(b, len(self.boundaries) + 1)
        return one_hot.reshape(b.shape[0], -1).float()

    def _ids(self, cache: FeatureCache) -> CategoricalIds:
        b = self.buckets(cache)
        offsets = torch.arange(b.shape[1], device=b.device) * (len(self.boundaries) + 1)
        ids = b + offsets
        return CategoricalIds(ids, torch.ones_like(ids, dtype=torch.bool))


def bucketized_column(source_column: NumericColumn, boundaries: Sequence[float]
                      ) -> BucketizedColumn:
    """Discretize a numeric column by ``boundaries`` (``tf.feature_column.bucketized_column``).

    ``boundaries=[0., 1., 2.]`` makes the buckets ``(-inf, 0.)``, ``[0., 1.)``, ``[1., 2.)``
    and ``[2., +inf)``. As a dense column it is a one-hot block per source value; as a
    categorical column (in crosses, ``linear_model``) value ``i`` of ``n`` gets ids offset by
    ``i * (len(boundaries) + 1)``.

    >>> import torch
    >>> col = bucketized_column(numeric_column("x"), [0.0, 1.0])
    >>> input_layer({"x": torch.tensor([-5.0, 0.0, 7.0])}, [col])
    tensor([[1., 0., 0.],
            [0., 1., 0.],
            [0., 0., 1.]])
    """
    if not isinstance(source_column, NumericColumn):
        raise ValueError("bucketized_column: source_column must be a numeric_column, got "
                         f"{type(source_column).__name__}")
    if isinstance(boundaries, (str, bytes)) or not isinstance(boundaries, (list, tuple)):
        raise ValueError(f"bucketized_column({source_column.name!r}): boundaries must be a "
                         f"sorted list of floats, got {boundaries!r}")
    bounds = tuple(float(b) for b in boundaries)
    if not bounds:
        raise ValueError(f"bucketized_column({source_column.name!r}): boundaries is empty")
    if any(a >= b for a, b in zip(bounds, bounds[1:])):
        raise ValueError(f"bucketized_column({source_column.name!r}): boundaries must be "
                         f"sorted in increasing order, got {list(bounds)}")
    return BucketizedColumn(source_column, bounds)
