"""``est.inputs``: ``numpy_input_fn`` and ``pandas_input_fn``, as ``tf.estimator.inputs``.

Both return an ``input_fn`` that yields ``(features, labels)`` batches (features only when
``y`` is ``None``) from in-memory arrays, with TF's semantics:

- ``x`` is a dict of arrays (features are a dict with its keys) or one array (features are a
  tensor); ``y`` an array, a dict of arrays, or ``None``. All must have the same length.
- ``shuffle`` must be given explicitly as a bool, as TF requires.
- The input is ``num_epochs`` passes over the data, one after the other (``None``: forever),
  cut into batches of ``batch_size``; a batch may span two epochs, and the last one is kept even
  when it is smaller, as TF's ``dequeue_up_to``.
- With ``shuffle=True`` every epoch is a fresh permutation of the whole data (TF shuffles
  through a queue of ``queue_capacity`` examples instead; a full-epoch permutation mixes better).
  The permutation follows the seed rules of ``data`` (``RunConfig.tf_random_seed``).

Batches are gathered by index, one indexing op per array and batch (no per-example Python), so
60,000 x 784 MNIST arrays cost well under a millisecond a batch. Arrays stay in their dtype
(numpy's float64 stays float64; ``est.layers`` cast floating inputs to their own dtype). The
iterator saves its position in checkpoints, so training resumes at the next batch.

>>> import numpy as np
>>> fn = numpy_input_fn({"x": np.arange(5.0)}, np.arange(5), batch_size=2, shuffle=False)
>>> [labels.tolist() for _, labels in fn()]
[[0, 1], [2, 3], [4]]
"""

from __future__ import annotations

import secrets
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import numpy as np
import torch

__all__ = ["numpy_input_fn", "pandas_input_fn"]

_SHUFFLE_MESSAGE = ("shuffle must be provided and explicitly set as boolean (it is recommended "
                    "to set it as True for training); got {}")


def _check_common(batch_size: Any, num_epochs: Any, shuffle: Any, fn: str) -> bool:
    """Check the arguments both input_fns share; ``shuffle``, a bool."""
    if not isinstance(shuffle, bool):
        raise ValueError(_SHUFFLE_MESSAGE.format(shuffle))
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size <= 0:
        raise ValueError(f"{fn}: batch_size must be a positive int, got {batch_size!r}")
    if num_epochs is not None and (isinstance(num_epochs, bool) or
                                   not isinstance(num_epochs, (int, np.integer)) or
                                   num_epochs <= 0):
        raise ValueError(f"{fn}: num_epochs must be a positive int or None (forever), got "
                         f"{num_epochs!r}")
    return shuffle


def _column(array: Any, key: str) -> Any:
    """A tensor over ``array`` (zero-copy where numpy allows), or a numpy array of strings."""
    array = np.asarray(array)
    if array.ndim == 0:
        raise ValueError(f"{key} must have a leading example dimension, got a scalar")
    if array.dtype.kind in "OUS":  # strings: gathered with numpy, handed out as lists
        return array
    if not array.flags.writeable:
        array = array.copy()
    return torch.from_numpy(np.ascontiguousarray(array))


class ArrayBatches:
    """A re-iterable source of batches over named columns (the result of these ``input_fn``)."""

    def __init__(self, columns: Dict[str, Any], assemble: Callable[[Dict[str, Any]], Any],
                 batch_size: int, num_epochs: Optional[int], shuffle: bool) -> None:
        self._columns, self._assemble = columns, assemble
        self.batch_size, self.num_epochs, self.shuffle = int(batch_size), num_epochs, shuffle
        self.num_examples = len(next(iter(columns.values())))

    def __iter__(self) -> "ArrayBatchIterator":
        return ArrayBatchIterator(self)

    def __len__(self) -> int:
        if self.num_epochs is None:
            raise TypeError("an input of num_epochs=None is endless and has no length")
        return -(-self.num_examples * self.num_epochs // self.batch_size)


def _draw_seed() -> int:
    try:
        from data._seed import derive_seed, get_seed
    except ImportError:  # the data package is optional
        return secrets.randbits(62)
    return derive_seed(*get_seed(None))


class ArrayBatchIterator(Iterator[Any]):
    """Hands out batches; ``state_dict()`` is its position (and shuffle seed)."""

    def __init__(self, source: ArrayBatches) -> None:
        self._src = source
        self._seed = _draw_seed() if source.shuffle else 0
        self._position = 0
        self._epoch = -1
        self._order: Optional[torch.Tensor] = None  # the permutation of the epoch last used
        self._exhausted = False

    def _epoch_order(self, epoch: int) -> Optional[torch.Tensor]:
        if not self._src.shuffle:
            return None
        if epoch != self._epoch:
            gen = torch.Generator().manual_seed((self._seed + 1_000_003 * epoch) % (2 ** 63))
            self._order = torch.randperm(self._src.num_examples, generator=gen)
            self._epoch = epoch
        return self._order

    def _indices(self, start: int, stop: int) -> Any:
        """Indices of stream positions [start, stop): a slice when contiguous, else a tensor."""
        n = self._src.num_examples
        parts = []
        while start < stop:
            epoch, offset = divmod(start, n)
            take = min(stop - start, n - offset)
            order = self._epoch_order(epoch)
            parts.append(slice(offset, offset + take) if order is None
                         else order[offset:offset + take])
            start += take
        if len(parts) == 1 and isinstance(parts[0], slice):
            return parts[0]
        return torch.cat([torch.arange(p.start, p.stop) if isinstance(p, slice) else p
                          for p in parts])

    def __next__(self) -> Any:
        src = self._src
        total = None if src.num_epochs is None else src.num_examples * src.num_epochs
        if self._exhausted or (total is not None and self._position >= total):
            self._exhausted = True
            raise StopIteration
        stop = self._position + src.batch_size
        if total is not None:
            stop = min(stop, total)
        from data._take import take_rows  # here: estimator imports before `data` is vetted
        index = self._indices(self._position, stop)
        self._position = stop
        batch = {}
        for key, column in src._columns.items():
            if isinstance(column, torch.Tensor):
                batch[key] = column[index] if isinstance(index, slice) else take_rows(column, index)
            else:
                picked = column[index] if isinstance(index, slice) else column[index.numpy()]
                batch[key] = picked.tolist()
        return src._assemble(batch)

    def state_dict(self) -> Dict[str, Any]:
        return {"position": self._position, "seed": self._seed, "exhausted": self._exhausted,
                "num_examples": self._src.num_examples}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        if state.get("num_examples") != self._src.num_examples:
            raise ValueError(f"the saved input position is for {state.get('num_examples')} "
                             f"examples, this input has {self._src.num_examples}")
        position, seed = state.get("position"), state.get("seed")
        if isinstance(position, bool) or not isinstance(position, int) or position < 0 or \
                isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"malformed input state {state!r}")
        self._position, self._seed = position, seed
        self._exhausted = bool(state.get("exhausted", False))
        self._epoch, self._order = -1, None


def _assembler(feature_keys: List[str], x_is_dict: bool, target: Any) -> Callable[..., Any]:
    """Build ``(features, labels)`` (or features) from a batch dict of columns."""

    def assemble(batch: Dict[str, Any]) -> Any:
        features = ({k: batch[k] for k in feature_keys} if x_is_dict else batch[feature_keys[0]])
        if target is None:
            return features
        if isinstance(target, str):
            return features, batch[target]
        return features, {k: batch[v] for k, v in target}

    return assemble


def _unique_key(taken: Any, key: str) -> str:
    while key in taken:
        key += "_n"
    return key


def numpy_input_fn(x: Any, y: Any = None, batch_size: int = 128, num_epochs: Optional[int] = 1,
                   shuffle: Optional[bool] = None, queue_capacity: int = 1000,
                   num_threads: int = 1) -> Callable[[], ArrayBatches]:
    """An ``input_fn`` over numpy arrays, as ``tf.estimator.inputs.numpy_input_fn``.

    See the module docstring for the semantics. ``queue_capacity`` and ``num_threads`` are
    accepted for compatibility (batches are gathered in the consumer, no queue is needed).

    >>> import numpy as np
    >>> fn = numpy_input_fn(np.zeros((10, 3)), np.arange(10, dtype=np.int32), batch_size=4,
    ...                     num_epochs=2, shuffle=True)
    >>> [len(labels) for _, labels in fn()]
    [4, 4, 4, 4, 4]
    """
    fn = "numpy_input_fn"
    shuffled = _check_common(batch_size, num_epochs, shuffle, fn)

    def input_fn() -> ArrayBatches:
        if isinstance(x, dict):
            if not x:
                raise ValueError("x cannot be an empty dict")
            data = {k: x[k] for k in sorted(x)}
        elif isinstance(x, np.ndarray) or isinstance(x, torch.Tensor):
            if np.size(x) == 0:
                raise ValueError("x cannot be an empty array")
            data = {"__direct_np_input__": x}
        else:
            raise TypeError(f"x must be a dict or array; got {type(x).__name__}")
        feature_keys = list(data)
        target: Any = None
        if isinstance(y, dict):
            if not y:
                raise ValueError("y cannot be empty dict, use None instead.")
            duplicate = set(feature_keys) & set(y)
            if duplicate:
                raise ValueError(f"{len(duplicate)} duplicate keys are found in both x and y: "
                                 f"{duplicate}")
            target = [(k, k) for k in sorted(y)]
            data.update({k: y[k] for k in sorted(y)})
        elif y is not None:
            target = _unique_key(data, "__target_key__")
            data[target] = y
        columns = {k: _column(v, f"x[{k!r}]" if k in feature_keys else "y")
                   for k, v in data.items()}
        lengths = {len(c) for c in columns.values()}
        if len(lengths) != 1:
            shapes_x = {k: tuple(np.shape(data[k])) for k in feature_keys}
            shapes_y = (None if y is None else
                        {k: tuple(np.shape(v)) for k, v in y.items()} if isinstance(y, dict)
                        else tuple(np.shape(y)))
            raise ValueError("Length of tensors in x and y is mismatched. All elements in x and "
                             f"y must have the same length.\nShapes in x: {shapes_x}\n"
                             f"Shapes in y: {shapes_y}\n")
        assemble = _assembler(feature_keys, isinstance(x, dict), target)
        return ArrayBatches(columns, assemble, batch_size, num_epochs, shuffled)

    return input_fn


def pandas_input_fn(x: Any, y: Any = None, batch_size: int = 128, num_epochs: Optional[int] = 1,
                    shuffle: Optional[bool] = None, queue_capacity: Optional[int] = 1000,
                    num_threads: int = 1, target_column: str = "target"
                    ) -> Callable[[], ArrayBatches]:
    """An ``input_fn`` over a pandas ``DataFrame``, as ``tf.estimator.inputs.pandas_input_fn``.

    Features are a dict of the frame's columns; ``y`` (a ``Series``, or a ``DataFrame`` whose
    columns become a dict of labels) must have the same index as ``x``. Needs pandas (an
    optional dependency: ``pip install pandas``).
    """
    try:
        import pandas as pd
    except ImportError:
        raise TypeError("pandas_input_fn should not be called without pandas installed "
                        "(pip install pandas)") from None
    fn = "pandas_input_fn"
    shuffled = _check_common(batch_size, num_epochs, shuffle, fn)
    if not isinstance(target_column, str):
        raise TypeError("target_column must be a string type")
    if not isinstance(x, pd.DataFrame):
        raise TypeError(f"x must be a pandas DataFrame, got {type(x).__name__}")
    feature_keys = [str(c) for c in x.columns]
    data = {str(c): x[c].to_numpy() for c in x.columns}
    target: Any = None
    if y is not None:
        if target_column in x:
            raise ValueError(f"Cannot use name {target_column} for target column: DataFrame "
                             f"already has a column with that name: {list(x.columns)}")
        if not np.array_equal(x.index, y.index):
            raise ValueError(f"Index for x and y are mismatched.\nIndex for x: {x.index}\n"
                             f"Index for y: {y.index}\n")
        if isinstance(y, pd.DataFrame):
            target = []
            for column in y.columns:
                key = _unique_key(data, str(column))
                data[key] = y[column].to_numpy()
                target.append((str(column), key))
        else:
            target = target_column
            data[target] = y.to_numpy()
    columns = {k: _column(v, f"column {k!r}") for k, v in data.items()}
    assemble = _assembler(feature_keys, True, target)

    def input_fn() -> ArrayBatches:
        return ArrayBatches(columns, assemble, batch_size, num_epochs, shuffled)

    return input_fn
