"""Synchronous data parallelism over the model scope with ``DistributedDataParallel``.

``model_fn`` creates the parameters during the first step, so DDP cannot wrap the root module
before that step. Parameters are made equal on every rank the moment they are created (rank 0's
values are broadcast), the first step averages gradients parameter by parameter in backward
hooks, and from the second step on each ``model_fn`` call runs inside the forward of a DDP over
the root module, so DDP's bucketed all-reduce overlaps backward. The root module is never
replaced: checkpoint keys and ``est.get_module`` names are the unwrapped ones, so a checkpoint
moves freely between one and many processes.

Every rank must create the same parameters in the same order (the same ``model_fn`` on batches
of the same structure does). A parameter created after the first step rebuilds the DDP wrapper.
One train op runs per step; parameters that get no gradient in some steps need
``DistributeConfig(find_unused_parameters=True)``.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any, Callable, Dict, List, Optional

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from estimator.distribute._group import Distribution

logger = logging.getLogger("estimator")

_HAS_FORWARD_SYNC = "forward_sync_buffers" in inspect.signature(
    DistributedDataParallel.__init__).parameters


class _StepModule(nn.Module):
    """DDP's module: the scope's root; its forward is one ``model_fn`` call."""

    def __init__(self, root: nn.Module) -> None:
        super().__init__()
        self.root = root

    def forward(self, call: Callable[[Any, Any], Any], features: Any, labels: Any) -> Any:
        spec = call(features, labels)
        return getattr(spec, "loss", None), spec


def broadcast_new(d: Distribution) -> Callable[[Any], None]:
    """A scope creation hook: rank 0's values of a new module or parameter on every rank."""

    def hook(obj: Any) -> None:
        with torch.no_grad():
            tensors = [obj] if isinstance(obj, torch.Tensor) else list(
                obj.state_dict(keep_vars=True).values())
            for t in tensors:
                dist.broadcast(t.data if isinstance(t, nn.Parameter) else t, src=0,
                               group=None if t.device.type == "cuda" else d.control)

    return hook


class DataParallelTrain:
    """Wraps ``call_model_fn`` for training so that gradients are averaged over the ranks."""

    def __init__(self, scope: Any, d: Distribution, call_model_fn: Callable[[Any, Any], Any]
                 ) -> None:
        self._scope, self._d, self._call = scope, d, call_model_fn
        self._ddp: Optional[DistributedDataParallel] = None
        self._version = -1
        self._hooks: List[Any] = []

    def __call__(self, features: Any, labels: Any) -> Any:
        self._remove_hooks()
        if self._ddp is None and not any(True for _ in self._scope.root.parameters()):
            spec = self._call(features, labels)  # the first step builds the parameters
            self._average_in_backward()
            return spec
        if self._ddp is None or self._version != self._scope.version:
            self._wrap()
        assert self._ddp is not None  # built by _wrap()
        loss, spec = self._ddp(self._call, features, labels)
        train_op: Any = getattr(spec, "train_op", None)
        if loss is not None and getattr(train_op, "loss", None) is spec.loss:
            train_op.loss = loss  # DDP may route the loss through its own autograd function
        if self._version != self._scope.version:
            # parameters created during this call missed DDP: average them in backward
            self._average_in_backward(only_new=True)
        return spec

    def _wrap(self) -> None:
        if self._ddp is not None:
            logger.warning("model_fn created parameters after the first step; rebuilding the "
                           "DistributedDataParallel wrapper.")
        cfg = self._d.config
        cuda = self._d.device.type == "cuda"
        # torch renamed broadcast_buffers to forward_sync_buffers (same meaning for True)
        buffers = ("forward_sync_buffers" if cfg.broadcast_buffers and _HAS_FORWARD_SYNC
                   else "broadcast_buffers")
        sync_buffers: Dict[str, Any] = {buffers: cfg.broadcast_buffers}
        self._ddp = DistributedDataParallel(
            _StepModule(self._scope.root),
            device_ids=[self._d.device] if cuda else None,
            find_unused_parameters=cfg.find_unused_parameters,
            **sync_buffers)
        self._version = self._scope.version

    def _average_in_backward(self, only_new: bool = False) -> None:
        known = set()
        if only_new and self._ddp is not None:
            known = {id(p) for p in self._ddp.module.parameters()}
        world = self._d.world_size
        group = None if self._d.device.type == "cuda" else self._d.control

        def average(p: torch.Tensor) -> None:
            if p.grad is not None:
                dist.all_reduce(p.grad, group=group)
                p.grad.div_(world)

        for p in self._scope.root.parameters():
            if p.requires_grad and id(p) not in known:
                self._hooks.append(p.register_post_accumulate_grad_hook(average))

    def _remove_hooks(self) -> None:
        for handle in self._hooks:
            handle.remove()
        self._hooks = []
