"""The premade estimators' train op: ``minimize`` for one optimizer, a grouped step for two.

With one optimizer (DNN, linear, baseline) it is ``optimizer.minimize(loss, var_list=...)``.
Wide and deep has two: TF groups one ``minimize`` per optimizer; here the loss is
back-propagated once and each torch optimizer steps its own parameters, through the same step
as ``minimize`` (:func:`estimator._train_step.run_many`), so fp16 loss scaling applies too (a
step with inf/NaN gradients is skipped by both optimizers and advances nothing). The
optimizers live in the model scope under their names (``Adagrad``, ``Ftrl``, ...), created on
the first step and restored from checkpoints like those of ``Optimizer.minimize``.
"""

from __future__ import annotations

import weakref
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

from estimator import _train_step
from estimator.scope import ModelScope, current_scope
from estimator.train import Optimizer, _resolve_lr, _set_lr, get_global_step


class GroupedTrainOp:
    """Calling it runs one step: one backward, each optimizer's step, global step + 1 (unless
    fp16 loss scaling skipped the step: then :attr:`applied` is ``False``)."""

    def __init__(self, loss: torch.Tensor,
                 parts: Sequence[Tuple[Optimizer, Callable[[], Sequence[nn.Parameter]]]],
                 options: Optional[_train_step.StepOptions] = None) -> None:
        """``parts``: (optimizer, function giving its parameters, called when it is built)."""
        self.loss = loss
        self.scope: ModelScope = current_scope()
        self.parts = list(parts)
        self.names = [self.scope.unique_name(opt.name, None, namespace="optimizers")
                      for opt, _ in self.parts]
        self.options = options or _train_step.PLAIN_STEP
        #: after a call: whether the parameters were updated
        self.applied = False

    def _build(self, opt: Optimizer, params_fn: Callable[[], Sequence[nn.Parameter]],
               lr: Optional[float]) -> torch.optim.Optimizer:
        params = [p for p in params_fn() if p.requires_grad]
        if not params:
            raise ValueError(f"optimizer {opt.name!r} of the premade estimator has no "
                             "trainable variables")
        return opt.build(params, lr)

    def __call__(self) -> None:
        scope = self.scope
        optimizers: List[torch.optim.Optimizer] = []
        for (opt, params_fn), name in zip(self.parts, self.names):
            lr = (None if opt.learning_rate is None
                  else _resolve_lr(opt.learning_rate, scope.device))
            torch_opt = scope.get_or_create_optimizer(
                name, lambda: self._build(opt, params_fn, lr))
            if lr is not None:
                _set_lr(torch_opt, lr)
            optimizers.append(torch_opt)
        # one loss scaler for the group, kept (and checkpointed) under the first optimizer's name
        state = scope.step_states.get(self.names[0], optimizers[0], scope.autocast_dtype,
                                      scope.device)
        # the parts cover every variable of the model: a plain backward
        self.applied = _train_step.run_many(optimizers, self.loss, None, state, self.options)
        if self.applied:
            scope.global_step += 1


_Cached = Dict[Optional[str], Tuple[int, List[nn.Parameter]]]
#: per model: (scope version, parameters) by prefix (``None``: every trainable parameter)
_PARAMS: "weakref.WeakKeyDictionary[ModelScope, _Cached]" = weakref.WeakKeyDictionary()
#: per model: (scope version, whether the parameters under the prefix are all of them)
_COVERS: "weakref.WeakKeyDictionary[ModelScope, Dict[str, Tuple[int, bool]]]" = (
    weakref.WeakKeyDictionary())


def _trainable(scope: ModelScope, prefix: Optional[str]) -> List[nn.Parameter]:
    """The trainable parameters under ``prefix/`` (all, for ``None``), computed again only
    when the scope has created parameters since."""
    cache = _PARAMS.setdefault(scope, {})
    hit = cache.get(prefix)
    if hit is not None and hit[0] == scope.version:
        return hit[1]
    module: Optional[nn.Module] = scope.root
    if prefix is not None:
        try:
            module = scope.root.get_submodule(prefix.replace("/", "."))
        except AttributeError:
            module = None
    params = [] if module is None else [p for p in module.parameters() if p.requires_grad]
    cache[prefix] = (scope.version, params)
    return params


class _ParamsUnder:
    """The trainable parameters of a scope under ``prefix/`` (called: a fresh list)."""

    def __init__(self, scope: ModelScope, prefix: str) -> None:
        self.scope, self.prefix = scope, prefix

    def __call__(self) -> List[nn.Parameter]:
        return list(_trainable(self.scope, self.prefix))

    def covers_all(self) -> bool:
        """Whether they are every trainable parameter of the model, in the same order."""
        cache = _COVERS.setdefault(self.scope, {})
        hit = cache.get(self.prefix)
        if hit is not None and hit[0] == self.scope.version:
            return hit[1]
        mine, everything = _trainable(self.scope, self.prefix), _trainable(self.scope, None)
        covers = len(mine) == len(everything) and all(a is b for a, b in zip(mine, everything))
        cache[self.prefix] = (self.scope.version, covers)
        return covers


def parameters_under(prefix: str) -> Callable[[], List[nn.Parameter]]:
    """A function giving the trainable parameters of the current scope under ``prefix/``."""
    return _ParamsUnder(current_scope(), prefix)


def train_op(loss: torch.Tensor,
             parts: Sequence[Tuple[Optimizer, Callable[[], Sequence[nn.Parameter]]]]) -> Any:
    """The step minimizing ``loss``: each optimizer over the parameters its function gives."""
    if len(parts) == 1:
        opt, params_fn = parts[0]
        # the whole model: no var_list, so no backward(inputs=...) (the same update)
        var_list = (None if isinstance(params_fn, _ParamsUnder) and params_fn.covers_all()
                    else params_fn())
        return opt.minimize(loss, global_step=get_global_step(), var_list=var_list)
    return GroupedTrainOp(loss, parts)
