"""``repeat``, ``take`` and ``skip``.

``repeat`` builds a fresh upstream iterator for each repetition and numbers them, so random
ops upstream draw a new order each time. The next repetition's iterator is created as soon as
the previous one ends (and the first at construction), so a saved state always carries the
upstream's seeds and a restored pipeline replays the same randomness.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from data import options as options_lib
from data._iterator import (UPSTREAM, DatasetIterator, MalformedStateError, require_keys,
                            state_bool, state_int)
from data._seed import derive_seed
from data.dataset import INFINITE_CARDINALITY, UNKNOWN_CARDINALITY, Dataset
from data.ops._args import check_int


_INT64_MAX = 2**63 - 1


class RepeatDataset(Dataset):
    """The input repeated ``count`` times, ``-1`` forever (see ``Dataset.repeat``)."""

    _keeps_spec = True

    def __init__(self, input_dataset: Dataset, count: Optional[int]) -> None:
        super().__init__()
        self._input = input_dataset
        # Any negative count means forever, as in tf.data.
        self._count = -1 if count is None else max(-1, check_int("repeat", "count", count,
                                                                 -_INT64_MAX))

    def _cardinality(self) -> int:
        n = self._input._cardinality()
        if self._count < 0:
            return 0 if n == 0 else INFINITE_CARDINALITY
        if self._count == 0:
            return 0
        if n in (INFINITE_CARDINALITY, UNKNOWN_CARDINALITY):
            return n
        return n * self._count

    def _iterator(self, epoch: int) -> DatasetIterator:
        return _RepeatIterator(self, epoch)


class _RepeatIterator(DatasetIterator):
    op_name = "repeat"

    def __init__(self, dataset: RepeatDataset, epoch: int) -> None:
        super().__init__()
        self._ds = dataset
        self._epoch = epoch
        self._repetition = 0
        self._produced = False  # whether the current repetition yielded anything
        self._current: Optional[DatasetIterator] = None
        self._options = options_lib.current()  # later repetitions are built under them too
        if self._has_more():
            self._current = self._make(0)

    def _has_more(self) -> bool:
        count = self._ds._count
        return count < 0 or self._repetition < count

    def _make(self, repetition: int) -> DatasetIterator:
        # Repetition k of top-level epoch 0 is upstream epoch k; later epochs mix both in.
        inner = repetition if self._epoch == 0 else derive_seed(self._epoch, repetition)
        with options_lib.applied(self._options):
            return self._ds._input._iterator(inner)

    def _next(self) -> Any:
        while self._current is not None:
            try:
                element = next(self._current)
            except StopIteration:
                self._current.close()
                self._current = None
                if self._ds._count < 0 and not self._produced:
                    break  # tf.data: repeating an empty dataset forever ends at once
                self._repetition += 1
                self._produced = False
                if self._has_more():
                    self._current = self._make(self._repetition)
                continue
            self._produced = True
            return element
        raise StopIteration

    def _get_state(self) -> Dict[str, Any]:
        return {
            "epoch": self._epoch,
            "repetition": self._repetition,
            "produced": self._produced,
            UPSTREAM: None if self._current is None else self._current.state_dict(),
        }

    def _set_state(self, state: Dict[str, Any]) -> None:
        require_keys(self.op_name, state, "epoch", "repetition", "produced", UPSTREAM)
        epoch = state_int(self.op_name, state, "epoch")
        repetition = state_int(self.op_name, state, "repetition", 0,
                               None if self._ds._count < 0 else self._ds._count)
        produced = state_bool(self.op_name, state, "produced")
        self._close()
        self._epoch, self._repetition, self._produced = epoch, repetition, produced
        if state[UPSTREAM] is not None:
            self._current = self._make(self._repetition)
            self._current.load_state_dict(state[UPSTREAM])

    def _live_upstreams(self) -> List[DatasetIterator]:
        return [] if self._current is None else [self._current]

    def _close(self) -> None:
        current, self._current = self._current, None
        if current is not None:
            current.close()


class TakeDataset(Dataset):
    """The first ``count`` elements (see ``Dataset.take``)."""

    _keeps_spec = True

    def __init__(self, input_dataset: Dataset, count: int) -> None:
        super().__init__()
        self._input = input_dataset
        self._count = max(-1, check_int("take", "count", count, -_INT64_MAX))  # < 0: all

    def _cardinality(self) -> int:
        n = self._input._cardinality()
        if self._count < 0:
            return n
        if n == INFINITE_CARDINALITY:
            return self._count
        return n if n == UNKNOWN_CARDINALITY else min(n, self._count)

    def _iterator(self, epoch: int) -> DatasetIterator:
        return _TakeIterator(self._count, self._input._iterator(epoch))


class _TakeIterator(DatasetIterator):
    op_name = "take"

    def __init__(self, count: int, upstream: DatasetIterator) -> None:
        super().__init__()
        self._count = count
        self._upstream = upstream
        self._own(upstream)
        self._taken = 0
        self._final_upstream_state: Optional[Dict[str, Any]] = None

    def _next(self) -> Any:
        if 0 <= self._count <= self._taken:
            self._release_upstream()
            raise StopIteration
        element = next(self._upstream)
        self._taken += 1
        return element

    def _release_upstream(self) -> None:
        # Nothing more will be pulled: close the upstream now (a generator's cleanup runs,
        # threads stop) and keep its last state for state_dict().
        if self._final_upstream_state is None:
            self._final_upstream_state = self._upstream.state_dict()
            self._upstream.close()

    def _get_state(self) -> Dict[str, Any]:
        upstream = self._final_upstream_state
        return {UPSTREAM: upstream if upstream is not None else self._upstream.state_dict(),
                "taken": self._taken}

    def _set_state(self, state: Dict[str, Any]) -> None:
        require_keys(self.op_name, state, UPSTREAM, "taken")
        if self._final_upstream_state is not None:
            raise MalformedStateError("take: cannot load a state into an iterator that has "
                                      "finished; create a new iterator")
        taken = state_int(self.op_name, state, "taken", 0,
                          None if self._count < 0 else self._count)
        self._upstream.load_state_dict(state[UPSTREAM])
        self._taken = taken


class SkipDataset(Dataset):
    """The elements after the first ``count`` (see ``Dataset.skip``)."""

    _keeps_spec = True

    def __init__(self, input_dataset: Dataset, count: int) -> None:
        super().__init__()
        self._input = input_dataset
        self._count = max(-1, check_int("skip", "count", count, -_INT64_MAX))  # < 0: all

    def _cardinality(self) -> int:
        n = self._input._cardinality()
        if self._count < 0:
            return 0
        if n in (INFINITE_CARDINALITY, UNKNOWN_CARDINALITY):
            return n
        return max(0, n - self._count)

    def _iterator(self, epoch: int) -> DatasetIterator:
        return _SkipIterator(self._count, self._input._iterator(epoch))


class _SkipIterator(DatasetIterator):
    op_name = "skip"

    def __init__(self, count: int, upstream: DatasetIterator) -> None:
        super().__init__()
        self._count = count
        self._upstream = upstream
        self._own(upstream)
        self._skipped = 0

    def _next(self) -> Any:
        while self._count < 0 or self._skipped < self._count:
            next(self._upstream)  # StopIteration here ends this iterator too
            self._skipped += 1
        return next(self._upstream)

    def _get_state(self) -> Dict[str, Any]:
        return {UPSTREAM: self._upstream.state_dict(), "skipped": self._skipped}

    def _set_state(self, state: Dict[str, Any]) -> None:
        require_keys(self.op_name, state, UPSTREAM, "skipped")
        skipped = state_int(self.op_name, state, "skipped", 0,
                            None if self._count < 0 else self._count)
        self._upstream.load_state_dict(state[UPSTREAM])
        self._skipped = skipped
