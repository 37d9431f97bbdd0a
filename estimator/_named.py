"""Named tensors of one ``model_fn`` call: ``est.identity(x, name=...)``, as ``tf.identity``.

TF programs name a tensor in the graph (``tf.nn.softmax(logits, name="softmax_tensor")``) and
ask a ``LoggingTensorHook`` for it by that name. Here the tensor is recorded in the model scope
for the current step under its name (prefixed by ``variable_scope``), and hooks find it there.
"""

from __future__ import annotations

from typing import Any, Optional

import torch

__all__ = ["identity"]


def record(tensor: Any, name: Optional[str]) -> None:
    """Record ``tensor`` under ``name`` for this step, if a model scope is active."""
    if name is None:
        return
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty str, got {name!r}")
    from estimator.scope import active_scope

    scope = active_scope()
    if scope is not None:
        scope.name_tensor(name, tensor)


def identity(input: torch.Tensor, name: Optional[str] = None) -> torch.Tensor:
    """Return ``input`` and record it under ``name`` for hooks, as ``tf.identity``.

    ``LoggingTensorHook({"probabilities": "softmax_tensor"})`` then logs it. Inside
    ``est.variable_scope("a")`` the name is ``a/<name>``; ``"<name>:0"`` finds it too.

    >>> import torch, estimator as est
    >>> from estimator.scope import ModelScope
    >>> scope = ModelScope()
    >>> with scope.call("infer"):
    ...     y = est.identity(torch.ones(2), name="ones")
    >>> sorted(scope.named_tensors)
    ['ones']
    """
    record(input, name)
    return input
