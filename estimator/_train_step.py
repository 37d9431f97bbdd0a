"""One optimizer step of a ``TrainOp``: loss scaling, accumulation, clipping, the update.

The Estimator owns the step, so these need no user code:

- **fp16 loss scaling** (``RunConfig(mixed_precision="fp16")``, see :mod:`estimator._precision`):
  the loss is scaled before ``backward``, the gradients unscaled before clipping, and a step
  with inf/NaN gradients is skipped without advancing the global step.
- **Accumulation** (``minimize(..., gradient_accumulation_steps=k)``): ``k`` consecutive
  batches add their gradients (each loss divided by ``k``, so the sum is the mean over the
  ``k`` batches) and the optimizer steps once, on the ``k``-th. The global step counts
  optimizer steps, so ``max_steps``, schedules, logging and checkpoints count updates, and
  ``k`` batches of ``b`` train exactly as one batch of ``k * b`` (for a mean loss).
- **Clipping** (``minimize(..., clip_norm=c)``): all gradients are scaled by
  ``c / max(global_norm, c)`` before the update, as ``tf.clip_by_global_norm`` (and
  ``optimize_loss(clip_gradients=c)``) do, on the device, without a host sync.

The state between steps (the loss scaler; gradients summed so far when a checkpoint falls in
the middle of an accumulation) is saved in checkpoints under ``scope["train_ops"]``, so a
resumed run continues exactly.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

from estimator import _precision


@dataclasses.dataclass(frozen=True)
class StepOptions:
    """What ``minimize`` asked of the step besides the update itself."""

    clip_norm: Optional[float] = None
    accumulation_steps: int = 1

    def __post_init__(self) -> None:
        c = self.clip_norm
        if c is not None and (isinstance(c, bool) or not isinstance(c, (int, float)) or c <= 0):
            raise ValueError(f"minimize(): clip_norm must be a positive number or None, got {c!r}")
        k = self.accumulation_steps
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"minimize(): gradient_accumulation_steps must be an int >= 1, "
                             f"got {k!r}")


#: no clipping, no accumulation: the step most train ops take
PLAIN_STEP = StepOptions()


# -- clipping ---------------------------------------------------------------------------------
def global_norm(tensors: Sequence[Optional[torch.Tensor]]) -> torch.Tensor:
    """``sqrt(sum(l2_norm(t) ** 2))`` over the non-``None`` tensors, as ``tf.linalg.global_norm``.

    >>> float(global_norm([torch.tensor([3.0]), None, torch.tensor([4.0])]))
    5.0
    """
    present = [t for t in tensors if t is not None]
    if not present:
        return torch.zeros(())
    device = present[0].device
    norms = [n.to(device, torch.float32) for n in torch._foreach_norm(present)]
    return torch.linalg.vector_norm(torch.stack(norms))


def _clip_scale(norm: torch.Tensor, clip_norm: float) -> torch.Tensor:
    # TF's formula: a NaN scale (so NaN tensors) when the norm is inf or NaN.
    finite_scale = clip_norm * torch.minimum(1.0 / norm, torch.ones_like(norm) / clip_norm)
    return finite_scale + (norm - norm)


def clip_by_global_norm(t_list: Sequence[Optional[torch.Tensor]], clip_norm: float,
                        use_norm: Optional[torch.Tensor] = None
                        ) -> Tuple[List[Optional[torch.Tensor]], torch.Tensor]:
    """``tf.clip_by_global_norm``: scale every tensor by ``clip_norm / max(global_norm, clip_norm)``.

    Returns ``(list_clipped, global_norm)``; ``None`` entries stay ``None``. If the global norm
    is inf or NaN, every tensor becomes NaN, as in TF. ``torch.nn.utils.clip_grad_norm_``
    differs only by the ``1e-6`` it adds to the norm.

    >>> clipped, norm = clip_by_global_norm([torch.tensor([3.0, 4.0])], 1.0)
    >>> clipped[0].tolist(), float(norm)
    ([0.6000000238418579, 0.800000011920929], 5.0)
    """
    if isinstance(clip_norm, bool) or not isinstance(clip_norm, (int, float, torch.Tensor)) \
            or float(clip_norm) <= 0:
        raise ValueError(f"clip_by_global_norm: clip_norm must be a positive number, got "
                         f"{clip_norm!r}")
    norm = global_norm(t_list) if use_norm is None else use_norm
    scale = _clip_scale(norm, float(clip_norm))
    clipped = [None if t is None else t * scale.to(t.device, t.dtype) for t in t_list]
    return clipped, norm


def clip_gradients_(params: Sequence[nn.Parameter], clip_norm: float) -> torch.Tensor:
    """Clip the gradients of ``params`` in place by their global norm; return that norm."""
    grads = [p.grad for p in params if p.grad is not None]
    norm = global_norm(grads)
    if grads:
        scale = _clip_scale(norm, float(clip_norm))
        by_dtype: Dict[Tuple[torch.device, torch.dtype], List[torch.Tensor]] = {}
        for g in grads:
            by_dtype.setdefault((g.device, g.dtype), []).append(g)
        for (device, dtype), group in by_dtype.items():
            torch._foreach_mul_(group, scale.to(device, dtype))
    return norm


# -- state between steps ----------------------------------------------------------------------
def _group_params(opt: torch.optim.Optimizer) -> List[nn.Parameter]:
    return [p for group in opt.param_groups for p in group["params"]]


class StepState:
    """The loss scaler (fp16) and the accumulation count of one train op."""

    def __init__(self, scaler: Optional[torch.amp.GradScaler]) -> None:
        self.scaler = scaler
        self.micro_step = 0  # batches whose gradients are summed in .grad so far

    def state_dict(self, opt: torch.optim.Optimizer) -> Dict[str, Any]:
        state: Dict[str, Any] = {"micro_step": self.micro_step}
        if self.scaler is not None:
            state["scaler"] = self.scaler.state_dict()
        if self.micro_step:
            state["grads"] = [p.grad for p in _group_params(opt)]
        return state

    def load_state_dict(self, state: Dict[str, Any], opt: torch.optim.Optimizer,
                        name: str) -> None:
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.micro_step = int(state.get("micro_step", 0))
        grads = state.get("grads")
        if self.micro_step and grads is not None:
            params = _group_params(opt)
            if len(grads) != len(params):
                raise ValueError(f"the checkpoint's summed gradients of train op {name!r} are "
                                 f"for {len(grads)} parameters, the optimizer has {len(params)}")
            for p, g in zip(params, grads):
                p.grad = None if g is None else g.to(p.device, p.dtype)


class StepStates:
    """Every train op's :class:`StepState` in one run, with those waiting to be restored."""

    def __init__(self) -> None:
        self._live: Dict[str, StepState] = {}
        self._pending: Dict[str, Any] = {}

    def restore(self, saved: Optional[Dict[str, Any]]) -> None:
        """Keep ``saved`` (from a checkpoint) until each train op first steps."""
        self._pending = dict(saved or {})

    def get(self, name: str, opt: torch.optim.Optimizer, dtype: Optional[torch.dtype],
            device: torch.device) -> StepState:
        state = self._live.get(name)
        if state is None:
            scaler = (_precision.make_scaler(device) if _precision.needs_loss_scaling(dtype)
                      else None)
            state = self._live[name] = StepState(scaler)
            saved = self._pending.pop(name, None)
            if saved is not None:
                state.load_state_dict(saved, opt, name)
        return state

    def state_dict(self, optimizers: Dict[str, torch.optim.Optimizer]) -> Dict[str, Any]:
        """What a checkpoint keeps: only train ops with a scaler or a partial accumulation."""
        out = {}
        for name, state in self._live.items():
            if state.scaler is not None or state.micro_step:
                out[name] = state.state_dict(optimizers[name])
        return out


# -- the step ---------------------------------------------------------------------------------
def run(opt: torch.optim.Optimizer, loss: torch.Tensor, inputs: Optional[Sequence[torch.Tensor]],
        state: StepState, options: StepOptions) -> bool:
    """Backward and (on the last batch of an accumulation) the update; ``True`` if it updated.

    ``inputs`` restricts ``backward`` to those parameters (``var_list``).
    """
    return run_many([opt], loss, inputs, state, options)


def run_many(opts: Sequence[torch.optim.Optimizer], loss: torch.Tensor,
             inputs: Optional[Sequence[torch.Tensor]], state: StepState, options: StepOptions
             ) -> bool:
    """:func:`run` for optimizers over disjoint parameters (TF's grouped ``minimize`` ops):
    one backward, then each optimizer steps its own parameters. Clipping uses the global norm
    over all of them; under fp16 loss scaling a step with inf/NaN gradients in any part skips
    every optimizer, so that nothing advances. ``True`` if they updated."""
    k = options.accumulation_steps
    if state.micro_step == 0:
        for opt in opts:
            _zero_grad(opt)
    if k > 1:
        loss = loss / k
    scaler = state.scaler
    if scaler is not None:
        loss = scaler.scale(loss)
    if inputs is None:
        loss.backward()
    else:
        loss.backward(inputs=inputs)
    state.micro_step += 1
    if state.micro_step < k:
        return False
    state.micro_step = 0
    if scaler is None:
        if options.clip_norm is not None:
            clip_gradients_([p for opt in opts for p in _group_params(opt)], options.clip_norm)
        for opt in opts:
            opt.step()
        return True
    if len(opts) == 1 and options.clip_norm is None:
        scaler.step(opts[0])
        skipped = _step_was_skipped(scaler, opts[0])
        scaler.update()
        return not skipped
    for opt in opts:
        scaler.unscale_(opt)
    if options.clip_norm is not None:
        clip_gradients_([p for opt in opts for p in _group_params(opt)], options.clip_norm)
    skipped = any([_step_was_skipped(scaler, opt) for opt in opts])  # read every flag
    if not skipped:
        for opt in opts:
            scaler.step(opt)  # unscaled above: steps without a second unscale
    scaler.update()
    return not skipped


def _zero_grad(opt: torch.optim.Optimizer) -> None:
    """``opt.zero_grad(set_to_none=True)``: for torch's own ``zero_grad`` its loop, without
    the profiler range and dynamo wrapper around it (~25 us a step on the CPU)."""
    if type(opt).zero_grad is not torch.optim.Optimizer.zero_grad:
        opt.zero_grad(set_to_none=True)  # an optimizer with its own: call it
        return
    for group in opt.param_groups:
        for p in group["params"]:
            p.grad = None


def _step_was_skipped(scaler: torch.amp.GradScaler, opt: torch.optim.Optimizer) -> bool:
    """Whether ``scaler.step(opt)`` skipped the update (inf/NaN gradients); call before
    ``update()``. ``GradScaler.step`` has just read the same flags on the host, so this costs
    no further wait."""
    try:
        found = scaler._found_inf_per_device(opt)
    except (AttributeError, KeyError):  # a GradScaler without that helper: ask its state
        found = scaler._per_optimizer_states[id(opt)]["found_inf_per_device"]
    return any(bool(v) for v in found.values())
