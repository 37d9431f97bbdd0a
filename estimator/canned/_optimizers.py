"""Optimizers of the premade estimators: by TF's names, or an ``est.train`` optimizer."""

from __future__ import annotations

from typing import Any, Callable, Dict

from estimator import train
from estimator.optimizers.ftrl import FtrlOptimizer


def _adagrad(lr: float) -> train.Optimizer:
    return train.Optimizer(__import__("torch").optim.Adagrad, lr, name="Adagrad",
                           initial_accumulator_value=0.1, eps=1e-7)


#: TF's optimizer names and the optimizer each makes (Keras' defaults: epsilon 1e-7, Adagrad's
#: accumulators start at 0.1, RMSProp's decay is 0.9).
OPTIMIZER_NAMES: Dict[str, Callable[[float], train.Optimizer]] = {
    "Adagrad": _adagrad,
    "Adam": lambda lr: train.AdamOptimizer(lr, epsilon=1e-7),
    "Ftrl": lambda lr: FtrlOptimizer(lr),
    "RMSProp": lambda lr: train.RMSPropOptimizer(lr, decay=0.9, epsilon=1e-7),
    "SGD": lambda lr: train.GradientDescentOptimizer(lr),
}


def get_optimizer(opt: Any, learning_rate: float, where: str) -> train.Optimizer:
    """``opt`` as an ``est.train`` optimizer, as TF's ``get_optimizer_instance_v2``.

    A name makes that optimizer at ``learning_rate`` (the estimator's default rate); an
    optimizer is used as is; a callable is called (each time the model is built, so its
    learning rate may depend on the global step) and must return an optimizer.
    """
    if isinstance(opt, str):
        if opt not in OPTIMIZER_NAMES:
            raise ValueError(f"{where}: unsupported optimizer name {opt!r}; supported names are "
                             f"{tuple(sorted(OPTIMIZER_NAMES))}")
        return OPTIMIZER_NAMES[opt](learning_rate)
    if not isinstance(opt, train.Optimizer) and callable(opt):
        opt = opt()
    if not isinstance(opt, train.Optimizer):
        raise ValueError(f"{where}: the optimizer must be a name, an est.train optimizer (e.g. "
                         f"est.train.AdamOptimizer(0.01)) or a callable returning one; got {opt!r}")
    return opt


def check_optimizer(opt: Any, where: str) -> None:
    """Raise early for a bad optimizer name (a callable is only checked when called)."""
    if isinstance(opt, str):
        get_optimizer(opt, 0.1, where)
    elif not isinstance(opt, train.Optimizer) and not callable(opt):
        get_optimizer(opt, 0.1, where)
