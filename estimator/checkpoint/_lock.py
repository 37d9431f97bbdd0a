"""An exclusive, process-lifetime lock on a ``model_dir`` (``model_dir/.lock``).

It uses ``fcntl.flock`` (``msvcrt.locking`` on Windows), so the operating system releases it
when the holder exits or is killed; a stale lock file left behind locks nothing. The holder
writes its pid into the file only to make the error message useful.

The lock file is opened with ``O_NOFOLLOW`` (a ``.lock`` symlink is refused, naming it, and
never truncated through) and close-on-exec. A flock belongs to the open file, which a forked
child shares: a child forked while training (a worker process) would keep the lock after the
trainer died. So a forked child closes its copy at once; the parent's lock is unaffected.
"""

from __future__ import annotations

import errno
import os
import weakref
from types import TracebackType
from typing import List, Optional, Type, Union

from estimator.checkpoint._format import UnsafePathError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]  # checked for None before every use
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
        self._fd: Optional[int] = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> "ModelDirLock":
        """Take the lock or raise :class:`ModelDirLockedError` at once (never waits)."""
        if self._fd is not None:
            raise RuntimeError(f"ModelDirLock on {self.model_dir!r} is already held by this "
                               "object")
        os.makedirs(self.model_dir, exist_ok=True)
        fd = self._open()
        try:
            _lock(fd)
        except OSError:
            holder = _read(fd)
            os.close(fd)
            raise ModelDirLockedError(self._busy_message(holder)) from None
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, str(os.getpid()).encode("ascii"))
        self._fd = fd
        _HELD.add(self)
        return self

    def _open(self) -> int:
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        if os.path.islink(self.path):
            raise self._symlink_error()
        try:
            fd = os.open(self.path, flags, 0o644)
        except OSError as e:
            if e.errno == errno.ELOOP:  # became a symlink between the check and the open
                raise self._symlink_error() from None
            raise
        os.set_inheritable(fd, False)
        return fd

    def _symlink_error(self) -> UnsafePathError:
        target = os.readlink(self.path) if os.path.islink(self.path) else "?"
        return UnsafePathError(
            errno.ELOOP,
            f"refusing to use the lock file {self.path}: it is a symlink (to {target!r}), and "
            "locking through it would truncate that file. Remove the symlink (the library "
            "creates a regular .lock file itself) and run again.", self.path)

    def _busy_message(self, holder: str) -> str:
        me = os.getpid()
        recorded = int(holder) if holder.isdigit() else None
        holders = [p for p in _holders(self.path) if p != me]
        if recorded == me:
            who = f"another Estimator in this process (pid {me})"
        elif recorded is not None and _alive(recorded):
            who = f"process {recorded}"
        elif holders:
            took = (f"process {recorded}, which took it, has exited; " if recorded is not None
                    else "")
            who = (f"process(es) {', '.join(map(str, holders))} ({took}they hold an inherited "
                   "copy of its lock file; stop them to free it)")
        elif recorded is not None:
            who = (f"a process that inherited the lock from process {recorded}, which has "
                   f"exited (find it with `fuser {self.path}` and stop it)")
        else:
            who = f"another process (find it with `fuser {self.path}`)"
        return (f"model_dir {self.model_dir!r} is already in use for training by {who} "
                f"(lock file {self.path}). Two trainings in one model_dir would interleave "
                "their checkpoints. Wait for the other training to finish or stop it, or give "
                "this Estimator a different model_dir.")

    def release(self) -> None:
        """Release the lock (idempotent)."""
        fd, self._fd = self._fd, None
        _HELD.discard(self)
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)  # while still holding it, so a new holder's pid is never erased
            _unlock(fd)
        finally:
            os.close(fd)

    def _forget_in_child(self) -> None:
        # The child's copy of the fd shares the parent's lock: close it without unlocking.
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass

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


_HELD: "weakref.WeakSet[ModelDirLock]" = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for lock in list(_HELD):
        lock._forget_in_child()
    _HELD.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _read(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return os.read(fd, 64).decode("ascii", "replace").strip()
    except OSError:  # Windows locks the bytes against reading too
        return ""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _holders(path: str) -> List[int]:
    """Pids with ``path`` open (Linux ``/proc``; empty elsewhere or when not visible)."""
    try:
        target = os.stat(path)
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return []
    found = []
    for pid in pids:
        fd_dir = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                st = os.stat(os.path.join(fd_dir, fd))
            except OSError:
                continue
            if (st.st_dev, st.st_ino) == (target.st_dev, target.st_ino):
                found.append(pid)
                break
    return sorted(found)


def _lock(fd: int) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    else:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)


def _unlock(fd: int) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
    else:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
