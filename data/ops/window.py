"""``window``: windows of consecutive elements, each a dataset (tf.data's ``window``).

Window ``k`` holds input elements ``k*shift, k*shift + stride, ...`` (``size`` of them, fewer at
the end unless ``drop_remainder``). A window is a nest of datasets shaped like the element:
a tuple element gives a tuple of datasets, one per component, as in tf.data; use
``flat_map(lambda w: w.batch(size))`` to get tensors back.

The iterator keeps the input elements that later windows still need (at most
``(size - 1) * stride + 1``); its state holds them as plain elements, so a window's datasets are
rebuilt from them on restore.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from data._iterator import UPSTREAM, DatasetIterator, require_keys, state_bool, state_int, state_list
from data._structure import flatten, pack
from data.dataset import Dataset
from data.ops._args import check_int


class WindowDataset(Dataset):
    """Windows of the input (see ``Dataset.window``)."""

    def __init__(self, input_dataset: Dataset, size: int, shift: Optional[int], stride: int,
                 drop_remainder: bool) -> None:
        super().__init__()
        self._input = input_dataset
        self._size = check_int("window", "size", size, 1)
        self._shift = self._size if shift is None else check_int("window", "shift", shift, 1)
        self._stride = check_int("window", "stride", stride, 1)
        self._drop_remainder = bool(drop_remainder)

    def _iterator(self, epoch: int) -> DatasetIterator:
        return _WindowIterator(self, self._input._iterator(epoch))

    def _window(self, elements: List[Any]) -> Any:
        template = elements[0]
        columns = [list(col) for col in zip(*(flatten(e) for e in elements))]
        return pack(template, iter(_ElementsDataset(col) for col in columns))

    def _representative(self) -> Any:
        return self._window([self._input._representative()])

    def _cardinality(self) -> int:
        from data.dataset import INFINITE_CARDINALITY, UNKNOWN_CARDINALITY
        n = self._input._cardinality()
        if n in (INFINITE_CARDINALITY, UNKNOWN_CARDINALITY):
            return n
        span = (self._size - 1) * self._stride + 1
        if self._drop_remainder:
            return 0 if n < span else (n - span) // self._shift + 1
        return -(-n // self._shift)


class _ElementsDataset(Dataset):
    """A dataset of a list of already-produced elements (one window component)."""

    def __init__(self, elements: List[Any]) -> None:
        super().__init__()
        self._elements = elements

    def _iterator(self, epoch: int) -> DatasetIterator:
        return _ListIterator(self._elements)

    def _cardinality(self) -> int:
        return len(self._elements)


class _ListIterator(DatasetIterator):
    op_name = "window_elements"

    def __init__(self, elements: List[Any]) -> None:
        super().__init__()
        self._elements = elements
        self._index = 0

    def _next(self) -> Any:
        if self._index >= len(self._elements):
            raise StopIteration
        self._index += 1
        return self._elements[self._index - 1]

    def _get_state(self) -> Dict[str, Any]:
        return {"index": self._index}

    def _set_state(self, state: Dict[str, Any]) -> None:
        self._index = state_int(self.op_name, state, "index", 0, len(self._elements))


class _WindowIterator(DatasetIterator):
    op_name = "window"

    def __init__(self, dataset: WindowDataset, upstream: DatasetIterator) -> None:
        super().__init__()
        self._ds = dataset
        self._upstream = upstream
        self._own(upstream)
        self._buffer: List[Any] = []  # input elements from the next window's start on
        self._to_skip = 0  # input elements to drop before the next window (shift > span)
        self._upstream_done = False

    def _next(self) -> Any:
        ds = self._ds
        span = (ds._size - 1) * ds._stride + 1
        while self._to_skip and not self._upstream_done:
            self._pull()
            if not self._upstream_done:
                self._buffer.pop()
                self._to_skip -= 1
        while len(self._buffer) < span and not self._upstream_done:
            self._pull()
        if not self._buffer or (ds._drop_remainder and len(self._buffer) < span):
            raise StopIteration
        window = self._buffer[:span:ds._stride]
        self._to_skip = max(0, ds._shift - len(self._buffer))
        del self._buffer[:ds._shift]
        return ds._window(window)

    def _pull(self) -> None:
        try:
            self._buffer.append(next(self._upstream))
        except StopIteration:
            self._upstream_done = True

    def _get_state(self) -> Dict[str, Any]:
        return {UPSTREAM: self._upstream.state_dict(), "buffer": list(self._buffer),
                "to_skip": self._to_skip, "upstream_done": self._upstream_done}

    def _set_state(self, state: Dict[str, Any]) -> None:
        op, ds = self.op_name, self._ds
        require_keys(op, state, UPSTREAM, "buffer", "to_skip", "upstream_done")
        # The buffer holds at most one window's span; at most shift - 1 elements are skipped.
        buffer = state_list(op, state, "buffer", (ds._size - 1) * ds._stride + 1)
        to_skip = state_int(op, state, "to_skip", 0, max(ds._shift - 1, 0))
        upstream_done = state_bool(op, state, "upstream_done")
        self._upstream.load_state_dict(state[UPSTREAM])
        self._buffer = buffer
        self._to_skip = to_skip
        self._upstream_done = upstream_done
