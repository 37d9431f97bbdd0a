"""``est.train.optimize_loss``: TF 1.x's ``tf.contrib.layers.optimize_loss``."""

from __future__ import annotations

from typing import Any, Callable, Iterable, Optional, Sequence, Union, cast

import torch

#: ``optimizer`` names ``optimize_loss`` knows, as in ``tf.contrib.layers.OPTIMIZER_CLS_NAMES``
#: (``Ftrl`` has no torch counterpart here). ``Momentum`` uses momentum 0.9, as in TF.
OPTIMIZER_NAMES = ("Adagrad", "Adam", "Momentum", "RMSProp", "SGD")


def _by_name(name: str, learning_rate: Any) -> Any:
    from estimator import train

    if name == "Momentum":
        return train.MomentumOptimizer(learning_rate, momentum=0.9)
    return {"Adagrad": train.AdagradOptimizer, "Adam": train.AdamOptimizer,
            "RMSProp": train.RMSPropOptimizer,
            "SGD": train.GradientDescentOptimizer}[name](learning_rate)


def _unsupported(name: str, value: Any, why: str) -> None:
    if value is not None and value is not False:
        raise NotImplementedError(f"optimize_loss: {name} is not supported ({why}); got {value!r}")


def optimize_loss(loss: torch.Tensor, global_step: Optional[int], learning_rate: Any,
                  optimizer: Union[str, type, Any, Callable[..., Any]],
                  gradient_noise_scale: Optional[float] = None,
                  gradient_multipliers: Optional[dict] = None,
                  clip_gradients: Optional[float] = None,
                  learning_rate_decay_fn: Optional[Callable[[Any, int], Any]] = None,
                  update_ops: Optional[Sequence[Any]] = None,
                  variables: Optional[Iterable[Any]] = None, name: Optional[str] = None,
                  summaries: Optional[Sequence[str]] = None,
                  colocate_gradients_with_ops: bool = False,
                  increment_global_step: bool = True) -> Any:
    """The train op of ``tf.contrib.layers.optimize_loss``: optimizer, decay, clipping, summaries.

    ``optimizer`` is one of :data:`OPTIMIZER_NAMES`, an ``est.train`` optimizer class (built
    with ``learning_rate``), an optimizer instance, or a callable returning one (given the
    learning rate when there is one). ``learning_rate_decay_fn(learning_rate, global_step)``
    returns the rate to use. ``clip_gradients`` (a float) clips by the global norm, like
    ``minimize(clip_norm=)``. Summaries ``OptimizeLoss/loss`` and ``OptimizeLoss/learning_rate``
    are written on summary steps (``summaries`` picks among ``"loss"`` and ``"learning_rate"``;
    TF's gradient summaries need gradients that do not exist yet when ``model_fn`` runs).
    ``update_ops`` and ``colocate_gradients_with_ops`` have nothing to do in eager PyTorch
    (batch-norm statistics update in the forward pass) and are ignored.

    >>> import torch, estimator as est
    >>> from estimator.scope import ModelScope
    >>> scope = ModelScope()
    >>> with scope.call("train"):
    ...     loss = est.layers.dense(torch.ones(4, 2), units=1).pow(2).mean()
    ...     op = est.train.optimize_loss(loss, est.train.get_global_step(), 0.1, "SGD",
    ...                                  clip_gradients=5.0)
    >>> op(); scope.global_step
    1
    """
    from estimator import summary, train
    from estimator.variables import variable_scope

    _unsupported("gradient_noise_scale", gradient_noise_scale, "no gradient noise")
    _unsupported("gradient_multipliers", gradient_multipliers, "scale the loss of a sub-model "
                 "or use Optimizer(torch_class, ...) with param groups")
    if clip_gradients is not None and not isinstance(clip_gradients, (int, float)):
        raise NotImplementedError("optimize_loss: clip_gradients must be a float (the global "
                                  f"norm); a clipping function is not supported, got "
                                  f"{clip_gradients!r}")
    lr = learning_rate
    if lr is not None and learning_rate_decay_fn is not None:
        lr = learning_rate_decay_fn(lr, train.get_global_step())
    if isinstance(optimizer, str):
        if optimizer not in OPTIMIZER_NAMES:
            raise ValueError(f"optimize_loss: optimizer name should be one of "
                             f"{list(OPTIMIZER_NAMES)}, got {optimizer!r}")
        if lr is None:
            raise ValueError(f"optimize_loss: learning_rate is None, but must be given when "
                             f"optimizer is a name ({optimizer!r})")
        opt = _by_name(optimizer, lr)
    elif isinstance(optimizer, type) and issubclass(optimizer, train.Optimizer):
        if lr is None:
            raise ValueError("optimize_loss: learning_rate is None, but must be given when "
                             f"optimizer is a class ({optimizer.__name__})")
        opt = cast(Any, optimizer)(learning_rate=lr)  # an est.train subclass
    elif isinstance(optimizer, train.Optimizer):
        opt = optimizer
    elif callable(optimizer):
        opt = optimizer(lr) if lr is not None else optimizer()
        if not isinstance(opt, train.Optimizer):
            raise ValueError(f"optimize_loss: the optimizer callable returned "
                             f"{type(opt).__name__}, not an est.train optimizer")
    else:
        raise ValueError(f"optimize_loss: unrecognized optimizer {optimizer!r}: give a name "
                         f"({list(OPTIMIZER_NAMES)}), an est.train optimizer class or instance, "
                         "or a callable returning one")
    wanted = ("loss", "learning_rate") if summaries is None else tuple(summaries)
    with variable_scope(name or "OptimizeLoss"):
        if "loss" in wanted:
            summary.scalar("loss", loss)
        rate = opt.learning_rate() if callable(opt.learning_rate) else opt.learning_rate
        if "learning_rate" in wanted and rate is not None:
            summary.scalar("learning_rate", rate)
        return opt.minimize(loss, global_step=global_step if increment_global_step else None,
                            var_list=None if variables is None else list(variables),
                            clip_norm=clip_gradients)
