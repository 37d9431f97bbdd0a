"""``batch``, ``padded_batch`` and ``unbatch``.

A batch is pulled from upstream in one ``next`` call, so a batching iterator's state is just
its upstream's. ``unbatch`` keeps the batch it is splitting (a reference, not a copy) and the
row it is at.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch

from data import _structure
from data._iterator import UPSTREAM, DatasetIterator, require_keys, state_int
from data.dataset import INFINITE_CARDINALITY, UNKNOWN_CARDINALITY, Dataset
from data.ops._args import check_int
from data._spec import batched, unbatched
from data._structure import flatten as leaves, flatten_up_to, pack


class BatchDataset(Dataset):
    """Consecutive elements stacked into batches (see ``Dataset.batch``)."""

    def __init__(self, input_dataset: Dataset, batch_size: int, drop_remainder: bool) -> None:
        super().__init__()
        self._input = input_dataset
        self._batch_size = check_int("batch", "batch_size", batch_size, 1)
        self._drop_remainder = bool(drop_remainder)

    def _collate(self, elements: List[Any]) -> Any:
        return _structure.batch(elements)

    def _cardinality(self) -> int:
        n = self._input._cardinality()
        if n in (INFINITE_CARDINALITY, UNKNOWN_CARDINALITY):
            return n
        size = self._batch_size
        return n // size if self._drop_remainder else -(-n // size)

    def _iterator(self, epoch: int) -> DatasetIterator:
        if type(self) is BatchDataset:  # rows of in-memory tensors: gather whole batches
            from data.ops._gather import gather_iterator
            gathering = gather_iterator(self, epoch)
            if gathering is not None:
                return gathering
        return _BatchIterator(self, self._input._iterator(epoch))

    def _spec(self) -> Any:
        return batched(self._input.element_spec,
                       self._batch_size if self._drop_remainder else None)

    def _representative(self) -> Any:
        return self._collate([self._input._representative()])


class _BatchIterator(DatasetIterator):
    op_name = "batch"

    def __init__(self, dataset: BatchDataset, upstream: DatasetIterator) -> None:
        super().__init__()
        self._ds = dataset
        self._upstream = upstream
        self._own(upstream)

    def _next(self) -> Any:
        size, upstream = self._ds._batch_size, self._upstream
        elements = []
        for element in upstream:
            elements.append(element)
            if len(elements) == size:
                break
        if not elements or (len(elements) < size and self._ds._drop_remainder):
            raise StopIteration
        return self._ds._collate(elements)

    def _get_state(self) -> Dict[str, Any]:
        return {UPSTREAM: self._upstream.state_dict()}

    def _set_state(self, state: Dict[str, Any]) -> None:
        require_keys(self.op_name, state, UPSTREAM)
        self._upstream.load_state_dict(state[UPSTREAM])


class _PaddedBatchIterator(_BatchIterator):
    op_name = "padded_batch"


class PaddedBatchDataset(BatchDataset):
    """Batches of elements padded to a common shape (see ``Dataset.padded_batch``)."""

    def __init__(self, input_dataset: Dataset, batch_size: int, padded_shapes: Any,
                 padding_values: Any, drop_remainder: bool) -> None:
        super().__init__(input_dataset, batch_size, drop_remainder)
        self._padded_shapes = padded_shapes
        self._padding_values = padding_values

    def _iterator(self, epoch: int) -> DatasetIterator:
        return _PaddedBatchIterator(self, self._input._iterator(epoch))

    def _spec(self) -> Any:
        from data._spec import TensorSpec
        from data._structure import map_structure
        padded = map_structure(  # padded dimensions depend on the batch
            lambda s: TensorSpec(None if s.shape is None else (None,) * len(s.shape), s.dtype)
            if isinstance(s, TensorSpec) else s, self._input.element_spec)
        return batched(padded, self._batch_size if self._drop_remainder else None)

    def _collate(self, elements: List[Any]) -> Any:
        first = elements[0]
        for other in elements[1:]:
            _structure.assert_same_structure(first, other, "elements of one padded batch")
        n_leaves = len(leaves(first))
        shapes = ([None] * n_leaves if self._padded_shapes is None
                  else flatten_up_to(first, self._padded_shapes, "padded_batch: padded_shapes"))
        values = self._padding_values
        if values is None or not isinstance(values, (tuple, dict, list)):
            values = [values] * n_leaves
        else:
            values = flatten_up_to(first, values, "padded_batch: padding_values")
        columns = zip(*(leaves(e) for e in elements))
        padded = [_pad_column(list(col), shape, value, j)
                  for j, (col, shape, value) in enumerate(zip(columns, shapes, values))]
        return pack(first, iter(padded))


def _pad_column(column: List[Any], shape: Optional[Sequence[Any]], value: Any, j: int) -> Any:
    where = f"padded_batch: component {j}"
    if isinstance(column[0], (str, bytes)):
        return list(column)
    if isinstance(column[0], list):
        return _pad_strings(column, shape, value, where)
    tensors = [c if isinstance(c, torch.Tensor) else torch.as_tensor(c) for c in column]
    ranks = {t.dim() for t in tensors}
    if len(ranks) != 1:
        raise ValueError(f"{where}: elements have different ranks {sorted(ranks)}")
    rank = ranks.pop()
    if shape is None:
        shape = [None] * rank
    elif isinstance(shape, int):
        shape = [shape]
    shape = list(shape)
    if len(shape) != rank:
        raise ValueError(f"{where}: padded shape {tuple(shape)} has rank {len(shape)}, but the "
                         f"elements have rank {rank} (shape {tuple(tensors[0].shape)})")
    target = []
    for d, want in enumerate(shape):
        longest = max(t.shape[d] for t in tensors)
        if want is None or want == -1:
            target.append(longest)
        elif longest > want:
            raise ValueError(f"{where}: dimension {d} has size {longest}, larger than the padded "
                             f"shape {tuple(shape)} allows; increase padded_shapes")
        else:
            target.append(int(want))
    fill = 0 if value is None else value
    out = torch.full((len(tensors), *target), fill, dtype=tensors[0].dtype)
    for i, t in enumerate(tensors):
        index: Tuple[Union[int, slice], ...] = (i, *(slice(0, s) for s in t.shape))
        out[index] = t
    return out


def _pad_strings(column: List[Any], shape: Any, value: Any, where: str) -> List[List[Any]]:
    """Pad vectors of strings (lists of ``str``/``bytes``) with ``value`` (default ``""``)."""
    want = shape[0] if isinstance(shape, (list, tuple)) and len(shape) == 1 else shape
    if isinstance(shape, (list, tuple)) and len(shape) != 1:
        raise ValueError(f"{where}: padded shape {tuple(shape)} has rank {len(shape)}, but the "
                         "elements are vectors of strings (rank 1)")
    longest = max(len(v) for v in column)
    if want is None or want == -1:
        want = longest
    elif longest > want:
        raise ValueError(f"{where}: dimension 0 has size {longest}, larger than the padded "
                         f"shape ({want},) allows; increase padded_shapes")
    sample = next((s for v in column for s in v), "")
    fill = "" if value is None or value == 0 else value
    if isinstance(sample, bytes) and isinstance(fill, str):
        fill = fill.encode("utf-8")
    elif isinstance(sample, str) and isinstance(fill, bytes):
        fill = fill.decode("utf-8")
    if not isinstance(fill, (str, bytes)):
        raise TypeError(f"{where}: padding value for strings must be a str, got {value!r}")
    return [list(v) + [fill] * (int(want) - len(v)) for v in column]


class UnbatchDataset(Dataset):
    """Rows of batched elements (see ``Dataset.unbatch``)."""

    def __init__(self, input_dataset: Dataset) -> None:
        super().__init__()
        self._input = input_dataset

    def _cardinality(self) -> int:
        n = self._input._cardinality()
        return INFINITE_CARDINALITY if n == INFINITE_CARDINALITY else UNKNOWN_CARDINALITY

    def _iterator(self, epoch: int) -> DatasetIterator:
        return _UnbatchIterator(self._input._iterator(epoch))

    def _spec(self) -> Any:
        return unbatched(self._input.element_spec)


class _UnbatchIterator(DatasetIterator):
    op_name = "unbatch"

    def __init__(self, upstream: DatasetIterator) -> None:
        super().__init__()
        self._upstream = upstream
        self._own(upstream)
        self._batch: Any = None
        self._rows: List[Any] = []
        self._index = 0

    def _next(self) -> Any:
        while self._index >= len(self._rows):
            self._batch = next(self._upstream)
            self._rows = _structure.unbatch(self._batch)
            self._index = 0
        row = self._rows[self._index]
        self._index += 1
        return row

    def _get_state(self) -> Dict[str, Any]:
        return {UPSTREAM: self._upstream.state_dict(), "batch": self._batch, "index": self._index}

    def _set_state(self, state: Dict[str, Any]) -> None:
        require_keys(self.op_name, state, UPSTREAM, "batch", "index")
        self._upstream.load_state_dict(state[UPSTREAM])
        self._batch = state["batch"]
        self._rows = [] if self._batch is None else _structure.unbatch(self._batch)
        self._index = state_int(self.op_name, state, "index", 0, len(self._rows))
