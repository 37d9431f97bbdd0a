"""``filter``: keep the elements for which a predicate is true."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch

from data._call import call_with_element
from data._iterator import CountingIterator, DatasetIterator
from data.dataset import Dataset
from data.ops.errors import element_error


def _as_bool(result: Any) -> bool:
    if isinstance(result, (bool, np.bool_)):
        return bool(result)
    if isinstance(result, torch.Tensor) and result.dtype == torch.bool and result.numel() == 1 \
            and result.dim() == 0:
        return bool(result)
    shown = (f"a tensor of dtype {result.dtype} and shape {tuple(result.shape)}"
             if isinstance(result, torch.Tensor) else f"{type(result).__name__} {result!r}")
    raise ValueError(f"filter: invalid predicate: it must return a bool or a 0-d bool tensor, "
                     f"but returned {shown}; compare explicitly (e.g. `x > 0`) or reduce with "
                     "`.all()`/`.any()`")


class FilterDataset(Dataset):
    """The elements for which ``predicate`` is true (see ``Dataset.filter``)."""

    _keeps_spec = True

    def __init__(self, input_dataset: Dataset, predicate: Callable[..., Any]) -> None:
        super().__init__()
        if not callable(predicate):
            raise TypeError(f"filter: predicate must be callable, got {type(predicate).__name__}")
        self._input = input_dataset
        self._predicate = predicate

    def _iterator(self, epoch: int) -> DatasetIterator:
        return _FilterIterator(self._predicate, self._input._iterator(epoch))


class _FilterIterator(CountingIterator):
    op_name = "filter"

    def __init__(self, predicate: Callable[..., Any], upstream: DatasetIterator) -> None:
        super().__init__(upstream)
        self._predicate = predicate

    def _next(self) -> Any:
        predicate = self._predicate
        for element in self._upstream:
            index = self._position
            self._position = index + 1
            try:
                keep = call_with_element(predicate, element)
            except Exception as exc:
                raise element_error("filter", index, exc) from exc
            if _as_bool(keep):
                return element
        raise StopIteration

