"""Mixed precision: ``RunConfig(mixed_precision="bf16"|"fp16")``.

The Estimator runs ``model_fn`` under ``torch.autocast`` in the modes that compute a loss
(train and evaluate; predict stays float32, so predictions keep their dtype). Parameters,
optimizer state and checkpoints stay float32.

- ``"bf16"`` (TF's ``mixed_bfloat16``): autocast to bfloat16. Its range is float32's, so no
  loss scaling is needed and the step has no host sync.
- ``"fp16"`` (TF's ``mixed_float16``): autocast to float16, and each train op keeps a dynamic
  loss scaler (``torch.amp.GradScaler``) started as TF's ``LossScaleOptimizer`` starts
  (scale 2**15, doubled after 2,000 finite steps, halved on an overflow). A step whose
  gradients hold an inf or NaN is skipped -- no update, and, as TF 1.x's
  ``MixedPrecisionLossScaleOptimizer`` does with ``global_step``, the global step does not
  advance (so learning-rate schedules computed from it do not move either). Deciding that
  costs one host sync per step, the one ``GradScaler.step`` makes. Keras 2's
  ``LossScaleOptimizer`` does count skipped steps in ``iterations``; the Estimator follows
  the ``global_step`` semantics of TF 1.x, which it ports.
"""

from __future__ import annotations

import contextlib
from typing import Any, ContextManager, Dict, Optional

import torch

#: The accepted ``mixed_precision`` values and the autocast dtype each names.
POLICIES: Dict[str, torch.dtype] = {
    "bf16": torch.bfloat16, "bfloat16": torch.bfloat16, "mixed_bfloat16": torch.bfloat16,
    "fp16": torch.float16, "float16": torch.float16, "mixed_float16": torch.float16,
}
#: TF's ``DynamicLossScale`` defaults (initial scale, increment period).
INITIAL_LOSS_SCALE = 2.0 ** 15
GROWTH_INTERVAL = 2000


def autocast_dtype(policy: Optional[str]) -> Optional[torch.dtype]:
    """The autocast dtype of a ``mixed_precision`` value (``None``: float32 throughout).

    >>> autocast_dtype("bf16")
    torch.bfloat16
    >>> autocast_dtype(None) is None
    True
    """
    if policy is None:
        return None
    if not isinstance(policy, str) or policy not in POLICIES:
        raise ValueError(f"RunConfig: mixed_precision must be None, 'bf16' or 'fp16' (or TF's "
                         f"'mixed_bfloat16'/'mixed_float16'), got {policy!r}")
    return POLICIES[policy]


def autocast(device: torch.device, dtype: Optional[torch.dtype]) -> ContextManager[Any]:
    """``torch.autocast`` on ``device`` to ``dtype``, or nothing when ``dtype`` is ``None``."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def needs_loss_scaling(dtype: Optional[torch.dtype]) -> bool:
    return dtype == torch.float16


def make_scaler(device: torch.device) -> torch.amp.GradScaler:
    """A dynamic loss scaler for one train op, with TF's starting scale and growth period."""
    return torch.amp.GradScaler(device.type, init_scale=INITIAL_LOSS_SCALE,
                                growth_interval=GROWTH_INTERVAL)
