"""``est.summary``: TensorBoard summaries from inside ``model_fn``.

Each function is a no-op except on summary steps of training (every ``save_summary_steps``, and
the first step of each ``train`` call); there it records a detached tensor in the model scope
and the Estimator writes it to ``events.out.tfevents.*`` in ``model_dir`` after the step. So a
summary costs nothing, not even a host sync, between summary steps. Names are prefixed by the
enclosing ``est.variable_scope``.
"""

from __future__ import annotations

from typing import Any, Callable, List, Optional, Tuple

import torch

from estimator.scope import current_scope

__all__ = ["LazyWriter", "histogram", "image", "scalar", "write"]


def _record(kind: str, name: str, value: Any) -> None:
    scope = current_scope()
    if scope.summary_step:
        if isinstance(value, torch.Tensor):
            value = value.detach()
        scope.record_summary(kind, name, value)


def scalar(name: str, tensor: Any) -> None:
    """Write a scalar (``tensor`` may be a 0-d tensor or a number), as ``tf.summary.scalar``."""
    _record("scalar", name, tensor)


def histogram(name: str, values: Any) -> None:
    """Write a histogram of ``values``, as ``tf.summary.histogram``."""
    _record("histogram", name, values)


def image(name: str, tensor: torch.Tensor, max_outputs: int = 3) -> None:
    """Write up to ``max_outputs`` images of an NHWC batch, as ``tf.summary.image``.

    Tags are ``name/image/0``, ``name/image/1``, ... (``name/image`` for a single image).
    """
    if tensor.dim() != 4:
        raise ValueError(f"summary.image({name!r}) expects an NHWC batch, got shape "
                         f"{tuple(tensor.shape)}")
    _record("image", name, tensor[:max_outputs])


def write(writer: Any, summaries: List[Tuple[str, str, Any]], step: int) -> None:
    """Write recorded ``(kind, name, value)`` summaries with a ``SummaryWriter`` at ``step``."""
    for kind, name, value in summaries:
        if kind == "scalar":
            writer.add_scalar(name, float(value), step)
        elif kind == "histogram":
            writer.add_histogram(name, value.float().cpu() if isinstance(value, torch.Tensor)
                                 else torch.as_tensor(value), step)
        elif kind == "image":
            images = value.cpu()
            if images.shape[0] == 1:
                writer.add_image(f"{name}/image", images[0], step, dataformats="HWC")
            else:
                for i in range(images.shape[0]):
                    writer.add_image(f"{name}/image/{i}", images[i], step, dataformats="HWC")


class LazyWriter:
    """A ``SummaryWriter`` for ``logdir`` created on first use (importing TensorBoard is slow)."""

    def __init__(self, logdir: str, on_create: Optional[Callable[[Any], None]] = None) -> None:
        self.logdir = logdir
        self._writer: Any = None
        self._on_create = on_create

    def get(self) -> Any:
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(self.logdir)
            if self._on_create is not None:
                self._on_create(self._writer)
        return self._writer

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
