"""``est.export``: exporting a trained model to a servable folder, and loading it back.

``Estimator.export_saved_model(export_dir_base, serving_input_receiver_fn)`` writes
``export_dir_base/<timestamp>/`` (see :mod:`estimator.export.save`); :func:`load` runs it in
any process that has this library, without ``model_fn``; ``python -m estimator.export.serve
PATH`` does so from the command line (see :mod:`estimator.export.serve`).

>>> import torch, estimator as est
>>> images = torch.zeros(2, 28, 28, 3)
>>> fn = lambda: est.export.TensorServingInputReceiver(images, {"images": images})
>>> # path = model.export_saved_model("export", fn); est.export.load(path)(images=batch)
"""

from estimator.export.load import LoadedModel, Signature, load
from estimator.export.outputs import (DEFAULT_SERVING_SIGNATURE_DEF_KEY, ClassificationOutput,
                                      ExportOutput, PredictOutput, RegressionOutput)
from estimator.export.receivers import (ServingInputReceiver, SupervisedInputReceiver,
                                        TensorServingInputReceiver,
                                        build_parsing_serving_input_receiver_fn,
                                        build_raw_serving_input_receiver_fn,
                                        build_raw_supervised_input_receiver_fn)
from estimator.export.save import ExportError

__all__ = [
    "ClassificationOutput",
    "DEFAULT_SERVING_SIGNATURE_DEF_KEY",
    "ExportError",
    "ExportOutput",
    "LoadedModel",
    "PredictOutput",
    "RegressionOutput",
    "ServingInputReceiver",
    "Signature",
    "SupervisedInputReceiver",
    "TensorServingInputReceiver",
    "build_parsing_serving_input_receiver_fn",
    "build_raw_serving_input_receiver_fn",
    "build_raw_supervised_input_receiver_fn",
    "load",
]
