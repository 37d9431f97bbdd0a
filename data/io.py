"""File reading for input pipelines, after ``tf.io``.

>>> import data
>>> contents = data.io.read_file(__file__)
>>> isinstance(contents, bytes)
True
"""

from __future__ import annotations

import os
from typing import Optional, Union

__all__ = ["FileBytes", "read_file"]


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

    def __reduce__(self):  # type: ignore[override]
        return (FileBytes, (bytes(self), self.path))


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
        with open(path, "rb") as f:
            contents = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(
            f"read_file: no such file {path!r} (check the path or the pattern that listed it)"
        ) from None
    except IsADirectoryError:
        raise IsADirectoryError(f"read_file: {path!r} is a directory, expected a file") from None
    return FileBytes(contents, path)
