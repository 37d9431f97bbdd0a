"""Dataset constructors beyond the basic sources: sampling, choosing, counters, random, load.

A mixin of ``Dataset`` (which keeps ``from_tensor_slices``, ``range``, ``zip`` ... itself), so
each constructor keeps its user-facing docstring and hands off in one line to its op module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional, Sequence

import torch

if TYPE_CHECKING:
    from data.dataset import Dataset

_INT64_MAX = 2**63 - 1


class DatasetSources:
    """Static constructors mixed into ``Dataset``."""

    @staticmethod
    def sample_from_datasets(datasets: Sequence["Dataset"],
                             weights: Optional[Sequence[float]] = None, seed: Optional[int] = None,
                             stop_on_empty_dataset: bool = False) -> "Dataset":
        """Elements drawn at random from ``datasets`` with probabilities ``weights``.

        ``weights`` (one per dataset, uniform by default) need not sum to 1. When a dataset
        ends, sampling goes on over the others unless ``stop_on_empty_dataset``. The datasets
        must have compatible elements (``TypeError`` otherwise).

        >>> import data
        >>> ds = data.Dataset.sample_from_datasets(
        ...     [data.Dataset.range(3), data.Dataset.range(10, 13)], seed=1)
        >>> sorted(ds)
        [0, 1, 2, 10, 11, 12]
        """
        from data.ops.sampling import SampleFromDatasets
        return SampleFromDatasets(datasets, weights, seed, stop_on_empty_dataset)

    @staticmethod
    def choose_from_datasets(datasets: Sequence["Dataset"], choice_dataset: "Dataset",
                             stop_on_empty_dataset: bool = True) -> "Dataset":
        """Element ``i`` comes from ``datasets[choice_dataset[i]]``.

        ``choice_dataset`` yields scalar integers (int64). With ``stop_on_empty_dataset``
        (the default) choosing a dataset that has ended ends the result; otherwise that choice
        is skipped.

        >>> import data
        >>> choices = data.Dataset.from_tensor_slices([0, 1, 1, 0])
        >>> list(data.Dataset.choose_from_datasets(
        ...     [data.Dataset.range(3), data.Dataset.range(10, 13)], choices))
        [0, 10, 11, 1]
        """
        from data.ops.sampling import ChooseFromDatasets
        return ChooseFromDatasets(datasets, choice_dataset, stop_on_empty_dataset)

    @staticmethod
    def counter(start: int = 0, step: int = 1, dtype: torch.dtype = torch.int64) -> "Dataset":
        """``start, start + step, ...`` forever (``range`` up to the int64 limit, as tf.data).

        >>> import data
        >>> list(data.Dataset.counter(3, 2).take(3))
        [3, 5, 7]
        """
        from data.sources import RangeDataset
        return RangeDataset(start, _INT64_MAX if step > 0 else -_INT64_MAX, step,
                            output_type=dtype)

    @staticmethod
    def random(seed: Optional[int] = None,
               rerandomize_each_iteration: Optional[bool] = None) -> "Dataset":
        """Random non-negative int64 values, forever (see :mod:`data.ops.random`).

        >>> import data
        >>> a = list(data.Dataset.random(seed=4).take(3))
        >>> a == list(data.Dataset.random(seed=4).take(3))
        True
        """
        from data.ops.random import RandomDataset
        return RandomDataset(seed, rerandomize_each_iteration)

    @staticmethod
    def load(path: str, element_spec: Any = None, compression: Optional[str] = None,
             reader_func: Any = None) -> "Dataset":
        """The elements that ``Dataset.save(path)`` wrote (``FileNotFoundError`` if none)."""
        from data.ops.save import LoadDataset
        return LoadDataset(path, element_spec, compression, reader_func)
