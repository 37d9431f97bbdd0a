"""``est.export.load(path)``: run an exported model, without ``model_fn`` or its source.

>>> # model = est.export.load("export/1700000000")
>>> # model({"images": batch})["probabilities"]            # the default signature
>>> # model.signatures["serving_default"](images=batch)      # any signature by key
"""

from __future__ import annotations

import importlib
import json
import os
from typing import Any, Callable, Dict, Mapping, Optional

import torch

from estimator.export.save import DESCRIPTION, FORMAT, FORMAT_VERSION, VARIABLES
from estimator.spec import ModeKeys

__all__ = ["LoadedModel", "Signature", "load"]


def _dtype(name: str) -> torch.dtype:
    return getattr(torch, name)


class Signature:
    """One signature: call it with its inputs by name; returns ``{output name: tensor}``."""

    def __init__(self, key: str, info: Dict[str, Any], inputs: Dict[str, Any],
                 run: Callable[[Dict[str, torch.Tensor]], Any],
                 parse_spec: Optional[Dict[str, Any]]) -> None:
        self.key = key
        self.method_name: str = info["method_name"]
        self.outputs: Dict[str, Any] = info["outputs"]
        self._inputs, self._run, self._parse = inputs, run, parse_spec
        #: ``{name: {"dtype", "shape"}}`` the signature takes (``examples`` for tf.Example)
        self.inputs: Dict[str, Any] = ({"examples": {"dtype": "string", "shape": [None]}}
                                       if parse_spec else dict(inputs))

    def __call__(self, inputs: Optional[Mapping[str, Any]] = None, **kwargs: Any
                 ) -> Dict[str, torch.Tensor]:
        given = dict(inputs or {}, **kwargs)
        if self._parse is not None:
            given = self._parse_examples(given)
        missing = sorted(set(self._inputs) - set(given))
        extra = sorted(set(given) - set(self._inputs))
        if missing or extra:
            raise ValueError(f"signature {self.key!r} takes inputs {sorted(self._inputs)}; "
                             f"missing {missing}, unexpected {extra}")
        tensors = {}
        for name, info in self._inputs.items():
            value = torch.as_tensor(given[name], dtype=_dtype(info["dtype"]))
            expected = info["shape"]
            if value.dim() != len(expected) or any(
                    e is not None and e != s for e, s in zip(expected, value.shape)):
                raise ValueError(f"signature {self.key!r} input {name!r} must have shape "
                                 f"{expected} (None: any size), got {list(value.shape)}")
            tensors[name] = value
        results = self._run(tensors)
        return {name: results[out["index"]] for name, out in self.outputs.items()}

    def _parse_examples(self, given: Dict[str, Any]) -> Dict[str, Any]:
        if set(given) != {"examples"}:
            raise ValueError(f"signature {self.key!r} takes serialized tf.Example records as "
                             f"'examples' (a list of bytes); got {sorted(given)}")
        import data

        parse_example = getattr(data.io, "parse_example", None)
        if parse_example is None:
            raise RuntimeError("this export parses tf.Example records, which needs "
                               "data.io.parse_example; this installation has none")
        assert self._parse is not None  # called only for a signature that parses examples
        spec = {name: getattr(data.io, f["kind"])(
            f["shape"], _dtype(f["dtype"]), *([] if f["default_value"] is None
                                              else [f["default_value"]]))
            for name, f in self._parse.items()}
        return dict(parse_example(list(given["examples"]), spec))

    def __repr__(self) -> str:
        return (f"Signature({self.key!r}, inputs={sorted(self.inputs)}, "
                f"outputs={sorted(self.outputs)})")


class LoadedModel:
    """An exported model: ``signatures`` by key; calling it runs the default signature."""

    def __init__(self, path: str, description: Dict[str, Any],
                 signatures: Dict[str, Signature], default: str) -> None:
        self.path, self.description = path, description
        self.signatures = signatures
        self.default_signature = default
        self.global_step: int = description["global_step"]

    def __call__(self, inputs: Optional[Mapping[str, Any]] = None, **kwargs: Any
                 ) -> Dict[str, torch.Tensor]:
        return self.signatures[self.default_signature](inputs, **kwargs)

    def __repr__(self) -> str:
        return f"LoadedModel({self.path!r}, signatures={sorted(self.signatures)})"


def _program_runner(path: str) -> Callable[[Dict[str, torch.Tensor]], Any]:
    module = torch.export.load(path).module()

    def run(inputs: Dict[str, torch.Tensor]) -> Any:
        with torch.no_grad():
            return module(inputs)

    return run


def _eager_runner(path: str, description: Dict[str, Any], mode: str
                  ) -> Callable[[Dict[str, torch.Tensor]], Any]:
    """Run ``model_fn`` (imported by name) over the exported variables."""
    from estimator._fn_args import bind_model_fn
    from estimator.export.save import _flatten, _outputs_of
    from estimator.run_config import RunConfig
    from estimator.scope import ModelScope

    eager = description["eager"]
    module_name, qualname = eager["model_fn"].split(":")
    fn: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        fn = getattr(fn, part)
    variables = torch.load(os.path.join(path, VARIABLES), weights_only=True)
    scope = ModelScope("cpu", 0, restore=variables["model"])
    call = bind_model_fn(fn, mode, variables.get("params", {}), RunConfig(device="cpu"))
    mapping = eager["features"]
    state = {"first": True}

    def run(inputs: Dict[str, torch.Tensor]) -> Any:
        features = (inputs[mapping] if isinstance(mapping, str)
                    else {k: inputs[v] for k, v in mapping.items()})
        scope.root.train(False)
        with torch.no_grad(), scope.call(mode):
            spec = call(features, None)
        if state["first"]:
            scope.check_restored()
            state["first"] = False
        return _flatten(_outputs_of(spec, mode))[0]

    return run


def load(path: str, mode: str = ModeKeys.PREDICT) -> LoadedModel:
    """Load the export in ``path`` (a folder written by ``export_saved_model``)."""
    path = os.fspath(path)
    file = os.path.join(path, DESCRIPTION)
    if not os.path.isfile(file):
        raise FileNotFoundError(f"{path!r} is not an export: it has no {DESCRIPTION} (give the "
                                "timestamped folder export_saved_model returned)")
    with open(file) as f:
        description = json.load(f)
    if description.get("format") != FORMAT:
        raise ValueError(f"{file} is not a {FORMAT} description")
    if description.get("format_version", 0) > FORMAT_VERSION:
        raise ValueError(f"{path!r} was written by a newer version (format "
                         f"{description['format_version']}; this one reads up to "
                         f"{FORMAT_VERSION}); upgrade the library")
    modes = description["modes"]
    if mode not in modes:
        raise ValueError(f"{path!r} has no {mode!r} export; it has {sorted(modes)}")
    info = modes[mode]
    if info["program"] is not None:
        run = _program_runner(os.path.join(path, info["program"]))
    else:
        run = _eager_runner(path, description, mode)
    signatures: Dict[str, Signature] = {
        key: Signature(key, sig, info["inputs"], run, info.get("parse_example"))
        for key, sig in info["signatures"].items()}
    return LoadedModel(path, description, signatures, info["default_signature"])
