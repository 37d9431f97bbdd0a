"""Nested elements: normalisation, batching (stacking) and unbatching.

An element is a nest of tuples (namedtuples included) and dicts whose leaves ("components") are
torch tensors, Python scalars (``bool``, ``int``, ``float``), strings (``str``/``bytes``) or
lists. As in tf.data, a list is one component, not structure: a batch of strings is a list, and
unbatching it gives its strings back. Numpy arrays become tensors without a copy.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Iterator, List, Sequence

import numpy as np
import torch

_STRING_TYPES = (str, bytes)


def _rebuild(template: tuple, items: Sequence[Any]) -> tuple:
    if hasattr(template, "_fields"):  # namedtuple
        return type(template)(*items)
    return tuple(items)


def map_structure(fn: Callable[[Any], Any], element: Any) -> Any:
    """Apply ``fn`` to every leaf of ``element``, keeping its shape."""
    if isinstance(element, dict):
        return {k: map_structure(fn, v) for k, v in element.items()}
    if isinstance(element, tuple):
        return _rebuild(element, [map_structure(fn, v) for v in element])
    return fn(element)


def flatten(element: Any) -> List[Any]:
    """Leaves of ``element`` in a fixed order (dict keys in insertion order)."""
    if isinstance(element, dict):
        return [leaf for v in element.values() for leaf in flatten(v)]
    if isinstance(element, tuple):
        return [leaf for v in element for leaf in flatten(v)]
    return [element]


def pack(template: Any, values: Iterator[Any]) -> Any:
    """Rebuild ``template``'s structure (namedtuples included) from an iterator of leaves."""
    if isinstance(template, dict):
        return {k: pack(v, values) for k, v in template.items()}
    if isinstance(template, tuple):
        return _rebuild(template, [pack(v, values) for v in template])
    return next(values)


def packer(template: Any) -> Callable[[Sequence[Any]], Any]:
    """A function rebuilding ``template``'s structure from a sequence of its leaves: what
    :func:`pack` does, planned once for a structure that is rebuilt per element.

    >>> packer(({"a": 0, "b": 0}, 0))([1, 2, 3])
    ({'a': 1, 'b': 2}, 3)
    """
    if isinstance(template, dict) and not any(isinstance(v, (dict, tuple))
                                              for v in template.values()):
        keys = list(template)
        return lambda leaves: dict(zip(keys, leaves))
    if (type(template) is tuple and len(template) == 2 and isinstance(template[0], dict)
            and not isinstance(template[1], (dict, tuple))
            and not any(isinstance(v, (dict, tuple)) for v in template[0].values())):
        keys, n = list(template[0]), len(template[0])  # (features dict, label): the common case
        return lambda leaves: (dict(zip(keys, leaves)), leaves[n])
    if not isinstance(template, (dict, tuple)):
        return lambda leaves: leaves[0]
    return lambda leaves: pack(template, iter(leaves))


def flatten_up_to(template: Any, nest: Any, where: str) -> List[Any]:
    """Values of ``nest`` at the positions of ``template``'s leaves.

    ``nest`` must have ``template``'s structure down to its leaves, where it may hold anything
    (e.g. a shape tuple for ``padded_shapes``). Mismatches raise ``ValueError`` starting with
    ``where``.
    """
    if isinstance(template, dict):
        if not isinstance(nest, dict) or set(nest) != set(template):
            got = sorted(map(str, nest)) if isinstance(nest, dict) else type(nest).__name__
            raise ValueError(f"{where}: expected a dict with keys {sorted(map(str, template))} "
                             f"matching the element, got {got}")
        return [v for k in template for v in flatten_up_to(template[k], nest[k], f"{where}[{k!r}]")]
    if isinstance(template, tuple):
        if not isinstance(nest, (tuple, list)) or len(nest) != len(template):
            raise ValueError(f"{where}: expected a sequence of {len(template)} entries matching "
                             f"the element, got {nest!r}")
        return [v for i, (t, n) in enumerate(zip(template, nest))
                for v in flatten_up_to(t, n, f"{where}[{i}]")]
    return [nest]


def assert_same_structure(a: Any, b: Any, what: str = "elements") -> None:
    """Raise ``ValueError`` when two nests differ in shape (types, lengths or keys)."""
    if isinstance(a, dict) or isinstance(b, dict):
        if not (isinstance(a, dict) and isinstance(b, dict)) or list(a) != list(b):
            raise ValueError(f"{what} have different structures: {_describe(a)} vs {_describe(b)}")
        for k in a:
            assert_same_structure(a[k], b[k], what)
    elif isinstance(a, tuple) or isinstance(b, tuple):
        if not (isinstance(a, tuple) and isinstance(b, tuple)) or len(a) != len(b):
            raise ValueError(f"{what} have different structures: {_describe(a)} vs {_describe(b)}")
        for x, y in zip(a, b):
            assert_same_structure(x, y, what)


def _describe(x: Any) -> str:
    if isinstance(x, dict):
        return "{" + ", ".join(f"{k!r}: {_describe(v)}" for k, v in x.items()) + "}"
    if isinstance(x, tuple):
        return "(" + ", ".join(_describe(v) for v in x) + ")"
    return type(x).__name__


def to_leaf(x: Any) -> Any:
    """Normalise one leaf: numpy arrays/scalars become tensors (zero-copy where possible)."""
    if isinstance(x, np.ndarray):
        if x.dtype.kind in "US":  # numpy strings stay Python strings
            return x.tolist()
        return torch.from_numpy(x) if x.flags.writeable else torch.from_numpy(x.copy())
    if isinstance(x, np.generic):
        if isinstance(x, (np.str_, np.bytes_)):
            return x.item()
        return torch.from_numpy(np.asarray(x))
    return x


def normalize(element: Any) -> Any:
    """Normalise every leaf of an element (see :func:`to_leaf`)."""
    return map_structure(to_leaf, element)


def _stack_leaves(leaves: List[Any], where: str) -> Any:
    first = leaves[0]
    if isinstance(first, torch.Tensor):
        shapes = {tuple(t.shape) for t in leaves}
        if len(shapes) > 1:
            raise ValueError(
                f"cannot batch {where}: components have different shapes {sorted(shapes)}; "
                "use padded_batch() for variable-length data"
            )
        return torch.stack(leaves)
    if isinstance(first, bool):
        return torch.tensor(leaves, dtype=torch.bool)
    if isinstance(first, int):
        return torch.tensor(leaves, dtype=torch.int64)
    if isinstance(first, float):
        return torch.tensor(leaves, dtype=torch.float32)
    if isinstance(first, (_STRING_TYPES, list)):
        return list(leaves)
    if first is None:
        return None
    raise TypeError(f"cannot batch {where}: unsupported component type {type(first).__name__}")


def batch(elements: Sequence[Any]) -> Any:
    """Stack a list of same-structured elements along a new leading dimension.

    Tensors are stacked; Python ``int`` becomes int64, ``float`` float32, ``bool`` bool;
    strings (and list components) become a list.
    """
    if not elements:
        raise ValueError("cannot batch an empty list of elements")
    first = elements[0]
    for other in elements[1:]:
        assert_same_structure(first, other, "elements of one batch")
    return _batch_nested(first, elements, "element")


def _batch_nested(template: Any, elements: Sequence[Any], where: str) -> Any:
    if isinstance(template, dict):
        return {k: _batch_nested(template[k], [e[k] for e in elements], f"{where}[{k!r}]")
                for k in template}
    if isinstance(template, tuple):
        return _rebuild(template, [
            _batch_nested(template[i], [e[i] for e in elements], f"{where}[{i}]")
            for i in range(len(template))
        ])
    return _stack_leaves(list(elements), where)


def batch_size_of(batched: Any, op: str = "unbatch") -> int:
    """Leading dimension shared by every component of a batched element."""
    sizes = set()
    for leaf in flatten(batched):
        if isinstance(leaf, list) or (isinstance(leaf, torch.Tensor) and leaf.dim() > 0):
            sizes.add(len(leaf))
        elif leaf is not None:
            kind = "0-d tensor" if isinstance(leaf, torch.Tensor) else type(leaf).__name__
            raise ValueError(f"{op}: every component needs a leading dimension, but one is a {kind}")
    if len(sizes) != 1:
        raise ValueError(f"{op}: components have different leading sizes {sorted(sizes)}")
    return sizes.pop()


def unbatch(batched: Any) -> List[Any]:
    """Split a batched element into its rows (inverse of :func:`batch`)."""
    n = batch_size_of(batched)
    return [map_structure(functools.partial(_row, i), batched) for i in range(n)]


def _row(i: int, leaf: Any) -> Any:
    return None if leaf is None else leaf[i]
