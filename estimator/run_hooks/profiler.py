"""``ProfilerHook``: a ``torch.profiler`` trace of one step every N steps or seconds."""

from __future__ import annotations

import logging
import os
from typing import Any, Optional

import torch

from estimator.hooks import SessionRunArgs, SessionRunContext, SessionRunHook, SessionRunValues
from estimator.run_hooks.timer import SecondOrStepTimer

logger = logging.getLogger("estimator")

__all__ = ["ProfilerHook"]


class ProfilerHook(SessionRunHook):
    """Trace one step (``model_fn``, backward, optimizer step) every ``save_steps`` steps or
    ``save_secs`` seconds with ``torch.profiler``, as TF's ``ProfilerHook``.

    Each trace is written as ``output_dir/timeline-<global_step>.json`` in the Chrome trace
    format: open it in ``chrome://tracing`` or Perfetto. The first step of a
    run is never traced (it builds the model), as in TF. ``show_memory=True`` records tensor
    memory too; ``show_dataflow`` is accepted for TF compatibility (torch traces have no data
    flow arrows).

    >>> hook = ProfilerHook(save_steps=100, output_dir="model_dir")
    """

    def __init__(self, save_steps: Optional[int] = None, save_secs: Optional[float] = None,
                 output_dir: str = "", show_dataflow: bool = True,
                 show_memory: bool = False) -> None:
        self._output_dir = str(output_dir)
        self._show_memory = show_memory
        self._timer = SecondOrStepTimer(every_secs=save_secs, every_steps=save_steps)
        self._next_step: Optional[int] = None
        self._profiler: Any = None

    def begin(self) -> None:
        self._next_step = None
        self._timer.reset()

    def before_run(self, run_context: SessionRunContext) -> Optional[SessionRunArgs]:
        if self._next_step is not None and self._timer.should_trigger_for_step(self._next_step):
            activities = [torch.profiler.ProfilerActivity.CPU]
            if torch.cuda.is_available():
                activities.append(torch.profiler.ProfilerActivity.CUDA)
            self._profiler = torch.profiler.profile(activities=activities,
                                                    profile_memory=self._show_memory,
                                                    record_shapes=self._show_memory)
            self._profiler.__enter__()
        return None

    def after_run(self, run_context: SessionRunContext, run_values: SessionRunValues) -> None:
        step = run_context.session.global_step
        if self._next_step is None:
            self._timer.update_last_triggered_step(step - 1)
        if self._profiler is not None:
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            profiler, self._profiler = self._profiler, None
            profiler.__exit__(None, None, None)
            self._timer.update_last_triggered_step(step)
            if self._output_dir:
                os.makedirs(self._output_dir, exist_ok=True)
            path = os.path.join(self._output_dir, f"timeline-{step}.json")
            logger.info("Saving timeline for %d into '%s'.", step, path)
            profiler.export_chrome_trace(path)
        self._next_step = step + 1

    def end(self, session: Any) -> None:
        if self._profiler is not None:  # a stop between before_run and after_run
            self._profiler.__exit__(None, None, None)
            self._profiler = None
