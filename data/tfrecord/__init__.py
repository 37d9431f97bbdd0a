"""TFRecord files and ``tf.train.Example`` parsing, without TensorFlow.

- :mod:`data.tfrecord._crc`: CRC-32C and TFRecord's masked checksum.
- :mod:`data.tfrecord._framing`: the record framing (read/write one record).
- :mod:`data.tfrecord.dataset`: ``TFRecordDataset``.
- :mod:`data.tfrecord.writer`: ``TFRecordWriter``, ``TFRecordOptions``.
- :mod:`data.tfrecord._proto`: the ``Example`` protos on the protobuf runtime.
- :mod:`data.tfrecord.parsing`: ``parse_example``, ``parse_single_example`` and feature specs.
"""

from data.tfrecord._framing import DataLossError
from data.tfrecord._proto import (BytesList, Example, Feature, FeatureList, FeatureLists,
                                  Features, FloatList, Int64List, SequenceExample)
from data.tfrecord._serialize import serialize_example
from data.tfrecord.dataset import TFRecordDataset
from data.tfrecord.parsing import (FixedLenFeature, FixedLenSequenceFeature, SparseTensor,
                                   VarLenFeature, parse_example, parse_single_example)
from data.tfrecord.writer import TFRecordOptions, TFRecordWriter

__all__ = [
    "BytesList",
    "DataLossError",
    "Example",
    "Feature",
    "FeatureList",
    "FeatureLists",
    "Features",
    "FixedLenFeature",
    "FixedLenSequenceFeature",
    "FloatList",
    "Int64List",
    "SequenceExample",
    "SparseTensor",
    "TFRecordDataset",
    "TFRecordOptions",
    "TFRecordWriter",
    "VarLenFeature",
    "parse_example",
    "parse_single_example",
    "serialize_example",
]
