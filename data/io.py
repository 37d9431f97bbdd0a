"""File reading for input pipelines, after ``tf.io``.

>>> import data
>>> contents = data.io.read_file(__file__)
>>> isinstance(contents, bytes)
True
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, List, Optional, Tuple, Type, Union

from data._decode_csv import decode_csv
from data._decode_raw import decode_raw

if TYPE_CHECKING:  # at run time imported on first use (``__getattr__`` below)
    from data.tfrecord import (BytesList, DataLossError, Example, Feature, FeatureList,
                               FeatureLists, Features, FixedLenFeature, FixedLenSequenceFeature,
                               FloatList, Int64List, SequenceExample, SparseTensor,
                               TFRecordOptions, TFRecordWriter, VarLenFeature, parse_example,
                               parse_single_example, serialize_example)

# TFRecord and tf.train.Example names: their modules (and the protobuf runtime) load when a
# program first uses one.
_TFRECORD = frozenset((
    "BytesList", "DataLossError", "Example", "Feature", "FeatureList", "FeatureLists", "Features",
    "FixedLenFeature", "FixedLenSequenceFeature", "FloatList", "Int64List", "SequenceExample",
    "SparseTensor", "TFRecordOptions", "TFRecordWriter", "VarLenFeature", "parse_example",
    "parse_single_example", "serialize_example"))

__all__ = [
    "BytesList",
    "DataLossError",
    "Example",
    "Feature",
    "FeatureList",
    "FeatureLists",
    "Features",
    "FileBytes",
    "FixedLenFeature",
    "FixedLenSequenceFeature",
    "FloatList",
    "Int64List",
    "SequenceExample",
    "SparseTensor",
    "TFRecordOptions",
    "TFRecordWriter",
    "VarLenFeature",
    "decode_csv",
    "decode_raw",
    "parse_example",
    "parse_single_example",
    "read_file",
    "serialize_example",
]


def __getattr__(name: str) -> Any:
    if name not in _TFRECORD:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import data.tfrecord

    value = getattr(data.tfrecord, name)
    globals()[name] = value
    return value


def __dir__() -> List[str]:
    return sorted({*globals(), *_TFRECORD})


class FileBytes(bytes):
    """``bytes`` that remember the file they came from, so decoders can name it in errors.

    It is a real ``bytes`` object (hashing, slicing, comparison and pickling behave as for
    ``bytes``); only ``.path`` is added.
    """

    path: Optional[str]

    def __new__(cls, contents: bytes, path: Optional[str] = None) -> "FileBytes":
        obj = super().__new__(cls, contents)
        obj.path = path
        return obj

    def __reduce__(self) -> Tuple[Type["FileBytes"], Tuple[bytes, Optional[str]]]:
        return (FileBytes, (bytes(self), self.path))


def _read_all(path: str) -> bytes:
    # os.read skips the buffered file object's setup: 13 -> 8 us per 40 KB file.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        size = os.fstat(fd).st_size
        contents = os.read(fd, size) if size > 0 else b""
        if len(contents) < size or size == 0:  # short read, or a size-less file (/proc)
            chunks = [contents]
            while True:
                chunk = os.read(fd, max(size, 2**16))
                if not chunk:
                    break
                chunks.append(chunk)
            contents = b"".join(chunks)
        return contents
    finally:
        os.close(fd)


def read_file(filename: Union[str, bytes, os.PathLike]) -> bytes:
    """Read a whole file, like ``tf.io.read_file``.

    Returns the contents as ``bytes`` (a :class:`FileBytes` whose ``.path`` is ``filename``).

    Raises:
        FileNotFoundError: naming the path when it does not exist.
        IsADirectoryError: naming the path when it is a directory.
    """
    if isinstance(filename, bytes):
        filename = filename.decode()
    path = os.fspath(filename)
    try:
        contents = _read_all(path)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"read_file: no such file {path!r} (check the path or the pattern that listed it)"
        ) from None
    except IsADirectoryError:
        raise IsADirectoryError(f"read_file: {path!r} is a directory, expected a file") from None
    return FileBytes(contents, path)
