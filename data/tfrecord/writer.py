"""``TFRecordWriter`` and ``TFRecordOptions``: write TFRecord files TF reads."""

from __future__ import annotations

import os
import zlib
from typing import Any, Optional, Union

from data._file_sources import compression
from data.tfrecord._framing import frame

__all__ = ["TFRecordOptions", "TFRecordWriter"]


class TFRecordOptions:
    """Options of a TFRecord file, as ``tf.io.TFRecordOptions``.

    ``compression_type`` (``None``/``""``, ``"GZIP"``, ``"ZLIB"``), ``compression_level``
    (0-9, zlib's; ``None``: zlib's default) and ``window_bits`` (8-15) shape the output; the
    other arguments of TF's signature are accepted for compatibility and only tune buffering in
    TF, so they change nothing here.
    """

    def __init__(self, compression_type: Optional[str] = None, flush_mode: Any = None,
                 input_buffer_size: Optional[int] = None,
                 output_buffer_size: Optional[int] = None, window_bits: Optional[int] = None,
                 compression_level: Optional[int] = None, compression_method: Any = None,
                 mem_level: Optional[int] = None, compression_strategy: Any = None) -> None:
        self.compression_type = compression("TFRecordOptions", compression_type)
        if compression_level is not None and not -1 <= compression_level <= 9:
            raise ValueError(f"TFRecordOptions: compression_level must be in [-1, 9], got "
                             f"{compression_level!r}")
        if window_bits is not None and not 8 <= window_bits <= 15:
            raise ValueError(f"TFRecordOptions: window_bits must be in [8, 15], got "
                             f"{window_bits!r}")
        self.compression_level = compression_level
        self.window_bits = window_bits
        self.flush_mode = flush_mode
        self.input_buffer_size = input_buffer_size
        self.output_buffer_size = output_buffer_size
        self.compression_method = compression_method
        self.mem_level = mem_level
        self.compression_strategy = compression_strategy

    @classmethod
    def get_compression_type_string(cls, options: Union[None, str, "TFRecordOptions"]) -> str:
        """The compression type of ``options`` (an options object, a string or ``None``)."""
        if isinstance(options, TFRecordOptions):
            return options.compression_type
        return compression("TFRecordOptions", options)


class TFRecordWriter:
    """Write records to a TFRecord file, like ``tf.io.TFRecordWriter``.

    ``options`` is a :class:`TFRecordOptions` or a compression type string. Use it as a context
    manager, or call :meth:`close` (records may be buffered until then).

    >>> import data, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "a.tfrecord.gz")
    >>> with TFRecordWriter(path, "GZIP") as writer:
    ...     writer.write(data.io.serialize_example({"label": 1}))
    >>> len(list(data.TFRecordDataset(path, compression_type="GZIP")))
    1
    """

    def __init__(self, path: Union[str, "os.PathLike[str]"],
                 options: Union[None, str, TFRecordOptions] = None) -> None:
        if not isinstance(options, TFRecordOptions):
            options = TFRecordOptions(options)
        self._path = os.fspath(path)
        self._file: Any = open(self._path, "wb")
        self._compressor: Any = None
        if options.compression_type:
            bits = options.window_bits or zlib.MAX_WBITS
            level = -1 if options.compression_level is None else options.compression_level
            # zlib's stream format for ZLIB, its gzip wrapper (window bits + 16) for GZIP.
            self._compressor = zlib.compressobj(
                level, zlib.DEFLATED, bits + 16 if options.compression_type == "GZIP" else bits)

    def write(self, record: Union[bytes, bytearray, memoryview, str]) -> None:
        """Append one record (``bytes``; a ``str`` is UTF-8 encoded)."""
        if self._file is None:
            raise ValueError(f"TFRecordWriter: {self._path!r} is closed")
        if isinstance(record, str):
            record = record.encode()
        if not isinstance(record, (bytes, bytearray, memoryview)):
            raise TypeError(f"TFRecordWriter.write: record must be bytes, got "
                            f"{type(record).__name__}")
        framed = frame(bytes(record))
        self._file.write(self._compressor.compress(framed) if self._compressor else framed)

    def flush(self) -> None:
        """Write buffered data to the file (compressed data up to a sync point)."""
        if self._file is None:
            return
        if self._compressor is not None:
            self._file.write(self._compressor.flush(zlib.Z_SYNC_FLUSH))
        self._file.flush()

    def close(self) -> None:
        """Finish the file. Idempotent."""
        f, self._file = self._file, None
        if f is None:
            return
        try:
            if self._compressor is not None:
                f.write(self._compressor.flush())
        finally:
            f.close()

    def __enter__(self) -> "TFRecordWriter":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass
