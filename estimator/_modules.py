"""What the model scope does to modules as they are created: ``torch.compile``, channels_last.

**Compile.** ``RunConfig(compile=...)`` and ``est.get_module(..., compile=...)`` compile a
module *in place* (``nn.Module.compile``): its ``forward`` runs through ``torch.compile`` while
the module stays where it is in the scope's tree, so checkpoint keys keep their names (no
``_orig_mod.`` prefix). A module that the factory already wrapped with ``torch.compile`` is
unwrapped the same way. Dynamo compiles again only when a guard fails: a new input shape (the
second shape makes that dimension dynamic, so a third compiles nothing new), train/eval mode,
or autocast turned on/off. What is compiled is the ``nn.Module``s given to ``get_module``, not
a ``model_fn`` of ``est.layers`` calls: that ``model_fn`` is Python over the model scope and
reads the global step, so Dynamo would compile it again at every step (measured: 6 graphs in
6 steps). Put the network in an ``nn.Module`` to compile it.

**channels_last.** ``RunConfig(channels_last=True)`` stores 4-D parameters (conv kernels) in
the channels_last memory format on CUDA, where cuDNN's NHWC kernels can use them without a
conversion (``est.layers`` already runs NHWC activations). Off by default: not yet measured.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

import torch
from torch import nn

CompileSetting = Any  # False/None, True, a backend name, or a dict of torch.compile kwargs


def compile_options(setting: CompileSetting, where: str = "RunConfig: compile") -> Optional[Dict[str, Any]]:
    """``torch.compile`` keyword arguments for a ``compile`` setting (``None``: do not compile).

    >>> compile_options(True), compile_options("aot_eager"), compile_options(False)
    ({}, {'backend': 'aot_eager'}, None)
    """
    if setting is None or setting is False:
        return None
    if setting is True:
        return {}
    if isinstance(setting, str):
        return {"backend": setting}
    if isinstance(setting, dict):
        return dict(setting)
    raise ValueError(f"{where} must be a bool, a torch.compile backend name or a dict of "
                     f"torch.compile keyword arguments, got {setting!r}")


def _is_compiled_wrapper(module: Any) -> bool:
    return isinstance(module, nn.Module) and hasattr(module, "_orig_mod") and \
        hasattr(module, "dynamo_ctx")


def unwrap_compiled(module: Any) -> Any:
    """The module inside a ``torch.compile(module)`` wrapper, compiled in place the same way.

    ``torch.compile(m)`` returns a wrapper whose ``state_dict`` keys start with ``_orig_mod.``;
    ``nn.Module.compile`` compiles ``m`` itself. This turns the first into the second.
    """
    if not _is_compiled_wrapper(module):
        return module
    inner = module._orig_mod
    # What nn.Module.compile does, with the wrapper's own compile settings.
    inner._compiled_call_impl = module.dynamo_ctx(inner._call_impl)
    return inner


def is_compiled(module: nn.Module) -> bool:
    return getattr(module, "_compiled_call_impl", None) is not None


def compile_in_place(module: nn.Module, options: Dict[str, Any]) -> nn.Module:
    if not is_compiled(module):
        module.compile(**options)
    return module


def to_channels_last(module: nn.Module) -> None:
    """Store the 4-D parameters and buffers of ``module`` channels_last (in place)."""
    module.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # torch stub omits it
