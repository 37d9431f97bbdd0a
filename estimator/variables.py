"""``get_module``, ``get_variable``, ``variable_scope`` and ``trainable_variables``: named state
in the model scope."""

from __future__ import annotations

import math
from typing import Any, Callable, ContextManager, List, Optional, Sequence, Union

import torch
from torch import nn

from estimator import _modules
from estimator.scope import AUTO_REUSE, ModelScope, current_scope, to_path

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


class VariableScope:
    """What ``with est.variable_scope(...) as vs`` gives: ``vs.name``, ``vs.reuse`` and
    ``vs.reuse_variables()``; pass ``vs`` back to ``variable_scope`` to reopen it."""

    def __init__(self, name: str, reuse: Any) -> None:
        self.name, self._reuse = name, reuse

    @property
    def reuse(self) -> Any:
        return self._reuse

    @property
    def original_name_scope(self) -> str:
        return self.name + "/"

    def reuse_variables(self) -> None:
        """Reuse the variables created so far for the rest of this scope."""
        self._reuse = True
        current_scope().set_reuse(True)

    def __repr__(self) -> str:
        return f"VariableScope(name={self.name!r}, reuse={self._reuse!r})"


def variable_scope(name_or_scope: Union[str, VariableScope, None], default_name: Optional[str] = None,
                   values: Any = None, initializer: Any = None, regularizer: Any = None,
                   caching_device: Any = None, partitioner: Any = None, custom_getter: Any = None,
                   reuse: Any = None, dtype: Any = None, use_resource: Any = None,
                   constraint: Any = None, auxiliary_name_scope: bool = True
                   ) -> ContextManager[VariableScope]:
    """Prefix names created inside with ``name/``, as ``tf.variable_scope``.

    ``reuse=True`` shares the layers and variables this ``model_fn`` call created already
    under these names (a network function called twice, for a train and a test graph);
    ``reuse=est.AUTO_REUSE`` creates or shares; ``None`` inherits the enclosing scope's flag.
    As in TF, asking for a missing variable under ``reuse=True`` raises "does not exist", and
    creating one twice without reuse raises "already exists". ``name_or_scope=None`` with
    ``default_name`` picks a unique name (``block``, ``block_1``, ...). The graph-building
    arguments (``values``, ``initializer``, ``caching_device``, ...) are accepted and ignored.

    >>> import torch, estimator as est
    >>> from estimator.scope import ModelScope
    >>> def net(x, reuse):
    ...     with est.variable_scope("ConvNet", reuse=reuse):
    ...         return est.layers.dense(x, units=3)
    >>> scope = ModelScope()
    >>> with scope.call("train"):
    ...     a, b = net(torch.ones(1, 2), reuse=False), net(torch.ones(1, 2), reuse=True)
    >>> scope.variable_names(), torch.equal(a, b)
    (['ConvNet/dense/kernel', 'ConvNet/dense/bias'], True)
    """
    if reuse is not None and reuse is not AUTO_REUSE and not isinstance(reuse, bool):
        raise ValueError(f"variable_scope: reuse must be True, False, None or est.AUTO_REUSE, "
                         f"got {reuse!r}")
    scope = current_scope()
    absolute = isinstance(name_or_scope, VariableScope)
    if isinstance(name_or_scope, VariableScope):
        name = name_or_scope.name
        if reuse is None:
            reuse = name_or_scope.reuse
    elif name_or_scope is None:
        if default_name is None:
            raise TypeError("variable_scope: if name_or_scope is None, default_name must be "
                            "given")
        name = scope.unique_scope_name(default_name)
    elif isinstance(name_or_scope, str):
        name = name_or_scope
    else:
        raise TypeError(f"variable_scope: name_or_scope must be a str or a VariableScope, got "
                        f"{type(name_or_scope).__name__}")
    return _EnteredScope(scope, name, reuse, absolute)


class _EnteredScope:
    """The context manager :func:`variable_scope` returns (one per ``with``)."""

    __slots__ = ("scope", "name", "reuse", "absolute", "saved")

    def __init__(self, scope: ModelScope, name: str, reuse: Any, absolute: bool) -> None:
        self.scope, self.name, self.reuse, self.absolute = scope, name, reuse, absolute

    def __enter__(self) -> VariableScope:
        full, self.saved = self.scope.push_name_scope(self.name, self.reuse, self.absolute)
        return VariableScope(full, self.scope.reuse)

    def __exit__(self, *exc: Any) -> None:
        self.scope.pop_name_scope(self.saved)



def trainable_variables(scope: Optional[str] = None) -> List[nn.Parameter]:
    """The trainable parameters created so far, in creation order, as ``tf.trainable_variables``.

    Each has a TF-style ``.name`` (``dense/kernel:0``), so filters such as
    ``[v for v in est.trainable_variables() if "batch_normalization" not in v.name]`` work;
    ``scope`` keeps those whose name starts with it.

    >>> import torch, estimator as est
    >>> from estimator.scope import ModelScope
    >>> with ModelScope().call("train"):
    ...     _ = est.layers.dense(torch.ones(1, 2), units=3)
    ...     [v.name for v in est.trainable_variables()]
    ['dense/kernel:0', 'dense/bias:0']
    """
    return [v for v in global_variables(scope) if v.requires_grad]


class NamedParameter(nn.Parameter):
    """An ``nn.Parameter`` that also answers TF's ``.name`` (``dense/kernel:0``)."""

    @property
    def name(self) -> Optional[str]:
        return self.__dict__.get("_tf_name")


def global_variables(scope: Optional[str] = None) -> List[nn.Parameter]:
    """Every parameter created so far (trainable or not), with TF-style ``.name``."""
    result = []
    for key, param in current_scope().root.named_parameters():
        name = to_path(key) + ":0"
        if scope is None or name.startswith(scope):
            if type(param) is nn.Parameter:  # a plain Parameter gains .name, nothing else
                param.__class__ = NamedParameter
            param.__dict__["_tf_name"] = name
            result.append(param)
    return result


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
    path = scope.unique_name(name, name, shared=True)
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
