"""Datasets that start a pipeline from files: ``list_files``, ``TextLineDataset`` and
``FixedLengthRecordDataset`` (``TFRecordDataset`` is in :mod:`data.tfrecord`)."""

from __future__ import annotations

import glob
import os
from typing import BinaryIO, Dict, List, Optional, Sequence, Tuple, Union

from data._file_sources import FileSourceDataset, Filenames, open_file
from data.dataset import Dataset
from data.ops._args import check_int
from data.sources import TensorSliceDataset

PathLike = Union[str, "os.PathLike[str]"]


# -- list_files ------------------------------------------------------------------------------
def list_files(file_pattern: Union[PathLike, Sequence[PathLike]], shuffle: Optional[bool] = None,
               seed: Optional[int] = None) -> Dataset:
    """Files matching one or more glob patterns (``**`` matches any number of directories)."""
    patterns: List[PathLike] = ([file_pattern] if isinstance(file_pattern, (str, os.PathLike))
                                else list(file_pattern))
    if not patterns:
        raise ValueError("list_files: file_pattern is an empty list; give at least one pattern")
    files = sorted(f for p in patterns for f in glob.glob(os.fspath(p), recursive=True))
    if not files:
        shown = os.fspath(patterns[0]) if len(patterns) == 1 else [os.fspath(p) for p in patterns]
        raise ValueError(
            f"list_files: no files matched pattern {shown!r} (relative to {os.getcwd()!r}); "
            "check the path and use '**' to match subdirectories"
        )
    dataset: Dataset = TensorSliceDataset(files)
    if shuffle is None or shuffle:
        from data.ops.shuffle import ShuffleDataset
        dataset = ShuffleDataset(dataset, len(files), seed=seed, reshuffle_each_iteration=True)
    return dataset


# -- TextLineDataset -------------------------------------------------------------------------
class TextLineDataset(FileSourceDataset):
    """Lines of one or more text files, as ``str`` without the line ending.

    ``"\\n"`` and ``"\\r\\n"`` endings are removed. ``filenames`` is a path, a list of paths
    or a ``Dataset`` of paths; ``compression_type`` is ``None``/``""``, ``"GZIP"`` or ``"ZLIB"``;
    ``buffer_size`` is the read buffer in bytes; ``num_parallel_reads`` reads that many files
    at once and interleaves their lines (see :mod:`data._file_sources`). The iterator's state
    is the file and the byte offset of the next line, so resuming does not re-read the files.

    >>> import data, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "a.txt")
    >>> _ = open(path, "w").write("first\\nsecond\\n")
    >>> list(data.TextLineDataset(path))
    ['first', 'second']
    """

    display_name = "TextLineDataset"
    op_name = "text_line"

    def __init__(self, filenames: Filenames, compression_type: Optional[str] = None,
                 buffer_size: Optional[int] = None,
                 num_parallel_reads: Optional[int] = None) -> None:
        super().__init__(filenames, compression_type, buffer_size, num_parallel_reads)

    def read(self, f: BinaryIO, path: str, offset: int) -> Tuple[str, int]:
        line = f.readline()
        if not line:
            raise StopIteration
        end = offset + len(line)
        if line.endswith(b"\n"):
            line = line[:-2] if line.endswith(b"\r\n") else line[:-1]
        try:
            return line.decode("utf-8"), end
        except UnicodeDecodeError as e:
            raise ValueError(f"TextLineDataset: {path!r} is not UTF-8 text (line ending at "
                             f"byte {end}): {e}") from e

    def single_file(self, path: str) -> "TextLineDataset":
        return TextLineDataset(path, self._compression, self._buffer_size_arg)


# -- FixedLengthRecordDataset ----------------------------------------------------------------
class FixedLengthRecordDataset(FileSourceDataset):
    """Fixed-size records of binary files, like ``tf.data.FixedLengthRecordDataset``.

    Each file is ``header_bytes`` skipped, then records of ``record_bytes`` each, then
    ``footer_bytes`` skipped; each element is one record's ``bytes`` (decode it with
    :func:`data.io.decode_raw`). A file whose body is not a whole number of records raises
    ``ValueError`` naming it, before any of its records, as TF does. ``compression_type``,
    ``buffer_size`` and ``num_parallel_reads`` as for :class:`data.TFRecordDataset`.

    >>> import data, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "r.bin")
    >>> _ = open(path, "wb").write(b"HDR" + bytes(range(6)))
    >>> [r for r in data.FixedLengthRecordDataset(path, 2, header_bytes=3)]
    [b'\\x00\\x01', b'\\x02\\x03', b'\\x04\\x05']
    """

    display_name = "FixedLengthRecordDataset"
    op_name = "fixed_length_record"

    def __init__(self, filenames: Filenames, record_bytes: int,
                 header_bytes: Optional[int] = None, footer_bytes: Optional[int] = None,
                 buffer_size: Optional[int] = None, compression_type: Optional[str] = None,
                 num_parallel_reads: Optional[int] = None) -> None:
        super().__init__(filenames, compression_type, buffer_size, num_parallel_reads)
        op = self.display_name
        self._record_bytes = check_int(op, "record_bytes", record_bytes, 1)
        self._header_bytes = check_int(op, "header_bytes", header_bytes or 0, 0)
        self._footer_bytes = check_int(op, "footer_bytes", footer_bytes or 0, 0)
        self._ends: Dict[str, int] = {}

    def _body_end(self, path: str) -> int:
        """Offset where the last record ends, checking the file's size as TF does."""
        if path not in self._ends:
            if self._compression:
                with open_file(path, self._compression, self._buffer_size) as f:
                    size = sum(len(chunk) for chunk in iter(lambda: f.read(1 << 20), b""))
            else:
                size = os.path.getsize(path)
            body = size - self._header_bytes - self._footer_bytes
            if body < 0 or body % self._record_bytes:
                raise ValueError(
                    f"FixedLengthRecordDataset: {path!r} has {size} bytes, but with "
                    f"header_bytes={self._header_bytes} and footer_bytes={self._footer_bytes} "
                    f"its body is not a whole number of {self._record_bytes}-byte records")
            self._ends[path] = size - self._footer_bytes
        return self._ends[path]

    def start_offset(self, path: str) -> int:
        self._body_end(path)
        return self._header_bytes

    def read(self, f: BinaryIO, path: str, offset: int) -> Tuple[bytes, int]:
        if offset + self._record_bytes > self._body_end(path):
            raise StopIteration
        record = f.read(self._record_bytes)
        if len(record) < self._record_bytes:
            raise ValueError(f"FixedLengthRecordDataset: {path!r} ended inside the record at "
                             f"byte {offset} (was it truncated while being read?)")
        return record, offset + self._record_bytes

    def single_file(self, path: str) -> "FixedLengthRecordDataset":
        return FixedLengthRecordDataset(path, self._record_bytes, self._header_bytes,
                                        self._footer_bytes, self._buffer_size_arg,
                                        self._compression)
