"""``data.experimental``: tf.data's experimental transformations, for ``Dataset.apply``."""

from __future__ import annotations

from typing import Callable, Optional

from data.dataset import Dataset
from data.options import AutoShardPolicy, AutotuneOptions, DistributeOptions, ThreadingOptions

__all__ = ["AutoShardPolicy", "AutotuneOptions", "DistributeOptions", "ThreadingOptions",
           "shuffle_and_repeat"]


def shuffle_and_repeat(buffer_size: int, count: Optional[int] = None,
                       seed: Optional[int] = None) -> Callable[[Dataset], Dataset]:
    """Shuffle with a ``buffer_size`` buffer and repeat ``count`` times (``None``: forever).

    Equivalent to ``ds.shuffle(buffer_size, seed, reshuffle_each_iteration=True).repeat(count)``
    as tf.data's fused op is: every epoch has a new order, and an epoch's elements all come out
    before the next epoch's.

    >>> import data
    >>> ds = data.Dataset.range(4).apply(data.experimental.shuffle_and_repeat(4, count=2, seed=3))
    >>> sorted(ds)
    [0, 0, 1, 1, 2, 2, 3, 3]
    """
    from data.ops._args import check_int
    from data.ops.repeat import RepeatDataset
    from data.ops.shuffle import ShuffleDataset

    # Check now, so a bad argument fails where it is written rather than inside apply().
    check_int("shuffle_and_repeat", "buffer_size", buffer_size, 1)
    if count is not None:
        check_int("shuffle_and_repeat", "count", count, 0, also=(-1,))

    def _apply(dataset: Dataset) -> Dataset:
        return RepeatDataset(ShuffleDataset(dataset, buffer_size, seed, True), count)

    return _apply
