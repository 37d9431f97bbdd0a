"""``shard`` and ``enumerate``."""

from __future__ import annotations

from typing import Any

from data._iterator import CountingIterator, DatasetIterator
from data.dataset import INFINITE_CARDINALITY, UNKNOWN_CARDINALITY, Dataset
from data.ops._args import check_int

_INT64_MAX = 2**63 - 1


class ShardDataset(Dataset):
    """Element ``i`` of the input goes to shard ``i % num_shards`` (tf.data's rule)."""

    _keeps_spec = True

    def __init__(self, input_dataset: Dataset, num_shards: int, index: int) -> None:
        super().__init__()
        self._input = input_dataset
        self._num_shards = check_int("shard", "num_shards", num_shards, 1)
        self._index = check_int("shard", "index", index, 0)
        if self._index >= self._num_shards:
            raise ValueError(f"shard: index must be in [0, num_shards) = [0, {self._num_shards}), "
                             f"got index={self._index}")

    def _cardinality(self) -> int:
        n = self._input._cardinality()
        if n in (INFINITE_CARDINALITY, UNKNOWN_CARDINALITY):
            return n
        return n // self._num_shards + (1 if self._index < n % self._num_shards else 0)

    def _iterator(self, epoch: int) -> DatasetIterator:
        return _ShardIterator(self._num_shards, self._index, self._input._iterator(epoch))


class _ShardIterator(CountingIterator):
    op_name = "shard"

    def __init__(self, num_shards: int, index: int, upstream: DatasetIterator) -> None:
        super().__init__(upstream)
        self._num_shards = num_shards
        self._index = index

    def _next(self) -> Any:
        while True:
            element = next(self._upstream)
            position = self._position
            self._position = position + 1
            if position % self._num_shards == self._index:
                return element



def enumerate_dataset(input_dataset: Dataset, start: int) -> Dataset:
    """``(i, element)`` pairs: tf.data's ``zip((range(start, int64 max), input))``."""
    from data.ops.combine import ZipDataset
    from data.sources import RangeDataset

    start = check_int("enumerate", "start", start, -_INT64_MAX)
    return ZipDataset((RangeDataset(start, _INT64_MAX), input_dataset))
