"""Datasets that start a pipeline from memory: tensors, ranges and generators.

File sources (``list_files``, ``TextLineDataset``) live in :mod:`data.files`.

Sources yield elements in the form described in :mod:`data._structure`: numpy arrays become
torch tensors without a copy, tuples and dicts are structure, and a Python ``list`` given to
``from_tensor_slices`` / ``from_tensors`` is one component (as tf.data converts lists to
tensors): numbers become a tensor, strings stay a list of ``str``.

``Dataset.range`` yields Python ``int`` elements (tf.data yields int64 scalars); ``batch`` turns
them into int64 tensors, so batched results match tf.data's.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from data._iterator import DatasetIterator, MalformedStateError, state_bool, state_int
from data._spec import TensorSpec, from_signature, shapes_into, spec_of, spec_of_leaf
from data._structure import flatten as leaves, flatten_up_to, pack, packer, to_leaf
from data.dataset import INFINITE_CARDINALITY, Dataset


_INT64_MAX = 2**63 - 1


# -- components ------------------------------------------------------------------------------
def _from_pandas(x: Any) -> Any:
    """A pandas Series → its values; a DataFrame → a 2-D array of its values (as tf.data
    converts them). ``dict(df)`` gives one component per column instead."""
    values = x.to_numpy()  # numeric columns share their common dtype, as in tf.data
    if type(x).__name__ == "DataFrame" and values.dtype == object:
        columns = ", ".join(f"{c}: {t}" for c, t in x.dtypes.items())
        raise ValueError(
            f"from_tensor_slices: a DataFrame with non-numeric columns ({columns}) cannot be "
            "one tensor; pass dict(df) for one component per column")
    if values.dtype == object:
        return values.tolist()  # strings stay str, as for numpy string arrays
    return values


def _component(x: Any) -> Any:
    """One component: numpy → tensor (zero-copy), list of numbers → tensor (float32 for
    Python floats), list of strings → list of ``str``/``bytes``; pandas Series/DataFrame →
    their values."""
    if type(x).__module__.split(".")[0] == "pandas" and hasattr(x, "to_numpy"):
        x = _from_pandas(x)
    x = to_leaf(x)
    if isinstance(x, list):
        if x and (all(isinstance(v, (str, bytes)) for v in x)
                  or all(isinstance(v, Dataset) for v in x)):  # strings, or datasets (as TF)
            return list(x)
        if x and all(isinstance(v, torch.Tensor) for v in x):
            return torch.stack(x)
        try:  # Python numbers: int → int64, float → float32, bool → bool, as tf.data
            return torch.tensor(x)
        except (TypeError, ValueError, RuntimeError):
            return torch.as_tensor(np.asarray(x))
    return x


def _as_component(x: Any, _path: str) -> Any:
    return _component(x)


def _map_components(fn: Callable[[Any, str], Any], x: Any, path: str = "x") -> Any:
    if isinstance(x, dict):
        return {k: _map_components(fn, v, f"{path}[{k!r}]") for k, v in x.items()}
    if isinstance(x, tuple):
        items = [_map_components(fn, v, f"{path}[{i}]") for i, v in enumerate(x)]
        return type(x)(*items) if hasattr(x, "_fields") else tuple(items)
    return fn(x, path)


# -- from_tensor_slices ----------------------------------------------------------------------
class TensorSliceDataset(Dataset):
    """Rows of ``tensors`` along their first dimension (see ``Dataset.from_tensor_slices``)."""

    def __init__(self, tensors: Any) -> None:
        super().__init__()
        lengths: Dict[str, int] = {}

        def sliceable(x: Any, path: str) -> Any:
            x = _component(x)
            if isinstance(x, torch.Tensor):
                if x.dim() == 0:
                    raise ValueError(
                        f"from_tensor_slices: component {path} is a scalar tensor; every "
                        "component needs a leading dimension to slice (use from_tensors)"
                    )
                lengths[path] = int(x.shape[0])
            elif isinstance(x, list):
                lengths[path] = len(x)
            else:
                raise ValueError(
                    f"from_tensor_slices: component {path} is a {type(x).__name__}, which has "
                    "no leading dimension to slice; use from_tensors for a single element"
                )
            return x

        self._template = _map_components(sliceable, tensors)
        if len(set(lengths.values())) > 1:
            found = ", ".join(f"{p} has {n}" for p, n in lengths.items())
            raise ValueError(
                "from_tensor_slices: all components must have the same length in their first "
                f"dimension, but {found}"
            )
        self._columns = leaves(self._template)
        self._length = next(iter(lengths.values()))

    def _cardinality(self) -> int:
        return self._length

    def _iterator(self, epoch: int) -> DatasetIterator:
        return _SliceIterator(self)

    def _spec(self) -> Any:
        def column_spec(col: Any) -> Any:
            if isinstance(col, torch.Tensor):
                return TensorSpec(tuple(col.shape[1:]), col.dtype)
            return spec_of_leaf(col[0]) if col else TensorSpec((), str)
        return pack(self._template, iter([column_spec(c) for c in self._columns]))


_SLICE_BLOCK = 64


class _SliceIterator(DatasetIterator):
    op_name = "from_tensor_slices"

    def __init__(self, dataset: TensorSliceDataset) -> None:
        super().__init__()
        self._ds = dataset
        self._index = 0
        self._pack = packer(dataset._template)
        # the next rows' leaves, sliced a block at a time (one unbind per column, not one
        # indexing op per component and row)
        self._block: List[Tuple[Any, ...]] = []
        self._block_start = 0

    def _next(self) -> Any:
        i = self._index
        if i >= self._ds._length:
            raise StopIteration
        self._index = i + 1
        j = i - self._block_start
        if not 0 <= j < len(self._block):
            stop = min(i + _SLICE_BLOCK, self._ds._length)
            self._block = list(zip(*[col[i:stop].unbind(0) if isinstance(col, torch.Tensor)
                                     else col[i:stop] for col in self._ds._columns]))
            self._block_start, j = i, 0
        return self._pack(self._block[j])

    def _get_state(self) -> Dict[str, Any]:
        return {"index": self._index}

    def _set_state(self, state: Dict[str, Any]) -> None:
        self._index = state_int(self.op_name, state, "index", 0, self._ds._length)
        self._block = []


# -- from_tensors ----------------------------------------------------------------------------
class TensorDataset(Dataset):
    """A single element (see ``Dataset.from_tensors``)."""

    def __init__(self, tensors: Any) -> None:
        super().__init__()
        self._element = _map_components(_as_component, tensors)

    def _cardinality(self) -> int:
        return 1

    def _iterator(self, epoch: int) -> DatasetIterator:
        return _TensorIterator(self._element)

    def _spec(self) -> Any:
        return spec_of(self._element)


class _TensorIterator(DatasetIterator):
    op_name = "from_tensors"

    def __init__(self, element: Any) -> None:
        super().__init__()
        self._element = element
        self._done = False

    def _next(self) -> Any:
        if self._done:
            raise StopIteration
        self._done = True
        return self._element

    def _get_state(self) -> Dict[str, Any]:
        return {"done": self._done}

    def _set_state(self, state: Dict[str, Any]) -> None:
        self._done = state_bool(self.op_name, state, "done")


# -- range -----------------------------------------------------------------------------------
class RangeDataset(Dataset):
    """Integers like Python's ``range(*args)`` (see ``Dataset.range``)."""

    def __init__(self, *args: int, output_type: Optional[torch.dtype] = None) -> None:
        super().__init__()
        if output_type is not None and not isinstance(output_type, torch.dtype):
            raise TypeError(f"range: output_type must be a torch dtype, got {output_type!r}")
        # int64 (the default) stays Python ints, which batch() stacks into int64 tensors.
        self._dtype = None if output_type in (None, torch.int64) else output_type
        if not 1 <= len(args) <= 3:
            raise ValueError(f"range takes 1 to 3 arguments (start, stop, step), got {len(args)}")
        for name, value in zip(("start", "stop", "step") if len(args) > 1 else ("stop",), args):
            if isinstance(value, torch.Tensor) and value.dim() == 0:
                continue
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
                raise TypeError(f"range: {name} must be an int, got {value!r}")
        if len(args) == 3 and int(args[2]) == 0:
            raise ValueError("range: step must not be 0, got 0")
        self._range = range(*(int(a) for a in args))

    def _cardinality(self) -> int:
        if abs(self._range.stop) == _INT64_MAX:  # Dataset.counter
            return INFINITE_CARDINALITY
        return len(self._range)

    def _iterator(self, epoch: int) -> DatasetIterator:
        return _RangeIterator(self._range, self._dtype)

    def _spec(self) -> Any:
        return TensorSpec((), self._dtype or torch.int64)


class _RangeIterator(DatasetIterator):
    op_name = "range"

    def __init__(self, r: range, dtype: Optional[torch.dtype] = None) -> None:
        super().__init__()
        self._range = r
        self._dtype = dtype
        self._next_value = r.start

    def _next(self) -> Any:
        value, step = self._next_value, self._range.step
        if (step > 0 and value >= self._range.stop) or (step < 0 and value <= self._range.stop):
            raise StopIteration
        self._next_value = value + step
        return value if self._dtype is None else torch.tensor(value, dtype=self._dtype)

    def _get_state(self) -> Dict[str, Any]:
        return {"next": self._next_value}

    def _set_state(self, state: Dict[str, Any]) -> None:
        r = self._range
        value = state_int(self.op_name, state, "next", None)
        low, high = (r.start, max(r.start, r.stop + r.step - 1)) if r.step > 0 else \
            (min(r.start, r.stop + r.step + 1), r.start)
        if not low <= value <= high or (value - r.start) % r.step:
            raise MalformedStateError(f"{self.op_name}: saved state field 'next' is {value}, "
                                      f"not a position of {r}")
        self._next_value = value


# -- from_generator --------------------------------------------------------------------------
def _as_structure(raw: Any, signature: Any) -> Any:
    """A yielded value shaped like ``signature``: a list where the signature has a tuple
    becomes that tuple (a generator may yield ``[x, y]`` for ``(x, y)``)."""
    if isinstance(signature, tuple) and isinstance(raw, list) and len(raw) == len(signature):
        raw = tuple(raw)
    if isinstance(signature, tuple) and isinstance(raw, tuple) and len(raw) == len(signature):
        items = [_as_structure(r, t) for r, t in zip(raw, signature)]
        return type(raw)(*items) if hasattr(raw, "_fields") else tuple(items)
    if isinstance(signature, dict) and isinstance(raw, dict):
        return {k: _as_structure(v, signature[k]) if k in signature else v
                for k, v in raw.items()}
    return raw


def _check_spec(element: Any, types: Any, shapes: Any, position: int) -> Any:
    where = f"from_generator: element {position}"
    components = leaves(element)
    if types is not None:
        kinds = flatten_up_to(element, types, where)
        components = [_convert(c, kind, where) for c, kind in zip(components, kinds)]
        element = pack(element, iter(components))
        if shapes is None:
            shapes = _signature_shapes(types)
    if shapes is not None:
        for leaf, shape in zip(components, flatten_up_to(element, shapes, where)):
            _check_shape(leaf, shape, where)
    return element


def _signature_shapes(types: Any) -> Any:
    from data._structure import map_structure
    return map_structure(lambda k: k.shape if isinstance(k, TensorSpec) else None, types)


def _convert(leaf: Any, kind: Any, where: str) -> Any:
    if isinstance(kind, TensorSpec):
        kind = kind.dtype
    if kind is None:
        return leaf
    if isinstance(kind, torch.dtype):
        return torch.as_tensor(leaf, dtype=kind)
    if kind is str and isinstance(leaf, bytes):
        return leaf.decode("utf-8")
    if kind is bytes and isinstance(leaf, str):
        return leaf.encode("utf-8")
    if kind in (str, bytes) and isinstance(leaf, list):  # a vector of strings
        return [_convert(v, kind, where) for v in leaf]
    if isinstance(kind, type):
        if not isinstance(leaf, kind):
            raise TypeError(f"{where}: expected a {kind.__name__}, got {type(leaf).__name__}")
        return leaf
    raise TypeError(f"{where}: output types must be torch dtypes, Python types, "
                    f"data.TensorSpec or None, got {kind!r}")


def _check_shape(leaf: Any, shape: Any, where: str) -> None:
    if shape is None:
        return
    if isinstance(leaf, torch.Tensor):
        actual = tuple(leaf.shape)
    elif isinstance(leaf, list):
        actual = (len(leaf),)
    else:
        actual = ()
    expected = (shape,) if isinstance(shape, int) else tuple(shape)
    if len(actual) != len(expected) or any(
        e is not None and e != -1 and e != a for a, e in zip(actual, expected)
    ):
        raise ValueError(f"{where}: expected shape {expected}, got {actual}")


class GeneratorDataset(Dataset):
    """Elements produced by a Python generator (see ``Dataset.from_generator``)."""

    def __init__(self, generator: Callable[..., Any], output_types: Any = None,
                 output_shapes: Any = None, args: Optional[Sequence[Any]] = None,
                 output_signature: Any = None) -> None:
        super().__init__()
        if not callable(generator):
            raise TypeError(
                f"from_generator: generator must be a callable that returns an iterator, got "
                f"{type(generator).__name__}; pass the generator function, not its result"
            )
        if output_signature is not None and output_types is not None:
            raise ValueError("from_generator: give output_signature or output_types, not both")
        self._generator = generator
        self._args = tuple(args) if args is not None else ()
        self._types = output_signature if output_signature is not None else output_types
        self._shapes = output_shapes

    def _iterator(self, epoch: int) -> DatasetIterator:
        return _GeneratorIterator(self)

    def _spec(self) -> Any:
        if self._types is None:
            return super()._spec()
        spec = from_signature(self._types)
        if self._shapes is not None:
            spec = shapes_into(spec, flatten_up_to(spec, self._shapes, "from_generator: "
                                                   "output_shapes"))
        return spec


class _GeneratorIterator(DatasetIterator):
    op_name = "from_generator"

    def __init__(self, dataset: GeneratorDataset) -> None:
        super().__init__()
        self._ds = dataset
        self._gen: Optional[Any] = None
        self._count = 0

    def _start(self) -> Any:
        gen = iter(self._ds._generator(*self._ds._args))
        self._gen = gen
        return gen

    def _next(self) -> Any:
        gen = self._gen if self._gen is not None else self._start()
        try:
            raw = next(gen)
        except StopIteration:
            self._close()  # close the generator now, not when the iterator is collected
            raise
        types, shapes = self._ds._types, self._ds._shapes
        if types is not None:
            raw = _as_structure(raw, types)
        element = _map_components(_as_component, raw)
        if types is not None or shapes is not None:
            element = _check_spec(element, types, shapes, self._count)
        self._count += 1
        return element

    def _get_state(self) -> Dict[str, Any]:
        return {"count": self._count}

    def _set_state(self, state: Dict[str, Any]) -> None:
        # A generator cannot be snapshotted: restart it and fast-forward past what was produced.
        count = state_int(self.op_name, state, "count")
        self._close()
        gen = self._start()
        for skipped in range(count):
            try:
                next(gen)
            except StopIteration:
                raise MalformedStateError(
                    f"from_generator: the saved state is {count} elements in, but a fresh "
                    f"generator ended after {skipped}; the generator is not deterministic"
                ) from None
        self._count = count

    def _close(self) -> None:
        gen, self._gen = self._gen, None
        if gen is not None and hasattr(gen, "close"):
            gen.close()
