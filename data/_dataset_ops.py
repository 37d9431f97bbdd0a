"""More ``Dataset`` methods: windows, scans, grouping, resampling, and consuming a dataset.

A mixin of ``Dataset``: each method carries the user-facing docstring and hands off in one
line to its op module under ``data.ops``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterator, Optional, Sequence, Union, cast

if TYPE_CHECKING:
    from data.dataset import Dataset

#: ``cardinality()`` of a dataset that never ends.
INFINITE_CARDINALITY = -1
#: ``cardinality()`` of a dataset whose length cannot be known without iterating it.
UNKNOWN_CARDINALITY = -2


class DatasetOps:
    """Transformations and consumers mixed into ``Dataset``."""

    @property
    def _dataset(self) -> "Dataset":
        """``self``: this class is only ever mixed into ``Dataset``."""
        return cast("Dataset", self)

    # -- windows and running state ------------------------------------------------------------
    def window(self, size: int, shift: Optional[int] = None, stride: int = 1,
               drop_remainder: bool = False) -> "Dataset":
        """Windows of ``size`` elements, each a dataset (a nest of them for nested elements).

        Window ``k`` starts at input element ``k * shift`` (``shift`` defaults to ``size``)
        and takes every ``stride``-th element from there.

        >>> import data
        >>> ds = data.Dataset.range(7).window(3, shift=2)
        >>> [list(w) for w in ds]
        [[0, 1, 2], [2, 3, 4], [4, 5, 6], [6]]
        >>> [b.tolist() for b in data.Dataset.range(5).window(2).flat_map(lambda w: w.batch(2))]
        [[0, 1], [2, 3], [4]]
        """
        from data.ops.window import WindowDataset
        return WindowDataset(self._dataset, size, shift, stride, drop_remainder)

    def scan(self, initial_state: Any, scan_func: Callable[[Any, Any], Any]) -> "Dataset":
        """Carry a state: ``scan_func(state, element)`` returns ``(new_state, output)``.

        >>> import data
        >>> list(data.Dataset.range(5).scan(0, lambda s, x: (s + x, s * 10)))
        [0, 0, 10, 30, 60]
        """
        from data.ops.scan import ScanDataset
        return ScanDataset(self._dataset, initial_state, scan_func)

    def reduce(self, initial_state: Any, reduce_func: Callable[[Any, Any], Any]) -> Any:
        """Fold every element into a state: ``reduce_func(state, element)`` → new state.

        >>> import data
        >>> data.Dataset.range(5).reduce(0, lambda s, x: s + x)
        10
        """
        from data.ops.scan import reduce
        return reduce(self._dataset, initial_state, reduce_func)

    # -- filtering ----------------------------------------------------------------------------
    def take_while(self, predicate: Callable[..., Any]) -> "Dataset":
        """The elements before the first one for which ``predicate`` is false.

        >>> import data
        >>> list(data.Dataset.range(10).take_while(lambda x: x < 4))
        [0, 1, 2, 3]
        """
        from data.ops.filter import TakeWhileDataset
        return TakeWhileDataset(self._dataset, predicate)

    def unique(self) -> "Dataset":
        """Each distinct element once (scalar integers or strings), in first-seen order.

        >>> import data
        >>> list(data.Dataset.from_tensor_slices([1, 3, 1, 2, 3, 5]).unique().map(int))
        [1, 3, 2, 5]
        """
        from data.ops.filter import UniqueDataset
        return UniqueDataset(self._dataset)

    # -- batching and grouping ----------------------------------------------------------------
    def rebatch(self, batch_size: Union[int, Sequence[int]],
                drop_remainder: bool = False) -> "Dataset":
        """Re-cut batched elements into batches of ``batch_size`` rows (a list: in turn).

        >>> import data
        >>> [b.tolist() for b in data.Dataset.range(10).batch(4).rebatch(3)]
        [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
        """
        from data.ops.rebatch import RebatchDataset
        return RebatchDataset(self._dataset, batch_size, drop_remainder)

    def group_by_window(self, key_func: Callable[..., Any],
                        reduce_func: Callable[[Any, "Dataset"], "Dataset"],
                        window_size: Optional[int] = None,
                        window_size_func: Optional[Callable[[Any], Any]] = None) -> "Dataset":
        """Group elements by ``key_func`` into windows; ``reduce_func(key, window)`` makes each
        full window (``window_size`` or ``window_size_func(key)`` elements) a dataset.

        Windows left when the input ends are reduced in key order.

        >>> import data
        >>> ds = data.Dataset.range(10).group_by_window(
        ...     key_func=lambda x: x % 3, reduce_func=lambda k, w: w.batch(2), window_size=2)
        >>> [b.tolist() for b in ds]
        [[0, 3], [1, 4], [2, 5], [6, 9], [7], [8]]
        """
        from data.ops.grouping import GroupByWindowDataset
        return GroupByWindowDataset(self._dataset, key_func, reduce_func,
                                    window_size, window_size_func)

    def bucket_by_sequence_length(self, element_length_func: Callable[..., Any],
                                  bucket_boundaries: Sequence[int],
                                  bucket_batch_sizes: Sequence[int], padded_shapes: Any = None,
                                  padding_values: Any = None, pad_to_bucket_boundary: bool = False,
                                  no_padding: bool = False,
                                  drop_remainder: bool = False) -> "Dataset":
        """Batch elements of similar length together, padding each batch (tf.data's rule).

        An element of length ``n`` goes to bucket ``i`` where ``boundaries[i-1] <= n <
        boundaries[i]``; bucket ``i`` emits padded batches of ``bucket_batch_sizes[i]``.

        >>> import data
        >>> ds = data.Dataset.from_generator(lambda: ([n] * n for n in [1, 3, 2, 5, 4, 1]))
        >>> [b.tolist() for b in ds.bucket_by_sequence_length(len, [3], [2, 2])]
        [[[1, 0], [2, 2]], [[3, 3, 3, 0, 0], [5, 5, 5, 5, 5]], [[1]], [[4, 4, 4, 4]]]
        """
        from data.ops.grouping import bucket_by_sequence_length
        return bucket_by_sequence_length(self._dataset, element_length_func,
                                         bucket_boundaries, bucket_batch_sizes, padded_shapes,
                                         padding_values, pad_to_bucket_boundary, no_padding,
                                         drop_remainder)

    def rejection_resample(self, class_func: Callable[..., Any], target_dist: Sequence[float],
                           initial_dist: Optional[Sequence[float]] = None,
                           seed: Optional[int] = None) -> "Dataset":
        """``(class, element)`` pairs resampled so classes follow ``target_dist``.

        See :mod:`data.ops.resample` for the rule and how it differs from tf.data's mixing.
        """
        from data.ops.resample import RejectionResampleDataset
        return RejectionResampleDataset(self._dataset, class_func,
                                        target_dist, initial_dist, seed)

    # -- files --------------------------------------------------------------------------------
    def snapshot(self, path: str, compression: Optional[str] = "AUTO", reader_func: Any = None,
                 shard_func: Any = None) -> "Dataset":
        """Record the elements into the directory ``path`` once, replay them afterwards."""
        from data.ops.save import snapshot
        return snapshot(self._dataset, path, compression, reader_func, shard_func)

    def save(self, path: str, compression: Optional[str] = None, shard_func: Any = None,
             checkpoint_args: Any = None) -> None:
        """Write every element under the directory ``path``, for ``Dataset.load(path)``."""
        from data.ops.save import save
        save(self._dataset, path, compression, shard_func, checkpoint_args)

    # -- consuming ----------------------------------------------------------------------------
    def as_numpy_iterator(self) -> Iterator[Any]:
        """Iterate with tensors as numpy arrays (strings stay ``str``/``bytes``).

        >>> import data
        >>> [x.tolist() for x in data.Dataset.range(4).batch(2).as_numpy_iterator()]
        [[0, 1], [2, 3]]
        """
        import torch

        from data._structure import map_structure

        def to_numpy(leaf: Any) -> Any:
            return leaf.numpy() if isinstance(leaf, torch.Tensor) else leaf

        with iter(self._dataset) as it:
            for element in it:
                yield map_structure(to_numpy, element)

    def get_single_element(self) -> Any:
        """The one element of a dataset that has exactly one (``ValueError`` otherwise).

        >>> import data
        >>> data.Dataset.range(5).reduce(0, lambda s, x: s + x) == data.Dataset.range(5).batch(
        ...     5).map(lambda b: int(b.sum())).get_single_element()
        True
        """
        with iter(self._dataset) as it:
            try:
                element = next(it)
            except StopIteration:
                raise ValueError("get_single_element: the dataset was empty") from None
            try:
                next(it)
            except StopIteration:
                return element
        raise ValueError("get_single_element: the dataset had more than one element")

    def cardinality(self) -> int:
        """The number of elements, ``data.INFINITE_CARDINALITY`` or ``UNKNOWN_CARDINALITY``.

        Known without iterating, as in tf.data (a ``filter`` makes it unknown).

        >>> import data
        >>> data.Dataset.range(5).batch(2).cardinality()
        3
        >>> data.Dataset.range(5).repeat().cardinality() == data.INFINITE_CARDINALITY
        True
        """
        return self._dataset._cardinality()

    def __len__(self) -> int:
        n = self._dataset._cardinality()
        if n == INFINITE_CARDINALITY:
            raise TypeError("The dataset is infinite.")
        if n == UNKNOWN_CARDINALITY:
            raise TypeError("The dataset length is unknown.")
        return n

    def __bool__(self) -> bool:
        return True  # a Dataset is truthy even when len() would raise (as tf.data's)
