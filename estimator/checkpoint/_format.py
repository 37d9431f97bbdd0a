"""The checkpoint format's version, keys and errors (shared by the checkpoint modules)."""

from __future__ import annotations

import os
from typing import Sequence, Union

FORMAT_VERSION = 1
KEYS = ("format_version", "global_step", "model", "optimizers", "rng", "input_state", "scope")
PathLike = Union[str, "os.PathLike[str]"]


class CheckpointError(RuntimeError):
    """Base class of checkpoint errors."""


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """No checkpoint at the given path or in the given model_dir."""


class CorruptCheckpointError(CheckpointError):
    """A checkpoint file cannot be read (truncated, corrupt, or holding code)."""


class CheckpointFormatError(CheckpointError, ValueError):
    """A readable file that is not a checkpoint this version understands."""


class CheckpointMismatchError(CheckpointError, ValueError):
    """A checkpoint's variables do not match the live model's."""


class _PathError(CheckpointError, OSError):
    def __init__(self, code: int, message: str, filename: str) -> None:
        super().__init__(message)
        self.errno, self.strerror, self.filename = code, message, filename

    def __str__(self) -> str:
        return str(self.strerror)


class DiskFullError(_PathError):
    """A checkpoint could not be written for lack of space; names the file and the bytes."""


class UnsafePathError(_PathError):
    """A path in ``model_dir`` the library would write is a symlink (or otherwise unsafe)."""


def few(names: Sequence[str], limit: int = 40) -> str:
    """``names`` joined for an error message, at most ``limit`` of them."""
    shown = ", ".join(names[:limit])
    return shown + (f", ... and {len(names) - limit} more" if len(names) > limit else "")
