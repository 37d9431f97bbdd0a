"""``map``: apply a function to each element, serially or on a pool of worker threads.

Serial map calls ``fn`` in the consumer's thread. With ``num_parallel_calls`` (an int or
``AUTOTUNE``) the calls run in :mod:`data.ops._parallel`'s worker threads, which is where the
choice of threads over processes is explained and measured.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Optional

import torch

from data._call import call_with_element
from data._element_seed import SeededFunction, element_seeds
from data._sparse import SparseTensor
from data._iterator import CountingIterator, DatasetIterator
from data._spec import spec_of
from data._structure import map_structure, to_leaf
from data.dataset import Dataset
from data.ops._args import check_int
from data.ops._parallel import (AUTOTUNE, ParallelMapIterator, resolve_parallelism,
                                set_intra_op_threads)
from data.options import current, resolved
from data.ops.errors import element_error


class MapDataset(Dataset):
    """Elements of ``input_dataset`` transformed by ``fn`` (see ``Dataset.map``).

    >>> import data
    >>> list(data.Dataset.range(4).map(lambda x: x * x, num_parallel_calls=2))
    [0, 1, 4, 9]
    """

    def __init__(self, input_dataset: Dataset, fn: Callable[..., Any],
                 num_parallel_calls: Optional[int] = None,
                 deterministic: Optional[bool] = None) -> None:
        super().__init__()
        if not callable(fn):
            raise TypeError(f"map: fn must be callable, got {type(fn).__name__}")
        if num_parallel_calls is not None:
            num_parallel_calls = check_int("map", "num_parallel_calls", num_parallel_calls, 1,
                                           also=(AUTOTUNE,))
        if deterministic is not None and not isinstance(deterministic, bool):
            raise TypeError(f"map: deterministic must be None or a bool, got {deterministic!r}")
        self._input = input_dataset
        self._fn = SeededFunction(fn)  # random ops in fn draw per element (data._element_seed)
        self._num_parallel_calls = num_parallel_calls
        self._deterministic = deterministic

    def _cardinality(self) -> int:
        return self._input._cardinality()

    def _iterator(self, epoch: int) -> DatasetIterator:
        upstream = element_seeds(self._fn, self._input._iterator(epoch), epoch)
        if self._num_parallel_calls is None:
            return _MapIterator(upstream, self._fn)
        # The pipeline's options (data.Options) decide what the arguments leave open.
        deterministic, pool, intra_op, autotune, cpu_budget, ram_budget = resolved(current())
        if self._num_parallel_calls == AUTOTUNE:
            workers = cpu_budget or resolve_parallelism(AUTOTUNE)
        else:
            workers = self._num_parallel_calls
        workers = min(workers, pool) if pool else workers
        if self._deterministic is not None:
            deterministic = self._deterministic
        return ParallelMapIterator(upstream, _apply(self._fn, intra_op), workers, deterministic,
                                   op_name="map", buffer_size=None if autotune else 2 * workers,
                                   ram_budget=ram_budget)


    def _spec(self) -> Any:
        return spec_of(self._representative())

    def _representative(self) -> Any:
        from data._seed import preserved_op_counter
        with preserved_op_counter():
            return map_result(call_with_element(self._fn, self._input._representative()))


def map_result(value: Any) -> Any:
    """A map function's return value as an element, following tf.data.

    A returned list is a tuple of components (tf.data does the same, with a warning), except a
    list of strings, which is one component (a batch of strings). ``None`` is allowed inside a
    structure but not as the whole element; anything that is not a tensor, array, number,
    string, list, dataset or a tuple/dict of them is a ``TypeError``.
    """
    if isinstance(value, list) and not all(isinstance(v, (str, bytes)) for v in value):
        value = tuple(value)
    if value is None:
        raise TypeError("map: the function returned None; return the element (a tensor, "
                        "number, string, or a tuple/dict of them)")
    return map_structure(_valid_leaf, value)


def _valid_leaf(leaf: Any) -> Any:
    if type(leaf) in _PLAIN_TYPES:  # the common case, without to_leaf's checks
        return leaf
    leaf = to_leaf(leaf)
    if leaf is None or isinstance(leaf, _LEAF_TYPES):
        return leaf
    raise TypeError(f"map: unsupported return value from the function: {leaf!r} (type "
                    f"{type(leaf).__name__}); an element's components must be tensors, arrays, "
                    "numbers, strings, lists or datasets, in tuples or dicts")


_LEAF_TYPES = (torch.Tensor, bool, int, float, complex, str, bytes, list, Dataset,
               SparseTensor)
_PLAIN_TYPES = frozenset((torch.Tensor, bool, int, float, str, bytes))


def _apply(fn: Callable[..., Any], intra_op_threads: int = 0) -> Callable[[Any], Any]:
    configured = threading.local()

    def apply(element: Any) -> Any:
        if intra_op_threads and not getattr(configured, "done", False):
            set_intra_op_threads(intra_op_threads)  # threading.max_intra_op_parallelism
            configured.done = True
        return map_result(call_with_element(fn, element))
    return apply


class _MapIterator(CountingIterator):
    op_name = "map"

    def __init__(self, upstream: DatasetIterator, fn: Callable[..., Any]) -> None:
        super().__init__(upstream)
        self._fn = fn

    def _next(self) -> Any:
        index = self._position
        try:
            element = next(self._upstream)
        except StopIteration:
            raise
        except Exception:
            self._position += 1  # the failed element still took a position (as in parallel map)
            raise
        self._position += 1
        try:
            return map_result(call_with_element(self._fn, element))
        except Exception as exc:
            raise element_error("map", index, exc) from exc

