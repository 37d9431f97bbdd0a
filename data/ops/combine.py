"""Combining datasets: ``zip``, ``concatenate``, ``interleave`` and ``flat_map``.

Every upstream iterator is created when the combining iterator is (not when first needed), so
a saved state always carries the upstreams' seeds.

``interleave`` follows tf.data's InterleaveDatasetOp step for step. With ``num_parallel_calls``
each open dataset is wrapped in ``prefetch`` (its own thread, a buffer of
``max(2, block_length)`` elements): the open datasets produce concurrently while the consumer
takes their elements in the same round-robin order, and each slot checkpoints through
prefetch's "snapshot + steps since".
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional

from data import options as options_lib
from data._call import call_with_element
from data._iterator import UPSTREAM, UPSTREAMS, DatasetIterator, MalformedStateError, require_keys
from data.dataset import Dataset
from data._structure import flatten as leaves, pack
from data.ops._args import check_int
from data.ops._parallel import AUTOTUNE, cpu_count
from data.ops.errors import element_error
from data.options import Options


def _load_all(op: str, iterators: List[DatasetIterator], states: Any) -> None:
    if not isinstance(states, list) or len(states) != len(iterators):
        raise MalformedStateError(f"{op}: saved state has {len(states)} upstream states, the "
                                  f"pipeline has {len(iterators)} upstreams")
    for it, st in zip(iterators, states):
        it.load_state_dict(st)


# -- zip -------------------------------------------------------------------------------------
class ZipDataset(Dataset):
    """A nest of datasets combined element-wise (see ``Dataset.zip``)."""

    def __init__(self, datasets: Any) -> None:
        super().__init__()
        if isinstance(datasets, list):
            datasets = tuple(datasets)
        components = leaves(datasets)
        for component in components:
            if not isinstance(component, Dataset):
                raise TypeError(f"zip: datasets must be a tuple or dict of Datasets, found a "
                                f"{type(component).__name__}")
        self._structure = datasets
        self._datasets = components

    def _input_datasets(self) -> List[Dataset]:
        return list(self._datasets)

    def _iterator(self, epoch: int) -> DatasetIterator:
        return _ZipIterator(self._structure, [d._iterator(epoch) for d in self._datasets])


class _ZipIterator(DatasetIterator):
    op_name = "zip"

    def __init__(self, structure: Any, upstreams: List[DatasetIterator]) -> None:
        super().__init__()
        self._structure = structure
        self._upstreams = upstreams
        self._own(*upstreams)

    def _next(self) -> Any:
        return pack(self._structure, iter([next(it) for it in self._upstreams]))

    def _get_state(self) -> Dict[str, Any]:
        return {UPSTREAMS: [it.state_dict() for it in self._upstreams]}

    def _set_state(self, state: Dict[str, Any]) -> None:
        require_keys(self.op_name, state, UPSTREAMS)
        _load_all(self.op_name, self._upstreams, state[UPSTREAMS])


# -- concatenate -----------------------------------------------------------------------------
class ConcatenateDataset(Dataset):
    """One dataset's elements, then another's (see ``Dataset.concatenate``)."""

    def __init__(self, input_dataset: Dataset, dataset: Dataset) -> None:
        super().__init__()
        if not isinstance(dataset, Dataset):
            raise TypeError(f"concatenate: dataset must be a Dataset, got {type(dataset).__name__}")
        self._inputs = (input_dataset, dataset)

    def _input_datasets(self) -> List[Dataset]:
        return list(self._inputs)

    def _iterator(self, epoch: int) -> DatasetIterator:
        return _ConcatenateIterator([d._iterator(epoch) for d in self._inputs])


class _ConcatenateIterator(DatasetIterator):
    op_name = "concatenate"

    def __init__(self, upstreams: List[DatasetIterator]) -> None:
        super().__init__()
        self._upstreams = upstreams
        self._own(*upstreams)
        self._index = 0

    def _next(self) -> Any:
        while self._index < len(self._upstreams):
            try:
                return next(self._upstreams[self._index])
            except StopIteration:
                self._index += 1
        raise StopIteration

    def _get_state(self) -> Dict[str, Any]:
        return {"index": self._index, UPSTREAMS: [it.state_dict() for it in self._upstreams]}

    def _set_state(self, state: Dict[str, Any]) -> None:
        require_keys(self.op_name, state, "index", UPSTREAMS)
        _load_all(self.op_name, self._upstreams, state[UPSTREAMS])
        self._index = int(state["index"])


# -- interleave / flat_map -------------------------------------------------------------------
class InterleaveDataset(Dataset):
    """Datasets made from each element, interleaved (see ``Dataset.interleave``)."""

    def __init__(self, input_dataset: Dataset, map_func: Callable[..., Dataset],
                 cycle_length: Optional[int], block_length: int,
                 num_parallel_calls: Optional[int] = None,
                 deterministic: Optional[bool] = None) -> None:
        super().__init__()
        if not callable(map_func):
            raise TypeError(f"interleave: map_func must be callable, got {type(map_func).__name__}")
        self._input = input_dataset
        self._fn = map_func
        cycle = AUTOTUNE if cycle_length is None else cycle_length
        cycle = check_int("interleave", "cycle_length", cycle, 1, also=(AUTOTUNE,))
        self._cycle_length = cpu_count() if cycle == AUTOTUNE else cycle
        self._block_length = check_int("interleave", "block_length", block_length, 1)
        self._parallel = num_parallel_calls is not None and check_int(
            "interleave", "num_parallel_calls", num_parallel_calls, 1, also=(AUTOTUNE,)) != 1

    def _iterator(self, epoch: int) -> DatasetIterator:
        return _InterleaveIterator(self, self._input._iterator(epoch), epoch)

    def _open(self, element: Any, epoch: int, index: int,
              options: Optional[Options] = None) -> DatasetIterator:
        try:
            dataset = call_with_element(self._fn, element)
        except Exception as exc:
            raise element_error("interleave/flat_map", index, exc) from exc
        if not isinstance(dataset, Dataset):
            raise TypeError(f"interleave/flat_map: map_func must return a Dataset, got "
                            f"{type(dataset).__name__}")
        if self._parallel:
            from data.ops.prefetch import PrefetchDataset
            dataset = PrefetchDataset(dataset, max(2, self._block_length))
        with options_lib.applied(options):
            return dataset._iterator(epoch)


class _InterleaveIterator(DatasetIterator):
    """tf.data's deterministic round robin (InterleaveDatasetOp), step for step."""

    op_name = "interleave"

    def __init__(self, dataset: InterleaveDataset, upstream: DatasetIterator, epoch: int) -> None:
        super().__init__()
        self._ds = dataset
        self._upstream = upstream
        self._own(upstream)
        self._epoch = epoch
        # Each open slot is [input element, its iterator, the element's input position].
        self._slots: List[Optional[List[Any]]] = [None] * dataset._cycle_length
        self._cycle_index = 0
        self._block_index = 0
        self._end_of_input = False
        self._num_open = 0
        self._position = 0  # input elements opened so far, for error messages
        self._options = options_lib.current()  # datasets opened later are built under them

    def _advance_cycle(self) -> None:
        self._block_index = 0
        self._cycle_index = (self._cycle_index + 1) % len(self._slots)

    def _next(self) -> Any:
        while not self._end_of_input or self._num_open > 0:
            slot = self._slots[self._cycle_index]
            if slot is not None:
                try:
                    element = next(slot[1])
                except StopIteration:
                    slot[1].close()
                    self._slots[self._cycle_index] = None
                    self._num_open -= 1
                    self._advance_cycle()
                    continue
                self._block_index += 1
                if self._block_index == self._ds._block_length:
                    self._advance_cycle()
                return element
            if self._end_of_input:
                self._advance_cycle()
                continue
            try:
                source = next(self._upstream)
            except StopIteration:
                self._end_of_input = True
                continue
            index = self._position
            self._position = index + 1
            opened = self._ds._open(source, self._epoch, index, self._options)
            self._slots[self._cycle_index] = [source, opened, index]
            self._num_open += 1
        raise StopIteration

    def _get_state(self) -> Dict[str, Any]:
        return {
            UPSTREAM: self._upstream.state_dict(),
            "epoch": self._epoch,
            "cycle_index": self._cycle_index,
            "block_index": self._block_index,
            "end_of_input": self._end_of_input,
            "position": self._position,
            "slots": [None if s is None else
                      {"element": s[0], "state": s[1].state_dict(), "index": s[2]}
                      for s in self._slots],
        }

    def _set_state(self, state: Dict[str, Any]) -> None:
        require_keys(self.op_name, state, UPSTREAM, "epoch", "cycle_index", "block_index",
                     "end_of_input", "position", "slots")
        if len(state["slots"]) != len(self._slots):
            raise MalformedStateError(f"interleave: saved state has cycle_length "
                                      f"{len(state['slots'])}, the pipeline has {len(self._slots)}")
        self._close()
        self._upstream.load_state_dict(state[UPSTREAM])
        self._epoch = int(state["epoch"])
        self._cycle_index = int(state["cycle_index"])
        self._block_index = int(state["block_index"])
        self._end_of_input = bool(state["end_of_input"])
        self._position = int(state["position"])
        for i, saved in enumerate(state["slots"]):
            if saved is not None:
                index = int(saved["index"])
                it = self._ds._open(saved["element"], self._epoch, index, self._options)
                it.load_state_dict(saved["state"])
                self._slots[i] = [saved["element"], it, index]
        self._num_open = sum(s is not None for s in self._slots)

    def _live_upstreams(self) -> List[DatasetIterator]:
        return [self._upstream] + [slot[1] for slot in self._slots if slot is not None]

    def _close(self) -> None:
        for i, slot in enumerate(self._slots):
            if slot is not None:
                slot[1].close()
                self._slots[i] = None
        self._num_open = 0


def flat_map(input_dataset: Dataset, map_func: Callable[..., Dataset]) -> Dataset:
    """``flat_map`` is interleave with one open dataset at a time."""
    return InterleaveDataset(input_dataset, map_func, cycle_length=1, block_length=1)
