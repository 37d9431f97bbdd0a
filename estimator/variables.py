"""``get_module``, ``get_variable`` and ``variable_scope``: named state in the model scope."""

from __future__ import annotations

import contextlib
import math
from typing import Any, Callable, Iterator, Optional, Sequence, Union

import torch
from torch import nn

from estimator import _modules
from estimator.scope import current_scope

Initializer = Union[Callable[[torch.Tensor], Any], float, int, torch.Tensor]


def glorot_uniform_(tensor: torch.Tensor) -> torch.Tensor:
    """TF's ``glorot_uniform`` for a tensor in TF layout (``[..., fan_in, fan_out]``)."""
    shape = tuple(tensor.shape)
    if len(shape) == 0:
        fan_in = fan_out = 1
    elif len(shape) == 1:
        fan_in = fan_out = shape[0]
    else:
        receptive = math.prod(shape[:-2])
        fan_in, fan_out = shape[-2] * receptive, shape[-1] * receptive
    limit = math.sqrt(6.0 / max(1.0, fan_in + fan_out))
    with torch.no_grad():
        return tensor.uniform_(-limit, limit)


def initialize(tensor: torch.Tensor, initializer: Optional[Initializer],
               default: Callable[[torch.Tensor], Any]) -> torch.Tensor:
    """Fill ``tensor`` in place: ``torch.nn.init``-style callable, a number, or a tensor."""
    with torch.no_grad():
        if initializer is None:
            default(tensor)
        elif callable(initializer):
            result = initializer(tensor)
            if isinstance(result, torch.Tensor) and result is not tensor:
                tensor.copy_(result)
        else:
            tensor.copy_(torch.as_tensor(initializer, dtype=tensor.dtype).expand_as(tensor))
    return tensor


@contextlib.contextmanager
def variable_scope(name: str) -> Iterator[None]:
    """Prefix names created inside with ``name/``, as ``tf.variable_scope``.

    >>> import torch, estimator as est
    >>> from estimator.scope import ModelScope
    >>> scope = ModelScope()
    >>> with scope.call("infer"), est.variable_scope("layer_1"):
    ...     _ = est.layers.dense(torch.ones(1, 2), units=3)
    >>> scope.variable_names()
    ['layer_1/dense/kernel', 'layer_1/dense/bias']
    """
    with current_scope().name_scope(name):
        yield


def get_module(name: str, factory: Callable[[], nn.Module], compile: Any = None) -> nn.Module:
    """The ``nn.Module`` called ``name``, built by ``factory()`` on the first call only.

    Its parameters appear as ``name/<its own parameter path>`` (``net/fc1/weight``). Calling it
    twice with one name in one call returns the same module.

    ``compile`` (``True``, a backend name or a dict of ``torch.compile`` arguments; ``None``
    follows ``RunConfig(compile=...)``, ``False`` never) compiles the module in place, keeping
    its parameter names; a factory that returns ``torch.compile(module)`` gets the same
    treatment (see :mod:`estimator._modules`).

    >>> import torch, estimator as est
    >>> from estimator.scope import ModelScope
    >>> scope = ModelScope()
    >>> with scope.call("infer"):
    ...     net = est.get_module("net", lambda: torch.nn.Linear(2, 1))
    >>> scope.variable_names()
    ['net/weight', 'net/bias']
    """
    scope = current_scope()
    path = scope.unique_name(name, name)
    created = scope.get(path) is None
    module = scope.get_or_create(path, lambda: _modules.unwrap_compiled(factory()))
    if not isinstance(module, nn.Module):
        raise TypeError(f"get_module({name!r}): {path!r} holds a variable, not a module")
    if created:
        options = _modules.compile_options(scope.compile if compile is None else compile,
                                           f"get_module({name!r}): compile")
        if options is not None:
            _modules.compile_in_place(module, options)
    return module


def get_variable(name: str, shape: Sequence[int], initializer: Optional[Initializer] = None,
                 dtype: torch.dtype = torch.float32, trainable: bool = True) -> nn.Parameter:
    """The variable ``name`` (a ``torch.nn.Parameter``), created on the first call.

    ``initializer`` is a ``torch.nn.init``-style function applied in place, a number or a tensor;
    by default TF's glorot-uniform (fans from the TF layout ``[..., in, out]``). Asking again for
    an existing name with another shape raises ``ValueError`` with both shapes.

    >>> import torch, estimator as est
    >>> from estimator.scope import ModelScope
    >>> with ModelScope().call("infer"):
    ...     b = est.get_variable("b", [10], initializer=0.0)
    >>> b.shape, float(b.detach().sum())
    (torch.Size([10]), 0.0)
    """
    scope = current_scope()
    path = scope.unique_name(name, name)
    shape = tuple(int(d) for d in shape)

    def make() -> nn.Parameter:
        tensor = initialize(torch.empty(shape, dtype=dtype), initializer, glorot_uniform_)
        return nn.Parameter(tensor, requires_grad=trainable)

    var = scope.get_or_create(path, make)
    if not isinstance(var, nn.Parameter):
        raise TypeError(f"get_variable({name!r}): {path!r} holds a module, not a variable")
    if tuple(var.shape) != shape:
        raise ValueError(
            f"get_variable: {path!r} exists with shape {tuple(var.shape)} but shape {shape} was "
            "requested; use another name or the same shape"
        )
    return var
