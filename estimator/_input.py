"""Opening the input of one call: ``input_fn`` → iterator, restored to a saved position."""

from __future__ import annotations

import logging
from typing import Any, Callable, Dict, Iterator, Optional

import torch

from estimator._fn_args import call_input_fn, fn_args

logger = logging.getLogger("estimator")


def open_input(input_fn: Callable[..., Any], mode: str, params: Dict[str, Any], config: Any,
               saved_state: Optional[Dict[str, Any]] = None, runtime: Any = None
               ) -> Iterator[Any]:
    """Call ``input_fn`` and iterate its result, continuing from ``saved_state`` if given.

    An input saved exhausted starts afresh (so ``for epoch: train(num_epochs=1)`` works as in
    TF), and so does one whose saved position does not fit the new pipeline (with a warning).
    With a ``runtime`` (see :mod:`estimator.distribute`) an ``input_fn`` taking
    ``input_context`` gets it and shards itself; any other's input is auto-sharded.
    """
    iterator = _iterate(_call(input_fn, mode, params, config, runtime))
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
        return iterator
    except Exception as e:  # a different pipeline: continue, but say so
        logger.warning("The saved input position does not fit the pipeline input_fn "
                       "returned (%s); the input starts afresh.", e)
        close_input(iterator)
        return _iterate(_call(input_fn, mode, params, config, runtime))


def _call(input_fn: Callable[..., Any], mode: str, params: Dict[str, Any], config: Any,
          runtime: Any) -> Any:
    if runtime is None:
        return call_input_fn(input_fn, mode, params, config)
    source = call_input_fn(input_fn, mode, params, config, runtime.input_context())
    if callable(input_fn) and "input_context" in fn_args(input_fn):
        return source
    return runtime.shard(source)


def _iterate(source: Any) -> Iterator[Any]:
    if isinstance(source, tuple) and len(source) == 2 and isinstance(source[0], torch.Tensor):
        raise TypeError("input_fn returned a (features, labels) pair of tensors; return a "
                        "data.Dataset of such pairs, e.g. data.Dataset.from_tensor_slices("
                        "(features, labels)).batch(64)")
    try:
        return iter(source)
    except TypeError:
        raise TypeError(f"input_fn must return a data.Dataset or an iterable of batches, got "
                        f"{type(source).__name__}") from None


def close_input(iterator: Any) -> None:
    """Close the iterator (stopping its threads) if it can be closed."""
    close = getattr(iterator, "close", None)
    if callable(close):
        close()
