"""The ``Estimator``: thin orchestration of the model scope, checkpoints and the step loop."""

from __future__ import annotations

import logging
import os
import tempfile
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional

import torch

from estimator import _validate, checkpoint
from estimator._fn_args import bind_model_fn
from estimator._graph import FirstFeatures, graph_wanted, write_graph
from estimator._hparams import write_hparams
from estimator._input import close_input, open_input
from estimator._interrupt import InterruptGuard
from estimator._loop import PredictOps, TrainOps, run_steps
from estimator._packages import require
from estimator._precision import autocast_dtype
from estimator._threads import apply_inter_op_threads, compute_threads
from estimator.distribute._runtime import runtime as distribute_runtime
from estimator.eval_events import write_eval_summary
from estimator.hooks import HookList, SessionRunHook
from estimator.run_config import RunConfig
from estimator.run_hooks.saver import CheckpointSaving
from estimator.scope import ModelScope, to_path, to_state_key
from estimator.spec import ModeKeys

logger = logging.getLogger("estimator")


_positive = _validate.positive_int


class Estimator:
    """Train, evaluate and predict with a ``model_fn``, as ``tf.estimator.Estimator``.

    ``model_fn(features, labels, mode, params, config)`` (any subset, by name) returns an
    :class:`~estimator.spec.EstimatorSpec`; it runs once per batch over a persistent model scope
    (see :mod:`estimator.scope`). ``input_fn`` (taking any of ``params``, ``mode``, ``config``)
    returns a ``data.Dataset`` -- or any iterable -- of ``(features, labels)`` pairs or features.

    Every call restores the latest checkpoint in ``model_dir`` first; ``train`` saves every
    ``save_checkpoints_steps``/``save_checkpoints_secs`` and when it ends.

    >>> import torch, torch.nn.functional as F, estimator as est
    >>> def model_fn(features, labels, mode):
    ...     logits = est.layers.dense(features, units=2)
    ...     if mode == est.ModeKeys.PREDICT:
    ...         return est.EstimatorSpec(mode, predictions={"classes": logits.argmax(1)})
    ...     loss = F.cross_entropy(logits, labels)
    ...     train_op = est.train.GradientDescentOptimizer(0.1).minimize(
    ...         loss, global_step=est.train.get_global_step())
    ...     return est.EstimatorSpec(mode, loss=loss, train_op=train_op)
    >>> batches = [(torch.randn(8, 3), torch.randint(0, 2, (8,)))] * 5
    >>> model = est.Estimator(model_fn, config=est.RunConfig(device="cpu"))
    >>> model.train(lambda: batches).evaluate(lambda: batches)["global_step"]
    5
    """

    def __init__(self, model_fn: Callable[..., Any], model_dir: Optional[str] = None,
                 config: Optional[RunConfig] = None, params: Optional[Dict[str, Any]] = None,
                 warm_start_from: Any = None) -> None:
        _validate.check_model_fn(model_fn, params)
        config = config if config is not None else RunConfig()
        if not isinstance(config, RunConfig):
            raise ValueError(f"config must be an instance of `RunConfig`, but provided {config!r}.")
        model_dir = _validate.check_model_dir(model_dir)
        if model_dir is not None and config.model_dir is not None and \
                os.path.abspath(model_dir) != os.path.abspath(config.model_dir):
            raise ValueError(f"model_dir={model_dir!r} differs from config.model_dir="
                             f"{config.model_dir!r}; give one of them")
        model_dir = model_dir or config.model_dir
        if model_dir is None:
            model_dir = tempfile.mkdtemp(prefix="estimator_")
            logger.warning("Using temporary folder as model directory: %s (pass model_dir= to keep "
                           "the checkpoints and resume later)", model_dir)
        self._model_dir = os.fspath(model_dir)
        self._config = config.replace(model_dir=self._model_dir)
        self._runtime = distribute_runtime(self._config)
        if self._runtime.distribution is not None:
            self._config = self._config.replace(device=self._runtime.distribution.device)
        self._model_fn = model_fn
        self._params = _validate.check_params(params)
        self._warm_start_from = warm_start_from
        apply_inter_op_threads(self._config.inter_op_parallelism_threads)
        self._seen_metrics: List[Any] = []

    @property
    def model_dir(self) -> str:
        return self._model_dir

    @property
    def config(self) -> RunConfig:
        return self._config

    @property
    def params(self) -> Dict[str, Any]:
        return dict(self._params)

    # -- train ---------------------------------------------------------------------------------
    def train(self, input_fn: Callable[..., Any], hooks: Optional[Iterable[SessionRunHook]] = None,
              steps: Optional[int] = None, max_steps: Optional[int] = None,
              saving_listeners: Optional[Iterable[Any]] = None) -> "Estimator":
        """Train until the input ends, ``steps`` more steps, or global step ``max_steps``.

        Resumes from the latest checkpoint: model, optimizers, global step, RNG and the input's
        position (an input saved exhausted starts afresh, so ``for epoch: train(...)`` works).
        Ctrl-C (SIGINT) or SIGTERM stops after the step in progress, saves a checkpoint, then
        raises ``KeyboardInterrupt`` (SIGTERM: ends the process), so running again resumes.
        ``saving_listeners`` (``est.CheckpointSaverListener``) run around each checkpoint save.
        """
        if steps is not None and max_steps is not None:
            raise ValueError("train(): give steps or max_steps, not both")
        _positive("steps", steps)
        _positive("max_steps", max_steps)
        rt = self._runtime
        with rt.guard(), rt.lock(self._model_dir), InterruptGuard() as interrupt:
            payload = rt.load(self._load_latest)
            start = payload["global_step"] if payload else 0
            if max_steps is not None and start >= max_steps:
                logger.info("Skipping training: global step %d already reached max_steps=%d.",
                            start, max_steps)
                return self
            hook_list = HookList([*_validate.hook_list(hooks), interrupt])
            saving = CheckpointSaving(self._config, hook_list.hooks, saving_listeners)
            scope = self._new_scope(payload, ModeKeys.TRAIN, self._seed())
            scope.on_create = rt.on_create()
            batches = rt.train_batches(open_input(input_fn, ModeKeys.TRAIN, self._params,
                                                  self._config, rt.input_state(payload), rt))
            writer = rt.writer(self._model_dir, on_create=lambda w: write_hparams(
                w, self._params, self._config))
            try:
                save = saving.bind(scope, lambda directory: self._save(scope, batches, directory))
                hook_list.begin()
                saving.begin()
                rng = rt.rng_state(payload)
                if rng is not None:
                    checkpoint.restore_rng_state(rng)
                ops = TrainOps(scope, saving.config, start + steps if steps else max_steps,
                               save=save, writer=writer.get, agree=rt.step_agreement())
                first = FirstFeatures(rt.train_call(scope, self._bind(ModeKeys.TRAIN)))
                with self._threads(scope, batches) as split:
                    hook_list.hooks.append(split)  # it measures the CPU split while training
                    for _ in run_steps(scope, ModeKeys.TRAIN, first, batches, hook_list, ops):
                        pass
                    # (one process only: a trace on rank 0 alone must not meet a collective)
                    if first.seen and graph_wanted(payload, self._config) and not rt.distributed:
                        write_graph(writer.get(), scope, self._bind(ModeKeys.PREDICT),
                                    first.features)
                saving.end()
            finally:
                close_input(batches)
                writer.close()
            rt.barrier()  # every rank returns once rank 0 has written the final checkpoint
        interrupt.reraise()  # SIGINT/SIGTERM: the final checkpoint is saved, now stop as asked
        return self

    def _save(self, scope: ModelScope, batches: Any, directory: Optional[str] = None) -> None:
        get_state = getattr(batches, "state_dict", None)
        payload = {
            "global_step": scope.global_step,
            "model": scope.root.state_dict(),
            "optimizers": {name: opt.state_dict() for name, opt in scope.optimizers.items()},
            "rng": checkpoint.capture_rng_state(),
            "input_state": get_state() if callable(get_state) else None,
        }
        scope_state: Dict[str, Any] = {}
        train_ops = scope.step_states.state_dict(scope.optimizers)
        if train_ops:  # loss scalers, gradients summed mid-accumulation
            scope_state["train_ops"] = train_ops
        if scope.model_threads is not None:
            scope_state["model_threads"] = scope.model_threads
        if scope_state:
            payload["scope"] = scope_state
        written = self._runtime.save_payload(payload)
        if written is not None:  # rank 0 writes
            checkpoint.save(directory or self._model_dir, scope.global_step, written,
                            self._config.keep_checkpoint_max,
                            keep_every_n_hours=_keep_hours(self._config))

    # -- evaluate ------------------------------------------------------------------------------
    def evaluate(self, input_fn: Callable[..., Any], steps: Optional[int] = None,
                 hooks: Optional[Iterable[SessionRunHook]] = None,
                 checkpoint_path: Optional[str] = None, name: Optional[str] = None
                 ) -> Dict[str, Any]:
        """Evaluate the latest (or ``checkpoint_path``) model on ``input_fn``, for at most
        ``steps`` batches.

        Returns every metric of ``eval_metric_ops``, ``loss`` (the mean over batches weighted
        by batch size) and ``global_step``, as floats. Results are also written to TensorBoard
        in ``model_dir/eval`` (``eval_<name>`` when named).
        """
        _positive("steps", steps)
        rt = self._runtime
        with rt.guard():
            payload = rt.load(lambda: self._load_for_inference(checkpoint_path, "evaluate"))
            scope = self._new_scope(payload, ModeKeys.EVAL, self._seed())
            return self._evaluate_in(scope, input_fn, steps, hooks, name)

    def _evaluate_in(self, scope: ModelScope, input_fn: Callable[..., Any], steps: Optional[int],
                     hooks: Optional[Iterable[SessionRunHook]], name: Optional[str]
                     ) -> Dict[str, Any]:
        rt = self._runtime
        for metric in self._seen_metrics:
            metric.reset()
        batches = open_input(input_fn, ModeKeys.EVAL, self._params, self._config, None, rt)
        hook_list = HookList(_validate.hook_list(hooks))
        ops = rt.eval_ops(scope, steps, _IdentitySet(self._seen_metrics))
        try:
            hook_list.begin()
            with self._threads(scope, batches):
                for _ in run_steps(scope, ModeKeys.EVAL, self._bind(ModeKeys.EVAL), batches,
                                   hook_list, ops):
                    pass
        finally:
            close_input(batches)
        results = ops.results
        logger.info("Saving dict for global step %d: %s", results["global_step"],
                    ", ".join(f"{k} = {v}" for k, v in sorted(results.items())))
        self._write_eval_summaries(results, name)
        return results

    def _write_eval_summaries(self, results: Dict[str, Any], name: Optional[str]) -> None:
        # A read-only or shared model_dir must not cost the results: warn once instead.
        logdir = self.eval_dir(name)
        writer = self._runtime.writer(logdir)
        try:
            try:
                write_eval_summary(writer.get(), results, results["global_step"])
            finally:
                writer.close()
        except OSError as e:
            logger.warning("Could not write the evaluation summaries to %s (%s); the results "
                           "are returned but not in TensorBoard.", logdir, e)

    def eval_dir(self, name: Optional[str] = None) -> str:
        """Where ``evaluate(name=name)`` writes its metrics: ``model_dir/eval`` or
        ``model_dir/eval_<name>``."""
        return os.path.join(self._model_dir, f"eval_{name}" if name else "eval")

    # -- export --------------------------------------------------------------------------------
    def export_saved_model(self, export_dir_base: str, serving_input_receiver_fn: Callable[[], Any],
                           assets_extra: Optional[Dict[str, str]] = None, as_text: bool = False,
                           checkpoint_path: Optional[str] = None,
                           experimental_mode: str = ModeKeys.PREDICT,
                           eager_fallback: bool = False) -> str:
        """Export the model to ``export_dir_base/<timestamp>/``: see :mod:`estimator.export`.

        Returns the export directory. ``eager_fallback=True`` writes a checkpoint-plus-model_fn
        export when ``torch.export`` cannot trace ``model_fn``.
        """
        from estimator.export.save import export_saved_model
        return self._on_chief(lambda: export_saved_model(
            self, export_dir_base, serving_input_receiver_fn, assets_extra, as_text,
            checkpoint_path, experimental_mode, eager_fallback))

    def export_savedmodel(self, export_dir_base: str, serving_input_receiver_fn: Callable[[], Any],
                          assets_extra: Optional[Dict[str, str]] = None, as_text: bool = False,
                          checkpoint_path: Optional[str] = None,
                          strip_default_attrs: bool = False) -> str:
        """TF 1.x's name for :meth:`export_saved_model` (``strip_default_attrs`` is accepted
        and has no effect: there are no graph attributes)."""
        return self.export_saved_model(export_dir_base, serving_input_receiver_fn, assets_extra,
                                       as_text, checkpoint_path)

    def experimental_export_all_saved_models(
            self, export_dir_base: str, input_receiver_fn_map: Dict[str, Callable[[], Any]],
            assets_extra: Optional[Dict[str, str]] = None, as_text: bool = False,
            checkpoint_path: Optional[str] = None) -> str:
        """Export one model per mode of ``input_receiver_fn_map`` into one timestamped folder
        (see :func:`estimator.export.save.export_all_saved_models`)."""
        from estimator.export.save import export_all_saved_models
        return self._on_chief(lambda: export_all_saved_models(
            self, export_dir_base, input_receiver_fn_map, assets_extra, as_text, checkpoint_path))

    def _on_chief(self, write: Callable[[], Any]) -> Any:
        """Under torchrun rank 0 alone writes (an export); every rank gets its result."""
        rt = self._runtime
        with rt.guard():
            return rt.load(write)

    # -- predict -------------------------------------------------------------------------------
    def predict(self, input_fn: Callable[..., Any], predict_keys: Optional[List[str]] = None,
                hooks: Optional[Iterable[SessionRunHook]] = None,
                checkpoint_path: Optional[str] = None, yield_single_examples: bool = True
                ) -> Iterator[Any]:
        """Yield predictions (CPU tensors): one dict per example, or per batch when
        ``yield_single_examples=False``; ``predict_keys`` selects prediction keys."""
        if isinstance(predict_keys, str):
            predict_keys = [predict_keys]
        rt = self._runtime
        with rt.guard():
            payload = rt.load(lambda: self._load_for_inference(checkpoint_path, "predict"))
            scope = self._new_scope(payload, ModeKeys.PREDICT, self._seed())
            batches = open_input(input_fn, ModeKeys.PREDICT, self._params, self._config, None,
                                 rt)
            hook_list = HookList(_validate.hook_list(hooks))
            try:
                hook_list.begin()
                with self._threads(scope, batches):
                    yield from rt.predictions(run_steps(
                        scope, ModeKeys.PREDICT, self._bind(ModeKeys.PREDICT), batches,
                        hook_list, PredictOps(predict_keys, yield_single_examples)))
            finally:
                close_input(batches)

    # -- reading checkpoints -------------------------------------------------------------------
    def latest_checkpoint(self) -> Optional[str]:
        """Path of the newest checkpoint in ``model_dir``, or ``None``."""
        return checkpoint.latest_checkpoint(self._model_dir)

    def get_variable_names(self) -> List[str]:
        """Names (``conv2d/kernel`` style) of the variables in the latest checkpoint."""
        return sorted(to_path(k) for k in checkpoint.read_variables(self._require_checkpoint()))

    def get_variable_value(self, name: str) -> torch.Tensor:
        """The value of variable ``name`` (``conv2d/kernel`` or ``conv2d.kernel``)."""
        variables = checkpoint.read_variables(self._require_checkpoint())
        key = to_state_key(name)
        if key not in variables:
            raise ValueError(f"variable {name!r} is not in the latest checkpoint; it has: "
                             f"{sorted(to_path(k) for k in variables)}")
        return variables[key]

    # -- helpers -------------------------------------------------------------------------------
    def _require_checkpoint(self) -> str:
        path = self.latest_checkpoint()
        if path is None:
            raise ValueError(f"no checkpoint in model_dir {self._model_dir!r}; train first")
        return self._model_dir

    def _load_latest(self) -> Optional[Dict[str, Any]]:
        if checkpoint.latest_checkpoint(self._model_dir) is None:
            return None
        return checkpoint.load(self._model_dir)

    def _load_for_inference(self, checkpoint_path: Optional[str], what: str
                            ) -> Optional[Dict[str, Any]]:
        if checkpoint_path is not None:
            return checkpoint.load(checkpoint_path)
        payload = self._load_latest()
        if payload is None:  # as TF: run from the initial values (or the warm start)
            logger.info("Could not find trained model in model_dir: %s, running initialization "
                        "to %s.", self._model_dir, what)
        return payload

    def _seed(self) -> Optional[int]:
        """Seed torch and the input; the seed every rank uses (``tf_random_seed`` on one)."""
        seed = self._runtime.seed(self._config.tf_random_seed)
        if seed is not None:
            torch.manual_seed(self._runtime.torch_seed(seed))
            require("data").set_random_seed(seed)
        return seed

    def _new_scope(self, payload: Optional[Dict[str, Any]], mode: str,
                   seed: Optional[int]) -> ModelScope:
        preload = None
        if payload is None and self._warm_start_from is not None:  # every mode, as TF
            preload = checkpoint.warm_start_state(self._warm_start_from)
            logger.info("Warm-starting %d variables from %s", len(preload),
                        self._warm_start_from)
        scope = ModelScope(
            self._config.device, torch.initial_seed() if seed is None else seed,
            restore=None if payload is None else payload["model"],
            restore_optimizers=(payload.get("optimizers") if payload and mode == ModeKeys.TRAIN
                                else None),
            preload=preload, ignore_unclaimed=mode != ModeKeys.TRAIN)
        if payload is not None:
            scope.global_step = int(payload["global_step"])
            if mode == ModeKeys.TRAIN:
                saved = payload.get("scope") or {}
                scope.step_states.restore(saved.get("train_ops"))
                scope.model_threads = saved.get("model_threads")
        config = self._config
        scope.autocast_dtype = autocast_dtype(config.mixed_precision)
        scope.compile = config.compile
        scope.channels_last = config.channels_last and scope.device.type == "cuda"
        return scope

    def _threads(self, scope: ModelScope, batches: Any) -> Any:
        return compute_threads(scope.device, self._config.intra_op_parallelism_threads, batches,
                               scope)

    def _bind(self, mode: str) -> Callable[[Any, Any], Any]:
        return bind_model_fn(self._model_fn, mode, self._params, self._config)


def _keep_hours(config: RunConfig) -> Optional[float]:
    """``keep_checkpoint_every_n_hours``, or ``None`` for TF's default of 10000 (keep none)."""
    hours = config.keep_checkpoint_every_n_hours
    return None if hours is None or hours >= 10000 else hours


class _IdentitySet:
    """Adds objects to a list once, by identity (metric objects need not be hashable)."""

    def __init__(self, items: List[Any]) -> None:
        self._items = items

    def add(self, item: Any) -> None:
        if not any(item is x for x in self._items):
            self._items.append(item)
