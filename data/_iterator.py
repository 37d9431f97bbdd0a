"""The iterator template every pipeline stage builds on.

A subclass writes only three methods:

- ``_next()`` returns the next element or raises ``StopIteration``;
- ``_get_state()`` returns a dict describing its position (its upstream's state under
  :data:`UPSTREAM`, or a list under :data:`UPSTREAMS`);
- ``_set_state(state)`` restores such a dict.

The base provides ``__next__``, ``state_dict()``/``load_state_dict()`` (with the op's name and
the state format's version recorded so a state loaded into the wrong pipeline, or from a newer
library, fails clearly), exhaustion tracking and
``close()``, which closes upstream iterators and is idempotent. Stages that own threads or
processes override ``_close()`` and register their upstreams with ``_own()``.

A saved state may come from a file someone edited: ``_set_state`` reads its fields through
:func:`state_int` / :func:`state_bool` / :func:`state_list`, which check types and ranges and
raise :class:`MalformedStateError` naming the op and the field, and any replay a state asks
for is bounded by what the op can legitimately have saved.
"""

from __future__ import annotations

import functools
import numbers
import weakref
from typing import Any, Dict, Iterator, List, Optional, Tuple

UPSTREAM = "upstream"
UPSTREAMS = "upstreams"
_OP_KEY = "op"
_EXHAUSTED_KEY = "exhausted"
_VERSION_KEY = "state_version"
#: Version of the iterator state format; a state without one is from before versioning (1).
STATE_VERSION = 1


class MalformedStateError(ValueError):
    """A saved iterator state does not match the pipeline it is loaded into."""


class DatasetIterator(Iterator[Any]):
    """Base class of every pipeline iterator: a checkpointable, closable Python iterator."""

    #: Short name of the op, stored in states so mismatched pipelines are caught.
    op_name = "iterator"

    def __init__(self) -> None:
        self._exhausted = False
        self._closed = False
        self._owned: List[DatasetIterator] = []
        self._base_initialized = True

    # -- the contract subclasses implement -------------------------------------------------
    def _next(self) -> Any:
        raise NotImplementedError

    def _get_state(self) -> Dict[str, Any]:
        raise NotImplementedError

    def _set_state(self, state: Dict[str, Any]) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        """Release threads, processes or files. Called once."""

    #: Threads or processes this stage runs for heavy per-element work (parallel ``map``
    #: workers); a prefetch producer, which mostly waits, does not count.
    _cpu_workers = 0

    # -- provided ----------------------------------------------------------------------------
    def _own(self, *iterators: "DatasetIterator") -> None:
        """Register upstream iterators so ``close()`` reaches them."""
        self._check_init()
        self._owned.extend(iterators)

    def _check_init(self) -> None:
        if not getattr(self, "_base_initialized", False):
            raise RuntimeError(
                f"{type(self).__name__}.__init__ did not call super().__init__(); "
                "DatasetIterator subclasses must do so."
            )

    def __iter__(self) -> "DatasetIterator":
        return self

    def cpu_workers(self) -> int:
        """Background workers doing per-element work in this pipeline, upstreams included.

        The Estimator uses it to leave CPU cores to the input pipeline when it computes on
        the CPU too.
        """
        return self._cpu_workers + sum(u.cpu_workers() for u in self._live_upstreams())

    def limit_workers(self, n: int) -> None:
        """Let at most ``n`` (>= 1) background workers of each parallel stage (a parallel
        ``map``) take new elements, in this pipeline's stages alive now; the elements and their
        order stay the same. The Estimator uses it to share the CPU with the model."""
        for upstream in self._live_upstreams():
            upstream.limit_workers(n)

    def worker_cpu_seconds(self) -> float:
        """CPU seconds the background workers spent in the pipeline's functions so far (the
        stages alive now), buffers filling ahead included: compared with the consumer's
        CPU time, how much of the CPU the input takes."""
        return sum(u.worker_cpu_seconds() for u in self._live_upstreams())

    def _live_upstreams(self) -> List["DatasetIterator"]:
        """The upstream iterators in use now; stages that create them on the fly (one per
        repetition, per interleaved element, per cache pass) override this."""
        return self._owned

    def __next__(self) -> Any:
        self._check_init()
        if self._closed:
            raise RuntimeError(f"{type(self).__name__} was closed; create a new iterator")
        if self._exhausted:
            raise StopIteration
        try:
            return self._next()
        except StopIteration:
            self._exhausted = True
            raise

    def state_dict(self) -> Dict[str, Any]:
        """The iterator's position, as nested dicts/lists of plain values and tensors."""
        self._check_init()
        state = dict(self._get_state())
        state[_OP_KEY] = self.op_name
        state[_EXHAUSTED_KEY] = self._exhausted
        state[_VERSION_KEY] = STATE_VERSION
        return state

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Restore a position saved by :meth:`state_dict` of the same pipeline."""
        self._check_init()
        if not isinstance(state, dict):
            raise MalformedStateError(
                f"{self.op_name}: expected a state dict, got {type(state).__name__}"
            )
        saved_op = state.get(_OP_KEY)
        if saved_op != self.op_name:
            raise MalformedStateError(
                f"iterator state was saved by a {saved_op!r} stage but is being loaded into a "
                f"{self.op_name!r} stage: the pipeline differs from the one that was saved"
            )
        version = state.get(_VERSION_KEY, 1)
        if isinstance(version, bool) or not isinstance(version, int) or \
                not 1 <= version <= STATE_VERSION:
            raise MalformedStateError(
                f"{self.op_name}: saved state field {_VERSION_KEY!r} is {version!r}; this library "
                f"reads iterator states of version 1 to {STATE_VERSION} (a newer library wrote "
                "it, or it was edited)")
        exhausted = state.get(_EXHAUSTED_KEY, False)
        if not isinstance(exhausted, bool):
            raise MalformedStateError(f"{self.op_name}: saved state field {_EXHAUSTED_KEY!r} "
                                      f"must be a bool, got {exhausted!r}")
        self._set_state({k: v for k, v in state.items()
                         if k not in (_OP_KEY, _EXHAUSTED_KEY, _VERSION_KEY)})
        self._exhausted = exhausted

    def close(self) -> None:
        """Stop every thread/process this iterator (and its upstreams) started. Idempotent."""
        if getattr(self, "_closed", True):
            return
        self._closed = True
        try:
            self._close()
        finally:
            for upstream in self._owned:
                upstream.close()

    def __enter__(self) -> "DatasetIterator":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: nothing sensible left to do
            pass


class CountingIterator(DatasetIterator):
    """A stage over one upstream that counts the upstream elements it has pulled.

    Its state is the upstream's plus ``position`` (the index of the next upstream element,
    which error messages name). Subclasses write ``_next`` and advance ``self._position``.
    """

    def __init__(self, upstream: DatasetIterator) -> None:
        super().__init__()
        self._upstream = upstream
        self._own(upstream)
        self._position = 0

    def _get_state(self) -> Dict[str, Any]:
        return {UPSTREAM: self._upstream.state_dict(), "position": self._position}

    def _set_state(self, state: Dict[str, Any]) -> None:
        require_keys(self.op_name, state, UPSTREAM, "position")
        position = state_int(self.op_name, state, "position")
        self._upstream.load_state_dict(state[UPSTREAM])
        self._position = position


def require_keys(op_name: str, state: Dict[str, Any], *keys: str) -> None:
    """Raise :class:`MalformedStateError` naming the first missing key."""
    for key in keys:
        if key not in state:
            raise MalformedStateError(f"{op_name}: saved state has no {key!r} entry")


def state_int(op_name: str, state: Dict[str, Any], key: str, minimum: Optional[int] = 0,
              maximum: Optional[int] = None) -> int:
    """``state[key]`` as an int in ``[minimum, maximum]`` (``None``: unbounded), else
    :class:`MalformedStateError` naming the op and the field."""
    require_keys(op_name, state, key)
    value = state[key]
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise MalformedStateError(f"{op_name}: saved state field {key!r} must be an int, got "
                                  f"{type(value).__name__} {_short(value)}")
    value = int(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        bounds = f"[{'-inf' if minimum is None else minimum}, " \
                 f"{'inf' if maximum is None else maximum}]"
        raise MalformedStateError(f"{op_name}: saved state field {key!r} is {value}, outside "
                                  f"the valid range {bounds}")
    return value


def state_bool(op_name: str, state: Dict[str, Any], key: str) -> bool:
    """``state[key]``, which must be a bool (see :func:`state_int`)."""
    require_keys(op_name, state, key)
    value = state[key]
    if not isinstance(value, bool):
        raise MalformedStateError(f"{op_name}: saved state field {key!r} must be a bool, got "
                                  f"{type(value).__name__} {_short(value)}")
    return value


def state_list(op_name: str, state: Dict[str, Any], key: str,
               max_len: Optional[int] = None) -> List[Any]:
    """``state[key]`` as a list (a saved list or tuple) of at most ``max_len`` items."""
    require_keys(op_name, state, key)
    value = state[key]
    if not isinstance(value, (list, tuple)):
        raise MalformedStateError(f"{op_name}: saved state field {key!r} must be a list, got "
                                  f"{type(value).__name__} {_short(value)}")
    if max_len is not None and len(value) > max_len:
        raise MalformedStateError(f"{op_name}: saved state field {key!r} has {len(value)} "
                                  f"items, more than this op can hold ({max_len})")
    return list(value)


def state_seed(op_name: str, state: Dict[str, Any], key: str = "seed") -> Tuple[int, int]:
    """``state[key]``, a saved ``(seed, seed2)`` pair of ints (see :func:`state_int`)."""
    pair = state_list(op_name, state, key)
    if len(pair) != 2:
        raise MalformedStateError(f"{op_name}: saved state field {key!r} must hold 2 ints, got "
                                  f"{_short(pair)}")
    first, second = (state_int(op_name, {key: s}, key, None) for s in pair)
    return first, second


def state_generator(op_name: str, state: Dict[str, Any], key: str = "generator") -> Any:
    """``state[key]``, a saved ``torch.Generator.get_state()``: a uint8 tensor of its size."""
    import torch

    require_keys(op_name, state, key)
    value = state[key]
    size = _generator_state_size()
    if (not isinstance(value, torch.Tensor) or value.dtype != torch.uint8
            or value.shape != (size,)):
        got = (f"a {value.dtype} tensor of shape {tuple(value.shape)}"
               if isinstance(value, torch.Tensor) else f"{type(value).__name__} {_short(value)}")
        raise MalformedStateError(f"{op_name}: saved state field {key!r} must be a uint8 tensor "
                                  f"of {size} bytes (torch.Generator.get_state()), got {got}")
    return value


def restored_generator(op_name: str, seed: Tuple[int, int], epoch: int, state: Any) -> Any:
    """The generator of ``(seed, epoch)`` (``data._seed.make_generator``) set to a saved
    ``state`` checked by :func:`state_generator`."""
    from data._seed import make_generator

    gen = make_generator(seed, epoch)
    try:
        gen.set_state(state)
    except (RuntimeError, ValueError) as e:
        raise MalformedStateError(f"{op_name}: saved state field 'generator' is not a valid "
                                  f"generator state: {e}") from e
    return gen


@functools.lru_cache(maxsize=None)
def _generator_state_size() -> int:
    import torch

    return int(torch.Generator().get_state().numel())


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class Finalizer:
    """Run ``fn`` when ``owner`` is garbage-collected, without keeping ``owner`` alive.

    Background stages use it so a dropped iterator stops its threads even when a worker thread
    still holds references to shared queues.
    """

    def __init__(self, owner: Any, fn: Any, *args: Any) -> None:
        self._finalizer: Optional[weakref.finalize] = weakref.finalize(owner, fn, *args)

    def __call__(self) -> None:
        if self._finalizer is not None:
            self._finalizer()
