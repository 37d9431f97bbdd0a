"""``cache``: record the first complete pass, replay it afterwards.

In memory (``filename=""``) the recorded elements are kept by the ``Dataset`` object; with a
file name they are written to a temporary file beside ``filename`` and renamed to it when the
pass completes, so an interrupted pass never leaves a partial cache. Several iterators may
record at once (tf.data raises an error instead): each writes its own temporary file, the
first to complete becomes the cache and the others are discarded.

File format: the magic bytes ``TDCACHE1`` then, per element, an 8-byte little-endian length and
the element serialised with ``torch.save``; it is read back with ``weights_only=True``, so
elements must be nests of tuples, lists, dicts, tensors, numbers and strings.

Checkpointing: a recording iterator saves its upstream's state at the start of the pass and the
number of elements recorded since; restoring replays those elements from that state, recording
them again (so a restore in the first pass recomputes its elements so far, once). A replaying
iterator saves its position; a memory cache also saves the first pass's initial state, so a
new process whose cache is empty rebuilds the same cache before continuing.
"""

from __future__ import annotations

import io
import os
import struct
import threading
import uuid
from typing import Any, BinaryIO, Dict, List, Optional, Tuple

import torch

from data import options as options_lib
from data._iterator import DatasetIterator, MalformedStateError, require_keys, state_int
from data.dataset import Dataset

_MAGIC = b"TDCACHE1"
_LENGTH = struct.Struct("<Q")


class CacheDataset(Dataset):
    """The input's first complete pass, replayed afterwards (see ``Dataset.cache``)."""

    _keeps_spec = True

    def __init__(self, input_dataset: Dataset, filename: str = "") -> None:
        super().__init__()
        if not isinstance(filename, (str, os.PathLike)):
            raise TypeError(f"cache: filename must be a str path or '', got {filename!r}")
        self._input = input_dataset
        self._filename = os.fspath(filename)
        self._lock = threading.Lock()
        self._memory: Optional[Tuple[Dict[str, Any], List[Any]]] = None  # (initial state, elements)

    def _complete(self) -> bool:
        if self._filename:
            return os.path.exists(self._filename)
        return self._memory is not None

    def _publish_memory(self, initial: Dict[str, Any],
                        elements: List[Any]) -> Tuple[Dict[str, Any], List[Any]]:
        """Publish a complete pass unless one already was; the published one."""
        with self._lock:
            if self._memory is None:
                self._memory = (initial, elements)
            return self._memory

    def _cardinality(self) -> int:
        return self._input._cardinality()

    def _iterator(self, epoch: int) -> DatasetIterator:
        return _CacheIterator(self, epoch)

    def _rebuild_memory(self, initial: Dict[str, Any],
                        epoch: int) -> Tuple[Dict[str, Any], List[Any]]:
        """Replay the recorded first pass from its initial state (a new process's restore)."""
        upstream = self._input._iterator(epoch)
        try:
            upstream.load_state_dict(initial)
            return self._publish_memory(initial, list(upstream))
        finally:
            upstream.close()


def _write_record(f: BinaryIO, element: Any) -> None:
    buf = io.BytesIO()
    torch.save(element, buf)
    payload = buf.getbuffer()
    f.write(_LENGTH.pack(len(payload)))
    f.write(payload)


class _CacheIterator(DatasetIterator):
    """Records on the first pass, replays later; a restored state may switch it between them."""

    op_name = "cache"

    def __init__(self, dataset: CacheDataset, epoch: int) -> None:
        super().__init__()
        self._ds = dataset
        self._epoch = epoch
        self._options = options_lib.current()  # a restore builds its upstream under them
        self._upstream: Optional[DatasetIterator] = None
        self._recording = False
        self._initial: Optional[Dict[str, Any]] = None
        self._elements: List[Any] = []
        self._tmp: Optional[str] = None
        self._file: Optional[BinaryIO] = None
        self._count = 0  # elements recorded by this pass
        self._index = 0  # replay position
        self._offset = len(_MAGIC)  # replay position in a file cache
        if dataset._complete():
            self._start_replay()
        else:
            self._start_record()

    # -- modes -----------------------------------------------------------------------------
    def _start_record(self, initial: Optional[Dict[str, Any]] = None) -> DatasetIterator:
        """Start the first pass (from ``initial``, the upstream's state); its upstream."""
        with options_lib.applied(self._options):
            upstream = self._upstream = self._ds._input._iterator(self._epoch)
        if initial is not None:
            upstream.load_state_dict(initial)
        self._initial = upstream.state_dict() if initial is None else initial
        self._recording = True
        self._count = 0
        if self._ds._filename:
            directory = os.path.dirname(os.path.abspath(self._ds._filename))
            if not os.path.isdir(directory):
                raise FileNotFoundError(
                    f"cache: cannot write the cache file {self._ds._filename!r}: its directory "
                    f"{directory!r} does not exist; create it first")
            self._tmp = f"{self._ds._filename}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            self._file = open(self._tmp, "wb")
            self._file.write(_MAGIC)
        return upstream

    def _start_replay(self) -> None:
        if not self._ds._filename:
            assert self._ds._memory is not None
            self._initial, self._elements = self._ds._memory

    # -- iteration -------------------------------------------------------------------------
    def _next(self) -> Any:
        if self._upstream is None:
            return self._next_from_file() if self._ds._filename else self._next_from_memory()
        try:
            element = next(self._upstream)
        except StopIteration:
            if self._recording:
                self._finish()
            raise
        if self._recording:
            self._record(element)
        return element

    def _record(self, element: Any) -> None:
        if self._file is not None:
            _write_record(self._file, element)
        else:
            self._elements.append(element)
        self._count += 1

    def _next_from_memory(self) -> Any:
        i = self._index
        if i >= len(self._elements):
            raise StopIteration
        self._index = i + 1
        return self._elements[i]

    def _next_from_file(self) -> Any:
        f = self._file if self._file is not None else self._open_cache_file()
        header = f.read(_LENGTH.size)
        if not header:
            raise StopIteration
        size = _LENGTH.unpack(header)[0] if len(header) == _LENGTH.size else -1
        payload = f.read(size) if size >= 0 else b""
        if len(payload) != size:
            raise ValueError(f"cache: {self._ds._filename!r} is truncated at element "
                             f"{self._index}; delete it so the next pass records it again")
        self._offset = f.tell()
        self._index += 1
        return torch.load(io.BytesIO(payload), weights_only=True)

    def _open_cache_file(self) -> BinaryIO:
        path = self._ds._filename
        f = open(path, "rb")
        if f.read(len(_MAGIC)) != _MAGIC:
            f.close()
            raise ValueError(f"cache: {path!r} is not a cache file written by Dataset.cache(); "
                             "delete it or choose another filename")
        f.seek(self._offset)
        self._file = f
        return f

    def _finish(self) -> None:
        """Publish the recorded pass, then stand at the end of the cache (a cheap state)."""
        self._recording = False
        tmp = self._tmp
        if self._file is None:
            assert self._initial is not None  # set when the pass started
            self._initial, self._elements = self._ds._publish_memory(self._initial,
                                                                     self._elements)
            self._index = len(self._elements)
        else:
            assert tmp is not None  # the file a recording pass writes
            f, self._file = self._file, None
            f.flush()
            os.fsync(f.fileno())
            f.close()
            try:
                os.link(tmp, self._ds._filename)  # fails if another pass completed first
            except FileExistsError:
                pass
            finally:
                os.unlink(tmp)
                self._tmp = None
            self._offset = os.path.getsize(self._ds._filename)
            self._index = self._count
        upstream, self._upstream = self._upstream, None
        if upstream is not None:
            upstream.close()

    def _live_upstreams(self) -> List[DatasetIterator]:
        return [] if self._upstream is None else [self._upstream]

    # -- state -----------------------------------------------------------------------------
    def _get_state(self) -> Dict[str, Any]:
        if self._upstream is not None:
            return {"mode": "record", "epoch": self._epoch, "initial": self._initial,
                    "count": self._count}
        if self._ds._filename:
            return {"mode": "replay", "offset": self._offset, "index": self._index}
        return {"mode": "replay", "index": self._index, "initial": self._initial}

    def _set_state(self, state: Dict[str, Any]) -> None:
        require_keys(self.op_name, state, "mode")
        self._close()
        self._elements = []
        if state["mode"] == "record":
            # Snapshot + steps since: restart the first pass from its initial state and record
            # again the elements it had produced.
            require_keys(self.op_name, state, "epoch", "initial", "count")
            self._epoch = state_int(self.op_name, state, "epoch")
            count = state_int(self.op_name, state, "count")
            upstream = self._start_record(state["initial"])
            for i in range(count):
                try:
                    self._record(next(upstream))
                except StopIteration:
                    self._close()
                    raise MalformedStateError(
                        f"cache: the saved state is {state['count']} elements into the first "
                        f"pass, but the input ended after {i}") from None
            return
        if state["mode"] != "replay":
            raise MalformedStateError(f"cache: unknown mode {state['mode']!r} in saved state")
        if self._ds._filename:
            require_keys(self.op_name, state, "offset", "index")
            if not os.path.exists(self._ds._filename):
                raise MalformedStateError(
                    f"cache: the saved state replays the cache file {self._ds._filename!r}, "
                    "which no longer exists; restore from an earlier checkpoint or recreate it")
            self._offset = state_int(self.op_name, state, "offset", 0,
                                     os.path.getsize(self._ds._filename))
        else:
            require_keys(self.op_name, state, "index", "initial")
            memory = self._ds._memory
            if memory is None:
                with options_lib.applied(self._options):
                    memory = self._ds._rebuild_memory(state["initial"], self._epoch)
            self._initial, self._elements = memory
        self._index = state_int(self.op_name, state, "index", 0,
                                None if self._ds._filename else len(self._elements))

    def _close(self) -> None:
        self._recording = False
        upstream, self._upstream = self._upstream, None
        if upstream is not None:
            upstream.close()
        f, self._file = self._file, None
        if f is not None:
            f.close()
        if self._tmp is not None:
            try:
                os.unlink(self._tmp)
            except FileNotFoundError:
                pass
            self._tmp = None
