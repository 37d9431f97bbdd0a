"""The machinery shared by the datasets that read records from files.

``TextLineDataset``, ``TFRecordDataset`` and ``FixedLengthRecordDataset`` are
:class:`FileSourceDataset` subclasses that say only how to read one record from an open file.
This module handles the rest, as tf.data does:

- ``filenames``: a path, a list of paths, or a ``Dataset`` of paths (``str`` or ``bytes``).
- ``compression_type``: ``None`` or ``""`` (plain), ``"GZIP"`` or ``"ZLIB"`` (a zlib stream, as
  TF's ZLIB option writes it).
- ``buffer_size``: bytes of read buffer (``None``: 256 KB, as TF).
- ``num_parallel_reads``: ``None`` or 1 reads the files one after the other; ``n > 1`` (or
  ``AUTOTUNE``) reads ``n`` files at once, each in its own thread, and interleaves their records
  one at a time in a fixed round-robin order (tf.data's parallel interleave with
  ``cycle_length=n, block_length=1``, deterministic).

The sequential iterator's state is the filenames iterator's state, the file being read and the
byte offset of its next record, so resuming reads no record twice and skips none. For a
compressed file the offset counts uncompressed bytes: resuming decompresses the file from its
start up to the offset (as TF does) without parsing records. An error in a file (a corrupt
record, a missing file) is raised once, naming the file, and the rest of that file is skipped:
``ignore_errors()`` then goes on with the next file, as in TF.
"""

from __future__ import annotations

import gzip
import io
import os
import zlib
from typing import Any, BinaryIO, Dict, Optional, Sequence, Tuple, Union, cast

from data._iterator import (UPSTREAM, DatasetIterator, MalformedStateError, require_keys,
                            state_int)
from data.dataset import Dataset
from data.ops._args import check_int
from data.ops._parallel import AUTOTUNE
from data.ops.combine import InterleaveDataset
from data.sources import TensorSliceDataset

PathLike = Union[str, bytes, "os.PathLike[str]"]
Filenames = Union[PathLike, Sequence[PathLike], Dataset]

#: TF's default read buffer for file datasets.
DEFAULT_BUFFER_SIZE = 256 * 1024
_ZLIB_CHUNK = 64 * 1024
COMPRESSIONS = ("", "GZIP", "ZLIB")


def compression(op: str, compression_type: Optional[str]) -> str:
    """``compression_type`` checked and normalised to ``""``, ``"GZIP"`` or ``"ZLIB"``."""
    value = "" if compression_type is None else compression_type
    if isinstance(value, bytes):
        value = value.decode()
    if value not in COMPRESSIONS:
        raise ValueError(f"{op}: compression_type must be None, '', 'GZIP' or 'ZLIB', got "
                         f"{compression_type!r}")
    return value


def _path(op: str, name: Any, where: str) -> str:
    if isinstance(name, bytes):
        return name.decode()
    if isinstance(name, (str, os.PathLike)):
        return os.fspath(name)
    raise TypeError(f"{op}: filenames must be paths (str or bytes); {where} is a "
                    f"{type(name).__name__}: {name!r}")


class _ZlibReader(io.RawIOBase):
    """A readable stream of the decompressed bytes of a zlib (or gzip) stream."""

    def __init__(self, raw: BinaryIO, wbits: int) -> None:
        super().__init__()
        self._raw = raw
        self._inflate = zlib.decompressobj(wbits)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        want = len(buffer)
        while True:
            if self._inflate.unconsumed_tail:
                chunk = self._inflate.unconsumed_tail
            elif self._inflate.eof:
                return 0
            else:
                chunk = self._raw.read(_ZLIB_CHUNK)
                if not chunk:
                    raise EOFError("the compressed stream ended before its end marker "
                                   "(truncated file)")
            data = self._inflate.decompress(chunk, want)
            if data:
                buffer[:len(data)] = data
                return len(data)

    def close(self) -> None:
        try:
            self._raw.close()
        finally:
            super().close()


def open_file(path: str, compression_type: str, buffer_size: int, offset: int = 0) -> BinaryIO:
    """Open ``path`` for reading its (decompressed) bytes, positioned at ``offset``."""
    if compression_type == "":
        f = open(path, "rb", buffering=buffer_size)
        if offset:
            f.seek(offset)
        return f
    raw = open(path, "rb", buffering=0)
    try:
        if compression_type == "GZIP":
            # A binary file in all the readers use (read, tell, close), though typeshed
            # declares GzipFile a BufferedIOBase only.
            stream = cast(BinaryIO, gzip.GzipFile(fileobj=io.BufferedReader(raw, buffer_size)))
        else:
            stream = io.BufferedReader(_ZlibReader(raw, zlib.MAX_WBITS), buffer_size)
        remaining = offset
        while remaining > 0:  # decompress up to the offset; compressed files cannot seek
            skipped = len(stream.read(min(remaining, 1 << 20)))
            if skipped == 0:
                raise EOFError(f"{path!r} has fewer than {offset} bytes after decompression")
            remaining -= skipped
        return stream
    except BaseException:
        raw.close()
        raise


class FileSourceDataset(Dataset):
    """Records read from files; subclasses implement :meth:`read`."""

    #: Name of the public class, for messages (``"TFRecordDataset"``).
    display_name = "FileSourceDataset"
    #: Name recorded in iterator states.
    op_name = "file_source"

    def __init__(self, filenames: Filenames, compression_type: Optional[str] = None,
                 buffer_size: Optional[int] = None,
                 num_parallel_reads: Optional[int] = None) -> None:
        super().__init__()
        op = self.display_name
        if isinstance(filenames, Dataset):
            self._filenames: Dataset = filenames
        else:
            if isinstance(filenames, (str, bytes, os.PathLike)):
                filenames = [filenames]
            paths = [_path(op, f, f"filenames[{i}]") for i, f in enumerate(filenames)]
            self._filenames = TensorSliceDataset(paths)
        self._compression = compression(op, compression_type)
        if buffer_size is not None and (not isinstance(buffer_size, int) or buffer_size < 0
                                        or isinstance(buffer_size, bool)):
            raise ValueError(f"{op}: buffer_size must be None or a non-negative int (bytes), "
                             f"got {buffer_size!r}")
        self._buffer_size = buffer_size or DEFAULT_BUFFER_SIZE
        self._buffer_size_arg = buffer_size
        if num_parallel_reads is not None:
            num_parallel_reads = check_int(op, "num_parallel_reads", num_parallel_reads, 1,
                                           also=(AUTOTUNE,))
        self._num_parallel_reads = num_parallel_reads

    # -- what subclasses write -------------------------------------------------------------
    def read(self, f: BinaryIO, path: str, offset: int) -> Tuple[Any, int]:
        """Read the record at ``offset`` of the open file; return it and the next offset.

        Raises ``StopIteration`` at the end of the file.
        """
        raise NotImplementedError

    def start_offset(self, path: str) -> int:
        """Where the first record of a file starts (after a header)."""
        return 0

    def single_file(self, path: str) -> "FileSourceDataset":
        """A dataset of the same kind over one file (for parallel reads)."""
        raise NotImplementedError

    # -- provided --------------------------------------------------------------------------
    def _iterator(self, epoch: int) -> DatasetIterator:
        if self._num_parallel_reads not in (None, 1):
            interleaved = InterleaveDataset(
                self._filenames, lambda name: self.single_file(_path(
                    self.display_name, name, "an element of filenames")),
                cycle_length=self._num_parallel_reads, block_length=1,
                num_parallel_calls=self._num_parallel_reads)
            return interleaved._iterator(epoch)
        return _FileSourceIterator(self, self._filenames._iterator(epoch))


class _FileSourceIterator(DatasetIterator):
    def __init__(self, dataset: FileSourceDataset, filenames: DatasetIterator) -> None:
        super().__init__()
        self.op_name = dataset.op_name
        self._ds = dataset
        self._upstream = filenames
        self._own(filenames)
        self._path: Optional[str] = None  # the file being read, None between files
        self._offset = 0
        self._file: Optional[BinaryIO] = None

    def _open(self, path: str) -> BinaryIO:
        try:
            f = open_file(path, self._ds._compression, self._ds._buffer_size, self._offset)
        except FileNotFoundError:
            raise FileNotFoundError(f"{self._ds.display_name}: no such file {path!r}") from None
        except IsADirectoryError:
            raise IsADirectoryError(f"{self._ds.display_name}: {path!r} is a directory, "
                                    "expected a file") from None
        self._file = f
        return f

    def _next(self) -> Any:
        while True:
            if self._path is None:
                name = next(self._upstream)
                self._path = _path(self._ds.display_name, name, "an element of filenames")
                self._offset = -1
            path = self._path
            try:
                if self._offset < 0:
                    self._offset = self._ds.start_offset(path)
                f = self._file if self._file is not None else self._open(path)
                record, self._offset = self._ds.read(f, path, self._offset)
                return record
            except StopIteration:
                self._end_file()
            except Exception:
                self._end_file()  # as TF: an error ends the file; the next call reads the next
                raise

    def _end_file(self) -> None:
        self._close()
        self._path = None
        self._offset = 0

    def _get_state(self) -> Dict[str, Any]:
        return {UPSTREAM: self._upstream.state_dict(), "file": self._path,
                "offset": self._offset}

    def _set_state(self, state: Dict[str, Any]) -> None:
        require_keys(self.op_name, state, UPSTREAM, "file", "offset")
        offset = state_int(self.op_name, state, "offset")
        if state["file"] is not None and not isinstance(state["file"], str):
            raise MalformedStateError(f"{self.op_name}: saved state field 'file' must be a str "
                                      f"or None, got {type(state['file']).__name__}")
        self._close()
        self._upstream.load_state_dict(state[UPSTREAM])
        self._path = state["file"]
        self._offset = offset

    def _close(self) -> None:
        f, self._file = self._file, None
        if f is not None:
            f.close()
