"""tf.data rebuilt on PyTorch: checkpointable, re-iterable input pipelines.

>>> import data
>>> ds = data.Dataset.range(6).shuffle(6, seed=1).batch(3)
>>> sorted(int(x) for batch in ds for x in batch)
[0, 1, 2, 3, 4, 5]
"""

__distribution__ = "torch-estimator"
__version__ = "0.1.0"

from data import experimental, image, io, mnist
from data._iterator import DatasetIterator, MalformedStateError
from data._seed import set_random_seed
from data._spec import DatasetSpec, TensorSpec
from data.dataset import INFINITE_CARDINALITY, UNKNOWN_CARDINALITY, Dataset
from data.ops._parallel import AUTOTUNE
from data.files import FixedLengthRecordDataset, TextLineDataset
from data.options import Options
from data.tfrecord import TFRecordDataset

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
