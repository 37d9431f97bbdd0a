"""``shuffle``: tf.data's bounded-buffer shuffle.

The buffer is filled with ``buffer_size`` elements; each step emits a uniformly random slot
and puts the next input element in its place. When the input ends, the rest of the buffer is
drained in random order. Each iteration owns a ``torch.Generator`` seeded from the op's
(global, op) seed pair and, with ``reshuffle_each_iteration``, the epoch. The state holds the
buffer (a shallow list copy), the generator state, the seed pair and the epoch. Loading a state
gives the Dataset the saved seed pair, so the epochs after a restore (built from the Dataset
again by ``repeat``) shuffle as the saved pipeline would have.

A shuffle created inside an ``interleave``/``flat_map`` function is a new Dataset each call;
give it an explicit ``seed`` if a restored run must reproduce its orders exactly.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import torch

from data._iterator import (UPSTREAM, DatasetIterator, require_keys, restored_generator,
                            state_bool, state_generator, state_int, state_list, state_seed)
from data._seed import get_seed, make_generator
from data.dataset import Dataset
from data.ops._args import check_int


class ShuffleDataset(Dataset):
    """Elements shuffled through a bounded buffer (see ``Dataset.shuffle``)."""

    _keeps_spec = True

    def __init__(self, input_dataset: Dataset, buffer_size: int, seed: Optional[int] = None,
                 reshuffle_each_iteration: bool = True) -> None:
        super().__init__()
        self._input = input_dataset
        self._buffer_size = check_int("shuffle", "buffer_size", buffer_size, 1)
        self._seed = get_seed(seed)  # taken at construction, as TF does
        self._reshuffle = bool(reshuffle_each_iteration)

    def _cardinality(self) -> int:
        return self._input._cardinality()

    def _iterator(self, epoch: int) -> DatasetIterator:
        return _ShuffleIterator(self, self._input._iterator(epoch),
                                epoch if self._reshuffle else 0)


class _ShuffleIterator(DatasetIterator):
    op_name = "shuffle"

    def __init__(self, dataset: ShuffleDataset, upstream: DatasetIterator, epoch: int) -> None:
        super().__init__()
        self._dataset = dataset
        self._size = dataset._buffer_size
        self._upstream = upstream
        self._own(upstream)
        self._seed = dataset._seed
        self._epoch = epoch
        self._gen = make_generator(self._seed, epoch)
        self._buffer: List[Any] = []
        self._filled = False
        self._upstream_done = False

    def _pull(self) -> Any:
        try:
            return next(self._upstream)
        except StopIteration:
            self._upstream_done = True
            return None

    def _next(self) -> Any:
        buf = self._buffer
        if not self._filled:
            while len(buf) < self._size and not self._upstream_done:
                element = self._pull()
                if not self._upstream_done:
                    buf.append(element)
            self._filled = True
        if not buf:
            raise StopIteration
        i = int(torch.randint(len(buf), (1,), generator=self._gen))
        element = buf[i]
        if not self._upstream_done:
            replacement = self._pull()
            if not self._upstream_done:
                buf[i] = replacement
                return element
        last = buf.pop()
        if i < len(buf):
            buf[i] = last
        return element

    def _get_state(self) -> Dict[str, Any]:
        return {
            UPSTREAM: self._upstream.state_dict(),
            "buffer": list(self._buffer),
            "generator": self._gen.get_state(),
            "seed": list(self._seed),
            "epoch": self._epoch,
            "filled": self._filled,
            "upstream_done": self._upstream_done,
        }

    def _set_state(self, state: Dict[str, Any]) -> None:
        require_keys(self.op_name, state, UPSTREAM, "buffer", "generator", "seed", "epoch",
                     "filled", "upstream_done")
        op = self.op_name
        seed = state_seed(op, state)
        epoch = state_int(op, state, "epoch")
        buffer = state_list(op, state, "buffer", self._size)
        filled = state_bool(op, state, "filled")
        upstream_done = state_bool(op, state, "upstream_done")
        generator = state_generator(op, state)
        self._upstream.load_state_dict(state[UPSTREAM])
        self._seed = seed
        # Adopt the saved seeds: iterators this Dataset makes later (the next repeat epoch)
        # must draw the orders the saved pipeline would have drawn.
        self._dataset._seed = self._seed
        self._epoch = epoch
        self._gen = restored_generator(op, self._seed, self._epoch, generator)
        self._buffer = buffer
        self._filled = filled
        self._upstream_done = upstream_done

