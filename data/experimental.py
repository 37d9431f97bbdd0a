"""``data.experimental``: tf.data's experimental transformations, for ``Dataset.apply``."""

from __future__ import annotations

from typing import Any, Callable, Optional, Union

import torch

from data.dataset import Dataset
from data.options import (AutoShardPolicy, AutotuneOptions, DistributeOptions,
                          OptimizationOptions, ThreadingOptions)

__all__ = ["AutoShardPolicy", "AutotuneOptions", "Counter", "DistributeOptions",
           "INFINITE_CARDINALITY", "OptimizationOptions", "ThreadingOptions",
           "UNKNOWN_CARDINALITY", "bucket_by_sequence_length", "cardinality",
           "choose_from_datasets", "copy_to_device", "get_single_element", "group_by_window",
           "load", "prefetch_to_device", "rejection_resample", "sample_from_datasets", "save",
           "scan", "shuffle_and_repeat", "snapshot", "take_while", "unique"]


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


# -- TF 1.x's tf.data.experimental forms of the Dataset methods ----------------------------
# Transformations return a function for Dataset.apply, as in tf.data.experimental.

from data.dataset import INFINITE_CARDINALITY, UNKNOWN_CARDINALITY  # noqa: E402

sample_from_datasets = Dataset.sample_from_datasets
choose_from_datasets = Dataset.choose_from_datasets


def Counter(start: int = 0, step: int = 1, dtype: Any = None) -> Dataset:  # noqa: N802
    """``tf.data.experimental.Counter``: ``Dataset.counter``."""
    return Dataset.counter(start, step) if dtype is None else Dataset.counter(start, step, dtype)


def cardinality(dataset: Dataset) -> int:
    """``tf.data.experimental.cardinality(ds)``: ``ds.cardinality()``."""
    return dataset.cardinality()


def get_single_element(dataset: Dataset) -> Any:
    """``tf.data.experimental.get_single_element(ds)``: ``ds.get_single_element()``."""
    return dataset.get_single_element()


def scan(initial_state: Any, scan_func: Callable[[Any, Any], Any]) -> Callable[[Dataset], Dataset]:
    """For ``apply``: ``ds.scan(initial_state, scan_func)``."""
    return lambda ds: ds.scan(initial_state, scan_func)


def unique() -> Callable[[Dataset], Dataset]:
    """For ``apply``: ``ds.unique()``."""
    return lambda ds: ds.unique()


def take_while(predicate: Callable[..., Any]) -> Callable[[Dataset], Dataset]:
    """For ``apply``: ``ds.take_while(predicate)``."""
    return lambda ds: ds.take_while(predicate)


def group_by_window(key_func: Callable[..., Any], reduce_func: Callable[[Any, Dataset], Dataset],
                    window_size: Optional[int] = None,
                    window_size_func: Optional[Callable[[Any], Any]] = None
                    ) -> Callable[[Dataset], Dataset]:
    """For ``apply``: ``ds.group_by_window(...)``."""
    return lambda ds: ds.group_by_window(key_func, reduce_func, window_size, window_size_func)


def bucket_by_sequence_length(element_length_func: Callable[..., Any],
                              bucket_boundaries: Any, bucket_batch_sizes: Any,
                              padded_shapes: Any = None, padding_values: Any = None,
                              pad_to_bucket_boundary: bool = False, no_padding: bool = False,
                              drop_remainder: bool = False) -> Callable[[Dataset], Dataset]:
    """For ``apply``: ``ds.bucket_by_sequence_length(...)``."""
    return lambda ds: ds.bucket_by_sequence_length(
        element_length_func, bucket_boundaries, bucket_batch_sizes, padded_shapes,
        padding_values, pad_to_bucket_boundary, no_padding, drop_remainder)


def rejection_resample(class_func: Callable[..., Any], target_dist: Any,
                       initial_dist: Any = None, seed: Optional[int] = None
                       ) -> Callable[[Dataset], Dataset]:
    """For ``apply``: ``ds.rejection_resample(...)``."""
    return lambda ds: ds.rejection_resample(class_func, target_dist, initial_dist, seed)


def snapshot(path: str, compression: Optional[str] = "AUTO") -> Callable[[Dataset], Dataset]:
    """For ``apply``: ``ds.snapshot(path)``."""
    return lambda ds: ds.snapshot(path, compression)


def save(dataset: Dataset, path: str, compression: Optional[str] = None) -> None:
    """``tf.data.experimental.save(ds, path)``: ``ds.save(path)``."""
    dataset.save(path, compression)


def load(path: str, element_spec: Any = None, compression: Optional[str] = None) -> Dataset:
    """``tf.data.experimental.load(path)``: ``Dataset.load(path)``."""
    return Dataset.load(path, element_spec, compression)
def prefetch_to_device(device: Union[str, torch.device],
                       buffer_size: Optional[int] = None) -> Callable[[Dataset], Dataset]:
    """Move elements to ``device`` ahead of use, as ``tf.data.experimental.prefetch_to_device``.

    A background thread pins each element's CPU tensors and copies them on a side CUDA stream;
    the consumer's stream waits for the copy, so the training thread never blocks on it. Up to
    ``buffer_size`` elements (``None``: autotuned) wait on the device. ``device`` is a torch
    name (``"cuda:0"``) or TF's (``"/gpu:0"``); a CPU device passes elements through. Use it
    last in the pipeline. See :mod:`data.ops.device` for shipping ``uint8`` images.

    >>> import data
    >>> ds = data.Dataset.range(3).batch(2).apply(data.experimental.prefetch_to_device("cpu"))
    >>> [b.tolist() for b in ds]
    [[0, 1], [2]]
    """
    from data.ops.device import PrefetchToDeviceDataset, parse_device

    parse_device(device, "prefetch_to_device")  # fail where it is written
    return lambda dataset: PrefetchToDeviceDataset(dataset, device, buffer_size)


def copy_to_device(target_device: Union[str, torch.device],
                   source_device: str = "/cpu:0") -> Callable[[Dataset], Dataset]:
    """Move elements to ``target_device`` as they are pulled (``tf.data.experimental.copy_to_device``).

    The copy runs in the thread that pulls the element; add ``.prefetch(n)`` after it to move
    that to a background thread, or use :func:`prefetch_to_device`. ``source_device`` must be
    the CPU (elements are produced there).

    >>> import data
    >>> [int(x) for x in data.Dataset.range(2).apply(data.experimental.copy_to_device("cpu"))]
    [0, 1]
    """
    from data.ops.device import CopyToDeviceDataset, parse_device

    parse_device(target_device, "copy_to_device")
    if parse_device(source_device, "copy_to_device").type != "cpu":
        raise ValueError(f"copy_to_device: source_device must be the CPU, got {source_device!r}")
    return lambda dataset: CopyToDeviceDataset(dataset, target_device)
