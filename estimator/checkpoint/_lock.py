"""An exclusive, process-lifetime lock on a ``model_dir`` (``model_dir/.lock``).

It uses ``fcntl.flock`` (``msvcrt.locking`` on Windows), so the operating system releases it
when the holder exits or is killed; a stale lock file left behind locks nothing. The holder
writes its pid into the file only to make the error message useful.
"""

from __future__ import annotations

import os
from types import TracebackType
from typing import IO, Optional, Type, Union

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]
    import msvcrt

LOCK_NAME = ".lock"


class ModelDirLockedError(RuntimeError):
    """Another process (or another Estimator in this one) is training in the same model_dir."""


class ModelDirLock:
    """Context manager holding an exclusive lock on ``model_dir`` while training.

    >>> import tempfile
    >>> with ModelDirLock(tempfile.mkdtemp()):
    ...     pass  # a second ModelDirLock on the same directory here raises ModelDirLockedError
    """

    def __init__(self, model_dir: Union[str, "os.PathLike[str]"]) -> None:
        self.model_dir = os.fspath(model_dir)
        self.path = os.path.join(self.model_dir, LOCK_NAME)
        self._file: Optional[IO[str]] = None

    @property
    def held(self) -> bool:
        return self._file is not None

    def acquire(self) -> "ModelDirLock":
        """Take the lock or raise :class:`ModelDirLockedError` at once (never waits)."""
        if self._file is not None:
            raise RuntimeError(f"ModelDirLock on {self.model_dir!r} is already held by this "
                               "object")
        os.makedirs(self.model_dir, exist_ok=True)
        f = open(self.path, "a+", encoding="utf-8")
        try:
            _lock(f)
        except OSError:
            try:
                f.seek(0)
                holder = f.read().strip()
            except OSError:  # Windows locks the bytes against reading too
                holder = ""
            f.close()
            who = f"process {holder}" if holder.isdigit() else "another process"
            if holder.isdigit() and int(holder) == os.getpid():
                who = f"another Estimator in this process (pid {holder})"
            raise ModelDirLockedError(
                f"model_dir {self.model_dir!r} is already in use for training by {who} "
                f"(lock file {self.path}). Two trainings in one model_dir would interleave "
                "their checkpoints. Wait for the other training to finish or stop it, or give "
                "this Estimator a different model_dir."
            ) from None
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        self._file = f
        return self

    def release(self) -> None:
        """Release the lock (idempotent)."""
        f, self._file = self._file, None
        if f is None:
            return
        try:
            f.seek(0)
            f.truncate()  # while still holding it, so a new holder's pid is never erased
            f.flush()
            _unlock(f)
        finally:
            f.close()

    def __enter__(self) -> "ModelDirLock":
        return self.acquire()

    def __exit__(self, exc_type: Optional[Type[BaseException]],
                 exc: Optional[BaseException], tb: Optional[TracebackType]) -> None:
        self.release()

    def __del__(self) -> None:
        try:
            self.release()
        except Exception:
            pass


def _lock(f: IO[str]) -> None:
    if fcntl is not None:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    else:
        f.seek(0)
        msvcrt.locking(f.fileno(), msvcrt.LK_NBLCK, 1)


def _unlock(f: IO[str]) -> None:
    if fcntl is not None:
        fcntl.flock(f.fileno(), fcntl.LOCK_UN)
    else:
        f.seek(0)
        msvcrt.locking(f.fileno(), msvcrt.LK_UNLCK, 1)
