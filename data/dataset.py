"""The thin ``Dataset``: an immutable, re-iterable description of a pipeline.

Every transformation returns a new ``Dataset`` and hands off, in one line, to its op module in
``data.ops``. Iterating creates a fresh chain of :class:`~data._iterator.DatasetIterator`.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any, Callable, List, Optional, Sequence, Union

from data._dataset_ops import INFINITE_CARDINALITY, UNKNOWN_CARDINALITY, DatasetOps
from data._dataset_sources import DatasetSources
from data._iterator import DatasetIterator

if TYPE_CHECKING:
    from data.options import Options


__all__ = ["Dataset", "INFINITE_CARDINALITY", "UNKNOWN_CARDINALITY"]


class Dataset(DatasetSources, DatasetOps):
    """Base class: subclasses implement ``_iterator(epoch)`` (and ``_cardinality()``).

    Constructors and methods beyond the basic ones live in the mixins
    :class:`~data._dataset_sources.DatasetSources` and :class:`~data._dataset_ops.DatasetOps`.

    ``epoch`` numbers the times this dataset has been iterated by its consumer (``repeat``
    passes its epoch count), so random ops can draw a new order each epoch.

    >>> import data
    >>> ds = data.Dataset.range(10).filter(lambda x: x % 2 == 0).batch(2)
    >>> [b.tolist() for b in ds]
    [[0, 2], [4, 6], [8]]
    """

    def __init__(self) -> None:
        self._iteration_counter = itertools.count()

    def _iterator(self, epoch: int) -> DatasetIterator:
        raise NotImplementedError

    def _input_datasets(self) -> List["Dataset"]:
        """The datasets this one transforms (their options carry over to it).

        A transformation keeps its input in ``self._input``; ops with several inputs override.
        """
        upstream = getattr(self, "_input", None)
        return [upstream] if isinstance(upstream, Dataset) else []

    def _cardinality(self) -> int:
        """The number of elements if known without iterating (see ``cardinality()``)."""
        return UNKNOWN_CARDINALITY

    #: Whether elements have the input's structure, dtypes and shapes (shuffle, take, ...).
    _keeps_spec = False

    @property
    def element_spec(self) -> Any:
        """The structure of the elements: a nest of ``data.TensorSpec`` (and ``DatasetSpec``).

        >>> import data
        >>> data.Dataset.range(3).batch(2).element_spec
        TensorSpec(shape=(None,), dtype=torch.int64, name=None)
        """
        cached = self.__dict__.get("_element_spec_cache")
        if cached is None:
            cached = (self._spec(),)
            self.__dict__["_element_spec_cache"] = cached
        return cached[0]

    def _spec(self) -> Any:
        """This dataset's element spec; ops that know it statically override this."""
        if self._keeps_spec:
            return self._input_datasets()[0].element_spec
        from data._spec import spec_of
        return spec_of(self._representative())

    def _representative(self) -> Any:
        """One element with the structure and dtypes of all of them, produced as cheaply as
        the op allows (ops that know better override this); ``ValueError`` if none exists."""
        if self._keeps_spec:
            return self._input_datasets()[0]._representative()
        from data._seed import preserved_op_counter
        with preserved_op_counter():
            it = self._iterator(0)
            try:
                return next(it)
            except StopIteration:
                raise ValueError(f"cannot infer the element_spec of {type(self).__name__}: "
                                 "the dataset has no elements") from None
            finally:
                it.close()

    def __iter__(self) -> DatasetIterator:
        # The outermost dataset's options apply to the whole pipeline being built.
        from data import options as options_lib
        with options_lib.applied(self.options()):
            return self._iterator(next(self._iteration_counter))

    # -- sources ---------------------------------------------------------------------------
    @staticmethod
    def from_tensor_slices(tensors: Any) -> "Dataset":
        """One element per row of ``tensors`` (a tensor, array, list or nest of them).

        Every component must have the same length in its first dimension (``ValueError``
        naming them otherwise). Numpy arrays are used without a copy.

        >>> import data
        >>> [int(x) for x in data.Dataset.from_tensor_slices([1, 2, 3])]
        [1, 2, 3]
        >>> [(int(x), y) for x, y in data.Dataset.from_tensor_slices(([1, 2], ["a", "b"]))]
        [(1, 'a'), (2, 'b')]
        """
        from data.sources import TensorSliceDataset
        return TensorSliceDataset(tensors)

    @staticmethod
    def from_tensors(tensors: Any) -> "Dataset":
        """A dataset of exactly one element, ``tensors``.

        >>> import data
        >>> [x.tolist() for x in data.Dataset.from_tensors([1, 2, 3])]
        [[1, 2, 3]]
        """
        from data.sources import TensorDataset
        return TensorDataset(tensors)

    @staticmethod
    def range(*args: int, output_type: Any = None) -> "Dataset":
        """Integers as Python's ``range(stop)`` / ``range(start, stop[, step])``.

        Elements are Python ints; ``batch`` makes int64 tensors of them, as tf.data's int64.
        With ``output_type`` (a torch dtype other than int64) they are 0-d tensors of it.

        >>> import data
        >>> list(data.Dataset.range(2, 8, 2))
        [2, 4, 6]
        """
        from data.sources import RangeDataset
        return RangeDataset(*args, output_type=output_type)

    @staticmethod
    def from_generator(generator: Callable[..., Any], output_types: Any = None,
                       output_shapes: Any = None, args: Optional[Sequence[Any]] = None,
                       output_signature: Any = None) -> "Dataset":
        """Elements produced by ``generator(*args)``, called afresh for each iteration.

        ``output_types`` / ``output_signature`` (a nest of torch dtypes, Python types or
        ``None``, matching the element) converts or checks each component; ``output_shapes``
        (a nest of shape tuples, ``None`` for an unknown dimension) checks shapes. A generator
        cannot be snapshotted, so a restored iterator calls ``generator`` again and skips the
        elements already produced: the generator must be deterministic for resuming.

        >>> import data
        >>> list(data.Dataset.from_generator(lambda: iter([1, 2])))
        [1, 2]
        """
        from data.sources import GeneratorDataset
        return GeneratorDataset(generator, output_types, output_shapes, args, output_signature)

    @staticmethod
    def zip(*args: Any, datasets: Any = None) -> "Dataset":
        """Combine a tuple or dict of datasets element-wise; stops at the shortest.

        Accepts ``Dataset.zip((a, b))``, ``Dataset.zip(datasets=(a, b))`` and
        ``Dataset.zip(a, b)``, as tf.data does.

        >>> import data
        >>> list(data.Dataset.zip((data.Dataset.range(3), data.Dataset.range(5, 7))))
        [(0, 5), (1, 6)]
        """
        from data.ops.combine import ZipDataset
        if (datasets is None) == (not args):
            raise TypeError("zip: pass the datasets either positionally or as datasets=, "
                            "exactly once")
        return ZipDataset(datasets if datasets is not None else
                          args[0] if len(args) == 1 else args)

    @staticmethod
    def list_files(file_pattern: Union[str, Sequence[str]], shuffle: Optional[bool] = None,
                   seed: Optional[int] = None) -> "Dataset":
        """Paths (``str``) of the files matching a glob pattern or a list of patterns.

        ``**`` matches any number of directories. Files are shuffled by default (a new order
        on each iteration, reproducible with ``seed`` or ``data.set_random_seed``); with
        ``shuffle=False`` they come in sorted order. No match raises ``ValueError`` naming the
        pattern.
        """
        from data.files import list_files
        return list_files(file_pattern, shuffle, seed)

    # -- element-wise ----------------------------------------------------------------------
    def map(self, fn: Callable[..., Any], num_parallel_calls: Optional[int] = None,
            deterministic: Optional[bool] = None) -> "Dataset":
        """Apply ``fn`` to each element; a tuple element is unpacked into arguments.

        ``fn`` returns the new element (a list becomes a tuple, as in tf.data; anything that is
        not a valid element is a ``TypeError`` naming the input element).

        ``num_parallel_calls`` (an int or ``data.AUTOTUNE``) runs calls in parallel; results
        keep the input order unless ``deterministic=False``.

        >>> import data
        >>> list(data.Dataset.range(3).map(lambda x: x * 10))
        [0, 10, 20]
        """
        from data.ops.map import MapDataset
        return MapDataset(self, fn, num_parallel_calls=num_parallel_calls,
                          deterministic=deterministic)

    def filter(self, predicate: Callable[..., Any]) -> "Dataset":
        """Keep the elements for which ``predicate`` returns true (a bool or 0-d tensor).

        >>> import data
        >>> list(data.Dataset.range(6).filter(lambda x: x % 3 == 0))
        [0, 3]
        """
        from data.ops.filter import FilterDataset
        return FilterDataset(self, predicate)

    # -- order -----------------------------------------------------------------------------
    def shuffle(self, buffer_size: int, seed: Optional[int] = None,
                reshuffle_each_iteration: bool = True) -> "Dataset":
        """Shuffle with a bounded buffer of ``buffer_size`` elements, as tf.data does.

        The buffer is filled, then a uniformly random slot is emitted and replaced with the next
        input element. A buffer at least as large as the dataset gives a uniform shuffle. With
        ``reshuffle_each_iteration`` every iteration (and every ``repeat`` epoch) draws a new
        order.

        >>> import data
        >>> sorted(data.Dataset.range(5).shuffle(5, seed=1))
        [0, 1, 2, 3, 4]
        """
        from data.ops.shuffle import ShuffleDataset
        return ShuffleDataset(self, buffer_size, seed, reshuffle_each_iteration)

    def repeat(self, count: Optional[int] = None) -> "Dataset":
        """Repeat the dataset ``count`` times (``None`` or a negative count: forever).

        Repeating an empty dataset forever ends at once instead of looping.

        >>> import data
        >>> list(data.Dataset.range(2).repeat(2))
        [0, 1, 0, 1]
        """
        from data.ops.repeat import RepeatDataset
        return RepeatDataset(self, count)

    def take(self, count: int) -> "Dataset":
        """The first ``count`` elements (a negative count, e.g. ``-1``: all of them).

        >>> import data
        >>> list(data.Dataset.range(10).take(3))
        [0, 1, 2]
        """
        from data.ops.repeat import TakeDataset
        return TakeDataset(self, count)

    def skip(self, count: int) -> "Dataset":
        """All but the first ``count`` elements (a negative count, e.g. ``-1``: skip all).

        >>> import data
        >>> list(data.Dataset.range(5).skip(3))
        [3, 4]
        """
        from data.ops.repeat import SkipDataset
        return SkipDataset(self, count)

    # -- batching --------------------------------------------------------------------------
    def batch(self, batch_size: int, drop_remainder: bool = False) -> "Dataset":
        """Stack ``batch_size`` consecutive elements along a new first dimension.

        Python ints become int64, floats float32, bools bool; strings become a list. The
        last batch may be smaller unless ``drop_remainder=True``.

        >>> import data
        >>> [b.tolist() for b in data.Dataset.range(5).batch(2, drop_remainder=True)]
        [[0, 1], [2, 3]]
        """
        from data.ops.batch import BatchDataset
        return BatchDataset(self, batch_size, drop_remainder)

    def padded_batch(self, batch_size: int, padded_shapes: Any = None,
                     padding_values: Any = None, drop_remainder: bool = False) -> "Dataset":
        """Batch elements of different shapes, padding each component.

        ``padded_shapes`` (a nest of shapes matching the element; ``None``/``-1`` in a
        dimension, or ``padded_shapes=None`` for all, pads to the longest in the batch) and
        ``padding_values`` (a nest of scalars or one scalar; default 0) as in tf.data.

        >>> import data
        >>> ds = data.Dataset.from_generator(lambda: ([1] * n for n in (1, 3)))
        >>> next(iter(ds.padded_batch(2))).tolist()
        [[1, 0, 0], [1, 1, 1]]
        """
        from data.ops.batch import PaddedBatchDataset
        return PaddedBatchDataset(self, batch_size, padded_shapes, padding_values,
                                  drop_remainder)

    def unbatch(self) -> "Dataset":
        """Split each element along its first dimension into separate elements.

        >>> import data
        >>> list(data.Dataset.range(4).batch(3).unbatch().map(int))
        [0, 1, 2, 3]
        """
        from data.ops.batch import UnbatchDataset
        return UnbatchDataset(self)

    # -- performance -----------------------------------------------------------------------
    def prefetch(self, buffer_size: Optional[int]) -> "Dataset":
        """Produce up to ``buffer_size`` elements ahead in a background thread.

        ``data.AUTOTUNE`` (or ``None``) picks the buffer size; ``0`` prefetches nothing.
        """
        from data.ops.prefetch import PrefetchDataset
        return PrefetchDataset(self, buffer_size)

    def cache(self, filename: str = "") -> "Dataset":
        """Record the first complete pass and replay it on later passes.

        With ``filename=""`` the elements are kept in memory; otherwise they are written to
        the file ``filename``, which later pipelines (and later runs) replay. An incomplete
        first pass leaves no cache behind.

        >>> import data
        >>> ds = data.Dataset.range(3).cache()
        >>> list(ds), list(ds)
        ([0, 1, 2], [0, 1, 2])
        """
        from data.ops.cache import CacheDataset
        return CacheDataset(self, filename)

    # -- combining -------------------------------------------------------------------------
    def concatenate(self, dataset: "Dataset") -> "Dataset":
        """The elements of this dataset followed by those of ``dataset``.

        >>> import data
        >>> list(data.Dataset.range(2).concatenate(data.Dataset.range(5, 6)))
        [0, 1, 5]
        """
        from data.ops.combine import ConcatenateDataset
        return ConcatenateDataset(self, dataset)

    def interleave(self, map_func: Callable[..., "Dataset"], cycle_length: Optional[int] = None,
                   block_length: int = 1, num_parallel_calls: Optional[int] = None,
                   deterministic: Optional[bool] = None) -> "Dataset":
        """Map each element to a dataset and interleave their elements, as tf.data does.

        ``cycle_length`` datasets are open at once; ``block_length`` consecutive elements are
        taken from each in turn; an exhausted one is replaced by the next input element's.
        ``cycle_length=None`` or ``AUTOTUNE`` follows tf.data: the number of schedulable CPU
        cores, ``min(num_parallel_calls, cores)`` with a fixed ``num_parallel_calls``, or
        ``ceil(cores / 3)`` with ``num_parallel_calls=AUTOTUNE``. With
        ``num_parallel_calls`` (an int > 1 or ``AUTOTUNE``) each open dataset is produced ahead
        by its own background thread (``cycle_length`` threads); the output order stays the
        same. ``deterministic`` is accepted for compatibility; the order is always the
        deterministic one.

        >>> import data
        >>> ds = data.Dataset.range(1, 3).interleave(
        ...     lambda x: data.Dataset.from_tensors(x).repeat(3), cycle_length=2)
        >>> list(ds)
        [1, 2, 1, 2, 1, 2]
        """
        from data.ops.combine import InterleaveDataset
        return InterleaveDataset(self, map_func, cycle_length, block_length, num_parallel_calls,
                                 deterministic)

    def flat_map(self, map_func: Callable[..., "Dataset"]) -> "Dataset":
        """Map each element to a dataset and chain their elements.

        >>> import data
        >>> list(data.Dataset.range(3).flat_map(lambda x: data.Dataset.range(x)))
        [0, 0, 1]
        """
        from data.ops.combine import flat_map
        return flat_map(self, map_func)

    # -- distribution ----------------------------------------------------------------------
    def shard(self, num_shards: int, index: int) -> "Dataset":
        """Every ``num_shards``-th element, starting at ``index`` (element i → shard i % n).

        >>> import data
        >>> list(data.Dataset.range(7).shard(3, 1))
        [1, 4]
        """
        from data.ops.shard import ShardDataset
        return ShardDataset(self, num_shards, index)

    def enumerate(self, start: int = 0) -> "Dataset":
        """Pair each element with its position: ``(i, element)``, counting from ``start``.

        >>> import data
        >>> list(data.Dataset.from_tensor_slices(["a", "b"]).enumerate(1))
        [(1, 'a'), (2, 'b')]
        """
        from data.ops.shard import enumerate_dataset
        return enumerate_dataset(self, start)

    def apply(self, transformation_func: Callable[["Dataset"], "Dataset"]) -> "Dataset":
        """Return ``transformation_func(self)``, e.g. ``experimental.shuffle_and_repeat``.

        >>> import data
        >>> list(data.Dataset.range(5).apply(lambda ds: ds.take(2)))
        [0, 1]
        """
        result = transformation_func(self)
        if not isinstance(result, Dataset):
            raise TypeError(
                f"apply: transformation_func must return a Dataset, got {type(result).__name__}"
            )
        return result

    # -- options ---------------------------------------------------------------------------
    def options(self) -> "Options":
        """The options of this dataset: its inputs' merged with those set by ``with_options``.

        The returned object is a copy and cannot be changed (``ValueError``).

        >>> import data
        >>> data.Dataset.range(3).options().deterministic is None
        True
        """
        from data.options import Options, merge
        inputs = [d.options() for d in self._input_datasets()]
        result = merge(*inputs) if inputs else Options()
        result._set_mutable(False)
        return result  # type: ignore[return-value]  # merge() of Options is an Options

    def with_options(self, options: "Options") -> "Dataset":
        """This dataset with ``options`` merged into its options (set values win).

        >>> import data
        >>> options = data.Options()
        >>> options.deterministic = False
        >>> data.Dataset.range(3).with_options(options).map(int).options().deterministic
        False
        """
        from data.options import OptionsDataset
        return OptionsDataset(self, options)

    def ignore_errors(self) -> "Dataset":
        """Drop the elements whose production raised an error, counting them."""
        from data.ops.errors import IgnoreErrorsDataset
        return IgnoreErrorsDataset(self)
