"""``Dataset.save`` / ``Dataset.load`` and ``snapshot``: a pipeline's elements in a directory.

All three use the file format of ``cache(filename)`` (:mod:`data.ops.cache`): elements written
with ``torch.save`` and read back with ``torch.load(weights_only=True)``, the file renamed into
place only when the pass completes. ``save(path)`` writes every element to
``path/elements.tdcache``; ``load(path)`` replays them (checkpointable like any file cache).
``snapshot(path)`` is ``cache`` into ``path``: the first complete iteration writes the
snapshot, later iterations (and later runs) read it. Unlike tf.data, which names each snapshot
after a fingerprint of the pipeline graph, one directory holds one pipeline's snapshot: a
pipeline that changes needs a new directory (or the old one removed).
"""

from __future__ import annotations

import os
from typing import Any, Optional

from data._iterator import DatasetIterator
from data.dataset import Dataset
from data.ops.cache import CacheDataset

_FILE = "elements.tdcache"


def _directory(op: str, path: Any) -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{op}: path must be a str or os.PathLike, got {type(path).__name__}")
    return os.fspath(path)


def _no_options(op: str, **options: Any) -> None:
    for name, value in options.items():
        if value is not None and not (name == "compression" and value in ("", "AUTO")):
            raise ValueError(f"{op}: {name}={value!r} is not supported; elements are written "
                             f"uncompressed, one file per dataset (leave {name} unset)")


def save(dataset: Dataset, path: Any, compression: Optional[str] = None,
         shard_func: Any = None, checkpoint_args: Any = None) -> None:
    """Write every element of ``dataset`` under the directory ``path``."""
    directory = _directory("save", path)
    _no_options("save", compression=compression, shard_func=shard_func,
                checkpoint_args=checkpoint_args)
    os.makedirs(directory, exist_ok=True)
    target = os.path.join(directory, _FILE)
    if os.path.exists(target):
        os.remove(target)  # save() overwrites, as tf.data does
    with iter(CacheDataset(dataset, target)) as it:
        for _ in it:
            pass


class _Missing(Dataset):
    """The input of a loaded dataset: its elements come from the file, never from here."""

    def __init__(self, target: str) -> None:
        super().__init__()
        self._target = target

    def _iterator(self, epoch: int) -> DatasetIterator:
        raise FileNotFoundError(f"load: {self._target!r} no longer exists; it was removed "
                                "after the dataset was loaded")


class LoadDataset(CacheDataset):
    """The elements written by ``Dataset.save`` (see ``Dataset.load``)."""

    _keeps_spec = False

    def __init__(self, path: Any, element_spec: Any = None, compression: Optional[str] = None,
                 reader_func: Any = None) -> None:
        directory = _directory("load", path)
        _no_options("load", compression=compression, reader_func=reader_func)
        target = os.path.join(directory, _FILE)
        if not os.path.exists(target):
            raise FileNotFoundError(f"load: no dataset saved at {directory!r} (expected "
                                    f"{target!r}, written by Dataset.save)")
        super().__init__(_Missing(target), target)
        self._given_spec = element_spec

    def _input_datasets(self) -> list:
        return []

    def _spec(self) -> Any:
        if self._given_spec is not None:
            return self._given_spec
        return super()._spec()


def snapshot(dataset: Dataset, path: Any, compression: Optional[str] = "AUTO",
             reader_func: Any = None, shard_func: Any = None) -> Dataset:
    """``dataset`` recorded into ``path`` on its first complete pass, replayed afterwards."""
    directory = _directory("snapshot", path)
    _no_options("snapshot", compression=compression, reader_func=reader_func,
                shard_func=shard_func)
    os.makedirs(directory, exist_ok=True)
    return CacheDataset(dataset, os.path.join(directory, _FILE))
