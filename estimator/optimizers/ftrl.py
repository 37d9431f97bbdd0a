"""FTRL-Proximal, TF's ``Ftrl`` (the default optimizer of the linear premade estimators).

The update is TF's ``ApplyFtrlV2`` kernel, per element, with ``n`` the accumulator (starting at
``initial_accumulator_value``), ``z`` the linear term (starting at 0), ``lr`` the learning rate,
``p = -learning_rate_power``::

    g_s   = g + 2 * l2_shrinkage * w
    n_new = n + g * g
    z     = z + g_s - (n_new ** p - n ** p) / lr * w
    w     = (sign(z) * l1 - z) / (n_new ** p / lr + 2 * l2 + beta / lr)   if |z| > l1 else 0
    n     = n_new

(``beta`` enters as Keras' ``Ftrl`` passes it: ``l2 + beta / (2 * lr)``). Checked step by step
against TensorFlow in the tests.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Optional

import torch

from estimator.train import LearningRate, Optimizer


class Ftrl(torch.optim.Optimizer):
    """``torch.optim`` FTRL-Proximal with TF's arguments and update (see the module doc).

    >>> w = torch.nn.Parameter(torch.zeros(2))
    >>> opt = Ftrl([w], lr=0.1)
    >>> (w * torch.tensor([1.0, -2.0])).sum().backward()
    >>> opt.step()
    >>> [round(v, 4) for v in w.tolist()]
    [-0.0953, 0.0988]
    """

    def __init__(self, params: Iterable[Any], lr: float = 0.001,
                 learning_rate_power: float = -0.5, initial_accumulator_value: float = 0.1,
                 l1_regularization_strength: float = 0.0, l2_regularization_strength: float = 0.0,
                 l2_shrinkage_regularization_strength: float = 0.0, beta: float = 0.0) -> None:
        if not lr > 0:
            raise ValueError(f"Ftrl: learning rate must be positive, got {lr}")
        if learning_rate_power > 0:
            raise ValueError(f"Ftrl: learning_rate_power must be <= 0, got {learning_rate_power}")
        if initial_accumulator_value < 0:
            raise ValueError("Ftrl: initial_accumulator_value must be >= 0, got "
                             f"{initial_accumulator_value}")
        for name, v in (("l1_regularization_strength", l1_regularization_strength),
                        ("l2_regularization_strength", l2_regularization_strength),
                        ("l2_shrinkage_regularization_strength",
                         l2_shrinkage_regularization_strength), ("beta", beta)):
            if v < 0:
                raise ValueError(f"Ftrl: {name} must be >= 0, got {v}")
        defaults = dict(lr=lr, learning_rate_power=learning_rate_power,
                        initial_accumulator_value=initial_accumulator_value,
                        l1=l1_regularization_strength, l2=l2_regularization_strength,
                        l2_shrinkage=l2_shrinkage_regularization_strength, beta=beta)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Optional[Callable[[], Any]] = None) -> Any:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, power = group["lr"], -group["learning_rate_power"]
            l1 = group["l1"]
            l2 = group["l2"] + group["beta"] / (2.0 * lr)
            for w in group["params"]:
                if w.grad is None:
                    continue
                g = w.grad
                if g.is_sparse:
                    raise RuntimeError("Ftrl does not support sparse gradients")
                state = self.state[w]
                if not state:
                    state["accumulator"] = torch.full_like(w, group["initial_accumulator_value"])
                    state["linear"] = torch.zeros_like(w)
                n, z = state["accumulator"], state["linear"]
                n_new = n + g * g
                g_s = g + 2.0 * group["l2_shrinkage"] * w if group["l2_shrinkage"] else g
                if power == 0.5:
                    sigma = (n_new.sqrt() - n.sqrt()) / lr
                    quadratic = n_new.sqrt() / lr + 2.0 * l2
                else:
                    sigma = (n_new.pow(power) - n.pow(power)) / lr
                    quadratic = n_new.pow(power) / lr + 2.0 * l2
                z.add_(g_s - sigma * w)
                new_w = (torch.sign(z) * l1 - z) / quadratic
                w.copy_(torch.where(z.abs() > l1, new_w, torch.zeros_like(new_w)))
                n.copy_(n_new)
        return loss


class FtrlOptimizer(Optimizer):
    """``tf.train.FtrlOptimizer``, run by :class:`Ftrl`.

    >>> FtrlOptimizer(0.1).name
    'Ftrl'
    """

    def __init__(self, learning_rate: LearningRate, learning_rate_power: float = -0.5,
                 initial_accumulator_value: float = 0.1, l1_regularization_strength: float = 0.0,
                 l2_regularization_strength: float = 0.0, use_locking: bool = False,
                 name: str = "Ftrl", accum_name: Optional[str] = None,
                 linear_name: Optional[str] = None,
                 l2_shrinkage_regularization_strength: float = 0.0,
                 beta: Optional[float] = None) -> None:
        super().__init__(Ftrl, learning_rate, name=name, learning_rate_power=learning_rate_power,
                         initial_accumulator_value=initial_accumulator_value,
                         l1_regularization_strength=l1_regularization_strength,
                         l2_regularization_strength=l2_regularization_strength,
                         l2_shrinkage_regularization_strength=l2_shrinkage_regularization_strength,
                         beta=0.0 if beta is None else beta)
