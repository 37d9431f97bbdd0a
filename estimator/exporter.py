"""Exporters for ``EvalSpec(exporters=...)``: which evaluations of ``train_and_evaluate`` export
the model, into ``model_dir/export/<name>/<timestamp>/``.

- :class:`LatestExporter` exports after every evaluation and keeps the newest
  ``exports_to_keep``.
- :class:`BestExporter` exports when ``compare_fn(best_eval_result, current_eval_result)`` says
  the current evaluation is better than the best so far (lower loss by default); the best so far
  starts from the eval event files already in ``model_dir`` (``event_file_pattern``), so a
  restarted job does not export a worse model. Its first call always exports, as in TF.
- :class:`FinalExporter` exports once, after the evaluation at ``TrainSpec.max_steps``.
"""

from __future__ import annotations

import abc
import logging
import os
import shutil
from typing import Any, Callable, Dict, Optional

from estimator._fn_args import fn_args
from estimator.eval_events import scalar_events

logger = logging.getLogger("estimator")

__all__ = ["BestExporter", "Exporter", "FinalExporter", "LatestExporter"]


class Exporter(abc.ABC):
    """Base class: a ``name`` and ``export(estimator, export_path, checkpoint_path,
    eval_result, is_the_final_export)`` returning the export's path (or ``None``)."""

    @property
    @abc.abstractmethod
    def name(self) -> str:
        """Directory name under ``model_dir/export``."""

    @abc.abstractmethod
    def export(self, estimator: Any, export_path: str, checkpoint_path: Optional[str],
               eval_result: Dict[str, Any], is_the_final_export: bool) -> Optional[str]:
        """Export the model (or not) after an evaluation."""


class _SavedModelExporter(Exporter):
    def __init__(self, name: str, serving_input_receiver_fn: Optional[Callable[[], Any]],
                 assets_extra: Optional[Dict[str, str]] = None, as_text: bool = False) -> None:
        self._name = name
        self._receiver_fn = serving_input_receiver_fn
        self._assets_extra, self._as_text = assets_extra, as_text

    @property
    def name(self) -> str:
        return self._name

    def export(self, estimator: Any, export_path: str, checkpoint_path: Optional[str],
               eval_result: Dict[str, Any], is_the_final_export: bool) -> str:
        return estimator.export_saved_model(export_path, self._receiver_fn,
                                            assets_extra=self._assets_extra,
                                            as_text=self._as_text,
                                            checkpoint_path=checkpoint_path)


def _garbage_collect_exports(export_dir_base: str, exports_to_keep: Optional[int]) -> None:
    """Delete all but the newest ``exports_to_keep`` timestamped (10-digit) exports."""
    if exports_to_keep is None or not os.path.isdir(export_dir_base):
        return
    versions = sorted(int(n) for n in os.listdir(export_dir_base)
                      if len(n) == 10 and n.isdigit()
                      and os.path.isdir(os.path.join(export_dir_base, n)))
    for version in versions[:-exports_to_keep]:
        path = os.path.join(export_dir_base, str(version))
        logger.info("Deleting old export %s (exports_to_keep=%d)", path, exports_to_keep)
        shutil.rmtree(path, ignore_errors=True)


def _check_exports_to_keep(exports_to_keep: Optional[int]) -> None:
    if exports_to_keep is not None and exports_to_keep <= 0:
        raise ValueError(f"`exports_to_keep`, if provided, must be a positive number. Got "
                         f"{exports_to_keep}")


class LatestExporter(Exporter):
    """Export after every evaluation; keep the newest ``exports_to_keep`` (``None``: all).

    >>> # est.LatestExporter("latest", serving_input_receiver_fn, exports_to_keep=3)
    """

    def __init__(self, name: str, serving_input_receiver_fn: Callable[[], Any],
                 assets_extra: Optional[Dict[str, str]] = None, as_text: bool = False,
                 exports_to_keep: Optional[int] = 5) -> None:
        _check_exports_to_keep(exports_to_keep)
        self._exporter = _SavedModelExporter(name, serving_input_receiver_fn, assets_extra,
                                             as_text)
        self._exports_to_keep = exports_to_keep

    @property
    def name(self) -> str:
        return self._exporter.name

    def export(self, estimator: Any, export_path: str, checkpoint_path: Optional[str],
               eval_result: Dict[str, Any], is_the_final_export: bool) -> str:
        result = self._exporter.export(estimator, export_path, checkpoint_path, eval_result,
                                       is_the_final_export)
        _garbage_collect_exports(export_path, self._exports_to_keep)
        return result


def _loss_smaller(best_eval_result: Dict[str, Any], current_eval_result: Dict[str, Any]) -> bool:
    """The default ``compare_fn``: True when the current evaluation's ``loss`` is lower."""
    if not best_eval_result or "loss" not in best_eval_result:
        raise ValueError("best_eval_result cannot be empty or no loss is found in it.")
    if not current_eval_result or "loss" not in current_eval_result:
        raise ValueError("current_eval_result cannot be empty or no loss is found in it.")
    return best_eval_result["loss"] > current_eval_result["loss"]


def _verify_compare_fn_args(compare_fn: Callable[..., bool]) -> None:
    args = set(fn_args(compare_fn))
    for needed in ("best_eval_result", "current_eval_result"):
        if needed not in args:
            raise ValueError(f"compare_fn ({compare_fn}) must include {needed} argument.")
    extra = sorted(args - {"best_eval_result", "current_eval_result"})
    if extra:
        raise ValueError(f"compare_fn ({compare_fn}) has following not expected args: {extra}")


class BestExporter(Exporter):
    """Export when the evaluation beats the best one so far (``compare_fn``); keep the newest
    ``exports_to_keep`` of those.

    >>> # est.BestExporter(serving_input_receiver_fn=receiver_fn, exports_to_keep=2)
    """

    def __init__(self, name: str = "best_exporter",
                 serving_input_receiver_fn: Optional[Callable[[], Any]] = None,
                 event_file_pattern: Optional[str] = "eval/*.tfevents.*",
                 compare_fn: Callable[..., bool] = _loss_smaller,
                 assets_extra: Optional[Dict[str, str]] = None, as_text: bool = False,
                 exports_to_keep: Optional[int] = 5) -> None:
        if compare_fn is None:
            raise ValueError("`compare_fn` must not be None.")
        _verify_compare_fn_args(compare_fn)
        _check_exports_to_keep(exports_to_keep)
        self._compare_fn = compare_fn
        self._exporter = _SavedModelExporter(name, serving_input_receiver_fn, assets_extra,
                                             as_text)
        self._event_file_pattern = event_file_pattern
        self._model_dir: Optional[str] = None
        self._best_eval_result: Optional[Dict[str, Any]] = None
        self._has_exported = False
        self._exports_to_keep = exports_to_keep

    @property
    def name(self) -> str:
        return self._exporter.name

    def export(self, estimator: Any, export_path: str, checkpoint_path: Optional[str],
               eval_result: Dict[str, Any], is_the_final_export: bool) -> Optional[str]:
        if self._model_dir != estimator.model_dir and self._event_file_pattern:
            logger.info("Loading best metric from event files.")
            self._model_dir = estimator.model_dir
            self._best_eval_result = self._get_best_eval_result(
                os.path.join(self._model_dir, self._event_file_pattern))
        if (self._best_eval_result is None or not self._has_exported or
                self._compare_fn(best_eval_result=self._best_eval_result,
                                 current_eval_result=eval_result)):
            logger.info("Performing best model export.")
            self._best_eval_result = eval_result
            result = self._exporter.export(estimator, export_path, checkpoint_path, eval_result,
                                           is_the_final_export)
            _garbage_collect_exports(export_path, self._exports_to_keep)
            self._has_exported = True
            return result
        return None

    def _get_best_eval_result(self, event_files: str) -> Optional[Dict[str, Any]]:
        # one evaluation per step (merging events of a step, should a writer split them)
        by_step: Dict[int, Dict[str, Any]] = {}
        for step, values in scalar_events(event_files):
            by_step.setdefault(step, {}).update(values)
        best: Optional[Dict[str, Any]] = None
        for _, values in sorted(by_step.items()):
            if best is None or self._compare_fn(best_eval_result=best,
                                                current_eval_result=values):
                best = values
        return best


class FinalExporter(Exporter):
    """Export once, after the evaluation at the end of training (``TrainSpec.max_steps``).

    >>> # est.FinalExporter("final", serving_input_receiver_fn)
    """

    def __init__(self, name: str, serving_input_receiver_fn: Callable[[], Any],
                 assets_extra: Optional[Dict[str, str]] = None, as_text: bool = False) -> None:
        self._exporter = _SavedModelExporter(name, serving_input_receiver_fn, assets_extra,
                                             as_text)

    @property
    def name(self) -> str:
        return self._exporter.name

    def export(self, estimator: Any, export_path: str, checkpoint_path: Optional[str],
               eval_result: Dict[str, Any], is_the_final_export: bool) -> Optional[str]:
        if not is_the_final_export:
            return None
        logger.info("Performing the final export in the end of training.")
        return self._exporter.export(estimator, export_path, checkpoint_path, eval_result,
                                     is_the_final_export)
