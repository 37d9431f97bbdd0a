"""Errors raised while producing elements: how they reach the consumer, and ``ignore_errors``.

A user function that raises inside ``map`` reaches the consumer as an exception of the same type
(when it can be rebuilt from a message) whose message names the op and the element's position
in the input, raised ``from`` the original exception so its traceback is shown too.
``ignore_errors()`` drops such elements and counts them.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, Optional

from data._iterator import UPSTREAM, DatasetIterator, require_keys, state_int
from data.dataset import Dataset

logger = logging.getLogger(__name__)


def element_error(op: str, index: int, exc: BaseException) -> BaseException:
    """The exception to raise in the consumer for ``exc`` raised on input element ``index``.

    Same type as ``exc`` where its constructor takes a message, else ``RuntimeError``; the caller
    raises it ``from exc`` so the original traceback is chained. ``element_index`` holds
    ``index``.
    """
    message = (f"{op}: the function raised {type(exc).__name__} on input element {index} "
               f"(0-based position in the input): {exc}")
    if isinstance(exc, (StopIteration, StopAsyncIteration)):
        # Raised on, it would end the dataset silently; tf.data reports an error instead.
        stop = RuntimeError(message)
        setattr(stop, "element_index", index)  # an attribute of our own on any exception type
        return stop
    wrapped: BaseException
    try:
        wrapped = type(exc)(message)
        if str(wrapped) != message:  # e.g. KeyError quotes its message; keep it readable
            raise TypeError
    except Exception:
        wrapped = RuntimeError(message)
    setattr(wrapped, "element_index", index)
    return wrapped


class IgnoreErrorsDataset(Dataset):
    """Drops the elements whose production raised an ``Exception`` (see ``ignore_errors``).

    The iterator counts them in ``num_ignored`` and logs a summary (count and first error) when
    it ends or is closed.

    >>> import data
    >>> ds = data.Dataset.range(4).map(lambda x: 6 // (x - 2)).ignore_errors()
    >>> it = iter(ds); list(it), it.num_ignored
    ([-3, -6, 6], 1)
    """

    _keeps_spec = True

    def __init__(self, input_dataset: Dataset) -> None:
        super().__init__()
        self._input = input_dataset

    def _iterator(self, epoch: int) -> DatasetIterator:
        return _IgnoreErrorsIterator(self._input._iterator(epoch))


class _IgnoreErrorsIterator(DatasetIterator):
    op_name = "ignore_errors"

    def __init__(self, upstream: DatasetIterator) -> None:
        super().__init__()
        self._upstream = upstream
        self._own(upstream)
        self.num_ignored = 0
        self._first_error: Optional[str] = None
        self._reported = False

    def _next(self) -> Any:
        while True:
            try:
                return next(self._upstream)
            except StopIteration:
                self._report()
                raise
            except Exception as exc:
                self.num_ignored += 1
                if self._first_error is None:
                    self._first_error = f"{type(exc).__name__}: {exc}"
                logger.debug("ignore_errors: skipped an element: %s", exc)

    def _report(self) -> None:
        if self.num_ignored and not self._reported:
            self._reported = True
            logger.warning("ignore_errors: skipped %d element(s) that raised errors; first: %s",
                           self.num_ignored, self._first_error)

    def _get_state(self) -> Dict[str, Any]:
        return {UPSTREAM: self._upstream.state_dict(), "num_ignored": self.num_ignored}

    def _set_state(self, state: Dict[str, Any]) -> None:
        require_keys(self.op_name, state, UPSTREAM, "num_ignored")
        num_ignored = state_int(self.op_name, state, "num_ignored")
        self._upstream.load_state_dict(state[UPSTREAM])
        self.num_ignored = num_ignored

    def _close(self) -> None:
        self._report()
