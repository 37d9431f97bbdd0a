"""Input auto-sharding, after tf.data's ``AutoShardPolicy``.

The policy comes from ``data.Options().distribute.auto_shard_policy`` on the dataset
``input_fn`` returned (``AUTO`` when unset):

- ``FILE``: each rank reads its own files. The pipeline must start with file names -- a
  ``list_files`` (or ``from_tensor_slices`` of existing paths) or a file reader such as
  ``TextLineDataset``/``TFRecordDataset`` -- over at least ``world_size`` files. Rank ``i`` gets
  files ``i, i + n, ...`` of the sorted list, before any shuffle, so the split is the same on
  every rank whatever the seeds.
- ``DATA``: each rank takes every ``n``-th element. The shard is placed as close to the source
  as it can go without changing what the pipeline means: above ``map``, ``filter``, ``batch``,
  ``shuffle``, ``repeat``, ``prefetch`` (which treat elements alike wherever they sit), but
  below ``take``, ``skip``, ``zip``, ``concatenate``, ``cache``, ``interleave`` and any op it does
  not know (which depend on positions or see other inputs). So a rank decodes only its own share.
- ``AUTO``: ``FILE`` when it applies, else ``DATA``.
- ``OFF``: every rank reads the whole input.

Either way every rank's union of batch ``t`` holds the same examples as batch ``t`` of one
process whose batch size is ``world_size`` times larger (up to order), when the source splits
evenly. An input that is not a ``data.Dataset`` (a list of batches) is dealt out batch by batch.
"""

from __future__ import annotations

import copy
import itertools
import logging
import os
from typing import Any, Iterator, List, Optional, Tuple

logger = logging.getLogger("estimator")

POLICIES = ("OFF", "AUTO", "FILE", "DATA")
_TF_VALUES = {-1: "OFF", 0: "AUTO", 1: "FILE", 2: "DATA", 3: "HINT"}

# ops that treat every element alike, wherever the shard sits
_ELEMENTWISE = {"MapDataset", "FilterDataset", "BatchDataset", "PaddedBatchDataset",
                "UnbatchDataset", "ShuffleDataset", "RepeatDataset", "PrefetchDataset",
                "IgnoreErrorsDataset", "OptionsDataset", "_OptionsDataset"}
# ops that turn each file name into many elements: a FILE shard may sit above them
_PER_FILE = {"InterleaveDataset", "FlatMapDataset", "ParallelInterleaveDataset"}


def policy_of(dataset: Any) -> str:
    """The dataset's auto-shard policy name (``AUTO`` when it sets none)."""
    options = getattr(dataset, "options", None)
    if not callable(options):
        return "AUTO"
    try:
        policy = options().distribute.auto_shard_policy
    except AttributeError:
        return "AUTO"
    if policy is None:
        return "AUTO"
    name = getattr(policy, "name", None)
    if name is None:
        name = _TF_VALUES.get(policy, policy) if isinstance(policy, int) else str(policy)
    name = str(name).upper()
    if name not in POLICIES:
        raise ValueError(f"auto_shard_policy {policy!r} is not supported; use one of "
                         f"AutoShardPolicy.{', AutoShardPolicy.'.join(POLICIES)}")
    return name


def auto_shard(source: Any, num_shards: int, index: int) -> Tuple[Any, str]:
    """``source`` restricted to shard ``index`` of ``num_shards``, and how (FILE/DATA/OFF)."""
    from data import Dataset

    if not isinstance(source, Dataset):
        return _EveryNth(source, num_shards, index), "DATA"
    policy = policy_of(source)
    if policy == "OFF":
        return source, "OFF"
    if policy in ("AUTO", "FILE"):
        sharded = _shard_files(source, num_shards, index)
        if sharded is not None:
            return sharded, "FILE"
        if policy == "FILE":
            raise ValueError(
                f"auto_shard_policy FILE: the input pipeline does not start with at least "
                f"{num_shards} files (one per rank) read by list_files, from_tensor_slices of "
                "paths or a file reader; use AutoShardPolicy.DATA, or OFF and shard in input_fn")
    return _shard_elements(source, num_shards, index), "DATA"


def _chain(dataset: Any, passable: set) -> List[Any]:
    """``dataset`` and its inputs upwards while they are single-input ops in ``passable``."""
    chain = [dataset]
    while type(chain[-1]).__name__ in passable and hasattr(chain[-1], "_input"):
        chain.append(chain[-1]._input)
    return chain


def _rebuild(chain: List[Any], top: Any) -> Any:
    """The ops of ``chain[:-1]`` (downstream first) over a new top dataset."""
    dataset = top
    for op in reversed(chain[:-1]):
        clone = copy.copy(op)
        clone._input = dataset
        clone._iteration_counter = itertools.count()
        dataset = clone
    return dataset


def _shard_files(dataset: Any, n: int, i: int) -> Optional[Any]:
    from data import Dataset

    chain = _chain(dataset, _ELEMENTWISE | _PER_FILE)
    top = chain[-1]
    names = getattr(top, "_filenames", None)
    if isinstance(names, (tuple, Dataset)):  # a file reader: shard the files it reads
        if isinstance(names, tuple):
            sharded = tuple(sorted(names))[i::n] if len(names) >= n else None
        else:
            sharded = _shard_files(names, n, i)
        if sharded is None:
            return None
        reader = copy.copy(top)
        reader._filenames = sharded
        reader._iteration_counter = itertools.count()
        return _rebuild(chain, reader)
    if _is_file_list(top, n):
        from data.ops.shard import ShardDataset
        return _rebuild(chain, ShardDataset(top, n, i))
    return None


def _is_file_list(dataset: Any, n: int) -> bool:
    if type(dataset).__name__ != "TensorSliceDataset":
        return False
    names = getattr(dataset, "_template", None)
    if not isinstance(names, list) or len(names) < n:
        return False
    return all(isinstance(f, str) for f in names) and all(os.path.isfile(f) for f in names[:8])


def _shard_elements(dataset: Any, n: int, i: int) -> Any:
    from data.ops.shard import ShardDataset

    chain = _chain(dataset, _ELEMENTWISE)
    return _rebuild(chain, ShardDataset(chain[-1], n, i))


class _EveryNth(Iterator[Any]):
    """Batches ``i, i + n, ...`` of any iterable input."""

    def __init__(self, source: Any, n: int, i: int) -> None:
        self._source = iter(source)
        self._it = itertools.islice(self._source, i, None, n)

    def __next__(self) -> Any:
        return next(self._it)

    def close(self) -> None:
        close = getattr(self._source, "close", None)
        if callable(close):
            close()
