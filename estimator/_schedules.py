"""TF's learning-rate schedules (``tf.train.*_decay``, ``piecewise_constant``) as plain floats.

Each takes the global step (an ``int``, or a 0-d tensor) and returns the learning rate for that
step; ``model_fn`` recomputes it every step and the optimizer picks it up. The formulas and
edge cases are TF's (checked against TF 2.15's ``tf.compat.v1.train`` functions).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

__all__ = ["cosine_decay", "exponential_decay", "inverse_time_decay", "natural_exp_decay",
           "piecewise_constant", "polynomial_decay"]


def _step(global_step: Any, fn: str) -> float:
    if global_step is None:
        raise ValueError(f"{fn}: global_step is required; pass est.train.get_global_step()")
    return float(global_step)


def _decay_steps(decay_steps: Any, fn: str) -> float:
    if decay_steps is None or float(decay_steps) <= 0:
        raise ValueError(f"{fn}: decay_steps must be > 0, got {decay_steps!r}")
    return float(decay_steps)


def exponential_decay(learning_rate: float, global_step: Any, decay_steps: int,
                      decay_rate: float, staircase: bool = False, name: Any = None) -> float:
    """``learning_rate * decay_rate ** (global_step / decay_steps)``, as TF's.

    >>> exponential_decay(0.1, 20, decay_steps=10, decay_rate=0.5)
    0.025
    >>> exponential_decay(0.1, 15, decay_steps=10, decay_rate=0.5, staircase=True)
    0.05
    """
    p = _step(global_step, "exponential_decay") / _decay_steps(decay_steps, "exponential_decay")
    if staircase:
        p = math.floor(p)
    return learning_rate * decay_rate ** p


def piecewise_constant(x: Any, boundaries: Sequence[Any], values: Sequence[float],
                       name: Any = None) -> float:
    """``values[0]`` while ``x <= boundaries[0]``, ``values[i]`` while
    ``boundaries[i-1] < x <= boundaries[i]``, ``values[-1]`` after the last boundary.

    >>> [piecewise_constant(s, [100, 200], [1.0, 0.5, 0.1]) for s in (100, 101, 201)]
    [1.0, 0.5, 0.1]
    """
    if len(values) != len(boundaries) + 1:
        raise ValueError("The length of boundaries should be 1 less than the length of values")
    step = _step(x, "piecewise_constant")
    for boundary, value in zip(boundaries, values):
        if step <= float(boundary):
            return value
    return values[-1]


def polynomial_decay(learning_rate: float, global_step: Any, decay_steps: int,
                     end_learning_rate: float = 0.0001, power: float = 1.0, cycle: bool = False,
                     name: Any = None) -> float:
    """Decay from ``learning_rate`` to ``end_learning_rate`` over ``decay_steps`` along
    ``(1 - step / decay_steps) ** power``; with ``cycle`` the decay restarts with a longer period.

    >>> polynomial_decay(0.1, 50, decay_steps=100, end_learning_rate=0.0)
    0.05
    """
    step = _step(global_step, "polynomial_decay")
    steps = _decay_steps(decay_steps, "polynomial_decay")
    if cycle:
        multiplier = 1.0 if step == 0 else math.ceil(step / steps)
        steps = steps * multiplier
    else:
        step = min(step, steps)
    return (learning_rate - end_learning_rate) * (1 - step / steps) ** power + end_learning_rate


def cosine_decay(learning_rate: float, global_step: Any, decay_steps: int, alpha: float = 0.0,
                 name: Any = None) -> float:
    """Cosine decay from ``learning_rate`` to ``alpha * learning_rate`` over ``decay_steps``.

    >>> cosine_decay(0.1, 100, decay_steps=100)
    0.0
    """
    step = min(_step(global_step, "cosine_decay"), float(decay_steps))
    cosine = 0.5 * (1 + math.cos(math.pi * step / float(decay_steps)))
    return learning_rate * ((1 - alpha) * cosine + alpha)


def inverse_time_decay(learning_rate: float, global_step: Any, decay_steps: int,
                       decay_rate: float, staircase: bool = False, name: Any = None) -> float:
    """``learning_rate / (1 + decay_rate * global_step / decay_steps)``.

    >>> inverse_time_decay(0.1, 10, decay_steps=10, decay_rate=1.0)
    0.05
    """
    p = _step(global_step, "inverse_time_decay") / _decay_steps(decay_steps, "inverse_time_decay")
    if staircase:
        p = math.floor(p)
    return learning_rate / (1 + decay_rate * p)


def natural_exp_decay(learning_rate: float, global_step: Any, decay_steps: int,
                      decay_rate: float, staircase: bool = False, name: Any = None) -> float:
    """``learning_rate * exp(-decay_rate * global_step / decay_steps)``."""
    p = _step(global_step, "natural_exp_decay") / _decay_steps(decay_steps, "natural_exp_decay")
    if staircase:
        p = math.floor(p)
    return learning_rate * math.exp(-decay_rate * p)
