"""One training step over several optimizers, each on its own variables (wide and deep).

TF groups one ``minimize`` per optimizer; here the loss is back-propagated once and each torch
optimizer steps its own parameters. The optimizers live in the model scope under their names
(``Adagrad``, ``Ftrl``, ...), created on the first step and restored from checkpoints like
those of ``Optimizer.minimize``.
"""

from __future__ import annotations

from typing import List, Sequence, Tuple

import torch
from torch import nn

from estimator.scope import ModelScope, current_scope
from estimator.train import Optimizer, _resolve_lr


class GroupedTrainOp:
    """Calling it runs one step: zero grads, one backward, each optimizer's step, global step + 1."""

    def __init__(self, loss: torch.Tensor,
                 parts: Sequence[Tuple[Optimizer, Sequence[nn.Parameter]]]) -> None:
        self.loss = loss
        self.scope: ModelScope = current_scope()
        self.parts = [(opt, [p for p in params if p.requires_grad]) for opt, params in parts]
        self.names = [self.scope.unique_name(opt.name, None, namespace="optimizers")
                      for opt, _ in self.parts]

    def __call__(self) -> None:
        optimizers: List[torch.optim.Optimizer] = []
        inputs: List[nn.Parameter] = []
        for (opt, params), name in zip(self.parts, self.names):
            if not params:
                continue
            lr = None if opt.learning_rate is None else _resolve_lr(opt.learning_rate)
            torch_opt = self.scope.get_or_create_optimizer(
                name, lambda: opt.build(list(params), lr))
            if lr is not None:
                for group in torch_opt.param_groups:
                    group["lr"] = lr
            torch_opt.zero_grad(set_to_none=True)
            optimizers.append(torch_opt)
            inputs.extend(params)
        if not inputs:
            raise ValueError("the premade estimator has no trainable variables")
        self.loss.backward(inputs=inputs)
        for torch_opt in optimizers:
            torch_opt.step()
        self.scope.global_step += 1


def parameters_under(prefix: str) -> List[nn.Parameter]:
    """The trainable parameters of the current scope whose path starts with ``prefix/``."""
    try:
        module = current_scope().root.get_submodule(prefix.replace("/", "."))
    except AttributeError:
        return []
    return [p for p in module.parameters() if p.requires_grad]
