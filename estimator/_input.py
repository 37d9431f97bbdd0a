"""Opening the input of one call: ``input_fn`` → iterator, restored to a saved position."""

from __future__ import annotations

import logging
from typing import Any, Callable, Dict, Iterator, Mapping, Optional

import torch

from estimator._fn_args import call_input_fn, fn_args

logger = logging.getLogger("estimator")


def open_input(input_fn: Callable[..., Any], mode: str, params: Dict[str, Any], config: Any,
               saved_state: Optional[Dict[str, Any]] = None, runtime: Any = None
               ) -> Iterator[Any]:
    """Call ``input_fn`` and iterate its result, continuing from ``saved_state`` if given.

    An input saved exhausted starts afresh (so ``for epoch: train(num_epochs=1)`` works as in
    TF), and so does one whose saved position does not fit the new pipeline (with a warning).

    ``input_fn`` may return (as in TF) a ``data.Dataset`` (or any iterable, such as a
    ``DataLoader``) of ``(features, labels)`` or features; ``(dataset, None)``; or one batch
    as tensors/arrays/dicts of them: ``(features, labels)`` or features alone.

    For a model on CUDA the elements are moved to it by a background thread (pinned, copied
    on a side stream; :func:`data.ops.device.feed_to_device`), whose saved state is the
    pipeline's own.

    With a ``runtime`` (see :mod:`estimator.distribute`) an ``input_fn`` taking
    ``input_context`` gets it and shards its input itself; any other's input is auto-sharded
    (a ``Dataset`` by its auto-shard policy, another iterable batch by batch; a batch given as
    tensors goes to every rank).
    """
    return feed_device(_open(input_fn, mode, params, config, saved_state, runtime),
                       config.device)


def feeds_device(device: torch.device) -> bool:
    """Whether the input is moved to ``device`` ahead of use (CUDA) rather than in the loop."""
    return device.type == "cuda"


def feed_device(iterator: Iterator[Any], device: torch.device) -> Iterator[Any]:
    if not feeds_device(device):
        return iterator
    try:
        from data.ops.device import feed_to_device
    except ImportError:  # the input side is optional: the loop copies instead
        return iterator
    return feed_to_device(iterator, device)


def _open(input_fn: Callable[..., Any], mode: str, params: Dict[str, Any], config: Any,
          saved_state: Optional[Dict[str, Any]], runtime: Any) -> Iterator[Any]:
    iterator = _call(input_fn, mode, params, config, runtime)
    if saved_state is None:
        return iterator
    if saved_state.get("exhausted"):
        logger.info("The input was exhausted when the checkpoint was written; starting it "
                    "afresh.")
        return iterator
    load = getattr(iterator, "load_state_dict", None)
    if not callable(load):
        logger.warning("The checkpoint holds an input position, but input_fn's iterator "
                       "(%s) cannot restore one; the input starts afresh.",
                       type(iterator).__name__)
        return iterator
    try:
        load(saved_state)
    except (KeyError, TypeError, ValueError) as e:  # a different pipeline (MalformedStateError
        # is a ValueError): continue, but say so; anything else (an alarm, an I/O error) raises
        logger.warning("The saved input position does not fit the pipeline input_fn "
                       "returned (%s); the input starts afresh.", e)
        close_input(iterator)
        return _call(input_fn, mode, params, config, runtime)
    # A position saved right at the end (train(steps=N) on an input of exactly N batches) is
    # exhausted too, though nobody had asked for the next batch yet: start afresh then as well.
    try:
        first = next(iterator)
    except StopIteration:
        logger.info("The input was at its end when the checkpoint was written; starting it "
                    "afresh.")
        close_input(iterator)
        return _call(input_fn, mode, params, config, runtime)
    return _Resumed(iterator, saved_state, first)


def _call(input_fn: Callable[..., Any], mode: str, params: Dict[str, Any], config: Any,
          runtime: Any) -> Iterator[Any]:
    """``input_fn``'s batches; on a rank of a job, this rank's share of them."""
    if runtime is None:
        return _iterate(call_input_fn(input_fn, mode, params, config), mode)
    source = call_input_fn(input_fn, mode, params, config, runtime.input_context())
    if callable(input_fn) and "input_context" in fn_args(input_fn):
        return _iterate(source, mode)  # it shards itself
    try:
        from data import Dataset
    except ImportError:  # the input side is optional
        Dataset = ()  # type: ignore[assignment,misc]
    if isinstance(source, Dataset):
        return _iterate(runtime.shard(source), mode)
    if isinstance(source, tuple) and len(source) == 2 and isinstance(source[0], Dataset) \
            and source[1] is None:
        return _iterate((runtime.shard(source[0]), None), mode)
    iterator = _iterate(source, mode)
    return iterator if isinstance(iterator, _ConstantBatch) else runtime.shard(iterator)


class _Resumed(Iterator[Any]):
    """A restored iterator whose first batch was read to see that it is not at its end."""

    def __init__(self, inner: Iterator[Any], state: Dict[str, Any], first: Any) -> None:
        self._inner, self._state, self._first, self._pending = inner, state, first, True

    def __next__(self) -> Any:
        if self._pending:
            self._pending, first = False, self._first
            self._first = None
            return first
        return next(self._inner)

    def state_dict(self) -> Dict[str, Any]:
        return self._state if self._pending else self._inner.state_dict()  # type: ignore

    def __getattr__(self, name: str) -> Any:  # close, cpu_workers, ... of the inner iterator
        return getattr(self._inner, name)


def _is_batch_part(x: Any) -> bool:
    """A tensor, an array or a dict of them: one batch of features or labels."""
    if isinstance(x, torch.Tensor) or (type(x).__module__ == "numpy" and hasattr(x, "shape")):
        return True
    return isinstance(x, Mapping) and bool(x) and all(_is_batch_part(v) for v in x.values())


def _check_feature_dict(features: Mapping, what: str) -> None:
    for key, value in features.items():
        if not (_is_batch_part(value)):
            raise TypeError(
                f"input_fn returned a dict of {what}, but {what}[{key!r}] is a "
                f"{type(value).__name__}; each value must be a tensor or numpy array (one batch). "
                "To feed many batches, return a data.Dataset, e.g. "
                "data.Dataset.from_tensor_slices(features).batch(64)")


class _ConstantBatch(Iterator[Any]):
    """The batch an input_fn returned as tensors: every training step sees it, as in TF; an
    evaluation or prediction sees it once (TF would repeat it until ``steps``; the results are
    the same)."""

    def __init__(self, batch: Any, repeat: bool) -> None:
        self._batch, self._repeat, self._done = batch, repeat, False

    def __next__(self) -> Any:
        if self._done:
            raise StopIteration
        self._done = not self._repeat
        return self._batch

    def state_dict(self) -> Dict[str, Any]:
        return {"constant_batch": True}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        pass


def _iterate(source: Any, mode: str = "train") -> Iterator[Any]:
    """An iterator of batches for what ``input_fn`` returned (TF's forms, see ``open_input``)."""
    if isinstance(source, (str, bytes)):
        raise TypeError(f"input_fn must return a data.Dataset, a (features, labels) pair or "
                        f"features, got a {type(source).__name__}: {source!r:.80}")
    if isinstance(source, tuple) or (isinstance(source, list) and len(source) == 2 and
                                     _is_batch_part(source[0]) and
                                     (source[1] is None or _is_batch_part(source[1]))):
        if len(source) != 2:
            raise ValueError("input_fn should return (features, labels) as a len 2 tuple, got "
                             f"a tuple of length {len(source)}.")
        features, labels = source
        if not _is_batch_part(features) and labels is None and hasattr(features, "__iter__"):
            return _iterate(features, mode)  # (dataset, None)
        if not _is_batch_part(features):
            if isinstance(features, Mapping):
                _check_feature_dict(features, "features")
            raise TypeError(f"input_fn returned (features, labels) with features of type "
                            f"{type(features).__name__}; features must be a tensor, an array "
                            "or a dict of them (or return a data.Dataset)")
        if labels is not None and not _is_batch_part(labels):
            if isinstance(labels, Mapping):
                _check_feature_dict(labels, "labels")
            raise TypeError(f"input_fn returned (features, labels) with labels of type "
                            f"{type(labels).__name__}; labels must be a tensor, an array, a "
                            "dict of them, or None")
        return _constant((features, labels) if labels is not None else features, mode)
    if isinstance(source, Mapping):
        _check_feature_dict(source, "features")
        if not source:
            raise ValueError("input_fn returned an empty dict of features")
        return _constant(dict(source), mode)
    if isinstance(source, torch.Tensor) or (type(source).__module__ == "numpy" and
                                            hasattr(source, "shape")):
        return _constant(source, mode)
    try:
        return iter(source)
    except TypeError:
        raise TypeError(f"input_fn must return a data.Dataset (or any iterable of batches), a "
                        f"(features, labels) pair or features, got {type(source).__name__}"
                        ) from None


def _constant(batch: Any, mode: str) -> Iterator[Any]:
    logger.info("input_fn returned tensors rather than a Dataset: %s.",
                "every step trains on this same batch, as in TF (give steps or max_steps)"
                if mode == "train" else "it is one batch")
    return _ConstantBatch(batch, repeat=mode == "train")


def close_input(iterator: Any) -> None:
    """Close the iterator (stopping its threads) if it can be closed."""
    close = getattr(iterator, "close", None)
    if callable(close):
        close()
