"""``SecondOrStepTimer``: trigger at most once every N seconds or every N steps, as TF's."""

from __future__ import annotations

import time
from typing import Optional, Tuple

__all__ = ["SecondOrStepTimer"]


class SecondOrStepTimer:
    """Triggers at most once every ``every_secs`` seconds or once every ``every_steps`` steps.

    The first check always triggers; a step that already triggered never triggers again.

    >>> timer = SecondOrStepTimer(every_steps=10)
    >>> timer.should_trigger_for_step(0)
    True
    >>> timer.update_last_triggered_step(0)
    (None, None)
    >>> timer.should_trigger_for_step(9), timer.should_trigger_for_step(10)
    (False, True)
    """

    def __init__(self, every_secs: Optional[float] = None,
                 every_steps: Optional[int] = None) -> None:
        if every_secs is None and every_steps is None:
            raise ValueError("Either every_secs or every_steps should be provided.")
        if every_secs is not None and every_steps is not None:
            raise ValueError("Can not provide both every_secs and every_steps.")
        self._every_secs, self._every_steps = every_secs, every_steps
        self.reset()

    def reset(self) -> None:
        """Forget the last trigger: the next check triggers."""
        self._last_triggered_step: Optional[int] = None
        self._last_triggered_time: Optional[float] = None

    def should_trigger_for_step(self, step: int) -> bool:
        """True if ``every_secs`` passed or ``every_steps`` steps were taken since the last
        trigger (always on the first check; never twice for one step)."""
        last_time = self._last_triggered_time
        if self._last_triggered_step is None or last_time is None:
            return True
        if self._last_triggered_step == step:
            return False
        if self._every_secs is not None and time.time() >= last_time + self._every_secs:
            return True
        if self._every_steps is not None and step >= self._last_triggered_step + self._every_steps:
            return True
        return False

    def update_last_triggered_step(self, step: int) -> Tuple[Optional[float], Optional[int]]:
        """Record a trigger at ``step``; returns ``(elapsed_secs, elapsed_steps)`` since the
        previous one (``(None, None)`` the first time)."""
        now = time.time()
        if self._last_triggered_time is None or self._last_triggered_step is None:
            elapsed: Tuple[Optional[float], Optional[int]] = (None, None)
        else:
            elapsed = (now - self._last_triggered_time, step - self._last_triggered_step)
        self._last_triggered_time, self._last_triggered_step = now, step
        return elapsed

    def last_triggered_step(self) -> Optional[int]:
        """The step of the last trigger, or ``None``."""
        return self._last_triggered_step
