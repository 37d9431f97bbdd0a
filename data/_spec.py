"""Element specs: the structure, dtypes and shapes of a dataset's elements (``element_spec``).

A spec is a nest (tuples, namedtuples, dicts) whose leaves are :class:`TensorSpec`,
:class:`DatasetSpec` or ``None`` (a ``None`` component). Python scalars are described as the
tensors ``batch`` makes of them (``int`` → int64, ``float`` → float32, ``bool`` → bool);
strings have dtype ``str`` or ``bytes`` and a list of strings (a batch of them) has shape
``(n,)``.

Sources and most transformations know their spec without running anything (as tf.data's static
specs). Where a user function decides the elements (``map``, ``interleave``, a generator without
``output_signature``), the spec is that of a representative element: the function applied to
one representative input element. Its shapes are those of that element, so a dimension that
varies between elements is not seen as unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence, Tuple

import torch

Shape = Optional[Tuple[Optional[int], ...]]  # None: unknown rank


@dataclass(frozen=True)
class TensorSpec:
    """The shape and dtype of one tensor component (``None`` dims are unknown).

    ``dtype`` is a ``torch.dtype``, or ``str``/``bytes`` for string components. Also accepted
    by ``Dataset.from_generator(output_signature=...)``.

    >>> import torch, data
    >>> data.TensorSpec((None, 3), torch.float32)
    TensorSpec(shape=(None, 3), dtype=torch.float32, name=None)
    """

    shape: Shape
    dtype: Any = torch.float32
    name: Optional[str] = None

    def __post_init__(self) -> None:
        if self.shape is not None:
            shape = (self.shape,) if isinstance(self.shape, int) else self.shape
            object.__setattr__(self, "shape", tuple(
                None if d is None or int(d) < 0 else int(d) for d in shape))

    def is_compatible_with(self, other: Any) -> bool:
        """Same dtype kind, and shapes that agree where both are known."""
        if not isinstance(other, TensorSpec) or _dtype_kind(self.dtype) != _dtype_kind(other.dtype):
            return False
        if self.shape is None or other.shape is None:
            return True
        return len(self.shape) == len(other.shape) and all(
            a is None or b is None or a == b for a, b in zip(self.shape, other.shape))


@dataclass(frozen=True)
class DatasetSpec:
    """A component that is itself a dataset, with its ``element_spec``."""

    element_spec: Any


def _dtype_kind(dtype: Any) -> Any:
    return "string" if dtype in (str, bytes) else dtype


def spec_of_leaf(leaf: Any) -> Any:
    from data.dataset import Dataset

    if leaf is None:
        return None
    if isinstance(leaf, torch.Tensor):
        return TensorSpec(tuple(leaf.shape), leaf.dtype)
    if isinstance(leaf, bool):
        return TensorSpec((), torch.bool)
    if isinstance(leaf, int):
        return TensorSpec((), torch.int64)
    if isinstance(leaf, float):
        return TensorSpec((), torch.float32)
    if isinstance(leaf, (str, bytes)):
        return TensorSpec((), type(leaf))
    if isinstance(leaf, list):
        kinds = {type(v) for v in leaf}
        dtype = kinds.pop() if len(kinds) == 1 and kinds <= {str, bytes} else list
        return TensorSpec((len(leaf),), dtype)
    if isinstance(leaf, Dataset):
        return DatasetSpec(leaf.element_spec)
    return TensorSpec(None, type(leaf))


def spec_of(element: Any) -> Any:
    """The spec describing ``element``."""
    from data._structure import map_structure
    return map_structure(spec_of_leaf, element)


def batched(spec: Any, size: Optional[int]) -> Any:
    """The spec of batches of elements of ``spec`` (``size=None``: the last may be short)."""
    from data._structure import map_structure

    def leaf(s: Any) -> Any:
        if isinstance(s, TensorSpec):
            return TensorSpec(None if s.shape is None else (size,) + s.shape, s.dtype)
        return s
    return map_structure(leaf, spec)


def unbatched(spec: Any) -> Any:
    """The spec of the rows of batches described by ``spec``."""
    from data._structure import map_structure

    def leaf(s: Any) -> Any:
        if isinstance(s, TensorSpec) and s.shape:
            return TensorSpec(s.shape[1:], s.dtype)
        return s
    return map_structure(leaf, spec)


def most_specific_compatible(a: Any, b: Any, what: str) -> Any:
    """The spec that describes elements of both ``a`` and ``b``; ``TypeError`` if none does.

    Structures and dtypes must agree (as tf.data requires for ``concatenate``); dimensions
    that differ become unknown.
    """
    def fail() -> TypeError:
        return TypeError(f"Incompatible dataset elements in {what}:\n  {_show(a)}\nvs.\n  "
                         f"{_show(b)}")
    return _merge(a, b, fail)


def _merge(a: Any, b: Any, fail: Any) -> Any:
    if isinstance(a, dict) or isinstance(b, dict):
        if not (isinstance(a, dict) and isinstance(b, dict)) or set(a) != set(b):
            raise fail()
        return {k: _merge(a[k], b[k], fail) for k in a}
    if isinstance(a, tuple) or isinstance(b, tuple):
        if not (isinstance(a, tuple) and isinstance(b, tuple)) or len(a) != len(b):
            raise fail()
        items = [_merge(x, y, fail) for x, y in zip(a, b)]
        return type(a)(*items) if hasattr(a, "_fields") else tuple(items)
    if a is None or b is None:
        if a is not b:
            raise fail()
        return None
    if isinstance(a, DatasetSpec) or isinstance(b, DatasetSpec):
        if not (isinstance(a, DatasetSpec) and isinstance(b, DatasetSpec)):
            raise fail()
        return DatasetSpec(_merge(a.element_spec, b.element_spec, fail))
    if _dtype_kind(a.dtype) != _dtype_kind(b.dtype):
        raise fail()
    return TensorSpec(_merge_shapes(a.shape, b.shape), a.dtype)


def _merge_shapes(a: Shape, b: Shape) -> Shape:
    if a is None or b is None or len(a) != len(b):
        return None
    return tuple(x if x == y else None for x, y in zip(a, b))


def _show(spec: Any) -> str:
    if isinstance(spec, dict):
        return "{" + ", ".join(f"{k!r}: {_show(v)}" for k, v in spec.items()) + "}"
    if isinstance(spec, tuple):
        return "(" + ", ".join(_show(v) for v in spec) + ")"
    return repr(spec)


def from_signature(signature: Any) -> Any:
    """A spec from ``from_generator``'s ``output_types``/``output_signature`` nest."""
    from data._structure import map_structure

    def leaf(s: Any) -> Any:
        if isinstance(s, (TensorSpec, DatasetSpec)) or s is None:
            return s
        return TensorSpec(None, s)
    return map_structure(leaf, signature)


def shapes_into(spec: Any, shapes: Sequence[Any]) -> Any:
    """``spec`` with the leaves' shapes replaced by ``shapes`` (flattened order)."""
    from data._structure import flatten, pack
    leaves = [TensorSpec(None if shape is None else tuple(shape), s.dtype)
              if isinstance(s, TensorSpec) else s for s, shape in zip(flatten(spec), shapes)]
    return pack(spec, iter(leaves))
