"""Rows of an in-memory tensor gathered on the calling thread.

``index_select`` splits even a 100-row gather over the intra-op threads; on a machine whose
cores are busy that costs milliseconds where numpy's ``take`` on the calling thread costs
microseconds (100 rows of 784 floats: ~15 µs against 4–20 ms measured with 2 threads under
load). The result is the same tensor: same values, dtype, shape, contiguous.
"""

from __future__ import annotations

from typing import Sequence, Union

import numpy as np
import torch

_NUMPY_DTYPES = frozenset({torch.float16, torch.float32, torch.float64, torch.int8, torch.int16,
                           torch.int32, torch.int64, torch.uint8, torch.bool, torch.complex64,
                           torch.complex128})


def _numpy_ok(column: torch.Tensor) -> bool:
    return column.device.type == "cpu" and not column.requires_grad \
        and column.dtype in _NUMPY_DTYPES


def take_rows(column: torch.Tensor, rows: Union[torch.Tensor, Sequence[int]]) -> torch.Tensor:
    """``column.index_select(0, rows)``, a new contiguous tensor."""
    if _numpy_ok(column):
        index = rows.numpy() if isinstance(rows, torch.Tensor) else np.asarray(rows, np.int64)
        return torch.from_numpy(column.numpy().take(index, axis=0))
    if not isinstance(rows, torch.Tensor):
        rows = torch.tensor(rows, dtype=torch.int64)
    return column.index_select(0, rows)


def copy_rows(column: torch.Tensor, start: int, stop: int) -> torch.Tensor:
    """A contiguous copy of ``column[start:stop]``."""
    if _numpy_ok(column):
        return torch.from_numpy(column.numpy()[start:stop].copy())
    return column[start:stop].clone(memory_format=torch.contiguous_format)
