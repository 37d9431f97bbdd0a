"""``filter`` and its relatives: ``take_while`` and ``unique``."""

from __future__ import annotations

from typing import Any, Callable, Dict

import numpy as np
import torch

from data._call import call_with_element
from data._iterator import CountingIterator, DatasetIterator, require_keys
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



class TakeWhileDataset(Dataset):
    """The elements before the first for which ``predicate`` is false (``take_while``)."""

    _keeps_spec = True

    def __init__(self, input_dataset: Dataset, predicate: Callable[..., Any]) -> None:
        super().__init__()
        if not callable(predicate):
            raise TypeError(f"take_while: predicate must be callable, got "
                            f"{type(predicate).__name__}")
        self._input = input_dataset
        self._predicate = predicate

    def _iterator(self, epoch: int) -> DatasetIterator:
        return _TakeWhileIterator(self._predicate, self._input._iterator(epoch))


class _TakeWhileIterator(CountingIterator):
    op_name = "take_while"

    def __init__(self, predicate: Callable[..., Any], upstream: DatasetIterator) -> None:
        super().__init__(upstream)
        self._predicate = predicate

    def _next(self) -> Any:
        element = next(self._upstream)
        index = self._position
        self._position = index + 1
        try:
            keep = call_with_element(self._predicate, element)
        except Exception as exc:
            raise element_error("take_while", index, exc) from exc
        if not _as_bool(keep):
            raise StopIteration
        return element


class UniqueDataset(Dataset):
    """Each distinct element once, in order of first appearance (``unique``).

    Elements must be scalars: Python ints/strings or 0-d integer/bool tensors, or strings
    (tf.data: int32, int64 or string). The iterator's state holds the values seen so far.
    """

    _keeps_spec = True

    def __init__(self, input_dataset: Dataset) -> None:
        super().__init__()
        self._input = input_dataset

    def _iterator(self, epoch: int) -> DatasetIterator:
        return _UniqueIterator(self._input._iterator(epoch))


def _unique_key(element: Any, index: int) -> Any:
    if isinstance(element, torch.Tensor) and element.dim() == 0 and not (
            element.is_floating_point() or element.is_complex()):
        return element.item()
    if isinstance(element, (int, str, bytes)) and not isinstance(element, bool):
        return element
    shown = (f"a tensor of dtype {element.dtype} and shape {tuple(element.shape)}"
             if isinstance(element, torch.Tensor) else type(element).__name__)
    raise TypeError(f"unique: elements must be scalar integers or strings, but element "
                    f"{index} is {shown}")


class _UniqueIterator(CountingIterator):
    op_name = "unique"

    def __init__(self, upstream: DatasetIterator) -> None:
        super().__init__(upstream)
        self._seen: set = set()

    def _next(self) -> Any:
        while True:
            element = next(self._upstream)
            index = self._position
            self._position = index + 1
            key = _unique_key(element, index)
            if key not in self._seen:
                self._seen.add(key)
                return element

    def _get_state(self) -> Dict[str, Any]:
        state = super()._get_state()
        state["seen"] = sorted(self._seen, key=lambda v: (type(v).__name__, v))
        return state

    def _set_state(self, state: Dict[str, Any]) -> None:
        super()._set_state(state)
        require_keys(self.op_name, state, "seen")
        self._seen = set(state["seen"])
