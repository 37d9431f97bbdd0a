"""``group_by_window`` and ``bucket_by_sequence_length`` (tf.data's grouping ops).

``group_by_window`` sends each element to the window of its key (``key_func(element)``, an
integer); a window that reaches its size (``window_size`` or ``window_size_func(key)``) becomes
a dataset that ``reduce_func(key, window)`` turns into the output dataset, whose elements are
produced in turn. When the input ends, the windows left are flushed in key order, as tf.data
does. ``bucket_by_sequence_length`` is built on it, as in tf.data.

The iterator state holds the open windows (plain elements) and the state of the output
dataset being produced, rebuilt from its window on restore.
"""

from __future__ import annotations

import bisect
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch

from data._call import call_with_element
from data._iterator import (UPSTREAM, DatasetIterator, MalformedStateError, require_keys, state_bool,
                            state_int, state_list)
from data.dataset import Dataset
from data.ops.errors import element_error


def _as_key(value: Any, what: str) -> int:
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_floating_point():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise TypeError(f"group_by_window: {what} must return a scalar integer, got {value!r}")


class GroupByWindowDataset(Dataset):
    """Elements grouped by key into windows, each reduced to a dataset (``group_by_window``)."""

    def __init__(self, input_dataset: Dataset, key_func: Callable[..., Any],
                 reduce_func: Callable[[Any, Dataset], Dataset], window_size: Optional[int],
                 window_size_func: Optional[Callable[[Any], Any]]) -> None:
        super().__init__()
        if (window_size is None) == (window_size_func is None):
            raise ValueError("group_by_window: give exactly one of window_size and "
                             "window_size_func")
        for name, fn in (("key_func", key_func), ("reduce_func", reduce_func)):
            if not callable(fn):
                raise TypeError(f"group_by_window: {name} must be callable, got "
                                f"{type(fn).__name__}")
        if window_size is not None:
            from data.ops._args import check_int
            window_size = check_int("group_by_window", "window_size", window_size, 1)
        self._input = input_dataset
        self._key_func = key_func
        self._reduce_func = reduce_func
        self._window_size = window_size
        self._window_size_func = window_size_func

    def _size_for(self, key: int) -> int:
        if self._window_size is not None:
            return self._window_size
        assert self._window_size_func is not None  # __init__ takes exactly one of the two
        size = _as_key(self._window_size_func(key), "window_size_func")
        if size < 1:
            raise ValueError(f"group_by_window: window_size_func returned {size} for key {key}; "
                             "window sizes must be >= 1")
        return size

    def _reduce(self, key: int, elements: List[Any]) -> Dataset:
        from data.ops.window import _ElementsDataset
        result = self._reduce_func(key, _ElementsDataset(elements))
        if not isinstance(result, Dataset):
            raise TypeError(f"group_by_window: reduce_func must return a Dataset, got "
                            f"{type(result).__name__}")
        return result

    def _iterator(self, epoch: int) -> DatasetIterator:
        return _GroupByWindowIterator(self, self._input._iterator(epoch), epoch)

    def _representative(self) -> Any:
        element = self._input._representative()
        key = _as_key(call_with_element(self._key_func, element), "key_func")
        return self._reduce(key, [element])._representative()


class _GroupByWindowIterator(DatasetIterator):
    op_name = "group_by_window"

    def __init__(self, dataset: GroupByWindowDataset, upstream: DatasetIterator,
                 epoch: int) -> None:
        super().__init__()
        self._ds = dataset
        self._upstream = upstream
        self._own(upstream)
        self._epoch = epoch
        self._windows: Dict[int, List[Any]] = {}
        self._position = 0
        self._upstream_done = False
        # The output dataset being produced: (key, its window's elements, iterator).
        self._current: Optional[Tuple[int, List[Any], DatasetIterator]] = None

    def _open(self, key: int, elements: List[Any]) -> DatasetIterator:
        """Start producing the output dataset of one window; its iterator."""
        it = self._ds._reduce(key, elements)._iterator(self._epoch)
        self._current = (key, elements, it)
        return it

    def _next(self) -> Any:
        while True:
            if self._current is not None:
                try:
                    return next(self._current[2])
                except StopIteration:
                    self._current[2].close()
                    self._current = None
            if self._upstream_done:
                if not self._windows:
                    raise StopIteration
                key = min(self._windows)
                self._open(key, self._windows.pop(key))
                continue
            try:
                element = next(self._upstream)
            except StopIteration:
                self._upstream_done = True
                continue
            index = self._position
            self._position += 1
            try:
                key = _as_key(call_with_element(self._ds._key_func, element), "key_func")
                size = self._ds._size_for(key)
            except Exception as exc:
                raise element_error("group_by_window", index, exc) from exc
            window = self._windows.setdefault(key, [])
            window.append(element)
            if len(window) >= size:
                self._open(key, self._windows.pop(key))

    def _get_state(self) -> Dict[str, Any]:
        current = self._current
        return {
            UPSTREAM: self._upstream.state_dict(),
            "windows": {int(k): list(v) for k, v in self._windows.items()},
            "position": self._position,
            "upstream_done": self._upstream_done,
            "current": None if current is None else {
                "key": current[0], "elements": list(current[1]),
                "state": current[2].state_dict()},
        }

    def _set_state(self, state: Dict[str, Any]) -> None:
        op = self.op_name
        require_keys(op, state, UPSTREAM, "windows", "position", "upstream_done", "current")
        saved = state["windows"]
        if not isinstance(saved, dict):
            raise MalformedStateError(f"{op}: saved state field 'windows' must be a dict of key "
                                      f"-> elements, got {type(saved).__name__}")
        # A window is handed on once full, so a saved one holds fewer than window_size.
        most = None if self._ds._window_size is None else self._ds._window_size - 1
        windows = {state_int(op, {"windows": k}, "windows", None):
                   state_list(op, {"windows": v}, "windows", most) for k, v in saved.items()}
        position = state_int(op, state, "position")
        upstream_done = state_bool(op, state, "upstream_done")
        current = state["current"]
        if current is not None:
            if not isinstance(current, dict):
                raise MalformedStateError(f"{op}: saved state field 'current' must be a dict "
                                          f"or None, got {type(current).__name__}")
            require_keys(op, current, "key", "elements", "state")
            key = state_int(op, current, "key", None)
            elements = state_list(op, current, "elements", self._ds._window_size)
        self._close()
        self._upstream.load_state_dict(state[UPSTREAM])
        self._windows = windows
        self._position = position
        self._upstream_done = upstream_done
        if current is not None:
            self._open(key, elements).load_state_dict(current["state"])

    def _live_upstreams(self) -> List[DatasetIterator]:
        return [self._upstream] + ([self._current[2]] if self._current is not None else [])

    def _close(self) -> None:
        current, self._current = self._current, None
        if current is not None:
            current[2].close()


def bucket_by_sequence_length(dataset: Dataset, element_length_func: Callable[..., Any],
                              bucket_boundaries: Sequence[int], bucket_batch_sizes: Sequence[int],
                              padded_shapes: Any = None, padding_values: Any = None,
                              pad_to_bucket_boundary: bool = False, no_padding: bool = False,
                              drop_remainder: bool = False) -> Dataset:
    """Batch elements of similar length together (see ``Dataset.bucket_by_sequence_length``)."""
    boundaries = list(bucket_boundaries)
    sizes = list(bucket_batch_sizes)
    if len(sizes) != len(boundaries) + 1:
        raise ValueError(f"bucket_by_sequence_length: len(bucket_batch_sizes) must equal "
                         f"len(bucket_boundaries) + 1, got {len(sizes)} and {len(boundaries)}")
    if boundaries != sorted(boundaries) or len(set(boundaries)) != len(boundaries):
        raise ValueError(f"bucket_by_sequence_length: bucket_boundaries must be sorted and "
                         f"distinct, got {boundaries}")
    if pad_to_bucket_boundary and not boundaries:
        raise ValueError("bucket_by_sequence_length: pad_to_bucket_boundary needs at least "
                         "one bucket boundary")

    def bucket_of(*element: Any) -> int:
        length = _as_key(element_length_func(*element), "element_length_func")
        if pad_to_bucket_boundary and length >= boundaries[-1]:
            raise ValueError(f"bucket_by_sequence_length: when pad_to_bucket_boundary=True, "
                             f"elements must have length < max(bucket_boundaries) = "
                             f"{boundaries[-1]}, got {length}")
        return bisect.bisect_right(boundaries, length)

    def batch_bucket(bucket: int, window: Dataset) -> Dataset:
        size = sizes[bucket]
        if no_padding:
            return window.batch(size, drop_remainder=drop_remainder)
        shapes = padded_shapes
        if pad_to_bucket_boundary:
            # Pad the variable dimension to the bucket's boundary - 1 (tf.data's rule).
            shapes = _boundary_shapes(window, boundaries[bucket] - 1 if bucket < len(boundaries)
                                      else None, padded_shapes)
        return window.padded_batch(size, shapes, padding_values, drop_remainder=drop_remainder)

    return GroupByWindowDataset(dataset, lambda *e: bucket_of(*e), batch_bucket,
                                window_size=None, window_size_func=lambda b: sizes[b])


def _boundary_shapes(window: Dataset, boundary: Optional[int], padded_shapes: Any) -> Any:
    from data._spec import TensorSpec
    from data._structure import map_structure
    if padded_shapes is not None:
        return padded_shapes
    return map_structure(lambda s: None if not isinstance(s, TensorSpec) or s.shape is None
                         else tuple(boundary if d is None else d for d in s.shape),
                         _element_shapes(window))


def _element_shapes(window: Dataset) -> Any:
    from data._spec import TensorSpec
    from data._structure import map_structure
    # Unknown (None) in every dimension: the boundary applies to all of them.
    return map_structure(lambda s: TensorSpec(None if s.shape is None else (None,) * len(
        s.shape), s.dtype) if isinstance(s, TensorSpec) else s, window.element_spec)
