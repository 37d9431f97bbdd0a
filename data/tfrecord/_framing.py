"""TFRecord framing: each record is

    uint64 length | uint32 masked_crc32c(length) | data[length] | uint32 masked_crc32c(data)

all little-endian (TF's ``core/lib/io/record_reader.cc`` / ``record_writer.cc``). Both checksums
are verified on reading, as TF does.
"""

from __future__ import annotations

import struct
from typing import BinaryIO, Tuple

from data.tfrecord._crc import masked_crc32c

_HEADER = struct.Struct("<QI")
_FOOTER = struct.Struct("<I")
HEADER_BYTES = _HEADER.size
FOOTER_BYTES = _FOOTER.size


class DataLossError(OSError):
    """A TFRecord file is truncated or a record's checksum does not match (TF's DataLossError).

    ``path`` and ``offset`` say where.
    """

    def __init__(self, message: str, path: str = "", offset: int = -1) -> None:
        super().__init__(message)
        self.path = path
        self.offset = offset

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def read_record(f: BinaryIO, path: str, offset: int) -> Tuple[bytes, int]:
    """The record at ``offset`` of ``f`` and the offset of the next one.

    Raises ``StopIteration`` at a clean end of file and :class:`DataLossError` for a truncated
    or corrupted record (the offset in its message is TF's: the record's start, or its data's
    start when the data checksum fails).
    """
    header = f.read(HEADER_BYTES)
    if not header:
        raise StopIteration
    if len(header) < HEADER_BYTES:
        raise DataLossError(f"truncated record at {offset} in {path!r}: the file ends inside "
                            "a record header", path, offset)
    length, length_crc = _HEADER.unpack(header)
    if masked_crc32c(header[:8]) != length_crc:
        raise DataLossError(f"corrupted record at {offset} in {path!r}: the length checksum "
                            "does not match (not a TFRecord file, or a damaged one; for a "
                            "compressed file give compression_type)", path, offset)
    data = f.read(length)
    footer = f.read(FOOTER_BYTES)
    if len(data) < length or len(footer) < FOOTER_BYTES:
        raise DataLossError(f"truncated record at {offset} in {path!r}: the record declares "
                            f"{length} bytes but the file ends first", path, offset)
    if masked_crc32c(data) != _FOOTER.unpack(footer)[0]:
        data_offset = offset + HEADER_BYTES
        raise DataLossError(f"corrupted record at {data_offset} in {path!r}: the data checksum "
                            f"of the {length}-byte record starting at {offset} does not match",
                            path, data_offset)
    return data, offset + HEADER_BYTES + length + FOOTER_BYTES


def frame(record: bytes) -> bytes:
    """``record`` with its TFRecord header and footer."""
    length = struct.pack("<Q", len(record))
    return b"".join((length, _FOOTER.pack(masked_crc32c(length)), record,
                     _FOOTER.pack(masked_crc32c(record))))
