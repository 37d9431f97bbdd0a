"""Evaluation and prediction over many ranks: global metrics and loss, gathered predictions.

Each rank evaluates its own shard to its end (evaluation takes no synchronous steps, so shards
may be uneven), then the ranks combine: the batch-size-weighted loss and the state of every
metric with sum-reducible ``state_tensors()`` (``est.metrics``, or any object that offers them)
are summed over the ranks (a rank with no batches adds nothing), torchmetrics objects
synchronise themselves in ``compute()``, and the results of the first rank that had batches go
to every rank, so ``evaluate`` returns the same dict everywhere. A metric object of another kind
keeps its own rank's value (with a warning).
"""

from __future__ import annotations

import logging
from typing import Any, Dict, Iterable, Iterator, List, Optional

import torch

from estimator._loop import EvalOps
from estimator.distribute._group import Distribution
from estimator.spec import is_metric_object

logger = logging.getLogger("estimator")


def _metric_object(op: Any) -> Optional[Any]:
    if is_metric_object(op):
        return op
    metric = getattr(op, "metric", None)
    if is_metric_object(metric):
        return metric
    if isinstance(op, tuple) and is_metric_object(op[0]):
        return op[0]
    return None


class ReducedEvalOps(EvalOps):
    """``EvalOps`` whose results cover every rank's examples."""

    def __init__(self, d: Distribution, *args: Any) -> None:
        super().__init__(*args)
        self._d = d

    def finish(self, reason: str) -> None:
        d = self._d
        metrics = {name: _metric_object(op) for name, op in self._ops.items()}
        ours: Dict[str, Any] = {name: m for name, m in metrics.items()
                if callable(getattr(m, "state_tensors", None))}
        local = {"count": self._count, "loss": float(self._loss_sum),
                 "states": {name: {k: t.detach().cpu() for k, t in m.state_tensors().items()}
                            for name, m in ours.items()}}
        everyone = _all_gather(d, local)
        count = sum(r["count"] for r in everyone)
        if count == 0:
            raise ValueError("evaluate(): input_fn yielded no batches on any rank; nothing to "
                             "evaluate")
        for name, metric in ours.items():
            for key, tensor in metric.state_tensors().items():
                total = sum(r["states"][name][key] for r in everyone if name in r["states"])
                tensor.copy_(total.to(tensor.device, tensor.dtype))
        others = sorted(n for n, m in metrics.items() if m is not None and n not in ours
                        and not hasattr(m, "sync_on_compute"))
        if others or any(m is None for m in metrics.values()):
            logger.warning("eval_metric_ops %s are not est.metrics or torchmetrics objects, so "
                           "they are not combined across ranks: their values are the first "
                           "evaluating rank's.", others or
                           sorted(n for n, m in metrics.items() if m is None))
        self._loss_sum = sum(r["loss"] for r in everyone)
        self._count = count
        if self._batches:
            super().finish(reason)
        first = next(r for r, info in enumerate(everyone) if info["count"])
        box: List[Any] = [self.results if d.rank == first else None]
        torch.distributed.broadcast_object_list(box, src=first, group=d.control)
        self.results = box[0]


def _all_gather(d: Distribution, obj: Any) -> List[Any]:
    out: List[Any] = [None] * d.world_size
    torch.distributed.all_gather_object(out, obj, group=d.control)
    return out


def gathered_predictions(d: Distribution, outputs: Iterable[Any]) -> Iterator[Any]:
    """Rank 0 yields every rank's predictions, interleaved one by one; other ranks none."""
    mine = list(outputs)
    everyone = d.gather_objects(mine)
    if everyone is None:
        return
    longest = max(len(x) for x in everyone)
    for i in range(longest):
        for rank_outputs in everyone:
            if i < len(rank_outputs):
                yield rank_outputs[i]
