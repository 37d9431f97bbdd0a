"""Files in ``model_dir``: checkpoint names, atomic writes, the ``checkpoint`` index, pruning.

The index has TensorFlow's ``CheckpointState`` text shape, with names relative to ``model_dir``::

    model_checkpoint_path: "model.ckpt-200.pt"
    all_model_checkpoint_paths: "model.ckpt-100.pt"
    all_model_checkpoint_paths: "model.ckpt-200.pt"
    all_model_checkpoint_timestamps: 1700000000.5
    all_model_checkpoint_timestamps: 1700000100.25
    last_preserved_timestamp: 1700000000.0

Every file is written to a temporary file created exclusively in the same directory
(``.<name>.tmp.<pid>.<random>``, ``O_CREAT|O_EXCL``, so a planted file or symlink of that name
is never followed; no checkpoint pattern matches it), flushed, fsynced, renamed over the target
with ``os.replace`` and the directory fsynced, so a crash leaves either the old file or the new
one, never half. A write that fails for lack of space raises :class:`DiskFullError` naming the
file and the bytes it needed, and leaves no temporary file.

Each checkpoint gets a sidecar ``<name>.sha256`` (``sha256sum`` format), written before the
checkpoint's rename; loading verifies it (see :mod:`estimator.checkpoint._load`).

Nothing outside ``model_dir`` is ever touched: only entries that name a ``model.ckpt-<int>.pt``
file directly inside ``model_dir`` (and not a symlink) count as checkpoints. Other index entries
(absolute paths elsewhere, ``../``, symlinks) are ignored with a warning naming them, both when
loading and when pruning, so a crafted index cannot make ``train()`` delete or read other files.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import secrets
import shutil
import time
from typing import Any, Callable, IO, Iterable, List, Optional, Tuple

from estimator.checkpoint._format import DiskFullError

logger = logging.getLogger(__name__)

INDEX_NAME = "checkpoint"
CHECKSUM_SUFFIX = ".sha256"
_CKPT_RE = re.compile(r"^model\.ckpt-(\d+)\.pt$")
_TMP_RE = re.compile(
    r"^\.(?:model\.ckpt-\d+\.pt(?:\.sha256)?|checkpoint)\.tmp\.(\d+)(?:\.[A-Za-z0-9_]+)?$")
_NO_SPACE = frozenset((errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG))
_LINE_RE = re.compile(r'^\s*(\w+)\s*:\s*(?:"((?:[^"\\]|\\.)*)"|([-+0-9.eEinfa]+))\s*$')


def checkpoint_name(global_step: int) -> str:
    """``model.ckpt-<global_step>.pt``."""
    return f"model.ckpt-{int(global_step)}.pt"


def step_of(name: str) -> Optional[int]:
    """The global step in a checkpoint file name, or ``None`` if it is not one."""
    match = _CKPT_RE.match(os.path.basename(name))
    return int(match.group(1)) if match else None


def _fsync_dir(directory: str) -> None:
    if os.name == "nt":  # Windows cannot open a directory for fsync; rename is durable there.
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _open_temp(directory: str, name: str) -> Tuple[str, IO[bytes]]:
    """A new, exclusively created temp file next to ``name`` (never an existing path, never
    through a symlink); its mode is the umask's, like any file the user writes."""
    flags = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
             | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))
    for _ in range(100):
        tmp = os.path.join(directory, f".{name}.tmp.{os.getpid()}.{secrets.token_hex(6)}")
        try:
            fd = os.open(tmp, flags, 0o666)
        except FileExistsError:
            continue
        return tmp, os.fdopen(fd, "wb")
    raise FileExistsError(errno.EEXIST, "no free temporary file name", directory)


class _Recording:
    """A file wrapper that remembers the OSError a write raised: torch's zip writer reports
    one as its own ``RuntimeError`` ("unexpected pos ..."), hiding the errno."""

    def __init__(self, f: IO[bytes]) -> None:
        self._f = f
        self.written = 0
        self.error: Optional[OSError] = None

    def write(self, data: Any) -> int:
        try:
            n = self._f.write(data)
        except OSError as e:
            self.error = e
            raise
        self.written += len(data) if n is None else n
        return len(data) if n is None else n

    def flush(self) -> None:
        try:
            self._f.flush()
        except OSError as e:
            self.error = e
            raise


def _no_space(error: BaseException, recorded: Optional[OSError]) -> Optional[OSError]:
    """The out-of-space OSError behind ``error`` (itself, its chain, or what the writer saw)."""
    seen = set()
    chain: List[Optional[BaseException]] = [error, recorded]
    while chain:
        e = chain.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno in _NO_SPACE:
            return e
        chain += [e.__cause__, e.__context__]
    return None


def atomic_write(path: str, write: Callable[[IO[bytes]], object],
                 size_hint: Optional[Callable[[], int]] = None,
                 before_rename: Optional[Callable[[str], None]] = None) -> None:
    """Write ``path`` through ``write(file)``: readers see the old or the new file, never half.

    ``before_rename(sha256_hex)`` runs once the data is on disk, before it takes the name. Out
    of space (``ENOSPC``, ``EDQUOT``, or ``EFBIG`` from a file size limit):
    :class:`DiskFullError` naming ``path`` and about how many bytes it needed (``size_hint()``).
    The temp file is removed in every failure.
    """
    directory, name = os.path.split(os.path.abspath(path))
    tmp, f = _open_temp(directory, name)
    recording = _Recording(f)
    try:
        try:
            with f:
                write(recording)  # type: ignore[arg-type]  # write/flush: all the writers use
                recording.flush()
                os.fsync(f.fileno())
            if before_rename is not None:
                before_rename(file_sha256(tmp))
            os.replace(tmp, path)
        finally:
            if os.path.lexists(tmp):
                os.remove(tmp)
    except Exception as e:
        full = _no_space(e, recording.error)
        if full is None:
            raise
        raise _disk_full(path, full, recording.written, size_hint) from e
    _fsync_dir(directory)


def _disk_full(path: str, cause: OSError, written: int,
               size_hint: Optional[Callable[[], int]]) -> DiskFullError:
    needed = None
    if size_hint is not None:
        try:
            needed = size_hint()
        except Exception:  # noqa: BLE001 - only for the message
            needed = None
    try:
        free: Optional[int] = shutil.disk_usage(os.path.dirname(os.path.abspath(path))).free
    except OSError:
        free = None
    code = cause.errno if cause.errno is not None else errno.ENOSPC
    what = "the file size limit (RLIMIT_FSIZE) was reached" if code == errno.EFBIG \
        else "the disk is full"
    need = f"about {needed} bytes" if needed is not None else "more space"
    message = (f"cannot write checkpoint {path}: {what} ({os.strerror(code)}) after "
               f"{written} bytes; it needs {need}"
               + (f", {free} bytes are free" if free is not None else "")
               + ". The previous checkpoint is still the latest; free some space (or lower "
               "keep_checkpoint_max) and train again.")
    return DiskFullError(code, message, path)


def file_sha256(path: str) -> str:
    """The sha256 (hex) of a file's contents."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_checksum(path: str, digest: str) -> None:
    """Write ``<path>.sha256`` in ``sha256sum`` format."""
    line = f"{digest}  {os.path.basename(path)}\n".encode("ascii")
    atomic_write(path + CHECKSUM_SUFFIX, lambda f: f.write(line))


def read_checksum(path: str) -> Optional[str]:
    """The recorded sha256 of ``path``, ``None`` when it has no sidecar (an older checkpoint)."""
    try:
        with open(path + CHECKSUM_SUFFIX, "r", encoding="utf-8") as f:
            text = f.read(200)
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError):
        return ""  # present but unreadable: cannot vouch for the file
    token = text.split()[0] if text.split() else ""
    return token.lower() if re.fullmatch(r"[0-9a-fA-F]{64}", token) else ""


def remove_stale_temp_files(model_dir: str) -> None:
    """Delete temp files left by writers that died (their pid no longer runs).

    Only regular files and links named like our temp files are removed (a link itself, never
    what it points to)."""
    for entry in os.listdir(model_dir):
        match = _TMP_RE.match(entry)
        if not match or int(match.group(1)) == os.getpid() or _pid_alive(int(match.group(1))):
            continue
        path = os.path.join(model_dir, entry)
        try:
            if os.path.islink(path) or os.path.isfile(path):
                os.remove(path)
        except OSError:
            pass


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


class IndexState:
    """The parsed ``checkpoint`` index: retained names oldest first, their save times."""

    def __init__(self, paths: List[str], timestamps: List[float], latest: Optional[str],
                 last_preserved: float = 0.0) -> None:
        self.paths = paths
        self.timestamps = timestamps if len(timestamps) == len(paths) else [0.0] * len(paths)
        self.latest = latest
        self.last_preserved = last_preserved


def read_index(model_dir: str) -> Optional[IndexState]:
    """Parse ``model_dir/checkpoint``; ``None`` when it is missing or unreadable."""
    path = os.path.join(model_dir, INDEX_NAME)
    try:
        with open(path, "r", encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as e:
        logger.warning("Ignoring unreadable checkpoint index %s (%s); scanning %s instead.",
                       path, e, model_dir)
        return None
    paths: List[str] = []
    stamps: List[float] = []
    latest: Optional[str] = None
    preserved = 0.0
    for line in text.splitlines():
        match = _LINE_RE.match(line)
        if not match:
            continue
        key, string, number = match.groups()
        try:
            if key == "model_checkpoint_path" and string is not None:
                latest = string.replace('\\"', '"')
            elif key == "all_model_checkpoint_paths" and string is not None:
                paths.append(string.replace('\\"', '"'))
            elif key == "all_model_checkpoint_timestamps" and number is not None:
                stamps.append(float(number))
            elif key == "last_preserved_timestamp" and number is not None:
                preserved = float(number)
        except ValueError:
            continue
    if latest is not None and latest not in paths:
        paths.append(latest)
    return IndexState(paths, stamps, latest, preserved)


def write_index(model_dir: str, state: IndexState) -> None:
    """Atomically replace ``model_dir/checkpoint`` with ``state``."""
    def quoted(name: str) -> str:
        return '"' + name.replace('"', '\\"') + '"'

    lines = [f"model_checkpoint_path: {quoted(state.latest or '')}"]
    lines += [f"all_model_checkpoint_paths: {quoted(p)}" for p in state.paths]
    lines += [f"all_model_checkpoint_timestamps: {t!r}" for t in state.timestamps]
    lines.append(f"last_preserved_timestamp: {state.last_preserved!r}")
    payload = ("\n".join(lines) + "\n").encode("utf-8")
    atomic_write(os.path.join(model_dir, INDEX_NAME), lambda f: f.write(payload))


def scan(model_dir: str) -> List[Tuple[int, str]]:
    """``(step, name)`` of every ``model.ckpt-N.pt`` file in ``model_dir``, by step.

    Symlinks of such names are left out with a warning: this library never writes one."""
    try:
        entries = os.listdir(model_dir)
    except FileNotFoundError:
        return []
    found = [(s, e) for s, e in ((step_of(e), e) for e in entries) if s is not None]
    links = [e for _, e in found if os.path.islink(os.path.join(model_dir, e))]
    if links:
        warn_foreign(model_dir, links)
    return sorted((s, e) for s, e in found if e not in links)


def resolve(model_dir: str, name: str) -> str:
    """An index entry as a path (entries are relative to model_dir; absolute ones stay)."""
    return name if os.path.isabs(name) else os.path.join(model_dir, name)


def own_name(model_dir: str, entry: str) -> Optional[str]:
    """The checkpoint name ``entry`` stands for if it is one this library writes: a
    ``model.ckpt-<int>.pt`` file directly inside ``model_dir`` (by a relative name, or an
    absolute path into it), not a symlink; else ``None``."""
    if not entry or "\0" in entry:
        return None
    if os.path.isabs(entry):
        directory, name = os.path.split(os.path.normpath(entry))
        if os.path.normcase(os.path.realpath(directory)) != \
                os.path.normcase(os.path.realpath(model_dir)):
            return None
    else:
        name = entry
    if step_of(name) is None or name != os.path.basename(name) or os.sep in name or \
            (os.altsep and os.altsep in name):
        return None
    if os.path.islink(os.path.join(model_dir, name)):
        return None
    return name


def warn_foreign(model_dir: str, entries: Iterable[str]) -> None:
    """Log that ``entries`` are not checkpoints this library wrote in ``model_dir``."""
    logger.warning(
        "Ignoring %s in %s: only model.ckpt-<step>.pt files written directly inside "
        "model_dir (not symlinks, not paths elsewhere) are loaded or pruned; these are not: "
        "%s", "checkpoint index entries or files", model_dir,
        ", ".join(repr(e) for e in entries))


def own_index(model_dir: str, state: "IndexState") -> "IndexState":
    """``state`` with only this library's checkpoint names (others warned about, dropped)."""
    keep: List[str] = []
    stamps: List[float] = []
    foreign: List[str] = []
    for entry, stamp in zip(state.paths, state.timestamps):
        name = own_name(model_dir, entry)
        if name is None:
            foreign.append(entry)
        elif name not in keep:
            keep.append(name)
            stamps.append(stamp)
    latest = None if state.latest is None else own_name(model_dir, state.latest)
    if state.latest and latest is None and state.latest not in foreign:
        foreign.append(state.latest)
    if foreign:
        warn_foreign(model_dir, foreign)
    return IndexState(keep, stamps, latest, state.last_preserved)


def record_and_prune(model_dir: str, name: str, keep_max: Optional[int],
                     keep_every_n_hours: Optional[float] = None) -> None:
    """Make ``name`` the latest in the index (written after the file), then prune.

    ``keep_max`` of ``None`` or 0 keeps every checkpoint, as TF's ``max_to_keep``. Files are
    deleted only after the new index no longer lists them, so the index never names a
    missing file. Older checkpoint files the index lost track of (a crash between the index
    write and the deletion) are deleted too.

    ``keep_every_n_hours`` (TF's ``keep_checkpoint_every_n_hours``): a checkpoint falling off
    the ``keep_max`` newest is kept on disk (not in the index) when it was written at least
    that many hours after the last one kept this way (or after the first one); the index's
    ``last_preserved_timestamp`` records when.
    """
    state = read_index(model_dir)
    if state is not None:
        state = own_index(model_dir, state)
    else:
        found = [n for _, n in scan(model_dir)]
        state = IndexState(found, [os.path.getmtime(os.path.join(model_dir, n)) for n in found],
                           None)
    now = time.time()
    stamps = dict(zip(state.paths, state.timestamps))
    paths = [p for p in state.paths if p != name] + [name]
    stamps[name] = now
    dropped: List[str] = []
    if keep_max:
        dropped, paths = paths[:-keep_max], paths[-keep_max:]
    last_preserved = state.last_preserved
    preserved: List[str] = []
    if keep_every_n_hours and dropped:
        base = last_preserved or min(stamps.get(p, now) for p in dropped)
        for entry in dropped:
            if stamps.get(entry, 0.0) - base >= keep_every_n_hours * 3600:
                preserved.append(entry)
                base = stamps[entry]
        last_preserved = base
    new_state = IndexState(paths, [stamps.get(p, 0.0) for p in paths], name, last_preserved)
    write_index(model_dir, new_state)

    if not keep_max:
        return
    kept = set(paths)
    oldest_kept = min((s for s in map(step_of, paths) if s is not None), default=None)
    stale = [n for s, n in scan(model_dir) if oldest_kept is not None and s < oldest_kept]
    if keep_every_n_hours:  # files kept every n hours are older than the index's entries
        stale = [n for n in stale
                 if os.path.getmtime(os.path.join(model_dir, n)) > last_preserved]
    for entry in dict.fromkeys(dropped + stale):
        if entry in kept or entry in preserved or own_name(model_dir, entry) != entry:
            continue
        for path in (os.path.join(model_dir, entry),
                     os.path.join(model_dir, entry + CHECKSUM_SUFFIX)):
            try:
                os.remove(path)
            except FileNotFoundError:
                pass
            except OSError as e:
                logger.warning("Could not delete old checkpoint file %s: %s; it is no longer "
                               "in the index, so delete it by hand to free the space", path, e)
