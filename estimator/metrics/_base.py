"""The :class:`Metric` base class of ``est.metrics``: state tensors, their handling, shape rules.

A metric's state is a set of sum-reducible tensors on one device (so replicas combine by summing
them); this module also holds the input rules that every metric shares, TF 1.x's squeezing of a
trailing size-1 dimension and its broadcasting of ``weights``.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Sequence, Tuple, Union

import torch

TensorLike = Union[torch.Tensor, float, int, bool, Sequence[Any]]
DeviceLike = Union[torch.device, str, None]


def _state_dtype(device: torch.device) -> torch.dtype:
    # float64 keeps counts exact far past 2**24 examples; MPS has no float64.
    return torch.float32 if device.type == "mps" else torch.float64


def _div_no_nan(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    """``num / den``, 0 where ``den`` is 0 (TF's ``div_no_nan``), without a host sync."""
    zero = den == 0
    return torch.where(
        zero, torch.zeros_like(num), num / torch.where(zero, torch.ones_like(den), den)
    )


_NO_LABELS: Any = object()  # Mean and friends take values without labels


class Metric:
    """Base class of streaming metrics: sum-reducible state tensors on one device.

    Subclasses declare their state in ``__init__`` with :meth:`add_state` (read back as
    attributes, e.g. ``self.total``) and implement ``_update(...)`` (add a batch in place, under
    ``torch.no_grad``, without reading values to the host) and ``_compute()``.

    >>> from estimator.metrics import Mean
    >>> m = Mean()
    >>> m.update(torch.tensor([1.0, 2.0, 3.0]))
    >>> float(m.compute())
    2.0
    """

    tf_name = "metric"  # the est.metrics function that creates this class; used in errors

    def __init__(self, device: DeviceLike = None) -> None:
        self._device = torch.device(device) if device is not None else torch.device("cpu")
        self._states: Dict[str, torch.Tensor] = {}

    def __getattr__(self, name: str) -> torch.Tensor:
        states = self.__dict__.get("_states")
        if states is not None and name in states:
            return states[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def add_state(self, name: str, shape: Tuple[int, ...] = ()) -> None:
        """Declare a zero-initialised, sum-reducible state tensor called ``name``."""
        self._states[name] = torch.zeros(
            shape, dtype=_state_dtype(self._device), device=self._device
        )

    @property
    def device(self) -> torch.device:
        """The device that holds the state tensors."""
        return self._device

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Add a batch to the state (no gradient, no host sync)."""
        with torch.no_grad():
            self._update(*args, **kwargs)

    def compute(self) -> torch.Tensor:
        """The metric over everything added since the last reset: a 0-d float32 tensor."""
        with torch.no_grad():
            return self._compute().to(torch.float32)

    def reset(self) -> None:
        """Zero every state tensor in place."""
        for tensor in self._states.values():
            tensor.zero_()

    def to(self, device: Union[torch.device, str]) -> "Metric":
        """Move the state to ``device`` (kept values included); returns ``self``."""
        self._device = torch.device(device)
        dtype = _state_dtype(self._device)
        self._states = {k: t.to(self._device, dtype) for k, t in self._states.items()}
        return self

    def state_tensors(self) -> Dict[str, torch.Tensor]:
        """The live state tensors by name; each is summed across replicas when distributed."""
        return dict(self._states)

    def sync(self, reduce_fn: Callable[[torch.Tensor], Optional[torch.Tensor]]) -> None:
        """Reduce every state tensor across replicas with ``reduce_fn`` (a sum).

        ``reduce_fn`` gets each state tensor in :meth:`state_tensors` order and either reduces it
        in place (``torch.distributed.all_reduce``) or returns the reduced tensor.
        """
        for tensor in self._states.values():
            reduced = reduce_fn(tensor)
            if reduced is not None and reduced is not tensor:
                tensor.copy_(reduced)

    def state_dict(self) -> Dict[str, torch.Tensor]:
        """Copies of the state tensors, for checkpoints."""
        return {k: t.detach().clone() for k, t in self._states.items()}

    def load_state_dict(self, state_dict: Dict[str, torch.Tensor]) -> None:
        """Load state saved by :meth:`state_dict`; keys and shapes must match exactly."""
        missing = sorted(set(self._states) - set(state_dict))
        unexpected = sorted(set(state_dict) - set(self._states))
        if missing or unexpected:
            raise KeyError(
                f"{type(self).__name__}.load_state_dict: missing keys {missing}, unexpected keys "
                f"{unexpected}; expected exactly {sorted(self._states)}. Was the state saved from "
                f"a different metric or configuration?"
            )
        for key, tensor in self._states.items():
            value = torch.as_tensor(state_dict[key])
            if value.shape != tensor.shape:
                raise ValueError(
                    f"{type(self).__name__}.load_state_dict: state {key!r} has shape "
                    f"{tuple(value.shape)}, expected {tuple(tensor.shape)}; was it saved with "
                    f"another configuration (e.g. num_thresholds)?"
                )
            tensor.copy_(value)

    @classmethod
    def settings(cls, **kwargs: Any) -> Dict[str, Any]:
        """Normalised constructor arguments (other than ``device``), validated.

        A metric that a ``model_fn`` finds again by name must have been made with equal settings.
        """
        if kwargs:
            raise TypeError(f"{cls.__name__} takes no settings, got {sorted(kwargs)}.")
        return {}

    def config(self) -> Dict[str, Any]:
        """This metric's :meth:`settings`."""
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args}{', ' if args else ''}device={str(self._device)!r})"

    def _update(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement _update")

    def _compute(self) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} must implement _compute")

    # -- input handling shared by the subclasses (TF's shape rules) --

    def _tensor(self, value: TensorLike, arg: str) -> torch.Tensor:
        if value is None:
            raise TypeError(f"{self.tf_name}: `{arg}` is None; pass a tensor.")
        # non_blocking only towards CUDA: a non-blocking copy to the CPU could be read too early.
        return torch.as_tensor(value).to(self._device, non_blocking=self._device.type == "cuda")

    def _inputs(
        self,
        predictions: TensorLike,
        weights: Optional[TensorLike],
        labels: Any = _NO_LABELS,
        pred_arg: str = "predictions",
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor], Optional[torch.Tensor]]:
        """Convert ``predictions``, ``labels`` (when the metric has them) and ``weights`` to
        tensors on the metric's device, then apply :meth:`_align`."""
        predictions = self._tensor(predictions, pred_arg)
        labels = None if labels is _NO_LABELS else self._tensor(labels, "labels")
        weights = None if weights is None else self._tensor(weights, "weights")
        return self._align(predictions, labels, weights, pred_arg)

    def _align(
        self,
        predictions: torch.Tensor,
        labels: Optional[torch.Tensor],
        weights: Optional[torch.Tensor],
        pred_arg: str = "predictions",
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor], Optional[torch.Tensor]]:
        """TF's ``_remove_squeezable_dimensions`` + ``broadcast_weights``, on static shapes only.

        A trailing size-1 dimension of ``labels`` or ``predictions`` is squeezed when the ranks
        differ by one; ``weights`` then gains or loses a trailing dimension to match the rank of
        ``predictions`` (so per-example weights of shape ``[batch]`` work) and must broadcast to it.
        """
        if labels is not None:
            rank_diff = predictions.dim() - labels.dim()
            if rank_diff == 1 and predictions.shape[-1] == 1:
                predictions = predictions.squeeze(-1)
            elif rank_diff == -1 and labels.shape[-1] == 1:
                labels = labels.squeeze(-1)
            if predictions.shape != labels.shape:
                raise ValueError(
                    f"{self.tf_name}: `{pred_arg}` has shape {tuple(predictions.shape)} but "
                    f"`labels` has shape {tuple(labels.shape)}; they must match (a trailing "
                    f"dimension of size 1 is squeezed). For class predictions pass "
                    f"`logits.argmax(1)`, not logits."
                )
        if weights is not None and weights.dim() > 0:
            rank_diff = weights.dim() - predictions.dim()
            if rank_diff == 1 and weights.shape[-1] == 1:
                weights = weights.squeeze(-1)
            elif rank_diff == -1:
                weights = weights.unsqueeze(-1)
            if weights.dim() != predictions.dim() or any(
                w not in (1, p) for w, p in zip(weights.shape, predictions.shape)
            ):
                raise ValueError(
                    f"{self.tf_name}: `weights` of shape {tuple(weights.shape)} cannot be "
                    f"broadcast to `{pred_arg}` of shape {tuple(predictions.shape)}; weights must "
                    f"be a scalar, per-example (shape [batch]) or of the same rank with each "
                    f"dimension 1 or equal to that of `{pred_arg}`."
                )
        return predictions, labels, weights
