"""Whole-batch gathering: ``batch`` over ``from_tensor_slices``, or over a ``shuffle`` of it.

The elements of such a batch are rows of the source's columns, so the batch is gathered with
one ``index_select`` per column (a slice for an unshuffled source) instead of taking rows one
by one and stacking them. The shuffle runs on row indices with exactly the draws of the
element-by-element shuffle: while its buffer is full it draws with a fixed bound, and
``torch.randint(bound, (k,))`` draws as ``k`` calls of ``torch.randint(bound, (1,))`` do, so the
batches, their order and the generator's state are the same.

The saved state has the element-by-element pipeline's layout, except that the shuffle keeps
its buffer as ``buffer_indices`` (row numbers, a few bytes each) where the element-by-element
one keeps the rows. A state saved by the element-by-element pipeline still loads: that
iteration then goes on element by element.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Optional

import torch

from data._iterator import (STATE_VERSION, UPSTREAM, DatasetIterator, require_keys,
                            restored_generator, state_bool, state_generator, state_int,
                            state_list, state_seed)
from data._seed import make_generator
from data._structure import pack
from data._take import copy_rows, take_rows

if TYPE_CHECKING:
    from data.ops.batch import BatchDataset
    from data.ops.shuffle import ShuffleDataset
    from data.sources import TensorSliceDataset

_SOURCE_OP = "from_tensor_slices"
_SHUFFLE_OP = "shuffle"


def gather_iterator(dataset: "BatchDataset", epoch: int) -> Optional[DatasetIterator]:
    """A gathering iterator for ``dataset`` if its input allows one, else ``None``."""
    from data.ops.shuffle import ShuffleDataset
    from data.sources import TensorSliceDataset
    source, shuffle = dataset._input, None
    if type(source) is ShuffleDataset:
        shuffle, source = source, source._input
    if type(source) is not TensorSliceDataset:
        return None
    if not all(isinstance(c, (torch.Tensor, list)) for c in source._columns):
        return None
    return _GatherBatchIterator(dataset, source, shuffle, epoch)


class _IndexShuffle:
    """``shuffle``'s buffer and generator over the row numbers ``0 .. n-1``."""

    def __init__(self, dataset: "ShuffleDataset", epoch: int) -> None:
        self.dataset = dataset
        self.size = dataset._buffer_size
        self.seed = dataset._seed
        self.epoch = epoch if dataset._reshuffle else 0
        self.gen = make_generator(self.seed, self.epoch)
        self.buffer: List[int] = []
        self.filled = False
        self.upstream_done = False
        self.exhausted = False

    def take(self, k: int, position: int, n: int) -> "tuple[List[int], int]":
        """Up to ``k`` row numbers in shuffle order, and the new source position."""
        buf = self.buffer
        out: List[int] = []
        if not self.filled:
            got = min(self.size - len(buf), n - position)
            buf.extend(range(position, position + got))
            position += got
            if len(buf) < self.size:  # the element path's pull past the end
                self.upstream_done = True
            self.filled = True
        while len(out) < k:
            if not buf:
                self.exhausted = True
                break
            if not self.upstream_done:
                # The bound stays len(buf) until the pull that finds the source empty.
                count = min(k - len(out), n - position + 1)
                for i in torch.randint(len(buf), (count,), generator=self.gen).tolist():
                    out.append(buf[i])
                    if position < n:
                        buf[i] = position
                        position += 1
                    else:
                        self.upstream_done = True
                        last = buf.pop()
                        if i < len(buf):
                            buf[i] = last
                continue
            i = int(torch.randint(len(buf), (1,), generator=self.gen))
            out.append(buf[i])
            last = buf.pop()
            if i < len(buf):
                buf[i] = last
        return out, position


def _stage_state(op: str, exhausted: bool, **fields: Any) -> Dict[str, Any]:
    """A nested stage's state as its own iterator's ``state_dict()`` would write it."""
    return {**fields, "op": op, "exhausted": exhausted, "state_version": STATE_VERSION}


def _take_rows(column: Any, rows: Any) -> Any:
    """``column``'s ``rows`` (a range or a list of row numbers) as a new batch."""
    if isinstance(column, torch.Tensor):
        return copy_rows(column, rows.start, rows.stop) if isinstance(rows, range) \
            else take_rows(column, rows)
    return column[rows.start:rows.stop] if isinstance(rows, range) else [column[i] for i in rows]


class _GatherBatchIterator(DatasetIterator):
    op_name = "batch"

    def __init__(self, dataset: "BatchDataset", source: "TensorSliceDataset",
                 shuffle: Optional["ShuffleDataset"], epoch: int) -> None:
        super().__init__()
        self._ds = dataset
        self._source = source
        self._epoch = epoch
        self._shuffle = _IndexShuffle(shuffle, epoch) if shuffle is not None else None
        self._position = 0
        self._source_exhausted = False
        self._fallback: Optional[DatasetIterator] = None

    def _rows(self, k: int) -> Any:
        n = self._source._length
        if self._shuffle is None:
            start = self._position
            self._position = min(n, start + k)
            if self._position - start < k:
                self._source_exhausted = True
            return range(start, self._position)
        rows, self._position = self._shuffle.take(k, self._position, n)
        self._source_exhausted = self._shuffle.upstream_done
        return rows

    def _next(self) -> Any:
        if self._fallback is not None:
            return next(self._fallback)
        size = self._ds._batch_size
        rows = self._rows(size)
        if not rows or (len(rows) < size and self._ds._drop_remainder):
            raise StopIteration
        picked = [_take_rows(c, rows) for c in self._source._columns]
        return pack(self._source._template, iter(picked))

    # -- state -----------------------------------------------------------------------------
    def _get_state(self) -> Dict[str, Any]:
        if self._fallback is not None:
            return {UPSTREAM: self._fallback.state_dict()[UPSTREAM]}
        source = _stage_state(_SOURCE_OP, self._source_exhausted, index=self._position)
        shuffle = self._shuffle
        if shuffle is None:
            return {UPSTREAM: source}
        return {UPSTREAM: _stage_state(
            _SHUFFLE_OP, shuffle.exhausted, upstream=source, buffer_indices=list(shuffle.buffer),
            generator=shuffle.gen.get_state(), seed=list(shuffle.seed), epoch=shuffle.epoch,
            filled=shuffle.filled, upstream_done=shuffle.upstream_done)}

    def _set_state(self, state: Dict[str, Any]) -> None:
        require_keys(self.op_name, state, UPSTREAM)
        upstream = state[UPSTREAM]
        if self._shuffle is not None and isinstance(upstream, dict) \
                and "buffer_indices" not in upstream and "buffer" in upstream:
            self._load_element_state(state)
            return
        self._fallback = None
        if self._shuffle is None:
            self._load_source(upstream)
            return
        probe = _StateReader(_SHUFFLE_OP)
        probe.load_state_dict(upstream)
        self._load_shuffle(probe.state, probe._exhausted)

    def _load_element_state(self, state: Dict[str, Any]) -> None:
        from data.ops.batch import _BatchIterator
        fallback = _BatchIterator(self._ds, self._ds._input._iterator(self._epoch))
        fallback.load_state_dict({**state, "op": self.op_name})
        self._fallback = fallback

    def _load_source(self, state: Any) -> None:
        probe = _StateReader(_SOURCE_OP)
        probe.load_state_dict(state)
        self._position = state_int(_SOURCE_OP, probe.state, "index", 0, self._source._length)
        self._source_exhausted = probe._exhausted

    def _load_shuffle(self, state: Dict[str, Any], exhausted: bool) -> None:
        op, shuffle = _SHUFFLE_OP, self._shuffle
        assert shuffle is not None
        require_keys(op, state, UPSTREAM, "buffer_indices", "generator", "seed", "epoch",
                     "filled", "upstream_done")
        seed = state_seed(op, state)
        n = self._source._length
        buffer = state_list(op, state, "buffer_indices", shuffle.size)
        buffer = [state_int(op, {"buffer_indices": i}, "buffer_indices", 0, n - 1)
                  for i in buffer]
        epoch = state_int(op, state, "epoch")
        filled = state_bool(op, state, "filled")
        upstream_done = state_bool(op, state, "upstream_done")
        generator = state_generator(op, state)
        self._load_source(state[UPSTREAM])
        shuffle.seed = seed
        shuffle.dataset._seed = shuffle.seed  # later epochs draw as the saved pipeline would
        shuffle.epoch = epoch
        shuffle.gen = restored_generator(op, seed, epoch, generator)
        shuffle.buffer = buffer
        shuffle.filled = filled
        shuffle.upstream_done = upstream_done
        shuffle.exhausted = exhausted


class _StateReader(DatasetIterator):
    """Checks a nested stage's op name, version and exhausted flag as that stage would."""

    def __init__(self, op_name: str) -> None:
        super().__init__()
        self.op_name = op_name
        self.state: Dict[str, Any] = {}

    def _set_state(self, state: Dict[str, Any]) -> None:
        self.state = state
