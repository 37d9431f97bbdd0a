"""``SparseTensor``: TF's sparse triple (indices, values, dense shape) as an element component.

``parse_example`` returns one for each ``VarLenFeature``. Elements may sit in a shuffle buffer
when an iterator is checkpointed, and checkpoints are read with ``torch.load(weights_only=True)``:
the class is registered there as a plain container of tensors.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, List, Sequence

import torch

__all__ = ["SparseTensor"]


@dataclasses.dataclass(frozen=True, eq=False)
class SparseTensor:
    """TF's sparse triple: ``indices`` ``[nnz, rank]``, ``values`` ``[nnz]``, ``dense_shape``.

    ``values`` is a tensor for numeric features and a list of ``bytes`` (or ``str``) for strings.

    >>> sp = SparseTensor(torch.tensor([[0], [2]]), torch.tensor([5, 7]), torch.tensor([3]))
    >>> sp.to_dense().tolist()
    [5, 0, 7]
    """

    indices: torch.Tensor
    values: Any
    dense_shape: torch.Tensor

    def __eq__(self, other: Any) -> bool:
        """Same indices, values and dense shape (dtypes included)."""
        if not isinstance(other, SparseTensor):
            return NotImplemented
        return (_same(self.indices, other.indices) and _same(self.values, other.values)
                and _same(self.dense_shape, other.dense_shape))

    __hash__ = None  # type: ignore[assignment]  # mutable tensors inside

    def to_dense(self, default_value: Any = None) -> Any:
        """The dense form, like ``tf.sparse.to_dense``: a tensor, or nested lists of strings."""
        shape = [int(d) for d in self.dense_shape]
        if isinstance(self.values, torch.Tensor):
            fill = 0 if default_value is None else default_value
            dense = torch.full(shape, fill, dtype=self.values.dtype)
            if len(self.values):
                dense[tuple(self.indices.t())] = self.values
            return dense
        fill = (b"" if not self.values or isinstance(self.values[0], bytes) else "") \
            if default_value is None else default_value
        flat = [fill] * math.prod(shape)
        strides = [math.prod(shape[i + 1:]) for i in range(len(shape))]
        for index, value in zip(self.indices.tolist(), self.values):
            flat[sum(i * s for i, s in zip(index, strides))] = value
        return _nest(flat, shape)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return a.dtype == b.dtype and a.shape == b.shape and bool(torch.equal(a, b))
    return a == b


torch.serialization.add_safe_globals([SparseTensor])


def _nest(flat: List[Any], shape: Sequence[int]) -> Any:
    if not shape:
        return flat[0]
    if len(shape) == 1:
        return list(flat)
    step = math.prod(shape[1:])
    return [_nest(flat[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]
