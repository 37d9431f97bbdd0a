"""The thin ``Dataset``: an immutable, re-iterable description of a pipeline.

Every transformation returns a new ``Dataset`` and hands off, in one line, to its op module in
``data.ops``. Iterating creates a fresh chain of :class:`~data._iterator.DatasetIterator`.
"""

from __future__ import annotations

import itertools
from typing import Any

from data._iterator import DatasetIterator


class Dataset:
    """Base class: subclasses implement ``_iterator(epoch)``.

    ``epoch`` numbers the times this dataset has been iterated by its consumer (``repeat``
    passes its epoch count), so random ops can draw a new order each epoch.
    """

    def __init__(self) -> None:
        self._iteration_counter = itertools.count()

    def _iterator(self, epoch: int) -> DatasetIterator:
        raise NotImplementedError

    def __iter__(self) -> DatasetIterator:
        return self._iterator(next(self._iteration_counter))
