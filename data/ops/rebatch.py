"""``rebatch``: batches of another size from already batched elements (tf.data's ``rebatch``).

Equivalent to ``unbatch().batch(n)`` but without splitting a batch into rows first: rows are
taken from the current input batch by slicing. ``batch_size`` may be a list of sizes, used in
turn (tf.data's vector form). The state holds the input batch being split and the row in it.
"""

from __future__ import annotations

from typing import Any, Dict, List, Sequence, Union

import torch

from data import _structure
from data._iterator import UPSTREAM, DatasetIterator, MalformedStateError, require_keys, state_int
from data._spec import batched, unbatched
from data.dataset import Dataset
from data.ops._args import check_int


class RebatchDataset(Dataset):
    """Input batches re-cut to ``batch_size`` rows (see ``Dataset.rebatch``)."""

    def __init__(self, input_dataset: Dataset, batch_size: Union[int, Sequence[int]],
                 drop_remainder: bool) -> None:
        super().__init__()
        self._input = input_dataset
        sizes = list(batch_size) if isinstance(batch_size, (list, tuple)) else [batch_size]
        if isinstance(batch_size, torch.Tensor) and batch_size.dim() == 1:
            sizes = batch_size.tolist()
        if not sizes:
            raise ValueError("rebatch: batch_size must not be an empty list")
        self._sizes = [check_int("rebatch", "batch_size", s, 1) for s in sizes]
        self._drop_remainder = bool(drop_remainder)

    def _iterator(self, epoch: int) -> DatasetIterator:
        return _RebatchIterator(self, self._input._iterator(epoch))

    def _spec(self) -> Any:
        fixed = len(set(self._sizes)) == 1 and self._drop_remainder
        return batched(unbatched(self._input.element_spec), self._sizes[0] if fixed else None)

    def _representative(self) -> Any:
        return self._input._representative()


def _slice(batch: Any, start: int, stop: int) -> Any:
    return _structure.map_structure(lambda leaf: None if leaf is None else leaf[start:stop],
                                    batch)


def _concat(pieces: List[Any]) -> Any:
    def cat(*leaves: Any) -> Any:
        first = leaves[0]
        if isinstance(first, torch.Tensor):
            return torch.cat(leaves)
        if isinstance(first, list):
            return [v for leaf in leaves for v in leaf]
        return first
    columns = [list(col) for col in zip(*(_structure.flatten(p) for p in pieces))]
    return _structure.pack(pieces[0], iter(cat(*col) for col in columns))


class _RebatchIterator(DatasetIterator):
    op_name = "rebatch"

    def __init__(self, dataset: RebatchDataset, upstream: DatasetIterator) -> None:
        super().__init__()
        self._ds = dataset
        self._upstream = upstream
        self._own(upstream)
        self._batch: Any = None  # the input batch being cut
        self._row = 0
        self._turn = 0  # which of the sizes comes next

    def _next(self) -> Any:
        want = self._ds._sizes[self._turn % len(self._ds._sizes)]
        pieces, have = [], 0
        while have < want:
            if self._batch is None or self._row >= _structure.batch_size_of(self._batch,
                                                                             "rebatch"):
                try:
                    self._batch = next(self._upstream)
                except StopIteration:
                    self._batch = None
                    break
                self._row = 0
            n = min(want - have, _structure.batch_size_of(self._batch, "rebatch") - self._row)
            pieces.append(_slice(self._batch, self._row, self._row + n))
            self._row += n
            have += n
        if not pieces or (have < want and self._ds._drop_remainder):
            raise StopIteration
        self._turn += 1
        return pieces[0] if len(pieces) == 1 else _concat(pieces)

    def _get_state(self) -> Dict[str, Any]:
        return {UPSTREAM: self._upstream.state_dict(), "batch": self._batch, "row": self._row,
                "turn": self._turn}

    def _set_state(self, state: Dict[str, Any]) -> None:
        op = self.op_name
        require_keys(op, state, UPSTREAM, "batch", "row", "turn")
        batch = state["batch"]
        try:
            rows = None if batch is None else _structure.batch_size_of(batch, op)
        except ValueError as e:
            raise MalformedStateError(f"{op}: saved state field 'batch' is not a batch: "
                                      f"{e}") from None
        row = state_int(op, state, "row", 0, rows)  # unused while no batch is being cut
        turn = state_int(op, state, "turn")
        self._upstream.load_state_dict(state[UPSTREAM])
        self._batch = batch
        self._row = row
        self._turn = turn
