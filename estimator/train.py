"""``est.train``: the global step, TF-named optimizers and the deferred ``TrainOp``.

``minimize()`` does not step: it returns a :class:`TrainOp` that the Estimator runs after
``model_fn`` returns (zero grads with ``set_to_none`` -> backward -> step -> advance the global
step). The torch optimizer is created on the first run, when the parameters exist, and kept in
the model scope under the optimizer's name (``Adam``, ``Adam_1``, ... per call), so its state
(momentum, Adam moments) survives across steps and is saved in checkpoints. A learning rate may
be a float, a no-argument callable or a tensor; it is written into the optimizer's param groups
at every step, so ``model_fn`` may recompute it (``exponential_decay``). A tensor on an
accelerator is copied into the param groups on the device, never read back to the host.
Loss scaling, gradient clipping and accumulation are in :mod:`estimator._train_step`.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any, Callable, Iterable, List, Optional, Sequence, Type, Union

import torch
from torch import nn

from estimator import _train_step
from estimator._schedules import (cosine_decay, exponential_decay, inverse_time_decay,
                                  natural_exp_decay, piecewise_constant, polynomial_decay)
from estimator.scope import ModelScope, current_scope

logger = logging.getLogger("estimator")

LearningRate = Union[float, Callable[[], Any], torch.Tensor]

__all__ = ["AdagradOptimizer", "AdamOptimizer", "GradientDescentOptimizer", "MomentumOptimizer",
           "Optimizer", "RMSPropOptimizer", "TrainOp", "cosine_decay", "create_global_step",
           "exponential_decay", "get_global_step", "get_or_create_global_step",
           "inverse_time_decay", "natural_exp_decay", "optimize_loss", "piecewise_constant",
           "polynomial_decay"]


def get_global_step(graph: Any = None) -> int:
    """The number of training steps done so far (an ``int``; pass it to ``minimize``).

    >>> from estimator.scope import ModelScope
    >>> with ModelScope().call("train"):
    ...     get_global_step()
    0
    """
    return current_scope().global_step


def get_or_create_global_step(graph: Any = None) -> int:
    """The global step (an ``int``), as ``tf.train.get_or_create_global_step``; the Estimator
    always has one, in every mode."""
    return current_scope().global_step


def create_global_step(graph: Any = None) -> int:
    """As ``tf.train.create_global_step`` inside an Estimator's ``model_fn``: the Estimator has
    created the global step already, so this raises ``ValueError``; use
    :func:`get_or_create_global_step` or :func:`get_global_step`."""
    current_scope()
    raise ValueError('"global_step" already exists: the Estimator creates it; use '
                     "est.train.get_or_create_global_step() or est.train.get_global_step()")


def _resolve_lr(lr: LearningRate, device: Optional[torch.device] = None) -> Any:
    """A float, or (given the model's ``device``) a detached tensor on that device: a tensor
    there is never read back to the host (``.item()`` would wait for the device)."""
    value: Any = lr() if callable(lr) else lr
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"the learning rate must be a number or a 1-element tensor, got "
                             f"shape {tuple(value.shape)}")
        if device is not None and (value.device == device or value.device.type != "cpu"):
            return value.detach()
        return float(value)  # host memory: reading it costs no device sync
    return None if value is None else float(value)


def _set_lr(opt: torch.optim.Optimizer, lr: Any) -> None:
    for group in opt.param_groups:  # also right after a restore of older groups
        if isinstance(lr, torch.Tensor):
            current = group["lr"]
            if isinstance(current, torch.Tensor) and current.device == lr.device:
                current.copy_(lr.reshape(current.shape))  # on the device, no sync
            else:
                group["lr"] = lr.clone()
        else:
            group["lr"] = lr


def _params_of(var_list: Iterable[Any]) -> List[torch.Tensor]:
    params: List[torch.Tensor] = []
    for v in var_list:
        if isinstance(v, nn.Module):
            params.extend(p for p in v.parameters() if p.requires_grad)
        elif isinstance(v, torch.Tensor):
            params.append(v)
        else:
            raise TypeError(f"var_list items must be parameters or modules, got {type(v).__name__}")
    return params


class TrainOp:
    """One deferred optimization step; calling it runs the step."""

    __slots__ = ("optimizer", "loss", "advance", "var_list", "scope", "name", "options",
                 "applied")

    def __init__(self, optimizer: "Optimizer", loss: torch.Tensor, advance: bool,
                 var_list: Optional[List[Any]], scope: ModelScope, name: str,
                 options: Optional[_train_step.StepOptions] = None) -> None:
        self.optimizer, self.loss, self.advance = optimizer, loss, advance
        self.var_list, self.scope, self.name = var_list, scope, name
        self.options = options or _train_step.PLAIN_STEP
        #: after a call: whether the parameters were updated (``False`` while accumulating,
        #: or when fp16 loss scaling skipped a step with inf/NaN gradients)
        self.applied = False

    def _trainable(self) -> List[torch.Tensor]:
        if self.var_list is not None:
            return _params_of(self.var_list)
        return [p for p in self.scope.root.parameters() if p.requires_grad]

    def _create(self, lr: Any) -> torch.optim.Optimizer:
        params = self._trainable()
        if not params:
            raise ValueError(
                f"{self.name}.minimize(): there are no trainable parameters; model_fn created no "
                "layers/variables (or var_list is empty)"
            )
        self.scope.optimizer_versions[self.name] = self.scope.version
        return self.optimizer.build(params, lr)

    def _add_new_parameters(self, opt: torch.optim.Optimizer) -> None:
        self.scope.optimizer_versions[self.name] = self.scope.version
        known = {id(p) for g in opt.param_groups for p in g["params"]}
        new = [p for p in self._trainable() if id(p) not in known]
        if new:
            logger.warning("optimizer %r: %d parameters created after its first step were added "
                           "as a new param group", self.name, len(new))
            opt.add_param_group({"params": new})

    def __call__(self) -> None:
        scope = self.scope
        lr = self.optimizer.learning_rate
        if lr is not None:
            lr = _resolve_lr(lr, scope.device)
        opt = scope.get_or_create_optimizer(self.name, lambda: self._create(lr))
        if self.var_list is None and scope.optimizer_versions[self.name] != scope.version:
            self._add_new_parameters(opt)
        if lr is not None:
            _set_lr(opt, lr)
        state = scope.step_states.get(self.name, opt, scope.autocast_dtype, scope.device)
        inputs = None if self.var_list is None else _params_of(self.var_list)
        self.applied = _train_step.run(opt, self.loss, inputs, state, self.options)
        if self.applied and self.advance:
            scope.global_step += 1


#: torch optimizers whose fused CPU kernel beats their default implementation (measured)
_FUSED_ON_CPU = (torch.optim.Adagrad, torch.optim.Adam, torch.optim.AdamW)
_FUSED_DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)


def _fused_on_cpu(cls: type, kwargs: dict, params: Sequence[Any]) -> bool:
    """Whether to build ``cls`` with ``fused=True``: one of :data:`_FUSED_ON_CPU` (exactly:
    a subclass may change the step), no implementation or differentiable step asked for,
    plain floating-point CPU parameters, and a torch whose ``cls`` has a ``fused`` mode."""
    if cls not in _FUSED_ON_CPU or "fused" in kwargs or "foreach" in kwargs \
            or kwargs.get("differentiable"):
        return False
    if "fused" not in inspect.signature(cls).parameters:
        return False
    tensors = [p for group in params for p in group["params"]] if params and isinstance(
        params[0], dict) else list(params)
    return bool(tensors) and all(
        isinstance(p, torch.Tensor) and p.device.type == "cpu" and p.dtype in _FUSED_DTYPES
        and p.layout is torch.strided for p in tensors)


class Optimizer:
    """Any ``torch.optim`` optimizer behind TF's ``minimize`` interface.

    >>> import torch
    >>> opt = Optimizer(torch.optim.AdamW, learning_rate=1e-3, weight_decay=0.01)
    >>> opt.name
    'AdamW'
    """

    def __init__(self, torch_optimizer_class: Type[torch.optim.Optimizer],
                 learning_rate: Optional[LearningRate] = None, name: Optional[str] = None,
                 **kwargs: Any) -> None:
        if "lr" in kwargs:
            if learning_rate is not None:
                raise ValueError("Optimizer: give learning_rate or lr, not both")
            learning_rate = kwargs.pop("lr")
        self.torch_optimizer_class = torch_optimizer_class
        self.learning_rate = learning_rate
        self.kwargs = kwargs
        self.name = name or torch_optimizer_class.__name__

    def build(self, params: Sequence[torch.Tensor], lr: Any = None) -> torch.optim.Optimizer:
        """Create the torch optimizer over ``params`` (with learning rate ``lr`` if given).

        A learning rate that is a tensor on an accelerator builds optimizers that have a
        ``capturable`` mode (Adam, AdamW, RMSprop, ...) in that mode, unless ``fused`` or
        ``capturable`` was given: it is the mode in which torch reads the rate on the device.
        ``torch.optim.Adagrad``, ``Adam`` and ``AdamW`` over CPU parameters run torch's fused
        CPU kernel unless ``fused`` or ``foreach`` was given: the same update rule (equal up to
        float rounding), 10-20% less time per step than torch's default for-loop
        implementation (``benchmarks/canned.py``).
        """
        kwargs = dict(self.kwargs)
        if lr is not None:
            kwargs["lr"] = lr.clone() if isinstance(lr, torch.Tensor) else lr
            if (isinstance(lr, torch.Tensor) and lr.device.type != "cpu"
                    and "capturable" not in kwargs and not kwargs.get("fused")
                    and "capturable" in inspect.signature(self.torch_optimizer_class).parameters):
                kwargs["capturable"] = True
        if _fused_on_cpu(self.torch_optimizer_class, kwargs, params):
            kwargs["fused"] = True
        return self.torch_optimizer_class(params, **kwargs)

    def minimize(self, loss: torch.Tensor, global_step: Optional[int] = None,
                 var_list: Optional[Iterable[Any]] = None, *, clip_norm: Optional[float] = None,
                 gradient_accumulation_steps: int = 1) -> TrainOp:
        """A deferred step minimizing ``loss``; pass ``global_step`` to advance the step count.

        ``var_list`` (parameters or modules) limits the step to those; by default every
        trainable parameter of the model scope. ``clip_norm`` clips the gradients by their
        global norm first (``tf.clip_by_global_norm``); ``gradient_accumulation_steps=k`` sums
        the gradients of ``k`` batches and updates once, the global step counting updates
        (see :mod:`estimator._train_step`).

        >>> import torch, estimator as est
        >>> from estimator.scope import ModelScope
        >>> scope = ModelScope()
        >>> with scope.call("train"):
        ...     loss = est.layers.dense(torch.ones(4, 2), units=1).pow(2).mean()
        ...     op = est.train.AdamOptimizer().minimize(loss, global_step=0, clip_norm=1.0)
        >>> op(); scope.global_step
        1
        """
        options = (_train_step.PLAIN_STEP if clip_norm is None
                   and type(gradient_accumulation_steps) is int and gradient_accumulation_steps == 1
                   else _train_step.StepOptions(clip_norm, gradient_accumulation_steps))
        if not isinstance(loss, torch.Tensor) or loss.dim() != 0:
            raise ValueError(f"{self.name}.minimize(): loss must be a scalar tensor, got "
                             f"{getattr(loss, 'shape', type(loss).__name__)}")
        scope = current_scope()
        name = scope.unique_name(self.name, None, namespace="optimizers")
        return TrainOp(self, loss, global_step is not None,
                       None if var_list is None else list(var_list), scope, name, options)

    # -- TF's two-phase step (estimator/_gradients.py) ------------------------------------------
    def compute_gradients(self, loss: torch.Tensor, var_list: Optional[Iterable[Any]] = None,
                          gate_gradients: int = 1, aggregation_method: Any = None,
                          colocate_gradients_with_ops: bool = False, grad_loss: Any = None
                          ) -> List[Any]:
        """``[(gradient, variable), ...]`` for ``loss``, computed now, so ``model_fn`` can clip
        or filter them before :meth:`apply_gradients`; a gradient is ``None`` for a variable the
        loss does not use (and for every variable outside training).

        >>> import torch, estimator as est
        >>> from estimator.scope import ModelScope
        >>> with ModelScope().call("train"):
        ...     w = est.get_variable("w", [2], initializer=1.0)
        ...     grads = est.train.GradientDescentOptimizer(0.1).compute_gradients((3 * w).sum())
        >>> grads[0][0].tolist()
        [3.0, 3.0]
        """
        from estimator._gradients import compute_gradients

        return compute_gradients(self, loss, None if var_list is None else list(var_list))

    def apply_gradients(self, grads_and_vars: Iterable[Any], global_step: Optional[int] = None,
                        name: Optional[str] = None) -> Any:
        """A deferred step that applies ``grads_and_vars`` (from :meth:`compute_gradients`);
        pass ``global_step`` to advance the step count. Return it as the spec's ``train_op``."""
        from estimator._gradients import apply_gradients

        return apply_gradients(self, list(grads_and_vars), global_step, name)


class GradientDescentOptimizer(Optimizer):
    """``tf.train.GradientDescentOptimizer``: plain SGD."""

    def __init__(self, learning_rate: LearningRate, name: str = "GradientDescent") -> None:
        super().__init__(torch.optim.SGD, learning_rate, name=name)


class MomentumOptimizer(Optimizer):
    """``tf.train.MomentumOptimizer`` (``accum = momentum * accum + grad; var -= lr * accum``)."""

    def __init__(self, learning_rate: LearningRate, momentum: float, use_nesterov: bool = False,
                 name: str = "Momentum") -> None:
        super().__init__(torch.optim.SGD, learning_rate, name=name, momentum=momentum,
                         nesterov=use_nesterov)


class AdamOptimizer(Optimizer):
    """``tf.train.AdamOptimizer`` with TF's defaults, run by ``torch.optim.Adam``.

    ``epsilon`` is added as ``torch.optim.Adam`` adds it (after bias correction).
    """

    def __init__(self, learning_rate: LearningRate = 0.001, beta1: float = 0.9,
                 beta2: float = 0.999, epsilon: float = 1e-8, name: str = "Adam") -> None:
        super().__init__(torch.optim.Adam, learning_rate, name=name, betas=(beta1, beta2),
                         eps=epsilon)


class AdagradOptimizer(Optimizer):
    """``tf.train.AdagradOptimizer`` (accumulators start at ``initial_accumulator_value``)."""

    def __init__(self, learning_rate: LearningRate, initial_accumulator_value: float = 0.1,
                 name: str = "Adagrad") -> None:
        super().__init__(torch.optim.Adagrad, learning_rate, name=name,
                         initial_accumulator_value=initial_accumulator_value)


class RMSPropOptimizer(Optimizer):
    """``tf.train.RMSPropOptimizer`` run by ``torch.optim.RMSprop`` (``decay`` is ``alpha``).

    As in PyTorch, the mean square starts at zero and ``epsilon`` is added outside the root.
    """

    def __init__(self, learning_rate: LearningRate, decay: float = 0.9, momentum: float = 0.0,
                 epsilon: float = 1e-10, centered: bool = False, name: str = "RMSProp") -> None:
        super().__init__(torch.optim.RMSprop, learning_rate, name=name, alpha=decay,
                         momentum=momentum, eps=epsilon, centered=centered)


from estimator._optimize_loss import optimize_loss  # noqa: E402  (it builds on the classes above)
from estimator.optimizers.ftrl import FtrlOptimizer  # noqa: E402,F401  (imports Optimizer above)
