"""Files in ``model_dir``: checkpoint names, atomic writes, the ``checkpoint`` index, pruning.

The index has TensorFlow's ``CheckpointState`` text shape, with names relative to ``model_dir``::

    model_checkpoint_path: "model.ckpt-200.pt"
    all_model_checkpoint_paths: "model.ckpt-100.pt"
    all_model_checkpoint_paths: "model.ckpt-200.pt"
    all_model_checkpoint_timestamps: 1700000000.5
    all_model_checkpoint_timestamps: 1700000100.25
    last_preserved_timestamp: 1700000000.0

Every file is written to a temporary name in the same directory (``.<name>.tmp.<pid>``, which
no checkpoint pattern matches), flushed, fsynced, renamed over the target with ``os.replace``
and the directory fsynced, so a crash leaves either the old file or the new one, never half.
"""

from __future__ import annotations

import logging
import os
import re
import time
from typing import Callable, IO, List, Optional, Tuple

logger = logging.getLogger(__name__)

INDEX_NAME = "checkpoint"
_CKPT_RE = re.compile(r"^model\.ckpt-(\d+)\.pt$")
_TMP_RE = re.compile(r"^\.(?:model\.ckpt-\d+\.pt|checkpoint)\.tmp\.(\d+)$")
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


def atomic_write(path: str, write: Callable[[IO[bytes]], None]) -> None:
    """Write ``path`` through ``write(file)``: readers see the old or the new file, never half."""
    directory, name = os.path.split(os.path.abspath(path))
    tmp = os.path.join(directory, f".{name}.tmp.{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(directory)


def remove_stale_temp_files(model_dir: str) -> None:
    """Delete temp files left by writers that died (their pid no longer runs)."""
    for entry in os.listdir(model_dir):
        match = _TMP_RE.match(entry)
        if not match or int(match.group(1)) == os.getpid() or _pid_alive(int(match.group(1))):
            continue
        try:
            os.remove(os.path.join(model_dir, entry))
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
    """``(step, name)`` of every ``model.ckpt-N.pt`` file in ``model_dir``, by step."""
    try:
        entries = os.listdir(model_dir)
    except FileNotFoundError:
        return []
    found = [(step_of(e), e) for e in entries]
    return sorted((s, e) for s, e in found if s is not None)


def resolve(model_dir: str, name: str) -> str:
    """An index entry as a path (entries are relative to model_dir; absolute ones stay)."""
    return name if os.path.isabs(name) else os.path.join(model_dir, name)


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
    if state is None:
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
    oldest_kept = min((step_of(p) for p in paths if step_of(p) is not None), default=None)
    stale = [n for s, n in scan(model_dir) if oldest_kept is not None and s < oldest_kept]
    if keep_every_n_hours:  # files kept every n hours are older than the index's entries
        stale = [n for n in stale
                 if os.path.getmtime(os.path.join(model_dir, n)) > last_preserved]
    for entry in dict.fromkeys(dropped + stale):
        if entry in kept or entry in preserved:
            continue
        try:
            os.remove(resolve(model_dir, entry))
        except FileNotFoundError:
            pass
        except OSError as e:
            logger.warning("Could not delete old checkpoint %s: %s", resolve(model_dir, entry), e)
