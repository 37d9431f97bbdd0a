"""tf.data rebuilt on PyTorch: checkpointable, re-iterable input pipelines.

>>> import data
>>> ds = data.Dataset.range(6).shuffle(6, seed=1).batch(3)
>>> sorted(int(x) for batch in ds for x in batch)
[0, 1, 2, 3, 4, 5]
"""

__distribution__ = "torch-estimator"
__version__ = "0.1.0"

import importlib
from typing import TYPE_CHECKING, Any, List

from data import experimental, image, io, mnist
from data._iterator import DatasetIterator, MalformedStateError
from data._seed import set_random_seed
from data._spec import DatasetSpec, TensorSpec
from data.dataset import INFINITE_CARDINALITY, UNKNOWN_CARDINALITY, Dataset
from data.ops._parallel import AUTOTUNE
from data.files import FixedLengthRecordDataset, TextLineDataset
from data.options import Options

if TYPE_CHECKING:  # at run time imported on first use (``__getattr__`` below)
    from data.tfrecord import TFRecordDataset


def __getattr__(name: str) -> Any:
    if name == "TFRecordDataset":  # its module loads the TFRecord and protobuf code
        from data.tfrecord import TFRecordDataset

        globals()[name] = TFRecordDataset
        return TFRecordDataset
    return _submodule(name)


def _submodule(name: str) -> Any:
    """``data.<name>`` for a submodule no import has loaded yet (``data.tfrecord``)."""
    if not name.startswith("__"):
        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{name}":
                raise
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> List[str]:
    return sorted({*globals(), "TFRecordDataset"})


__all__ = [
    "AUTOTUNE",
    "Dataset",
    "DatasetIterator",
    "DatasetSpec",
    "FixedLengthRecordDataset",
    "INFINITE_CARDINALITY",
    "MalformedStateError",
    "Options",
    "TFRecordDataset",
    "TensorSpec",
    "TextLineDataset",
    "UNKNOWN_CARDINALITY",
    "experimental",
    "image",
    "io",
    "mnist",
    "set_random_seed",
]
