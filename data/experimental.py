"""``data.experimental``: tf.data's experimental transformations, for ``Dataset.apply``."""

from __future__ import annotations

from typing import Callable, Optional, Union

import torch

from data.dataset import Dataset

__all__ = ["copy_to_device", "prefetch_to_device", "shuffle_and_repeat"]


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
