"""Calling a user function on a dataset element, with tf.data's argument convention."""

from __future__ import annotations

from typing import Any, Callable


def call_with_element(fn: Callable[..., Any], element: Any) -> Any:
    """Call ``fn`` on ``element``: a plain tuple is unpacked into positional arguments.

    This is tf.data's rule for ``map``, ``filter``, ``flat_map`` and ``interleave``: an element
    ``(image, label)`` calls ``fn(image, label)``; a namedtuple, a dict or a single leaf is
    passed as one argument.

    >>> call_with_element(lambda x, y: x + y, (1, 2))
    3
    >>> call_with_element(lambda d: d["a"], {"a": 1})
    1
    """
    if type(element) is tuple:
        return fn(*element)
    return fn(element)
