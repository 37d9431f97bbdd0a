"""``TFRecordDataset``: the records of TFRecord files, as ``bytes``."""

from __future__ import annotations

from typing import BinaryIO, Optional, Tuple

from data._file_sources import FileSourceDataset, Filenames
from data.tfrecord._framing import read_record

__all__ = ["TFRecordDataset"]


class TFRecordDataset(FileSourceDataset):
    """The records of one or more TFRecord files, like ``tf.data.TFRecordDataset``.

    Each element is one record's ``bytes`` (typically a serialized ``tf.train.Example``, for
    :func:`data.io.parse_example`). Every record's length and data checksums (masked CRC-32C)
    are verified; a truncated or corrupted record raises :class:`data.io.DataLossError` naming
    the file and the byte offset, and the rest of that file is skipped (``ignore_errors()``
    then continues with the next file, as in TF).

    Args:
        filenames: a path, a list of paths, or a ``Dataset`` of paths.
        compression_type: ``None``/``""``, ``"GZIP"`` or ``"ZLIB"``.
        buffer_size: read buffer in bytes (``None``: 256 KB).
        num_parallel_reads: files read at once (``None``: one after the other); their records
            are interleaved one by one in a fixed order.

    The iterator checkpoints the file and byte offset of the next record, so a restored
    pipeline resumes at exactly that record.

    >>> import data, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "a.tfrecord")
    >>> with data.io.TFRecordWriter(path) as writer:
    ...     writer.write(b"first"); writer.write(b"second")
    >>> list(data.TFRecordDataset(path))
    [b'first', b'second']
    """

    display_name = "TFRecordDataset"
    op_name = "tf_record"

    def __init__(self, filenames: Filenames, compression_type: Optional[str] = None,
                 buffer_size: Optional[int] = None,
                 num_parallel_reads: Optional[int] = None) -> None:
        super().__init__(filenames, compression_type, buffer_size, num_parallel_reads)

    def read(self, f: BinaryIO, path: str, offset: int) -> Tuple[bytes, int]:
        return read_record(f, path, offset)

    def single_file(self, path: str) -> "TFRecordDataset":
        return TFRecordDataset(path, self._compression, self._buffer_size_arg)
