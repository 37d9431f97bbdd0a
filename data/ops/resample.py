"""``rejection_resample``: resample a dataset towards a target class distribution.

Each element's class is ``class_func(element)``. Element of class ``c`` is kept with
probability ``a[c] = (target[c] / initial[c]) / max_j(target[j] / initial[j])``, which makes
the kept elements follow ``target``. Without ``initial_dist`` the class distribution is
estimated on the fly from the classes seen so far (counts start at one per class). Outputs are
``(class, element)`` pairs, as tf.data's ``Dataset.rejection_resample``.

tf.data also mixes in unfiltered elements while its estimate is near the target, to drop fewer
elements; this version always filters, so the kept classes follow ``target`` from the start.
Acceptance draws use the op's ``torch.Generator`` (``seed`` / ``data.set_random_seed``), saved
in the state with the class counts.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Sequence

import torch

from data._call import call_with_element
from data._iterator import (CountingIterator, DatasetIterator, MalformedStateError, require_keys,
                            state_generator, state_int, state_seed)
from data._seed import get_seed, make_generator
from data.dataset import Dataset
from data.ops.errors import element_error


def _distribution(name: str, values: Sequence[float]) -> torch.Tensor:
    dist = torch.as_tensor(values, dtype=torch.float64).flatten()
    if dist.numel() == 0 or bool((dist < 0).any()) or not bool(dist.sum() > 0):
        raise ValueError(f"rejection_resample: {name} must be non-negative probabilities that "
                         f"are not all 0, got {dist.tolist()}")
    return dist / dist.sum()


class RejectionResampleDataset(Dataset):
    """See ``Dataset.rejection_resample``."""

    def __init__(self, input_dataset: Dataset, class_func: Callable[..., Any],
                 target_dist: Sequence[float], initial_dist: Optional[Sequence[float]],
                 seed: Optional[int]) -> None:
        super().__init__()
        if not callable(class_func):
            raise TypeError(f"rejection_resample: class_func must be callable, got "
                            f"{type(class_func).__name__}")
        self._input = input_dataset
        self._class_func = class_func
        self._target = _distribution("target_dist", target_dist)
        self._initial = None if initial_dist is None else _distribution("initial_dist",
                                                                        initial_dist)
        if self._initial is not None and self._initial.numel() != self._target.numel():
            raise ValueError(f"rejection_resample: initial_dist has {self._initial.numel()} "
                             f"classes, target_dist {self._target.numel()}")
        self._seed = get_seed(seed)

    def _classify(self, element: Any) -> int:
        value = call_with_element(self._class_func, element)
        c = int(value)
        if not 0 <= c < self._target.numel():
            raise ValueError(f"rejection_resample: class_func returned class {c}, outside "
                             f"[0, {self._target.numel()})")
        return c

    def _iterator(self, epoch: int) -> DatasetIterator:
        return _ResampleIterator(self, self._input._iterator(epoch), epoch)

    def _representative(self) -> Any:
        element = self._input._representative()
        return self._classify(element), element


class _ResampleIterator(CountingIterator):
    op_name = "rejection_resample"

    def __init__(self, dataset: RejectionResampleDataset, upstream: DatasetIterator,
                 epoch: int) -> None:
        super().__init__(upstream)
        self._ds = dataset
        self._epoch = epoch
        self._gen = make_generator(dataset._seed, epoch)
        self._counts = torch.ones(dataset._target.numel(), dtype=torch.float64)

    def _next(self) -> Any:
        ds = self._ds
        while True:
            element = next(self._upstream)
            index = self._position
            self._position += 1
            try:
                c = ds._classify(element)
            except Exception as exc:
                raise element_error("rejection_resample", index, exc) from exc
            if ds._initial is None:
                self._counts[c] += 1
                initial = self._counts / self._counts.sum()
            else:
                initial = ds._initial
            ratio = torch.where(initial > 0, ds._target / initial.clamp_min(1e-12),
                                torch.zeros_like(initial))
            accept = float(ratio[c] / ratio.max())
            if float(torch.rand((), generator=self._gen, dtype=torch.float64)) < accept:
                return c, element

    def _get_state(self) -> Dict[str, Any]:
        state = super()._get_state()
        state.update(generator=self._gen.get_state(), counts=self._counts.clone(),
                     epoch=self._epoch, seed=list(self._ds._seed))
        return state

    def _set_state(self, state: Dict[str, Any]) -> None:
        op = self.op_name
        require_keys(op, state, "generator", "counts", "epoch", "seed")
        seed, epoch = state_seed(op, state), state_int(op, state, "epoch")
        generator = state_generator(op, state)
        counts = state["counts"]
        if (not isinstance(counts, torch.Tensor) or counts.shape != self._counts.shape
                or not bool(torch.isfinite(counts).all()) or bool((counts < 0).any())):
            got = (f"shape {tuple(counts.shape)}" if isinstance(counts, torch.Tensor)
                   else type(counts).__name__)
            raise MalformedStateError(
                f"{op}: saved state field 'counts' must be a tensor of {self._counts.numel()} "
                f"non-negative class counts, got {got}")
        super()._set_state(state)
        self._ds._seed = seed  # later epochs too
        self._epoch = epoch
        self._gen = make_generator(seed, epoch)
        self._gen.set_state(generator)
        self._counts = counts.to(torch.float64).clone()
