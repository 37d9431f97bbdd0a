"""``scan`` and ``reduce``: carry a state through the elements (tf.data's ``scan``/``reduce``).

``scan_func(state, element)`` returns ``(new_state, output)``; ``reduce_func(state, element)``
returns the new state. The element is one argument (a tuple element stays a tuple), as in
tf.data. The new state must have the initial state's structure (``TypeError`` otherwise), so a
saved iterator state (the current state, plain tensors and numbers) always fits the pipeline.
"""

from __future__ import annotations

from typing import Any, Callable, Dict

from data._iterator import UPSTREAM, CountingIterator, DatasetIterator, require_keys
from data._structure import assert_same_structure, normalize
from data.dataset import Dataset
from data.ops.errors import element_error


def _check_state(op: str, initial: Any, state: Any) -> Any:
    state = normalize(state)
    try:
        assert_same_structure(initial, state, f"{op}: the initial state and the new state")
    except ValueError as exc:
        raise TypeError(f"{exc}; the function must return a state with the initial state's "
                        "structure") from None
    return state


class ScanDataset(Dataset):
    """Outputs of ``scan_func`` carried through the input (see ``Dataset.scan``)."""

    def __init__(self, input_dataset: Dataset, initial_state: Any,
                 scan_func: Callable[[Any, Any], Any]) -> None:
        super().__init__()
        if not callable(scan_func):
            raise TypeError(f"scan: scan_func must be callable, got {type(scan_func).__name__}")
        self._input = input_dataset
        self._initial = normalize(initial_state)
        self._fn = scan_func

    def _step(self, state: Any, element: Any) -> Any:
        result = self._fn(state, element)
        if not isinstance(result, tuple) or len(result) != 2:
            raise TypeError(f"scan: scan_func must return a (new_state, output) pair, got "
                            f"{type(result).__name__}")
        return _check_state("scan", self._initial, result[0]), normalize(result[1])

    def _iterator(self, epoch: int) -> DatasetIterator:
        return _ScanIterator(self, self._input._iterator(epoch))

    def _representative(self) -> Any:
        return self._step(self._initial, self._input._representative())[1]

    def _cardinality(self) -> int:
        return self._input._cardinality()


class _ScanIterator(CountingIterator):
    op_name = "scan"

    def __init__(self, dataset: ScanDataset, upstream: DatasetIterator) -> None:
        super().__init__(upstream)
        self._ds = dataset
        self._state = dataset._initial

    def _next(self) -> Any:
        element = next(self._upstream)
        index = self._position
        self._position += 1
        try:
            self._state, output = self._ds._step(self._state, element)
        except Exception as exc:
            raise element_error("scan", index, exc) from exc
        return output

    def _get_state(self) -> Dict[str, Any]:
        return {UPSTREAM: self._upstream.state_dict(), "position": self._position,
                "state": self._state}

    def _set_state(self, state: Dict[str, Any]) -> None:
        super()._set_state(state)
        require_keys(self.op_name, state, "state")
        self._state = state["state"]


def reduce(dataset: Dataset, initial_state: Any, reduce_func: Callable[[Any, Any], Any]) -> Any:
    """Fold the dataset into one value (see ``Dataset.reduce``)."""
    if not callable(reduce_func):
        raise TypeError(f"reduce: reduce_func must be callable, got {type(reduce_func).__name__}")
    state = normalize(initial_state)
    initial = state
    with iter(dataset) as it:
        for index, element in enumerate(it):
            try:
                state = _check_state("reduce", initial, reduce_func(state, element))
            except Exception as exc:
                raise element_error("reduce", index, exc) from exc
    return state
