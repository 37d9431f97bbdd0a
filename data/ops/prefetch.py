"""``prefetch``: a background thread produces elements ahead into a bounded buffer.

It is the parallel engine (:mod:`data.ops._parallel`) with one worker and no function, so it
shares that engine's stopping, error delivery and "snapshot + steps since" checkpointing. It
snapshots its upstream at every pull: its elements are often whole batches, too costly to
recompute on a restore, and a snapshot is cheap next to producing one.
"""

from __future__ import annotations

from typing import Optional

from data._iterator import DatasetIterator
from data.dataset import Dataset
from data.ops._args import check_int
from data.ops._parallel import AUTOTUNE, ParallelMapIterator
from data.options import current, resolved


class PrefetchDataset(Dataset):
    """Elements of ``input_dataset``, produced up to ``buffer_size`` ahead by a thread.

    ``buffer_size=AUTOTUNE`` starts with one element and grows the buffer (up to 16) while the
    consumer finds it empty.

    >>> import data
    >>> list(data.Dataset.range(5).prefetch(2))
    [0, 1, 2, 3, 4]
    """

    _keeps_spec = True

    def __init__(self, input_dataset: Dataset, buffer_size: Optional[int]) -> None:
        super().__init__()
        self._input = input_dataset
        # None is AUTOTUNE and 0 means no buffering, as in tf.data.
        self._buffer_size = AUTOTUNE if buffer_size is None else check_int(
            "prefetch", "buffer_size", buffer_size, 0, also=(AUTOTUNE,))

    def _cardinality(self) -> int:
        return self._input._cardinality()

    def _iterator(self, epoch: int) -> DatasetIterator:
        if self._buffer_size == 0:
            return self._input._iterator(epoch)
        _, _, _, autotune, _, ram_budget = resolved(current())
        buffer_size = self._buffer_size
        if buffer_size == AUTOTUNE and not autotune:
            buffer_size = 1  # autotune.enabled=False: the buffer keeps its starting size
        return ParallelMapIterator(self._input._iterator(epoch), None, num_workers=1,
                                   deterministic=True, op_name="prefetch",
                                   buffer_size=buffer_size, snapshot_every=1,
                                   ram_budget=ram_budget)
