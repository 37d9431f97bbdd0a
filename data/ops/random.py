"""``Dataset.random``: an infinite stream of random int64 values (tf.data's ``random``).

Values are uniform over the non-negative int64 range, drawn from the op's ``torch.Generator``
(seeded from ``seed`` and ``data.set_random_seed`` like every random op). With
``rerandomize_each_iteration`` each iteration (and ``repeat`` epoch) draws new values;
otherwise every iteration repeats the same sequence, as in tf.data.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

import torch

from data._iterator import DatasetIterator, require_keys, state_generator, state_int, state_seed
from data._seed import get_seed, make_generator
from data._spec import TensorSpec
from data.dataset import INFINITE_CARDINALITY, Dataset

_INT64_MAX = 2**63 - 1


class RandomDataset(Dataset):
    """See ``Dataset.random``."""

    def __init__(self, seed: Optional[int], rerandomize_each_iteration: Optional[bool]) -> None:
        super().__init__()
        self._seed = get_seed(seed)
        self._rerandomize = bool(rerandomize_each_iteration)

    def _iterator(self, epoch: int) -> DatasetIterator:
        return _RandomIterator(self, epoch if self._rerandomize else 0)

    def _spec(self) -> Any:
        return TensorSpec((), torch.int64)

    def _cardinality(self) -> int:
        return INFINITE_CARDINALITY


class _RandomIterator(DatasetIterator):
    op_name = "random"

    def __init__(self, dataset: RandomDataset, epoch: int) -> None:
        super().__init__()
        self._ds = dataset
        self._epoch = epoch
        self._gen = make_generator(dataset._seed, epoch)

    def _next(self) -> Any:
        return torch.randint(0, _INT64_MAX, (), generator=self._gen, dtype=torch.int64)

    def _get_state(self) -> Dict[str, Any]:
        return {"generator": self._gen.get_state(), "seed": list(self._ds._seed),
                "epoch": self._epoch}

    def _set_state(self, state: Dict[str, Any]) -> None:
        op = self.op_name
        require_keys(op, state, "generator", "seed", "epoch")
        seed, epoch = state_seed(op, state), state_int(op, state, "epoch")
        generator = state_generator(op, state)
        self._ds._seed = seed  # later epochs too
        self._epoch = epoch
        self._gen = make_generator(seed, epoch)
        self._gen.set_state(generator)
