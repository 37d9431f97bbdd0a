"""Reproducible randomness, after TF's graph-level / op-level seeds.

- With neither a global nor an op seed, an op draws a fresh random seed.
- With a global seed (``set_random_seed`` or ``RunConfig.tf_random_seed``) and no op seed,
  ops get deterministic seeds from a counter of the random ops created since the global seed was
  set, so building the same pipeline twice gives the same randomness.
- With an op seed, the (global, op) pair decides.

Each random op owns a ``torch.Generator`` made by :func:`make_generator` from its seed and an
epoch number; nothing here touches the global RNG.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import threading
from typing import Iterator, Optional, Tuple

import torch

_DEFAULT_GLOBAL_SEED = 87654321
_lock = threading.Lock()
_global_seed: Optional[int] = None
_op_counter = 0
_element_counter = 0


def set_random_seed(seed: Optional[int]) -> None:
    """Set the global seed for dataset randomness (``None`` clears it).

    >>> import data
    >>> data.set_random_seed(42)
    """
    global _global_seed, _op_counter, _element_counter
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise TypeError(f"seed must be an int or None, got {type(seed).__name__}")
    with _lock:
        _global_seed = seed
        _op_counter = 0
        _element_counter = 0


def get_random_seed() -> Optional[int]:
    """The global seed, or ``None``."""
    return _global_seed


def get_seed(op_seed: Optional[int]) -> Tuple[int, int]:
    """The (global, op) seed pair for a new random op, following TF's rules."""
    global _op_counter
    with _lock:
        if _global_seed is None and op_seed is None:
            return secrets.randbits(63), secrets.randbits(63)
        global_seed = _DEFAULT_GLOBAL_SEED if _global_seed is None else _global_seed
        if op_seed is None:
            op_seed = _op_counter
            _op_counter += 1
        return global_seed, op_seed


@contextlib.contextmanager
def preserved_op_counter() -> Iterator[None]:
    """Run code that may build random ops (e.g. a peek for ``element_spec``) without moving
    the counter that gives later unseeded ops their seeds."""
    global _op_counter
    with _lock:
        saved = _op_counter
    try:
        yield
    finally:
        with _lock:
            _op_counter = saved


def derive_seed(*parts: int) -> int:
    """Mix integers into one 63-bit seed (stable across runs and platforms)."""
    digest = hashlib.blake2b(",".join(str(int(p)) for p in parts).encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "little") >> 1


def make_generator(seed_pair: Tuple[int, int], epoch: int) -> torch.Generator:
    """A CPU generator for one epoch of one op."""
    gen = torch.Generator()
    gen.manual_seed(derive_seed(seed_pair[0], seed_pair[1], epoch))
    return gen


def get_element_seed() -> Tuple[int, int]:
    """The seed pair of a new ``map`` for the random ops its function calls on each element.

    Like :func:`get_seed` without an op seed, but counted separately, so creating a ``map``
    does not change the seeds of the shuffles (and other random ops) created after it.
    """
    global _element_counter
    with _lock:
        if _global_seed is None:
            return secrets.randbits(63), secrets.randbits(63)
        counter = _element_counter
        _element_counter += 1
        return _global_seed, derive_seed(0x6D6170, counter)  # 0x6D6170: "map"
