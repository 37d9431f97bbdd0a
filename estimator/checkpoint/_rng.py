"""Capture and restore every global random number generator a training step may draw from.

The captured dict holds only tensors, ints, floats and ``None``, so it loads with
``torch.load(weights_only=True)``::

    {"torch": uint8 tensor,                      # torch.get_rng_state()
     "cuda": [uint8 tensor, ...],                # one per device; [] when CUDA was not in use
     "numpy": {"bit_generator": "MT19937", "keys": int64 tensor[624], "pos": int,
               "has_gauss": int, "cached_gaussian": float},
     "python": {"version": int, "state": int64 tensor[625], "gauss_next": float | None}}
"""

from __future__ import annotations

import logging
import random
from typing import Any, Dict

import numpy as np
import torch

logger = logging.getLogger(__name__)


def capture_rng_state() -> Dict[str, Any]:
    """Snapshot torch (CPU and CUDA), numpy's global and Python's ``random`` generators.

    >>> state = capture_rng_state()
    >>> a = torch.rand(2)
    >>> restore_rng_state(state)
    >>> bool((torch.rand(2) == a).all())
    True
    """
    numpy_state = np.random.get_state(legacy=True)
    if not isinstance(numpy_state, tuple):  # only a non-MT19937 generator gives a dict
        raise TypeError(f"numpy's global RandomState is not MT19937: {numpy_state!r}")
    bit_gen, keys, pos, has_gauss, cached = numpy_state
    py_version, py_state, gauss_next = random.getstate()
    # Only initialized CUDA has been drawn from; querying it otherwise would create a context.
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else []
    return {
        "torch": torch.get_rng_state(),
        "cuda": list(cuda),
        "numpy": {"bit_generator": str(bit_gen), "keys": torch.from_numpy(keys.astype(np.int64)),
                  "pos": int(pos), "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "python": {"version": int(py_version), "state": torch.tensor(py_state, dtype=torch.int64),
                   "gauss_next": gauss_next},
    }


def restore_rng_state(state: Dict[str, Any]) -> None:
    """Put back generators captured by :func:`capture_rng_state`.

    Missing entries are left alone. CUDA states are restored for as many devices as both the
    saved state and this machine have; a difference is logged.
    """
    if not isinstance(state, dict):
        raise TypeError(f"rng state must be a dict from capture_rng_state(), got "
                        f"{type(state).__name__}")
    if state.get("torch") is not None:
        torch.set_rng_state(state["torch"].to("cpu", torch.uint8))
    cuda = state.get("cuda") or []
    if cuda:
        available = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if available != len(cuda):
            logger.warning("Checkpoint holds CUDA RNG states for %d device(s), this machine has "
                           "%d; restoring the first %d.", len(cuda), available,
                           min(available, len(cuda)))
        for index, device_state in enumerate(cuda[:available]):
            torch.cuda.set_rng_state(device_state.to("cpu", torch.uint8), device=index)
    np_state = state.get("numpy")
    if np_state is not None:
        np.random.set_state((np_state["bit_generator"],
                             np_state["keys"].numpy().astype(np.uint32),
                             int(np_state["pos"]), int(np_state["has_gauss"]),
                             float(np_state["cached_gaussian"])))
    py_state = state.get("python")
    if py_state is not None:
        random.setstate((int(py_state["version"]),
                         tuple(int(x) for x in py_state["state"].tolist()),
                         py_state["gauss_next"]))
