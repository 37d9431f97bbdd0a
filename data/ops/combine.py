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
from data._iterator import (UPSTREAM, UPSTREAMS, DatasetIterator, MalformedStateError, require_keys,
                            state_bool, state_int, state_list)
from data.dataset import INFINITE_CARDINALITY, UNKNOWN_CARDINALITY, Dataset
from data._spec import most_specific_compatible
from data._structure import flatten as leaves, pack
from data.ops._args import check_int
from data.ops._parallel import AUTOTUNE, cpu_count
from data.ops.errors import element_error
from data.options import Options


def _load_all(op: str, iterators: List[DatasetIterator], states: Any) -> None:
    if not isinstance(states, (list, tuple)):
        raise MalformedStateError(f"{op}: saved state field {UPSTREAMS!r} must be a list, got "
                                  f"{type(states).__name__}")
    if len(states) != len(iterators):
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

    def _spec(self) -> Any:
        return pack(self._structure, iter([d.element_spec for d in self._datasets]))

    def _representative(self) -> Any:
        return pack(self._structure, iter([d._representative() for d in self._datasets]))

    def _cardinality(self) -> int:
        result = INFINITE_CARDINALITY
        for n in (d._cardinality() for d in self._datasets):
            if n == UNKNOWN_CARDINALITY:
                return n
            if n != INFINITE_CARDINALITY:
                result = n if result == INFINITE_CARDINALITY else min(result, n)
        return result

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
        # Every input advances even when one fails (tf.data): the element fails as a whole
        # and the next one pairs the inputs' next elements, not shifted ones.
        items, error, ended = [], None, False
        for it in self._upstreams:
            try:
                items.append(next(it))
            except StopIteration:
                ended = True
                break
            except Exception as exc:
                if error is None:
                    error = exc
                items.append(None)
        if ended:
            raise StopIteration
        if error is not None:
            raise error
        return pack(self._structure, iter(items))

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
        self._merged_spec = _checked_specs(input_dataset, dataset)

    def _input_datasets(self) -> List[Dataset]:
        return list(self._inputs)

    def _spec(self) -> Any:
        if self._merged_spec is None:
            return most_specific_compatible(self._inputs[0].element_spec,
                                            self._inputs[1].element_spec, "concatenate")
        return self._merged_spec

    def _representative(self) -> Any:
        return self._inputs[0]._representative()


    def _cardinality(self) -> int:
        a, b = (d._cardinality() for d in self._inputs)
        if INFINITE_CARDINALITY in (a, b):
            return INFINITE_CARDINALITY
        return UNKNOWN_CARDINALITY if UNKNOWN_CARDINALITY in (a, b) else a + b

    def _iterator(self, epoch: int) -> DatasetIterator:
        return _ConcatenateIterator([d._iterator(epoch) for d in self._inputs])


def _checked_specs(a: Dataset, b: Dataset) -> Any:
    """The merged element spec of ``a`` and ``b``, or ``TypeError`` when their structures or
    dtypes differ (tf.data's check at construction); ``None`` when a spec cannot be inferred
    now (an empty input behind a map, or a function that fails on its first element)."""
    try:
        spec_a, spec_b = a.element_spec, b.element_spec
    except Exception:  # the elements decide the spec and none could be produced
        return None
    return most_specific_compatible(spec_a, spec_b, "concatenate")


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
        index = state_int(self.op_name, state, "index", 0, len(self._upstreams))
        _load_all(self.op_name, self._upstreams, state[UPSTREAMS])
        self._index = index


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
        calls = None if num_parallel_calls is None else check_int(
            "interleave", "num_parallel_calls", num_parallel_calls, 1, also=(AUTOTUNE,))
        if cycle != AUTOTUNE and calls is not None and calls != AUTOTUNE and calls > cycle:
            raise ValueError(
                f"interleave: if cycle_length is set to a fixed value, num_parallel_calls must "
                f"be AUTOTUNE or at most cycle_length; got num_parallel_calls={calls} and "
                f"cycle_length={cycle}")
        self._cycle_length = cycle if cycle != AUTOTUNE else autotune_cycle_length(calls)
        self._block_length = check_int("interleave", "block_length", block_length, 1)
        self._parallel = calls is not None and calls != 1

    def _cardinality(self) -> int:
        # tf.data: unknown, except that a parallel interleave of an endless input is endless.
        if self._parallel and self._input._cardinality() == INFINITE_CARDINALITY:
            return INFINITE_CARDINALITY
        return UNKNOWN_CARDINALITY

    def _iterator(self, epoch: int) -> DatasetIterator:
        return _InterleaveIterator(self, self._input._iterator(epoch), epoch)

    def _inner(self) -> Dataset:
        from data._seed import preserved_op_counter
        with preserved_op_counter():
            dataset = call_with_element(self._fn, self._input._representative())
        if not isinstance(dataset, Dataset):
            raise TypeError(f"interleave/flat_map: map_func must return a Dataset, got "
                            f"{type(dataset).__name__}")
        return dataset

    def _spec(self) -> Any:
        return self._inner().element_spec

    def _representative(self) -> Any:
        return self._inner()._representative()

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
        self._inputs_hold_datasets: Optional[bool] = None  # known after the first pull

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
            # An input element holding datasets cannot go into a saved state (it must be plain
            # tensors and containers): such slots save the input's state before the pull.
            before = self._upstream.state_dict() if self._inputs_hold_datasets is not False \
                else None
            try:
                source = next(self._upstream)
            except StopIteration:
                self._end_of_input = True
                continue
            if self._inputs_hold_datasets is None:
                self._inputs_hold_datasets = any(isinstance(leaf, Dataset)
                                                 for leaf in leaves(source))
            index = self._position
            self._position = index + 1
            opened = self._ds._open(source, self._epoch, index, self._options)
            self._slots[self._cycle_index] = [source, opened, index,
                                              before if self._inputs_hold_datasets else None]
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
                      if s[3] is None else
                      {"input_state": s[3], "state": s[1].state_dict(), "index": s[2]}
                      for s in self._slots],
        }

    def _set_state(self, state: Dict[str, Any]) -> None:
        op = self.op_name
        require_keys(op, state, UPSTREAM, "epoch", "cycle_index", "block_index",
                     "end_of_input", "position", "slots")
        slots = state_list(op, state, "slots")
        if len(slots) != len(self._slots):
            raise MalformedStateError(f"interleave: saved state has cycle_length "
                                      f"{len(slots)}, the pipeline has {len(self._slots)}")
        epoch = state_int(op, state, "epoch")
        cycle_index = state_int(op, state, "cycle_index", 0, len(self._slots) - 1)
        block_index = state_int(op, state, "block_index", 0, self._ds._block_length - 1)
        end_of_input = state_bool(op, state, "end_of_input")
        position = state_int(op, state, "position")
        indices = []
        for saved in slots:
            if saved is not None:
                if not isinstance(saved, dict) or "state" not in saved or (
                        "element" not in saved and "input_state" not in saved):
                    raise MalformedStateError(f"{op}: saved state field 'slots' holds a "
                                              f"{type(saved).__name__}, not an open input's "
                                              "state")
                indices.append(state_int(op, saved, "index", 0, max(position - 1, 0)))
        self._close()
        self._upstream.load_state_dict(state[UPSTREAM])
        self._epoch = epoch
        self._cycle_index = cycle_index
        self._block_index = block_index
        self._end_of_input = end_of_input
        self._position = position
        open_indices = iter(indices)
        for i, saved in enumerate(slots):
            if saved is not None:
                index = next(open_indices)
                before = saved.get("input_state")
                element = saved["element"] if before is None else self._pull_again(before)
                it = self._ds._open(element, self._epoch, index, self._options)
                it.load_state_dict(saved["state"])
                self._slots[i] = [element, it, index, before]
        self._num_open = sum(s is not None for s in self._slots)

    def _pull_again(self, before: Dict[str, Any]) -> Any:
        """The input element pulled from the input state ``before`` (a slot's saved state)."""
        with options_lib.applied(self._options):
            upstream = self._ds._input._iterator(self._epoch)
        try:
            upstream.load_state_dict(before)
            return next(upstream)
        except StopIteration:
            raise MalformedStateError("interleave: a saved slot's input state has no element "
                                      "left; the state does not belong to this pipeline") from None
        finally:
            upstream.close()

    def _live_upstreams(self) -> List[DatasetIterator]:
        return [self._upstream] + [slot[1] for slot in self._slots if slot is not None]

    def _close(self) -> None:
        for i, slot in enumerate(self._slots):
            if slot is not None:
                slot[1].close()
                self._slots[i] = None
        self._num_open = 0


def autotune_cycle_length(num_parallel_calls: Optional[int]) -> int:
    """tf.data's ``cycle_length`` for ``None``/``AUTOTUNE``, from the schedulable CPU cores:
    all of them without ``num_parallel_calls``; ``min(num_parallel_calls, cores)`` with a fixed
    one; ``ceil(cores / 3)`` with ``AUTOTUNE`` (one thread per current element and two per
    future element it prefetches)."""
    cores = cpu_count()
    if num_parallel_calls is None:
        return cores
    if num_parallel_calls != AUTOTUNE:
        return min(num_parallel_calls, cores)
    return -(-cores // 3)


def flat_map(input_dataset: Dataset, map_func: Callable[..., Dataset]) -> Dataset:
    """``flat_map`` is interleave with one open dataset at a time."""
    return InterleaveDataset(input_dataset, map_func, cycle_length=1, block_length=1)
