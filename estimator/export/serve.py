"""Run an exported model from the command line, in its own process.

    python -m estimator.export.serve EXPORT_DIR < request.json > response.json
    python -m estimator.export.serve EXPORT_DIR --inputs batch.pt --outputs preds.pt

JSON requests follow TF Serving's REST ``predict`` format: ``{"signature_name": ...,
"instances": [{"images": [...]}, ...]}`` (one object per example; a lone input may be given
bare) answers ``{"predictions": [...]}``, and ``{"inputs": {"images": [[...], ...]}}``
answers ``{"outputs": {...}}``. ``--inputs`` reads a ``torch.save``'d dict of tensors (``.pt``)
or a ``.npz``; ``--outputs`` writes the outputs with ``torch.save``. In Python, the same is::

    import estimator as est
    model = est.export.load("export/1700000000")
    outputs = model.signatures["serving_default"](images=batch)
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Dict, List, Optional

import torch

from estimator.export.load import LoadedModel, load


def _read_file(path: str) -> Dict[str, Any]:
    if path.endswith(".npz"):
        import numpy as np

        with np.load(path) as archive:
            return {k: torch.from_numpy(archive[k]) for k in archive.files}
    return torch.load(path, weights_only=True)


def _from_json(model: LoadedModel, request: Dict[str, Any]) -> Dict[str, Any]:
    key = request.get("signature_name", model.default_signature)
    signature = model.signatures[key]
    if "inputs" in request:
        inputs = request["inputs"]
        if not isinstance(inputs, dict):
            inputs = {next(iter(signature.inputs)): inputs}
        outputs = signature(inputs)
        return {"outputs": {k: v.tolist() for k, v in outputs.items()}}
    instances: List[Any] = request["instances"]
    if instances and not isinstance(instances[0], dict):
        instances = [{next(iter(signature.inputs)): x} for x in instances]
    names = list(signature.inputs)
    columns = {n: [row[n] for row in instances] for n in names}
    outputs = signature(columns)
    return {"predictions": [{k: v[i].tolist() for k, v in outputs.items()}
                            for i in range(len(instances))]}


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m estimator.export.serve",
                                     description="Run an exported model on inputs.")
    parser.add_argument("export_dir", help="a folder written by export_saved_model")
    parser.add_argument("--signature", help="signature key (default: the export's default)")
    parser.add_argument("--inputs", help="a .pt (torch.save'd dict of tensors) or .npz file; "
                                         "default: a JSON request on stdin")
    parser.add_argument("--outputs", help="write the outputs here with torch.save (with "
                                          "--inputs); default: JSON on stdout")
    args = parser.parse_args(argv)
    model = load(args.export_dir)
    if args.inputs:
        signature = model.signatures[args.signature or model.default_signature]
        outputs = signature(_read_file(args.inputs))
        if args.outputs:
            torch.save(outputs, args.outputs)
        else:
            json.dump({k: v.tolist() for k, v in outputs.items()}, sys.stdout)
        return 0
    request = json.load(sys.stdin)
    if args.signature:
        request.setdefault("signature_name", args.signature)
    json.dump(_from_json(model, request), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
