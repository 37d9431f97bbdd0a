"""``ModeKeys`` and ``EstimatorSpec``: what a ``model_fn`` returns, validated per mode as in TF."""

from __future__ import annotations

from collections import abc
import dataclasses
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from estimator.hooks import SessionRunHook


class ModeKeys:
    """The three modes a ``model_fn`` is called in.

    >>> ModeKeys.PREDICT == ModeKeys.INFER == "infer"
    True
    """

    TRAIN = "train"
    EVAL = "eval"
    PREDICT = "infer"
    INFER = PREDICT

    ALL: Tuple[str, ...] = (TRAIN, EVAL, PREDICT)


Predictions = Union[torch.Tensor, Mapping[str, torch.Tensor]]


def _check_loss(loss: Any, mode: str) -> Optional[torch.Tensor]:
    if loss is None:
        return None
    if not isinstance(loss, torch.Tensor):
        raise TypeError(
            f"EstimatorSpec(mode={mode!r}): loss must be a scalar torch.Tensor, got "
            f"{type(loss).__name__}; return the tensor itself (do not call .item())"
        )
    if not (loss.is_floating_point() or loss.is_complex()):
        raise TypeError(
            f"EstimatorSpec(mode={mode!r}): loss must be a floating-point tensor, got dtype "
            f"{loss.dtype}; compute it from the logits (e.g. F.cross_entropy), or .float() it"
        )
    if loss.dim() != 0 and loss.numel() == 1:  # TF reshapes shape [1], [1, 1], ... to []
        loss = loss.reshape(())
    if loss.dim() != 0:
        raise ValueError(
            f"EstimatorSpec(mode={mode!r}): loss must be a scalar, got shape "
            f"{tuple(loss.shape)}; reduce it, e.g. loss.mean()"
        )
    return loss


def _check_predictions(predictions: Any, mode: str) -> Any:
    if predictions is None or isinstance(predictions, torch.Tensor):
        return predictions
    if isinstance(predictions, abc.Mapping):
        for key, value in predictions.items():
            # numpy arrays carry string predictions (a classifier's "classes", as TF's bytes)
            if not isinstance(key, str) or not isinstance(value, (torch.Tensor, np.ndarray)):
                raise TypeError(
                    f"EstimatorSpec(mode={mode!r}): predictions must map str keys to tensors "
                    f"(or numpy arrays); key {key!r} holds {type(value).__name__}"
                )
        return dict(predictions)
    raise TypeError(
        f"EstimatorSpec(mode={mode!r}): predictions must be a tensor or a dict of tensors, "
        f"got {type(predictions).__name__}"
    )


def is_metric_object(obj: Any) -> bool:
    """True for torchmetrics-style objects (``update``/``compute``/``reset``)."""
    return all(callable(getattr(obj, name, None)) for name in ("update", "compute", "reset"))


def _check_metric_ops(ops: Any, mode: str) -> Optional[Dict[str, Any]]:
    if ops is None:
        return None
    if not isinstance(ops, abc.Mapping):
        raise TypeError(
            f"EstimatorSpec(mode={mode!r}): eval_metric_ops must be a dict of name -> metric, "
            f"got {type(ops).__name__}"
        )
    for name, op in ops.items():
        if is_metric_object(op):
            continue
        if isinstance(op, tuple) and len(op) == 2:
            if is_metric_object(op[0]):
                continue
            bad = [i for i, part in enumerate(op) if not _is_value(part)]
            if not bad:
                continue
            raise TypeError(
                f"EstimatorSpec(mode={mode!r}): eval_metric_ops[{name!r}] must be a "
                f"(value, update_op) pair of tensors (or numbers); element {bad[0]} is a "
                f"{type(op[bad[0]]).__name__}: {op[bad[0]]!r:.60}")
        raise TypeError(
            f"EstimatorSpec(mode={mode!r}): eval_metric_ops[{name!r}] must be a "
            f"(value, update_op) pair from est.metrics, a (metric, args) pair, or an object with "
            f"update/compute/reset; got {type(op).__name__}"
        )
    return dict(ops)


def _is_value(x: Any) -> bool:
    return isinstance(x, torch.Tensor) or (isinstance(x, (int, float)) and not isinstance(x, bool))


def _check_hooks(hooks: Any, field: str, mode: str) -> Tuple[Any, ...]:
    if isinstance(hooks, SessionRunHook):  # one hook for a list of them
        return (hooks,)
    if not hooks:
        return ()
    hooks = tuple(hooks)
    for hook in hooks:
        if not isinstance(hook, SessionRunHook):
            raise TypeError(
                f"EstimatorSpec(mode={mode!r}): {field} must hold SessionRunHook instances, "
                f"got {type(hook).__name__}"
            )
    return hooks


@dataclasses.dataclass(frozen=True)
class EstimatorSpec:
    """Everything the Estimator needs from one ``model_fn`` call.

    Validated when built, per mode: ``TRAIN`` needs ``loss`` and ``train_op``, ``EVAL`` needs
    ``loss``, ``PREDICT`` needs ``predictions``; ``loss`` must be a scalar tensor.

    ``eval_metric_ops`` values may be ``(value, update_op)`` pairs from ``est.metrics``,
    ``(metric, args)`` pairs where ``metric`` has ``update``/``compute``/``reset`` (the
    Estimator then calls ``metric.update(*args)`` for each batch), or such a metric object alone
    (then ``model_fn`` calls ``metric.update(...)`` itself).

    >>> import torch
    >>> EstimatorSpec(ModeKeys.PREDICT, predictions={"y": torch.zeros(2)}).mode
    'infer'
    >>> EstimatorSpec(ModeKeys.EVAL)
    Traceback (most recent call last):
    ...
    ValueError: EstimatorSpec(mode='eval'): missing loss; EVAL needs loss=<scalar tensor>
    """

    mode: str
    predictions: Optional[Predictions] = None
    loss: Optional[torch.Tensor] = None
    train_op: Optional[Callable[[], Any]] = None
    eval_metric_ops: Optional[Dict[str, Any]] = None
    export_outputs: Optional[Dict[str, Any]] = None
    training_hooks: Sequence[Any] = ()
    evaluation_hooks: Sequence[Any] = ()
    prediction_hooks: Sequence[Any] = ()

    def __post_init__(self) -> None:
        mode = self.mode
        if mode not in ModeKeys.ALL:
            raise ValueError(
                f"EstimatorSpec: mode must be one of {ModeKeys.ALL} (est.ModeKeys), got {mode!r}"
            )
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731
        set_("loss", _check_loss(self.loss, mode))
        set_("predictions", _check_predictions(self.predictions, mode))
        set_("eval_metric_ops", _check_metric_ops(self.eval_metric_ops, mode))
        for field in ("training_hooks", "evaluation_hooks", "prediction_hooks"):
            set_(field, _check_hooks(getattr(self, field), field, mode))
        if self.train_op is not None and not callable(self.train_op):
            raise TypeError(
                f"EstimatorSpec(mode={mode!r}): train_op must be the TrainOp returned by "
                f"optimizer.minimize(...) (or a callable), got {type(self.train_op).__name__}"
            )
        if mode == ModeKeys.TRAIN:
            if self.loss is None:
                raise ValueError(
                    f"EstimatorSpec(mode={mode!r}): missing loss; TRAIN needs loss=<scalar tensor>"
                )
            if self.train_op is None:
                raise ValueError(
                    f"EstimatorSpec(mode={mode!r}): missing train_op; TRAIN needs "
                    "train_op=optimizer.minimize(loss, global_step=est.train.get_global_step())"
                )
        elif mode == ModeKeys.EVAL and self.loss is None:
            raise ValueError(
                f"EstimatorSpec(mode={mode!r}): missing loss; EVAL needs loss=<scalar tensor>"
            )
        elif mode == ModeKeys.PREDICT and self.predictions is None:
            raise ValueError(
                f"EstimatorSpec(mode={mode!r}): missing predictions; PREDICT needs "
                "predictions=<tensor or dict of tensors>"
            )

    def _replace(self, **changes: Any) -> "EstimatorSpec":
        """A copy with ``changes``, validated again (TF's namedtuple ``_replace``).

        >>> import torch
        >>> spec = EstimatorSpec(ModeKeys.PREDICT, predictions=torch.zeros(2))
        >>> spec._replace(mode=ModeKeys.EVAL, loss=torch.tensor(1.0)).mode
        'eval'
        """
        return dataclasses.replace(self, **changes)

    def hooks_for_mode(self) -> Sequence[Any]:
        """The hooks of this spec's own mode."""
        return {
            ModeKeys.TRAIN: self.training_hooks,
            ModeKeys.EVAL: self.evaluation_hooks,
            ModeKeys.PREDICT: self.prediction_hooks,
        }[self.mode]
