"""Opening the input of one call: ``input_fn`` → iterator, restored to a saved position."""

from __future__ import annotations

import logging
from typing import Any, Callable, Dict, Iterator, Optional

import torch

from estimator._fn_args import call_input_fn

logger = logging.getLogger("estimator")


def open_input(input_fn: Callable[..., Any], mode: str, params: Dict[str, Any], config: Any,
               saved_state: Optional[Dict[str, Any]] = None) -> Iterator[Any]:
    """Call ``input_fn`` and iterate its result, continuing from ``saved_state`` if given.

    An input saved exhausted starts afresh (so ``for epoch: train(num_epochs=1)`` works as in
    TF), and so does one whose saved position does not fit the new pipeline (with a warning).
    For a model on CUDA the elements are moved to it by a background thread (pinned, copied
    on a side stream; :func:`data.ops.device.feed_to_device`), whose saved state is the
    pipeline's own.
    """
    return feed_device(_open(input_fn, mode, params, config, saved_state), config.device)


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
          saved_state: Optional[Dict[str, Any]]) -> Iterator[Any]:
    iterator = _iterate(call_input_fn(input_fn, mode, params, config))
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
        return _iterate(call_input_fn(input_fn, mode, params, config))


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
