"""Datasets that start a pipeline from files: ``list_files`` and ``TextLineDataset``."""

from __future__ import annotations

import glob
import gzip
import os
from typing import Any, Dict, Optional, Sequence, Tuple, Union

from data._iterator import DatasetIterator, require_keys, state_int
from data.dataset import Dataset
from data.sources import TensorSliceDataset

PathLike = Union[str, "os.PathLike[str]"]


# -- list_files ------------------------------------------------------------------------------
def list_files(file_pattern: Union[PathLike, Sequence[PathLike]], shuffle: Optional[bool] = None,
               seed: Optional[int] = None) -> Dataset:
    """Files matching one or more glob patterns (``**`` matches any number of directories)."""
    single = isinstance(file_pattern, (str, os.PathLike))
    patterns = [file_pattern] if single else list(file_pattern)
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
_COMPRESSIONS = (None, "", "GZIP")


class TextLineDataset(Dataset):
    """Lines of one or more text files, as ``str`` without the line ending.

    Files are read one after the other; ``"\\n"`` and ``"\\r\\n"`` endings are removed. The
    iterator's state is the file index and the byte offset of the next line, so resuming does
    not re-read the files. ``compression_type="GZIP"`` reads gzip-compressed files.

    >>> import data, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "a.txt")
    >>> _ = open(path, "w").write("first\\nsecond\\n")
    >>> list(data.TextLineDataset(path))
    ['first', 'second']
    """

    def __init__(self, filenames: Union[PathLike, Sequence[PathLike]],
                 compression_type: Optional[str] = None) -> None:
        super().__init__()
        if isinstance(filenames, (str, os.PathLike)):
            filenames = [filenames]
        self._filenames: Tuple[str, ...] = tuple(os.fspath(f) for f in filenames)
        if compression_type not in _COMPRESSIONS:
            raise ValueError(
                f"TextLineDataset: compression_type must be None, '' or 'GZIP', got "
                f"{compression_type!r}"
            )
        self._gzip = compression_type == "GZIP"

    def _iterator(self, epoch: int) -> DatasetIterator:
        return _TextLineIterator(self._filenames, self._gzip)


class _TextLineIterator(DatasetIterator):
    op_name = "text_line"

    def __init__(self, filenames: Tuple[str, ...], use_gzip: bool) -> None:
        super().__init__()
        self._filenames = filenames
        self._gzip = use_gzip
        self._file_index = 0
        self._offset = 0
        self._file: Optional[Any] = None

    def _open(self) -> Any:
        name = self._filenames[self._file_index]
        f = gzip.open(name, "rb") if self._gzip else open(name, "rb")
        if self._offset:
            f.seek(self._offset)
        self._file = f
        return f

    def _next(self) -> str:
        while self._file_index < len(self._filenames):
            f = self._file if self._file is not None else self._open()
            line = f.readline()
            if not line:
                self._close()
                self._file_index += 1
                self._offset = 0
                continue
            self._offset = f.tell()
            if line.endswith(b"\n"):
                line = line[:-2] if line.endswith(b"\r\n") else line[:-1]
            try:
                return line.decode("utf-8")
            except UnicodeDecodeError as e:
                raise ValueError(
                    f"TextLineDataset: {self._filenames[self._file_index]!r} is not UTF-8 text "
                    f"(line ending at byte {self._offset}): {e}"
                ) from e
        raise StopIteration

    def _get_state(self) -> Dict[str, Any]:
        return {"file_index": self._file_index, "offset": self._offset}

    def _set_state(self, state: Dict[str, Any]) -> None:
        require_keys(self.op_name, state, "file_index", "offset")
        file_index = state_int(self.op_name, state, "file_index", 0, len(self._filenames))
        offset = state_int(self.op_name, state, "offset")
        self._close()
        self._file_index, self._offset = file_index, offset

    def _close(self) -> None:
        f, self._file = self._file, None
        if f is not None:
            f.close()
