"""The one step loop shared by ``train``, ``evaluate`` and ``predict``.

Read :func:`run_steps` top to bottom: take a batch, move it to the device, let hooks ask for
tensors, call ``model_fn`` inside the model scope, let the mode do its part (train: run the train
op; evaluate: accumulate loss and metrics; predict: hand out predictions), feed the hooks, then
the mode's bookkeeping (logging, summaries, checkpoints). Nothing here forces a host sync except
on logging, summary and checkpoint steps. The mode-specific parts are the small classes below.

The loop never pulls a batch ahead: the input iterator's ``state_dict()`` taken at a checkpoint
is exactly "after the batch of the step just done", so a resumed run continues with the next one.
Reading ahead and the host-to-device overlap belong to the pipeline (``prefetch``) and, for a
model on CUDA, to the device feed ``open_input`` puts after it (its state is the pipeline's own).
With ``RunConfig(mixed_precision=...)`` train and evaluate call ``model_fn`` under autocast.
"""

from __future__ import annotations

from collections import abc
import logging
import time
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple

import torch

from estimator import _precision
from estimator import summary as summary_lib
from estimator._validate import check_metric_names
from estimator.hooks import (FirstNonFinite, HookList, NanLossDuringTrainingError,
                             SessionRunContext, SessionRunValues)
from estimator.scope import ModelScope
from estimator.spec import EstimatorSpec, ModeKeys, is_metric_object

logger = logging.getLogger("estimator")


class LoopSession:
    """What hooks see of the run: ``global_step`` (live), ``mode`` and the logging cadence
    ``log_step_count_steps`` (``None`` outside training)."""

    def __init__(self, scope: ModelScope, mode: str,
                 log_step_count_steps: Optional[int] = None) -> None:
        self._scope, self.mode = scope, mode
        self.log_step_count_steps = log_step_count_steps

    @property
    def global_step(self) -> int:
        return self._scope.global_step

    @property
    def scope(self) -> ModelScope:
        """The live model scope (in-memory evaluation runs over it)."""
        return self._scope


# -- batches ----------------------------------------------------------------------------------
def split_element(element: Any) -> Tuple[Any, Any]:
    """A ``(features, labels)`` pair stays a pair (a ``[x, y]`` list from a ``DataLoader`` too);
    anything else is features without labels (a batch of two strings stays features)."""
    if type(element) is tuple and len(element) == 2:
        return element
    if type(element) is list and len(element) == 2 and not any(
            isinstance(x, (str, bytes, int, float)) for x in element):
        return element[0], element[1]
    return element, None


def make_mover(device: torch.device) -> Callable[[Any], Any]:
    """Move every tensor of a nested element to ``device``.

    On CUDA, CPU tensors are pinned and copied with ``non_blocking=True`` so the copy overlaps
    the host's work; numpy arrays become tensors.
    """
    cuda = device.type == "cuda"
    cpu = device.type == "cpu"

    def move(x: Any) -> Any:
        if isinstance(x, torch.Tensor):
            if (cpu and x.is_cpu) or x.device == device:
                return x
            if cuda and x.device.type == "cpu":
                x = x.pin_memory()
            return x.to(device, non_blocking=True)
        if isinstance(x, dict):
            return {k: move(v) for k, v in x.items()}
        if isinstance(x, (tuple, list)):
            items = [move(v) for v in x]
            return type(x)(*items) if hasattr(x, "_fields") else type(x)(items)
        if type(x).__module__ == "numpy" and hasattr(x, "shape"):
            return move(torch.as_tensor(x))
        return x

    return move


def batch_size(features: Any, labels: Any) -> int:
    """Leading dimension of the first tensor in ``labels``, else in ``features``."""
    for part in (labels, features):
        stack = [part]
        while stack:
            x = stack.pop(0)
            if isinstance(x, torch.Tensor):
                return int(x.shape[0]) if x.dim() else 1
            if isinstance(x, dict):
                stack.extend(x.values())
            elif isinstance(x, (tuple, list)):
                stack.extend(x)
    return 1


def resolve_fetches(fetches: Any, spec: EstimatorSpec,
                    named_tensors: Optional[Dict[str, Any]] = None) -> Any:
    """Replace tensor names in ``fetches`` by the detached tensors of ``spec`` or those named
    with ``est.identity`` (``name`` or ``name:0``)."""
    named: Dict[str, Any] = {}
    if spec.loss is not None:
        named["loss"] = spec.loss
    if isinstance(spec.predictions, dict):
        named.update(spec.predictions)
    elif spec.predictions is not None:
        named["predictions"] = spec.predictions
    for key, op in (spec.eval_metric_ops or {}).items():
        if isinstance(op, tuple) and isinstance(op[0], torch.Tensor):
            named.setdefault(key, op[1] if isinstance(op[1], torch.Tensor) else op[0])
    named.update(named_tensors or {})

    def one(f: Any) -> Any:
        if f is None:
            return None
        if isinstance(f, str):
            if f not in named and f.endswith(":0"):
                f = f[:-2]
            if f not in named:
                raise KeyError(f"hook fetch {f!r} is not a tensor of the EstimatorSpec; "
                               f"available: {sorted(named)}")
            value = named[f]
            return value.detach() if isinstance(value, torch.Tensor) else value
        if isinstance(f, dict):
            return {k: one(v) for k, v in f.items()}
        if isinstance(f, (list, tuple)):
            return type(f)(one(v) for v in f)
        raise TypeError(f"hook fetches must be names (str) or lists/dicts of names, got {f!r}")

    return one(fetches)


# -- the loop ---------------------------------------------------------------------------------
def run_steps(scope: ModelScope, mode: str, call_model_fn: Callable[[Any, Any], Any],
              batches: Iterator[Any], hooks: HookList, ops: "ModeOps") -> Iterator[Any]:
    """Run steps until the input ends, the mode is done or a hook requests a stop.

    A generator: it yields what ``ops.step`` returns (predictions); train and evaluate just
    exhaust it. ``hooks.begin()`` must have been called.
    """
    session = LoopSession(scope, mode, ops.log_step_count_steps)
    spec_hooks = HookList()
    hooks.after_create_session(session, None)
    move = make_mover(scope.device)
    training = mode == ModeKeys.TRAIN
    autocast_dtype = scope.autocast_dtype if mode != ModeKeys.PREDICT else None
    scope.root.train(training)
    first = True
    reason = None
    while reason is None:
        reason = ops.stop_before_step()
        if reason is not None:
            break
        try:
            element = next(batches)
        except StopIteration:
            reason = "the input is exhausted"
            break
        features, labels = split_element(move(element))
        if mode == ModeKeys.PREDICT:
            labels = None  # as TF: predict feeds features only
        context = SessionRunContext(session)
        args = hooks.before_run(context)
        spec_args = spec_hooks.before_run(context)
        # evaluate and predict build no autograd graph (TF's eval graph has no gradients)
        with torch.set_grad_enabled(training), scope.call(mode, ops.is_summary_step()):
            with _precision.autocast(scope.device, autocast_dtype):
                spec = call_model_fn(features, labels)
            if not isinstance(spec, EstimatorSpec):
                raise TypeError(f"model_fn must return an EstimatorSpec, got {type(spec).__name__}")
            if spec.mode != mode:
                raise ValueError(f"model_fn was called in mode {mode!r} but returned an "
                                 f"EstimatorSpec for mode {spec.mode!r}")
            if first:  # the spec's own hooks join before the first step runs
                spec_hooks.extend(spec.hooks_for_mode())
                spec_hooks.begin()
                spec_hooks.after_create_session(session, None)
                spec_args = spec_hooks.before_run(context)
            outputs = ops.step(spec, features, labels)
        if first:
            scope.check_restored()
            first = False
        if args is not None:
            hooks.after_run(context, SessionRunValues(resolve_fetches(args.fetches, spec,
                                                                      scope.named_tensors)))
        else:
            hooks.after_run(context, SessionRunValues(None))
        spec_hooks.after_run(context, SessionRunValues(
            None if spec_args is None else resolve_fetches(spec_args.fetches, spec,
                                                           scope.named_tensors)))
        yield from outputs
        stop = ops.agree_stop(context.stop_requested)
        ops.after_step(spec)
        if stop:
            reason = "a hook requested a stop"
    hooks.end(session)
    spec_hooks.end(session)
    ops.finish(reason)


class ModeOps:
    """The mode-specific parts of a step; the defaults do nothing."""

    log_step_count_steps: Optional[int] = None

    def stop_before_step(self) -> Optional[str]:
        return None

    def is_summary_step(self) -> bool:
        return False

    def step(self, spec: EstimatorSpec, features: Any, labels: Any) -> Iterable[Any]:
        return ()

    def agree_stop(self, requested: bool) -> bool:
        """Whether to stop after this step, given that a hook here ``requested`` it."""
        return requested

    def after_step(self, spec: EstimatorSpec) -> None:
        pass

    def finish(self, reason: str) -> None:
        pass


class TrainOps(ModeOps):
    """Runs the train op; logs, writes summaries and saves checkpoints on their steps."""

    def __init__(self, scope: ModelScope, config: Any, last_step: Optional[int],
                 save: Callable[[], bool], writer: Callable[[], Any],
                 agree: Optional[Callable[[List[int]], List[int]]] = None) -> None:
        self.scope, self.config, self.last_step = scope, config, last_step
        self._save, self._writer = save, writer
        # on many processes: a max-all-reduce, so that all ranks stop and save together
        self._agree = agree
        self._time_to_save = False
        self._first = True
        self._warned_step = False
        self._start_step = self._saved_step = scope.global_step
        self._log_time = self._save_time = time.time()
        self._log_step = scope.global_step
        self._summary = False
        self._applied = True
        self._loss: Optional[torch.Tensor] = None
        self._stop: Optional[str] = None
        # TF checks the loss every step; here each step records a non-finite loss on the
        # device (no host sync) and the host reads it on log steps and before every save.
        self._nan = FirstNonFinite()
        self.log_step_count_steps = config.log_step_count_steps

    def stop_before_step(self) -> Optional[str]:
        if self.last_step is not None and self.scope.global_step >= self.last_step:
            return f"reached the last step ({self.last_step})"
        return self._stop

    def is_summary_step(self) -> bool:
        n = self.config.save_summary_steps
        self._summary = bool(n) and (self._first or (self.scope.global_step + 1) % n == 0)
        return self._summary

    def step(self, spec: EstimatorSpec, features: Any, labels: Any) -> Iterable[Any]:
        before = self.scope.global_step
        assert spec.train_op is not None  # a TRAIN spec is checked to have one
        spec.train_op()
        # False while gradients accumulate, or when fp16 loss scaling skipped the step
        self._applied = getattr(spec.train_op, "applied", True)
        if self.scope.global_step == before and self._applied:
            if not self._warned_step:
                logger.warning("the train op did not advance the global step; pass "
                               "global_step=est.train.get_global_step() to minimize(). The "
                               "Estimator advances it itself.")
                self._warned_step = True
            self.scope.global_step += 1
        self._loss = spec.loss
        self._nan.record(spec.loss, self.scope.global_step)
        return ()

    def after_step(self, spec: EstimatorSpec) -> None:
        if not self._applied:  # no update, no new step: nothing to log, write or save
            self.scope.summaries.clear()
            return
        step, config = self.scope.global_step, self.config
        n_log = config.log_step_count_steps
        if n_log and (self._first or step % n_log == 0):
            self._log(step)
        if self._summary:
            writer = self._writer()
            assert self._loss is not None  # set by step(), which ran first
            writer.add_scalar("loss", float(self._loss.detach()), step)
            summary_lib.write(writer, self.scope.summaries, step)
            self.scope.summaries.clear()
        self._first = False
        by_time = self._time_to_save if self._agree is not None else self._secs_elapsed()
        if (config.save_checkpoints_steps and step % config.save_checkpoints_steps == 0) or by_time:
            self.save()

    def _secs_elapsed(self) -> bool:
        secs = self.config.save_checkpoints_secs
        return bool(secs) and time.time() - self._save_time >= secs

    def agree_stop(self, requested: bool) -> bool:
        if self._agree is None:
            return requested
        stop, save = self._agree([int(requested), int(self._secs_elapsed())])
        self._time_to_save = bool(save)
        return bool(stop)

    def _check_loss(self, step: int, when: str) -> None:
        bad = self._nan.first_bad_step()
        if bad is not None:
            raise NanLossDuringTrainingError(
                f"NaN loss during training: the loss became non-finite (NaN or inf) at global "
                f"step {bad} (found at step {step}, {when}). No checkpoint was written after "
                "it: the latest checkpoint in model_dir is still the last good one. Lower the "
                "learning rate, check the input for NaNs, or clip gradients.")

    def _check_parameters(self, step: int) -> None:
        """Refuse to checkpoint non-finite parameters (one host sync per device)."""
        state = self.scope.root.state_dict()
        named = [(k, v) for k, v in state.items()
                 if isinstance(v, torch.Tensor) and (v.is_floating_point() or v.is_complex())]
        by_device: Dict[torch.device, List[Tuple[str, torch.Tensor]]] = {}
        for name, value in named:
            by_device.setdefault(value.device, []).append((name, value))
        bad: List[str] = []
        for items in by_device.values():
            flags = torch.stack([torch.isfinite(v).all() for _, v in items]).tolist()
            bad += [name for (name, _), ok in zip(items, flags) if not ok]
        if bad:
            raise NanLossDuringTrainingError(
                f"refusing to save a checkpoint at global step {step}: parameter(s) "
                f"{', '.join(bad[:10])}{' ...' if len(bad) > 10 else ''} hold NaN or inf values. "
                "The latest checkpoint in model_dir is still the last good one. Lower the "
                "learning rate, check the input for NaNs, or clip gradients.")

    def _log(self, step: int) -> None:
        self._check_loss(step, "a logging step")
        assert self._loss is not None  # logging follows a step
        loss = float(self._loss.detach())
        now = time.time()
        elapsed = now - self._log_time
        if step > self._log_step and elapsed > 0 and not self._first:
            rate = (step - self._log_step) / elapsed
            logger.info("global_step/sec: %g", rate)
            self._writer().add_scalar("global_step/sec", rate, step)
            logger.info("loss = %g, step = %d (%.3f sec)", loss, step, elapsed)
        else:
            logger.info("loss = %g, step = %d", loss, step)
        self._log_time, self._log_step = now, step

    def save(self) -> None:
        step = self.scope.global_step
        self._check_loss(step, "before saving a checkpoint")
        self._check_parameters(step)
        if self._save():  # a saving listener's after_save returned True
            self._stop = "a CheckpointSaverListener requested a stop"
        self._saved_step, self._save_time = self.scope.global_step, time.time()

    def finish(self, reason: str) -> None:
        step = self.scope.global_step
        logger.info("Training stopped at global step %d: %s.", step, reason)
        if step != self._saved_step:
            self.save()
        if self._loss is not None:
            logger.info("Loss for final step: %g.", float(self._loss.detach()))


def metric_value(op: Any) -> Any:
    """The final value of one ``eval_metric_ops`` entry (see ``EstimatorSpec``)."""
    if is_metric_object(op):
        return op.compute()
    metric: Any = getattr(op, "metric", None)
    if is_metric_object(metric):
        return metric.compute()
    if is_metric_object(op[0]):  # (metric, args): updated by the loop
        return op[0].compute()
    # (value, update_op): the value element, as TF reports it
    value = op[0]
    return value if isinstance(value, (torch.Tensor, int, float)) else op[1]


def place_metric(metric: Any, device: torch.device) -> None:
    """Move a metric object made outside ``model_fn`` to the model's device (once), so its
    updates do not copy each batch to the host. Objects without ``to``/``device`` stay."""
    current = getattr(metric, "device", None)
    if current is None or not hasattr(metric, "to"):
        return
    current = torch.device(current)
    if current.type != device.type or (current.index != device.index
                                       and None not in (current.index, device.index)):
        metric.to(device)


def to_python(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.item() if value.numel() == 1 else value.detach().cpu()
    return value


class EvalOps(ModeOps):
    """Accumulates the batch-size-weighted loss (on the device) and the metrics."""

    def __init__(self, scope: ModelScope, steps: Optional[int], seen_metrics: Any) -> None:
        self.scope, self.steps = scope, steps
        self._seen = seen_metrics
        self._batches = 0
        self._loss_sum: Any = 0.0
        self._count = 0
        self._ops: Dict[str, Any] = {}
        self.results: Dict[str, Any] = {}

    def stop_before_step(self) -> Optional[str]:
        if self.steps is not None and self._batches >= self.steps:
            return f"evaluated steps={self.steps} batches"
        return None

    def step(self, spec: EstimatorSpec, features: Any, labels: Any) -> Iterable[Any]:
        n = batch_size(features, labels)
        assert spec.loss is not None  # an EVAL spec is checked to have one
        self._loss_sum = self._loss_sum + spec.loss.detach() * n
        self._count += n
        ops = spec.eval_metric_ops or {}
        if self._batches == 0:
            check_metric_names(ops)
        for name, op in ops.items():
            if isinstance(op, tuple) and is_metric_object(op[0]):
                if self._batches == 0:
                    op[0].reset()
                    place_metric(op[0], self.scope.device)
                op[0].update(*op[1])
            elif is_metric_object(op):
                self._seen.add(op)
                place_metric(op, self.scope.device)  # from the next update on
        self._ops = ops
        self._batches += 1
        return ()

    def finish(self, reason: str) -> None:
        if self._count == 0:
            raise ValueError("evaluate(): input_fn yielded no batches; nothing to evaluate")
        results = {name: to_python(metric_value(op)) for name, op in self._ops.items()}
        for op in self._ops.values():  # user-updated metric objects start clean next time
            if is_metric_object(op):
                op.reset()
        results["loss"] = float(self._loss_sum / self._count)
        results["global_step"] = self.scope.global_step
        self.results = results
        logger.info("Evaluation stopped after %d batches: %s.", self._batches, reason)


class PredictOps(ModeOps):
    """Hands out predictions (on the CPU), whole batches or one example at a time."""

    def __init__(self, predict_keys: Optional[List[str]], yield_single_examples: bool) -> None:
        self.keys, self.single = predict_keys, yield_single_examples

    def step(self, spec: EstimatorSpec, features: Any, labels: Any) -> Iterable[Any]:
        preds = spec.predictions
        if not isinstance(preds, abc.Mapping) and self.keys:
            raise ValueError("predict_keys argument is not valid in case of non-dict "
                             "predictions.")
        if isinstance(preds, abc.Mapping):
            if self.keys is not None:
                missing = [k for k in self.keys if k not in preds]
                if missing:
                    raise ValueError(f"predict_keys {missing} are not in the predictions "
                                     f"(keys: {sorted(preds)})")
                preds = {k: preds[k] for k in self.keys}
            preds = {k: _to_cpu(v) for k, v in preds.items()}
        else:
            assert preds is not None  # a PREDICT spec is checked to have predictions
            preds = preds.detach().cpu()
        if not self.single:
            return [preds]
        return _split_examples(preds)


def _to_cpu(value: Any) -> Any:
    return value.detach().cpu() if isinstance(value, torch.Tensor) else value  # numpy: as is


def _split_examples(preds: Any) -> List[Any]:
    if isinstance(preds, torch.Tensor):
        return list(preds.unbind(0)) if preds.dim() else [preds]
    sizes = {k: (v.shape[0] if len(v.shape) else None) for k, v in preds.items()}
    n = next(iter(sizes.values()), 0)
    bad = {k: s for k, s in sizes.items() if s is None or s != n}
    if n is None or bad:
        raise ValueError(
            "yield_single_examples=True needs every prediction to have the batch size as its "
            f"first dimension ({n}); these differ: {bad}. Use yield_single_examples=False.")
    return [{k: v[i] for k, v in preds.items()} for i in range(n)]
