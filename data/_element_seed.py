"""Per-element randomness for the random ops a ``map`` function calls (``data.image.random_*``).

A random op inside a map function must give the same result for the same element whatever
the thread that runs it, the order the workers finish in, or whether the pipeline was
restored from a checkpoint. So the randomness belongs to the element, not to a stream:

- Each ``map`` takes a seed pair when it is created (:func:`data._seed.get_element_seed`: from
  the global seed and a counter of maps, or fresh random bits without a global seed).
- Between the map and its input sits :class:`_ElementSeedIterator`, which numbers the input
  elements. Just before it hands element ``i`` to the map, it marks ``(seed, epoch, i)`` as
  pending in the current thread (the thread that then calls the function on that element: the
  consumer for a serial map, the worker for a parallel one).
- The map calls its function through :class:`SeededFunction`, which turns the pending mark
  into the active one for the duration of the call.
- The ``k``-th random op called during that call draws from a fresh ``torch.Generator`` seeded
  with ``(seed, epoch, i, k, op seed)``. Nothing touches torch's global RNG.

The numbering and the seed pair are part of the iterator's state, so a restored pipeline
(even one rebuilt without a global seed) reproduces the same augmentations, and each epoch
(``repeat``) draws new ones. Outside a map function (eager use) a random op with ``seed=``
draws from a generator kept per (global seed, op seed), as a TF eager op with a seed does;
without ``seed`` it uses torch's default generator.
"""

from __future__ import annotations

import functools
import threading
from typing import Any, Callable, Dict, Optional, Tuple

import torch

from data._iterator import CountingIterator, DatasetIterator, require_keys, state_int, state_seed
from data._seed import derive_seed, get_element_seed, get_seed

_local = threading.local()
_eager_lock = threading.Lock()
_eager: Dict[Tuple[int, int], torch.Generator] = {}


class _Active:
    __slots__ = ("seed", "epoch", "index", "calls")

    def __init__(self, seed: Tuple[int, int], epoch: int, index: int) -> None:
        self.seed, self.epoch, self.index, self.calls = seed, epoch, index, 0


class SeededFunction:
    """A map function that runs with the pending element seed of its thread active."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        functools.update_wrapper(self, fn)  # first: it copies fn's __dict__ over ours
        self.fn = fn
        self.seed = get_element_seed()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        pending = getattr(_local, "pending", None)
        _local.pending = None
        previous = getattr(_local, "active", None)
        _local.active = pending
        try:
            return self.fn(*args, **kwargs)
        finally:
            _local.active = previous


def element_seeds(fn: SeededFunction, upstream: DatasetIterator,
                  epoch: int) -> DatasetIterator:
    """The stage that numbers the elements a map with function ``fn`` receives."""
    return _ElementSeedIterator(fn, upstream, epoch)


class _ElementSeedIterator(CountingIterator):
    op_name = "element_seed"

    def __init__(self, fn: SeededFunction, upstream: DatasetIterator, epoch: int) -> None:
        super().__init__(upstream)
        self._fn = fn
        self._seed = fn.seed
        self._epoch = epoch

    def _next(self) -> Any:
        index = self._position
        try:
            element = next(self._upstream)
        except StopIteration:
            raise
        except Exception:
            self._position += 1
            raise
        self._position = index + 1
        _local.pending = _Active(self._seed, self._epoch, index)
        return element

    def _get_state(self) -> Dict[str, Any]:
        state = super()._get_state()
        state.update(seed=list(self._seed), epoch=self._epoch)
        return state

    def _set_state(self, state: Dict[str, Any]) -> None:
        require_keys(self.op_name, state, "seed", "epoch")
        seed, epoch = state_seed(self.op_name, state), state_int(self.op_name, state, "epoch")
        super()._set_state(state)
        self._seed = seed
        self._fn.seed = self._seed  # later epochs of the restored pipeline draw the same
        self._epoch = epoch


def generator(op_seed: Optional[int] = None) -> Optional[torch.Generator]:
    """The generator a random op called now draws from (``None``: torch's default one)."""
    active = getattr(_local, "active", None)
    if active is not None:
        active.calls += 1
        gen = torch.Generator()
        gen.manual_seed(derive_seed(active.seed[0], active.seed[1], active.epoch, active.index,
                                    active.calls, -1 if op_seed is None else op_seed))
        return gen
    if op_seed is None:
        return None
    pair = get_seed(op_seed)
    with _eager_lock:
        if pair not in _eager:
            gen = torch.Generator()
            gen.manual_seed(derive_seed(*pair))
            _eager[pair] = gen
        return _eager[pair]
