"""The premade estimators' train op: ``minimize`` for one optimizer, a grouped step for two.

With one optimizer (DNN, linear, baseline) it is ``optimizer.minimize(loss, var_list=...)``, so
everything ``est.train`` adds to a step (mixed-precision loss scaling, ...) applies. Wide and
deep has two: TF groups one ``minimize`` per optimizer; here the loss is back-propagated once
and each torch optimizer steps its own parameters (without fp16 loss scaling). The optimizers
live in the model scope under their names (``Adagrad``, ``Ftrl``, ...), created on the first
step and restored from checkpoints like those of ``Optimizer.minimize``.
"""

from __future__ import annotations

from typing import Any, Callable, List, Optional, Sequence, Tuple

import torch
from torch import nn

from estimator.scope import ModelScope, current_scope
from estimator.train import Optimizer, _resolve_lr, _set_lr, get_global_step


class GroupedTrainOp:
    """Calling it runs one step: zero grads, one backward, each optimizer's step, global step + 1."""

    def __init__(self, loss: torch.Tensor,
                 parts: Sequence[Tuple[Optimizer, Callable[[], Sequence[nn.Parameter]]]]
                 ) -> None:
        """``parts``: (optimizer, function giving its parameters, called when it is built)."""
        self.loss = loss
        self.scope: ModelScope = current_scope()
        self.parts = list(parts)
        self.names = [self.scope.unique_name(opt.name, None, namespace="optimizers")
                      for opt, _ in self.parts]

    def _build(self, opt: Optimizer, params_fn: Callable[[], Sequence[nn.Parameter]],
               lr: Optional[float]) -> torch.optim.Optimizer:
        params = [p for p in params_fn() if p.requires_grad]
        if not params:
            raise ValueError(f"optimizer {opt.name!r} of the premade estimator has no "
                             "trainable variables")
        return opt.build(params, lr)

    def __call__(self) -> None:
        optimizers: List[torch.optim.Optimizer] = []
        for (opt, params_fn), name in zip(self.parts, self.names):
            lr = (None if opt.learning_rate is None
                  else _resolve_lr(opt.learning_rate, self.scope.device))
            torch_opt = self.scope.get_or_create_optimizer(
                name, lambda: self._build(opt, params_fn, lr))
            if lr is not None:
                _set_lr(torch_opt, lr)
            torch_opt.zero_grad(set_to_none=True)
            optimizers.append(torch_opt)
        self.loss.backward()  # the parts cover every variable of the model
        for torch_opt in optimizers:
            torch_opt.step()
        self.scope.global_step += 1


def parameters_under(prefix: str) -> Callable[[], List[nn.Parameter]]:
    """A function giving the trainable parameters of the current scope under ``prefix/``."""
    root = current_scope().root

    def params() -> List[nn.Parameter]:
        try:
            module = root.get_submodule(prefix.replace("/", "."))
        except AttributeError:
            return []
        return [p for p in module.parameters() if p.requires_grad]

    return params


def train_op(loss: torch.Tensor,
             parts: Sequence[Tuple[Optimizer, Callable[[], Sequence[nn.Parameter]]]]) -> Any:
    """The step minimizing ``loss``: each optimizer over the parameters its function gives."""
    if len(parts) == 1:
        opt, params_fn = parts[0]
        return opt.minimize(loss, global_step=get_global_step(), var_list=params_fn())
    return GroupedTrainOp(loss, parts)
