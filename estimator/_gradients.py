"""``Optimizer.compute_gradients`` / ``apply_gradients``: TF's two-phase step.

``compute_gradients`` runs autograd at once (so ``model_fn`` can clip, scale or filter the
gradients, as the official ResNet model does); ``apply_gradients`` returns a deferred
:class:`ApplyGradientsOp` that the Estimator runs after ``model_fn`` returns, like ``minimize``'s
``TrainOp``: it puts the given gradients into ``.grad``, steps the optimizer (kept in the model
scope under the optimizer's name, so its state survives steps and checkpoints) and advances the
global step when ``global_step`` was passed.
"""

from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple

import torch
from torch import nn

from estimator.scope import ModelScope, current_scope

GradsAndVars = List[Tuple[Optional[torch.Tensor], torch.Tensor]]


def compute_gradients(optimizer: Any, loss: torch.Tensor, var_list: Optional[Sequence[Any]] = None
                      ) -> GradsAndVars:
    """``[(gradient or None, variable), ...]`` of ``loss`` for ``var_list`` (default: every
    trainable parameter). Outside training (no autograd) every gradient is ``None``."""
    from estimator.train import _params_of

    name = f"{optimizer.name}.compute_gradients()"
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        raise ValueError(f"{name}: loss must be a scalar tensor, got "
                         f"{getattr(loss, 'shape', type(loss).__name__)}")
    scope = current_scope()
    params = (_params_of(var_list) if var_list is not None else
              [p for p in scope.root.parameters() if p.requires_grad])
    if not params:
        raise ValueError(f"{name}: there are no variables to optimize; model_fn created no "
                         "layers/variables (or var_list is empty)")
    wanted = [p for p in params if p.requires_grad]
    grads: dict = {}
    if torch.is_grad_enabled() and loss.requires_grad and wanted:
        values = torch.autograd.grad(loss.reshape(()), wanted, allow_unused=True)
        grads = {id(p): g for p, g in zip(wanted, values)}
    return [(grads.get(id(p)), p) for p in params]


class ApplyGradientsOp:
    """One deferred step with given gradients; calling it runs the step."""

    __slots__ = ("optimizer", "pairs", "advance", "scope", "name")

    def __init__(self, optimizer: Any, pairs: GradsAndVars, advance: bool, scope: ModelScope,
                 name: str) -> None:
        self.optimizer, self.pairs, self.advance = optimizer, pairs, advance
        self.scope, self.name = scope, name

    def __call__(self) -> None:
        from estimator.train import _resolve_lr, _set_lr

        lr = self.optimizer.learning_rate
        lr = None if lr is None else _resolve_lr(lr, self.scope.device)
        params = [v for _, v in self.pairs]
        opt = self.scope.get_or_create_optimizer(self.name,
                                                 lambda: self.optimizer.build(params, lr))
        if lr is not None:
            _set_lr(opt, lr)
        for grad, var in self.pairs:
            var.grad = None if grad is None else grad.detach().to(var.dtype)
        opt.step()
        for _, var in self.pairs:
            var.grad = None
        if self.advance:
            self.scope.global_step += 1


def apply_gradients(optimizer: Any, grads_and_vars: Sequence[Tuple[Any, Any]],
                    global_step: Optional[int] = None, name: Optional[str] = None
                    ) -> ApplyGradientsOp:
    """The deferred step for ``grads_and_vars``; see the module docstring."""
    pairs: GradsAndVars = []
    for i, pair in enumerate(grads_and_vars):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"{optimizer.name}.apply_gradients(): grads_and_vars[{i}] must be a "
                            f"(gradient, variable) pair, got {type(pair).__name__}")
        grad, var = pair
        if not isinstance(var, nn.Parameter):
            raise TypeError(f"{optimizer.name}.apply_gradients(): grads_and_vars[{i}] holds a "
                            f"{type(var).__name__} as its variable; expected a parameter")
        if grad is not None and not isinstance(grad, torch.Tensor):
            raise TypeError(f"{optimizer.name}.apply_gradients(): the gradient of "
                            f"grads_and_vars[{i}] must be a tensor or None, got "
                            f"{type(grad).__name__}")
        pairs.append((grad, var))
    if not pairs:
        raise ValueError(f"{optimizer.name}.apply_gradients(): no variables provided")
    if torch.is_grad_enabled() and all(g is None for g, _ in pairs):
        raise ValueError(f"{optimizer.name}.apply_gradients(): No gradients provided for any "
                         f"variable: {[getattr(v, 'name', None) or tuple(v.shape) for _, v in pairs]}")
    scope = current_scope()
    op_name = scope.unique_name(name or optimizer.name, None, namespace="optimizers")
    return ApplyGradientsOp(optimizer, pairs, global_step is not None, scope, op_name)
