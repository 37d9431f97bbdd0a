"""``Estimator.export_saved_model``: a self-contained, servable model in a timestamped folder.

``export_dir_base/<timestamp>/`` (10 digits, the export time; the next free second if taken)
holds:

=========================  =========================================================================
``saved_model.json``       the description: format, global step, inputs (dtype, shape; ``null``
                           is the dynamic batch dimension), signatures and their outputs
``model.pt2``              a ``torch.export`` ``ExportedProgram`` of the PREDICT-mode ``model_fn``
                           from the receiver's tensors to every signature output (weights inside);
                           ``model_eval.pt2`` for an EVAL-mode export
``variables/variables.pt`` the checkpoint's model variables (``torch.load(weights_only=True)``)
``assets/``                assets (none are collected yet); ``assets.extra/`` holds
                           ``assets_extra`` (``{destination: source path}``)
``saved_model.txt``        with ``as_text=True``: the traced program, readable
=========================  =========================================================================

It is written to ``temp-<timestamp>`` first and renamed, so a reader never sees half an export.
Loading it (:func:`estimator.export.load`) needs neither ``model_fn`` nor its source.

When ``torch.export`` cannot trace ``model_fn`` the export fails with the reason and the
``model_fn`` line. ``eager_fallback=True`` then writes an *eager* export instead: the variables
plus the import path of ``model_fn`` (which must be a module-level function), run eagerly at
load time -- so loading it needs ``model_fn``'s module.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import traceback
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

import torch
from torch import nn

from estimator.export.outputs import DEFAULT_SERVING_SIGNATURE_DEF_KEY, signatures_of
from estimator.export.receivers import ServingInputReceiver, SupervisedInputReceiver
from estimator.scope import ModelScope
from estimator.spec import EstimatorSpec, ModeKeys

logger = logging.getLogger("estimator")

__all__ = ["ExportError", "export_all_saved_models", "export_saved_model"]

FORMAT = "torch-estimator-saved-model"
FORMAT_VERSION = 1
DESCRIPTION = "saved_model.json"
PROGRAMS = {ModeKeys.PREDICT: "model.pt2", ModeKeys.EVAL: "model_eval.pt2"}
VARIABLES = os.path.join("variables", "variables.pt")


class ExportError(ValueError):
    """``torch.export`` could not trace ``model_fn``; the message names the reason and line."""


# -- what the program computes ---------------------------------------------------------------
def _outputs_of(spec: EstimatorSpec, mode: str) -> List[Tuple[str, str, Any]]:
    """``(signature key, output name, tensor)`` for every signature output of ``spec``."""
    if mode == ModeKeys.PREDICT:
        signatures = signatures_of(spec.export_outputs, spec.predictions)
        return [(key, name, tensor) for key, output in signatures.items()
                for name, tensor in output.outputs.items()]
    items = [("eval", "loss", spec.loss)]
    preds = spec.predictions
    if isinstance(preds, torch.Tensor):
        items.append(("eval", "predictions", preds))
    elif isinstance(preds, dict):
        items += [("eval", f"predictions/{k}", v) for k, v in preds.items()]
    return items


def _flatten(items: List[Tuple[str, str, Any]]
             ) -> Tuple[List[torch.Tensor], List[Tuple[str, str, int]]]:
    """Unique tensors (a tensor in two signatures is returned once) and where each output is."""
    tensors: List[torch.Tensor] = []
    index: Dict[int, int] = {}
    where = []
    for key, name, tensor in items:
        if not isinstance(tensor, torch.Tensor):
            raise ValueError(f"signature {key!r} output {name!r} must be a tensor, got "
                             f"{type(tensor).__name__}")
        if id(tensor) not in index:
            index[id(tensor)] = len(tensors)
            tensors.append(tensor)
        where.append((key, name, index[id(tensor)]))
    return tensors, where


class _Program(nn.Module):
    """receiver tensors -> ``model_fn`` in ``mode`` -> the signature outputs (a tuple)."""

    def __init__(self, scope: ModelScope, call: Callable[[Any, Any], Any], mode: str,
                 receiver: ServingInputReceiver) -> None:
        super().__init__()
        self.root = scope.root
        self._scope, self._call, self._mode, self._receiver = scope, call, mode, receiver
        self.where: List[Tuple[str, str, int]] = []
        self.method_names: Dict[str, str] = {}

    def forward(self, inputs: Dict[str, torch.Tensor]) -> Tuple[torch.Tensor, ...]:
        features = self._receiver.features_from(inputs)
        labels = (self._receiver.labels_from(inputs)
                  if isinstance(self._receiver, SupervisedInputReceiver) else None)
        with self._scope.call(self._mode):
            spec = self._call(features, labels)
        if not isinstance(spec, EstimatorSpec):
            raise TypeError(f"model_fn must return an EstimatorSpec, got {type(spec).__name__}")
        tensors, self.where = _flatten(_outputs_of(spec, self._mode))
        if self._mode == ModeKeys.PREDICT:
            self.method_names = {k: o.method_name for k, o in
                                 signatures_of(spec.export_outputs, spec.predictions).items()}
        else:
            self.method_names = {"eval": "tensorflow/supervised/eval"}
        return tuple(tensors)


# -- tracing ----------------------------------------------------------------------------------
def _user_frame(error: BaseException) -> Optional[traceback.FrameSummary]:
    """The innermost traceback frame outside torch and this package: the model_fn line."""
    skip = [os.path.dirname(torch.__file__),
            os.path.dirname(os.path.dirname(os.path.abspath(__file__)))]
    frames = traceback.extract_tb(error.__traceback__)
    user = [f for f in frames if not any(os.path.abspath(f.filename).startswith(s) for s in skip)
            and "<frozen" not in f.filename]
    return user[-1] if user else None


def _trace(program: _Program, inputs: Dict[str, torch.Tensor], dynamic_batch: bool) -> Any:
    batch = torch.export.Dim("batch")
    shapes = {k: ({0: batch} if dynamic_batch and t.dim() > 0 else None)
              for k, t in inputs.items()}
    try:
        # no autograd in a serving program (a grad-mode switch inside would not serialize)
        with torch.no_grad():
            return torch.export.export(program, (inputs,), dynamic_shapes=(shapes,),
                                       strict=False)
    except Exception as e:  # torch raises many kinds; all mean "cannot trace"
        reason = next((line for line in str(e).strip().splitlines() if line.strip()),
                      type(e).__name__)
        frame = _user_frame(e)
        where = (f"\n  at {frame.filename}:{frame.lineno} in {frame.name}: {frame.line}"
                 if frame else "")
        raise ExportError(
            f"torch.export cannot trace model_fn in mode {program._mode!r}: "
            f"{type(e).__name__}: {reason[:500]}{where}\n"
            "Make that line traceable (no Python branching on tensor values -- use torch.where "
            "or torch.cond -- and no .item()/.tolist()/numpy), or pass "
            "export_saved_model(..., eager_fallback=True) for an eager export that runs "
            "model_fn from its module at load time.") from e


# -- the description --------------------------------------------------------------------------
def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")


def _tensor_info(t: torch.Tensor, dynamic_batch: bool) -> Dict[str, Any]:
    shape: List[Optional[int]] = list(t.shape)
    if dynamic_batch and shape:
        shape[0] = None
    return {"dtype": _dtype_name(t.dtype), "shape": shape}


def _spec_info(spec: Mapping[str, Any]) -> Dict[str, Any]:
    """A JSON form of a parsing feature_spec (rebuilt from ``data.io`` at load time)."""
    out = {}
    for name, feature in spec.items():
        dtype = getattr(feature, "dtype", None)
        default = getattr(feature, "default_value", None)
        if isinstance(default, torch.Tensor):
            default = default.tolist()
        out[name] = {"kind": type(feature).__name__,
                     "shape": list(getattr(feature, "shape", ()) or ()),
                     "dtype": _dtype_name(dtype) if isinstance(dtype, torch.dtype) else str(dtype),
                     "default_value": default}
    return out


# -- building one mode ------------------------------------------------------------------------
def _examples(receiver: ServingInputReceiver) -> Tuple[Dict[str, torch.Tensor], bool]:
    """The receiver's example tensors on the CPU, at least 2 rows when the batch is dynamic
    (torch.export specializes a dimension of size 0 or 1)."""
    dynamic = receiver.default_batch_size is None
    inputs = {k: t.detach().cpu() for k, t in receiver.receiver_tensors.items()}
    sizes = {k: t.shape[0] for k, t in inputs.items() if t.dim() > 0}
    if dynamic and len(set(sizes.values())) > 1:
        raise ValueError(f"receiver_tensors have different batch sizes {sizes}; the first "
                         "dimension of every receiver tensor is the batch")
    if dynamic and set(sizes.values()) == {0}:
        raise ValueError("receiver_tensors have batch size 0; give example tensors with at "
                         "least one row")
    if dynamic and set(sizes.values()) == {1}:
        inputs = {k: t.expand(2, *t.shape[1:]).clone() if t.dim() > 0 else t
                  for k, t in inputs.items()}
    return inputs, dynamic


def _receiver_of(fn: Callable[[], Any], mode: str) -> ServingInputReceiver:
    receiver = fn()
    if not isinstance(receiver, ServingInputReceiver):
        raise TypeError(f"serving_input_receiver_fn must return an est.export."
                        f"ServingInputReceiver (or TensorServingInputReceiver), got "
                        f"{type(receiver).__name__}")
    if mode == ModeKeys.EVAL and not isinstance(receiver, SupervisedInputReceiver):
        raise TypeError("an EVAL-mode export needs a SupervisedInputReceiver (features and "
                        "labels); see est.export.build_raw_supervised_input_receiver_fn")
    return receiver


def _build(estimator: Any, payload: Dict[str, Any], mode: str,
           receiver_fn: Callable[[], Any]) -> Tuple[_Program, ServingInputReceiver,
                                                    Dict[str, torch.Tensor], bool]:
    """A program over a scope restored from ``payload``, after one eager call that builds
    (and restores) the model."""
    if mode == ModeKeys.TRAIN:
        raise ValueError("export of the TRAIN mode is not supported: an exported program "
                         "cannot run the optimizer step; export PREDICT (and EVAL)")
    if mode not in (ModeKeys.PREDICT, ModeKeys.EVAL):
        raise ValueError(f"experimental_mode must be est.ModeKeys.PREDICT or EVAL, got {mode!r}")
    receiver = _receiver_of(receiver_fn, mode)
    inputs, dynamic = _examples(receiver)
    seed = estimator.config.tf_random_seed
    scope = ModelScope("cpu", torch.initial_seed() if seed is None else seed,
                       restore=payload["model"])
    scope.global_step = int(payload["global_step"])
    program = _Program(scope, estimator._bind(mode), mode, receiver)
    scope.root.train(False)
    with torch.no_grad():
        program(inputs)
    scope.check_restored()
    return program, receiver, inputs, dynamic


def _mode_description(program: _Program, receiver: ServingInputReceiver,
                      inputs: Dict[str, torch.Tensor], dynamic: bool, file: str) -> Dict[str, Any]:
    with torch.no_grad():
        outputs = program(inputs)
    signatures: Dict[str, Any] = {}
    for key, name, i in program.where:
        sig = signatures.setdefault(key, {"method_name": program.method_names[key],
                                          "outputs": {}})
        sig["outputs"][name] = {"index": i, **_tensor_info(outputs[i], dynamic)}
    return {
        "program": file,
        "inputs": {k: _tensor_info(t, dynamic) for k, t in inputs.items()},
        "parse_example": _spec_info(receiver.parse_spec) if receiver.parse_spec else None,
        "signatures": signatures,
        "default_signature": (DEFAULT_SERVING_SIGNATURE_DEF_KEY
                              if DEFAULT_SERVING_SIGNATURE_DEF_KEY in signatures
                              else next(iter(signatures))),
    }


def _eager_description(estimator: Any, receiver: ServingInputReceiver) -> Dict[str, Any]:
    fn = estimator._model_fn
    module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    if not module or "<" in qualname or module == "__main__":
        raise ExportError(f"eager_fallback needs model_fn to be a module-level function importable "
                          f"by name; {fn!r} is defined in {module!r} as {qualname!r}")
    if receiver._fn is not None:
        raise ExportError("eager_fallback needs features to be receiver tensors (not a function)")
    ids = {id(t): k for k, t in receiver.receiver_tensors.items()}
    feats = receiver.features
    assert feats is not None  # a receiver without a function holds its features
    mapping = ids[id(feats)] if isinstance(feats, torch.Tensor) else \
        {k: ids[id(t)] for k, t in feats.items()}
    return {"model_fn": f"{module}:{qualname}", "features": mapping}


# -- writing ----------------------------------------------------------------------------------
def _timestamped_dir(export_dir_base: str) -> str:
    stamp = int(time.time())
    while (os.path.exists(os.path.join(export_dir_base, str(stamp))) or
           os.path.exists(os.path.join(export_dir_base, f"temp-{stamp}"))):
        stamp += 1  # TF sleeps until the next second; the next free one is the same name
    return os.path.join(export_dir_base, str(stamp))


def _copy_assets(assets_extra: Optional[Mapping[str, str]], directory: str) -> None:
    os.makedirs(os.path.join(directory, "assets"), exist_ok=True)
    for dest, source in (assets_extra or {}).items():
        target = os.path.join(directory, "assets.extra", dest)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(source, target)


def export_all_saved_models(estimator: Any, export_dir_base: str,
                            input_receiver_fn_map: Mapping[str, Callable[[], Any]],
                            assets_extra: Optional[Mapping[str, str]] = None,
                            as_text: bool = False, checkpoint_path: Optional[str] = None,
                            eager_fallback: bool = False) -> str:
    """Export the modes of ``input_receiver_fn_map`` (``{est.ModeKeys.PREDICT: fn, EVAL: fn}``)
    into one ``export_dir_base/<timestamp>/``; returns that folder."""
    if not input_receiver_fn_map:
        raise ValueError("input_receiver_fn_map must name at least one mode")
    payload = estimator._load_for_inference(checkpoint_path, "export")
    if payload is None:  # TF exports only a trained model
        raise ValueError(f"Couldn't find trained model at {estimator.model_dir}.")
    export_dir = _timestamped_dir(os.fspath(export_dir_base))
    temp = os.path.join(os.path.dirname(export_dir), "temp-" + os.path.basename(export_dir))
    os.makedirs(temp)
    try:
        description: Dict[str, Any] = {"format": FORMAT, "format_version": FORMAT_VERSION,
                                       "kind": "exported_program",
                                       "global_step": int(payload["global_step"]),
                                       "torch_version": torch.__version__, "modes": {}}
        texts = []
        for mode, receiver_fn in input_receiver_fn_map.items():
            program, receiver, inputs, dynamic = _build(estimator, payload, mode, receiver_fn)
            info = _mode_description(program, receiver, inputs, dynamic, PROGRAMS[mode])
            try:
                exported = _trace(program, inputs, dynamic)
            except ExportError as e:
                if not eager_fallback:
                    raise
                logger.warning("%s\nWriting an eager export (needs model_fn's module to load).",
                               e)
                description["kind"] = "eager"
                description["eager"] = _eager_description(estimator, receiver)
                description["eager"]["mode"] = mode
                info["program"] = None
            else:
                torch.export.save(exported, os.path.join(temp, PROGRAMS[mode]))
                texts.append(f"# mode {mode}\n{exported}")
            description["modes"][mode] = info
        os.makedirs(os.path.join(temp, "variables"))
        torch.save({"global_step": int(payload["global_step"]), "model": payload["model"],
                    "params": _plain(estimator.params)},
                   os.path.join(temp, VARIABLES))
        _copy_assets(assets_extra, temp)
        if as_text:
            with open(os.path.join(temp, "saved_model.txt"), "w") as f:
                f.write("\n\n".join(texts))
        with open(os.path.join(temp, DESCRIPTION), "w") as f:
            json.dump(description, f, indent=1)
        os.replace(temp, export_dir)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    logger.info("SavedModel written to: %s", export_dir)
    return export_dir


def _plain(params: Dict[str, Any]) -> Dict[str, Any]:
    """``params`` values that ``torch.load(weights_only=True)`` can read back."""
    ok = (bool, int, float, str, type(None), list, tuple, dict, torch.Tensor)
    return {k: v for k, v in params.items() if isinstance(v, ok)}


def export_saved_model(estimator: Any, export_dir_base: str,
                       serving_input_receiver_fn: Callable[[], Any],
                       assets_extra: Optional[Mapping[str, str]] = None, as_text: bool = False,
                       checkpoint_path: Optional[str] = None,
                       experimental_mode: str = ModeKeys.PREDICT,
                       eager_fallback: bool = False) -> str:
    """See :meth:`estimator.Estimator.export_saved_model` and the module docstring."""
    if not callable(serving_input_receiver_fn):
        raise TypeError("serving_input_receiver_fn must be a function returning a "
                        f"ServingInputReceiver, got {type(serving_input_receiver_fn).__name__}")
    return export_all_saved_models(estimator, export_dir_base,
                                   {experimental_mode: serving_input_receiver_fn},
                                   assets_extra, as_text, checkpoint_path, eager_fallback)
