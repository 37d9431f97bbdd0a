"""Argument checks shared by the transformations (one wording for every op)."""

from __future__ import annotations

from typing import Any, Tuple

import numpy as np
import torch


def check_int(op: str, name: str, value: Any, minimum: int, also: Tuple[int, ...] = ()) -> int:
    """Return ``value`` as an int, or raise ``ValueError``/``TypeError`` naming it.

    ``value`` must be an integer ``>= minimum`` or one of ``also`` (e.g. ``-1`` for "all").
    """
    if isinstance(value, torch.Tensor) and value.dim() == 0 and not value.is_floating_point():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{op}: {name} must be an int, got {value!r} ({type(value).__name__})")
    value = int(value)
    if value < minimum and value not in also:
        allowed = f">= {minimum}" + "".join(f" or {a}" for a in also)
        raise ValueError(f"{op}: {name} must be {allowed}, got {value}")
    return value
