"""``Dataset.sample_from_datasets`` and ``Dataset.choose_from_datasets``.

``sample_from_datasets`` draws which input gives the next element from the categorical
distribution ``weights`` (uniform by default), with a ``torch.Generator`` seeded like every
random op (``seed`` / ``data.set_random_seed``, new draws each epoch). When an input ends:
with ``stop_on_empty_dataset`` the whole dataset ends, otherwise the draws go on over the inputs
left (the weights of the others, renormalised). ``choose_from_datasets`` takes the input index
from ``choice_dataset`` instead (scalar integers); a choice of an ended input is skipped unless
``stop_on_empty_dataset`` (its default there, as in tf.data).

Every input iterator is created with the combining iterator, so a saved state carries all of
them, the generator state and which inputs ended.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

import torch

from data._iterator import (UPSTREAM, UPSTREAMS, DatasetIterator, MalformedStateError, require_keys,
                            state_bool, state_generator, state_int, state_list, state_seed)
from data._seed import get_seed, make_generator
from data._spec import most_specific_compatible
from data.dataset import INFINITE_CARDINALITY, UNKNOWN_CARDINALITY, Dataset


def _check_datasets(op: str, datasets: Any) -> List[Dataset]:
    if isinstance(datasets, Dataset) or not isinstance(datasets, (list, tuple)) or not datasets:
        raise TypeError(f"{op}: datasets must be a non-empty list of Datasets, got "
                        f"{type(datasets).__name__}")
    for i, ds in enumerate(datasets):
        if not isinstance(ds, Dataset):
            raise TypeError(f"{op}: datasets[{i}] is a {type(ds).__name__}, not a Dataset")
    specs = []
    for ds in datasets:
        try:
            specs.append(ds.element_spec)
        except Exception:  # a spec that needs an element none could give: not checked now
            specs = []
            break
    for spec in specs[1:]:
        try:
            most_specific_compatible(specs[0], spec, op)
        except TypeError as exc:
            raise TypeError(f"Invalid datasets for {op}: the datasets must have compatible "
                            f"element specs. {exc}") from None
    return list(datasets)


class _DirectedDataset(Dataset):
    """Elements taken from one of several datasets at a time."""

    def __init__(self, datasets: List[Dataset], stop_on_empty_dataset: bool) -> None:
        super().__init__()
        self._datasets = datasets
        self._stop_on_empty = bool(stop_on_empty_dataset)

    def _input_datasets(self) -> List[Dataset]:
        return list(self._datasets)

    def _spec(self) -> Any:
        spec = self._datasets[0].element_spec
        for ds in self._datasets[1:]:
            spec = most_specific_compatible(spec, ds.element_spec, "sampling")
        return spec

    def _representative(self) -> Any:
        return self._datasets[0]._representative()


class SampleFromDatasets(_DirectedDataset):
    """See ``Dataset.sample_from_datasets``."""

    def __init__(self, datasets: Sequence[Dataset], weights: Optional[Sequence[float]],
                 seed: Optional[int], stop_on_empty_dataset: bool) -> None:
        datasets = _check_datasets("sample_from_datasets", datasets)
        super().__init__(datasets, stop_on_empty_dataset)
        if weights is None:
            weights = [1.0] * len(datasets)
        if isinstance(weights, Dataset):
            raise TypeError("sample_from_datasets: weights given as a Dataset are not "
                            "supported; give a list of floats")
        w = torch.as_tensor(weights, dtype=torch.float64).flatten()
        if w.numel() != len(datasets):
            raise ValueError(f"sample_from_datasets: got {w.numel()} weights for "
                             f"{len(datasets)} datasets; give one weight per dataset")
        if bool((w < 0).any()) or not bool(w.sum() > 0):
            raise ValueError(f"sample_from_datasets: weights must be >= 0 and not all 0, got "
                             f"{w.tolist()}")
        self._weights = w
        self._seed = get_seed(seed)

    def _iterator(self, epoch: int) -> DatasetIterator:
        return _SampleIterator(self, [d._iterator(epoch) for d in self._datasets], epoch)

    def _cardinality(self) -> int:
        cards = [d._cardinality() for d in self._datasets]
        return INFINITE_CARDINALITY if all(c == INFINITE_CARDINALITY for c in cards) \
            else UNKNOWN_CARDINALITY


class _DirectedIterator(DatasetIterator):
    def __init__(self, dataset: _DirectedDataset, upstreams: List[DatasetIterator]) -> None:
        super().__init__()
        self._ds = dataset
        self._upstreams = upstreams
        self._own(*upstreams)
        self._ended = [False] * len(upstreams)

    def _take(self, i: int) -> Any:
        """The next element of input ``i``; ``StopIteration`` propagates only to stop all."""
        try:
            return True, next(self._upstreams[i])
        except StopIteration:
            self._ended[i] = True
            if self._ds._stop_on_empty:
                raise
            return False, None

    def _directed_state(self) -> Dict[str, Any]:
        return {UPSTREAMS: [it.state_dict() for it in self._upstreams],
                "ended": list(self._ended)}

    def _load_directed(self, state: Dict[str, Any]) -> None:
        op = self.op_name
        require_keys(op, state, UPSTREAMS, "ended")
        saved = state_list(op, state, UPSTREAMS)
        if len(saved) != len(self._upstreams):
            raise MalformedStateError(f"{op}: saved state has {len(saved)} inputs, the pipeline "
                                      f"has {len(self._upstreams)}")
        ended = state_list(op, state, "ended", len(self._upstreams))
        ended = [state_bool(op, {"ended": e}, "ended") for e in ended]
        if len(ended) != len(self._upstreams):
            raise MalformedStateError(f"{op}: saved state field 'ended' has {len(ended)} "
                                      f"flags, the pipeline has {len(self._upstreams)} inputs")
        for it, st in zip(self._upstreams, saved):
            it.load_state_dict(st)
        self._ended = ended


class _SampleIterator(_DirectedIterator):
    op_name = "sample_from_datasets"

    def __init__(self, dataset: SampleFromDatasets, upstreams: List[DatasetIterator],
                 epoch: int) -> None:
        super().__init__(dataset, upstreams)
        self._weights = dataset._weights
        self._seed = dataset._seed
        self._epoch = epoch
        self._gen = make_generator(self._seed, epoch)

    def _next(self) -> Any:
        while True:
            live = torch.tensor([0.0 if e else 1.0 for e in self._ended], dtype=torch.float64)
            weights = self._weights * live
            if not bool(weights.sum() > 0):
                raise StopIteration
            i = int(torch.multinomial(weights, 1, generator=self._gen))
            ok, element = self._take(i)
            if ok:
                return element

    def _get_state(self) -> Dict[str, Any]:
        state = self._directed_state()
        state.update(generator=self._gen.get_state(), seed=list(self._seed), epoch=self._epoch)
        return state

    def _set_state(self, state: Dict[str, Any]) -> None:
        op = self.op_name
        require_keys(op, state, "generator", "seed", "epoch")
        seed, epoch = state_seed(op, state), state_int(op, state, "epoch")
        generator = state_generator(op, state)
        self._load_directed(state)
        self._seed = seed
        self._ds._seed = seed  # type: ignore[attr-defined]  # later epochs follow it
        self._epoch = epoch
        self._gen = make_generator(seed, epoch)
        self._gen.set_state(generator)


class ChooseFromDatasets(_DirectedDataset):
    """See ``Dataset.choose_from_datasets``."""

    def __init__(self, datasets: Sequence[Dataset], choice_dataset: Dataset,
                 stop_on_empty_dataset: bool) -> None:
        datasets = _check_datasets("choose_from_datasets", datasets)
        super().__init__(datasets, stop_on_empty_dataset)
        if not isinstance(choice_dataset, Dataset):
            raise TypeError(f"choose_from_datasets: choice_dataset must be a Dataset, got "
                            f"{type(choice_dataset).__name__}")
        try:
            spec = choice_dataset.element_spec
        except Exception:
            spec = None
        from data._spec import TensorSpec
        if spec is not None and not (isinstance(spec, TensorSpec) and spec.shape == ()
                                     and spec.dtype == torch.int64):
            raise TypeError(f"Invalid choice_dataset: its elements must be scalar int64 "
                            f"tensors (or Python ints), but are {spec}")
        self._choice = choice_dataset

    def _input_datasets(self) -> List[Dataset]:
        return list(self._datasets) + [self._choice]

    def _iterator(self, epoch: int) -> DatasetIterator:
        return _ChooseIterator(self, [d._iterator(epoch) for d in self._datasets],
                               self._choice._iterator(epoch))


class _ChooseIterator(_DirectedIterator):
    op_name = "choose_from_datasets"

    def __init__(self, dataset: ChooseFromDatasets, upstreams: List[DatasetIterator],
                 choices: DatasetIterator) -> None:
        super().__init__(dataset, upstreams)
        self._choices = choices
        self._own(choices)

    def _next(self) -> Any:
        while True:
            choice = next(self._choices)
            i = int(choice)
            if not 0 <= i < len(self._upstreams):
                raise ValueError(f"choose_from_datasets: choice_dataset gave {i}, but there "
                                 f"are {len(self._upstreams)} datasets (valid: 0 to "
                                 f"{len(self._upstreams) - 1})")
            if self._ended[i]:
                continue
            ok, element = self._take(i)
            if ok:
                return element

    def _get_state(self) -> Dict[str, Any]:
        state = self._directed_state()
        state[UPSTREAM] = self._choices.state_dict()
        return state

    def _set_state(self, state: Dict[str, Any]) -> None:
        require_keys(self.op_name, state, UPSTREAM)
        self._load_directed(state)
        self._choices.load_state_dict(state[UPSTREAM])
