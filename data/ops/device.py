"""``prefetch_to_device`` and ``copy_to_device``: elements moved to an accelerator ahead of use.

``prefetch_to_device(device, buffer_size)`` runs the host-to-device transfer in a background
thread (the prefetch engine of :mod:`data.ops._parallel` with one worker): each element's CPU
tensors are pinned there (``pin_memory`` is a host copy, kept off the training thread) and
copied with ``non_blocking=True`` on a side CUDA stream, and an event is recorded after the
copies. The consumer's stream waits on that event (a GPU-side wait: the training thread never
blocks) and each tensor is marked as used by the consumer's stream (``record_stream``), so the
caching allocator does not reuse its memory while kernels still read it. Up to
``buffer_size`` elements are on the device ahead of the consumer.

``copy_to_device(target_device)`` does the same transfer in the thread that pulls the element,
with no buffer; follow it with ``prefetch`` to move it to a thread.

Ship images as ``uint8`` and convert them on the device: a ``uint8`` batch is a quarter of
the bytes of a ``float32`` one, so the copy takes a quarter of the bus time. In ``input_fn``
end the per-image map with ``data.image.convert_image_dtype(image, torch.uint8)``; in
``model_fn`` start with ``data.image.convert_image_dtype(features, torch.float32)``.

On a CPU target both are a plain pass-through (there is nothing to copy). Checkpointing is
prefetch's: in-flight copies are dropped on restore and made again.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Union

import torch

from data._iterator import UPSTREAM, DatasetIterator
from data.dataset import Dataset
from data.ops._args import check_int
from data.ops._parallel import AUTOTUNE, ParallelMapIterator, _SnapshotFailed

DeviceLike = Union[str, torch.device]


def parse_device(device: DeviceLike, op: str) -> torch.device:
    """A torch device from a torch name (``"cuda:0"``) or a TF one (``"/gpu:0"``, ``"/cpu:0"``).

    >>> parse_device("/gpu:1", "prefetch_to_device"), parse_device("cpu", "copy_to_device")
    (device(type='cuda', index=1), device(type='cpu'))
    """
    if isinstance(device, torch.device):
        return device
    if not isinstance(device, str):
        raise TypeError(f"{op}: device must be a str or torch.device, got {device!r}")
    name = device.strip()
    if name.startswith("/"):  # TF: "/gpu:0", "/device:GPU:0", "/job:localhost/.../cpu:0"
        tail = name.rsplit("/", 1)[-1].lower()
        kind, _, index = tail.partition(":")
        if kind == "device":
            kind, _, index = index.partition(":")
        kind = {"gpu": "cuda", "cpu": "cpu"}.get(kind.lower(), kind.lower())
        name = f"{kind}:{index}" if index and kind != "cpu" else kind
    try:
        return torch.device(name)
    except RuntimeError as e:
        raise ValueError(f"{op}: cannot parse device {device!r} ({e})") from None


def _map_tensors(fn: Callable[[torch.Tensor], torch.Tensor], element: Any) -> Any:
    if isinstance(element, torch.Tensor):
        return fn(element)
    if isinstance(element, dict):
        return {k: _map_tensors(fn, v) for k, v in element.items()}
    if isinstance(element, (tuple, list)):
        items = [_map_tensors(fn, v) for v in element]
        if hasattr(element, "_fields"):
            return type(element)(*items)
        return type(element)(items)
    if type(element).__module__ == "numpy" and hasattr(element, "shape"):
        return fn(torch.as_tensor(element))
    return element


def _tensors(element: Any) -> List[torch.Tensor]:
    found: List[torch.Tensor] = []

    def collect(tensor: torch.Tensor) -> torch.Tensor:
        found.append(tensor)
        return tensor

    _map_tensors(collect, element)
    return found


class _Moved:
    """An element on its way: its device tensors and the event that marks the copies done."""

    __slots__ = ("element", "event")

    def __init__(self, element: Any, event: Any) -> None:
        self.element, self.event = element, event


class Transfer:
    """Moves elements to a CPU device: nothing to copy, nothing to wait for.

    Subclasses (:class:`CudaTransfer`) implement the two halves: :meth:`send` in the thread
    that pulls the element, :meth:`receive` in the thread that uses it.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device

    def send(self, element: Any) -> Any:
        return _map_tensors(lambda t: t.to(self.device), element)

    def receive(self, moved: Any) -> Any:
        return moved


class CudaTransfer(Transfer):
    """Pinned, non-blocking copies on a side stream; the consumer's stream waits for them."""

    def __init__(self, device: torch.device) -> None:
        super().__init__(device)
        self._stream: Optional[Any] = None

    # The CUDA primitives, one method each (tests replace them to fake a device).
    def new_stream(self) -> Any:
        return torch.cuda.Stream(self.device)

    def stream_context(self, stream: Any) -> Any:
        return torch.cuda.stream(stream)

    def record_event(self, stream: Any) -> Any:
        event = torch.cuda.Event()
        event.record(stream)
        return event

    def consumer_stream(self) -> Any:
        return torch.cuda.current_stream(self.device)

    def mark_used(self, tensor: torch.Tensor, stream: Any) -> None:
        tensor.record_stream(stream)

    def pin(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor if tensor.is_pinned() else tensor.pin_memory()

    def copy(self, tensor: torch.Tensor) -> torch.Tensor:
        if tensor.device == self.device:
            return tensor
        if tensor.device.type == "cpu":
            tensor = self.pin(tensor)
        return tensor.to(self.device, non_blocking=True)

    def send(self, element: Any) -> _Moved:
        if self._stream is None:
            self._stream = self.new_stream()
        with self.stream_context(self._stream):
            moved = _map_tensors(self.copy, element)
            event = self.record_event(self._stream)
        return _Moved(moved, event)

    def receive(self, moved: _Moved) -> Any:
        stream = self.consumer_stream()
        stream.wait_event(moved.event)
        for tensor in _tensors(moved.element):
            self.mark_used(tensor, stream)
        return moved.element


def make_transfer(device: torch.device) -> Transfer:
    if device.type != "cuda":
        return Transfer(device)
    if device.index is None:  # the caller's current device, not the worker thread's default
        device = torch.device("cuda", torch.cuda.current_device())
    return CudaTransfer(device)


class PrefetchToDeviceIterator(ParallelMapIterator):
    """The prefetch engine with a transfer as its function and a receive on the way out."""

    def __init__(self, upstream: DatasetIterator, transfer: Transfer, buffer_size: int,
                 op_name: str = "prefetch_to_device") -> None:
        super().__init__(upstream, transfer.send, num_workers=1, deterministic=True,
                         op_name=op_name, buffer_size=buffer_size, snapshot_every=1)
        self._transfer = transfer
        self._cpu_workers = 0  # a transfer mostly waits, like a prefetch producer

    def _next(self) -> Any:
        return self._transfer.receive(super()._next())


class CopyToDeviceIterator(DatasetIterator):
    """Sends and receives in the pulling thread; state is the upstream's."""

    op_name = "copy_to_device"

    def __init__(self, upstream: DatasetIterator, transfer: Transfer) -> None:
        super().__init__()
        self._upstream, self._transfer = upstream, transfer
        self._own(upstream)

    def _next(self) -> Any:
        return self._transfer.receive(self._transfer.send(next(self._upstream)))

    def _get_state(self) -> Dict[str, Any]:
        return {UPSTREAM: self._upstream.state_dict()}

    def _set_state(self, state: Dict[str, Any]) -> None:
        self._upstream.load_state_dict(state[UPSTREAM])


class PrefetchToDeviceDataset(Dataset):
    """Elements of ``input_dataset`` moved to ``device``, ``buffer_size`` ahead, by a thread."""

    def __init__(self, input_dataset: Dataset, device: DeviceLike, buffer_size: Optional[int],
                 transfer_factory: Callable[[torch.device], Transfer] = make_transfer) -> None:
        super().__init__()
        self._input = input_dataset
        self._device = parse_device(device, "prefetch_to_device")
        self._buffer_size = AUTOTUNE if buffer_size is None else check_int(
            "prefetch_to_device", "buffer_size", buffer_size, 1, also=(AUTOTUNE,))
        self._transfer_factory = transfer_factory

    def _iterator(self, epoch: int) -> DatasetIterator:
        return PrefetchToDeviceIterator(self._input._iterator(epoch),
                                        self._transfer_factory(self._device), self._buffer_size)


class CopyToDeviceDataset(Dataset):
    """Elements of ``input_dataset`` moved to ``target_device`` as they are pulled."""

    def __init__(self, input_dataset: Dataset, target_device: DeviceLike,
                 transfer_factory: Callable[[torch.device], Transfer] = make_transfer) -> None:
        super().__init__()
        self._input = input_dataset
        self._device = parse_device(target_device, "copy_to_device")
        self._transfer_factory = transfer_factory

    def _iterator(self, epoch: int) -> DatasetIterator:
        return CopyToDeviceIterator(self._input._iterator(epoch),
                                    self._transfer_factory(self._device))


# -- what the Estimator inserts ---------------------------------------------------------------
class DeviceFeed(PrefetchToDeviceIterator):
    """:class:`PrefetchToDeviceIterator` whose saved state is exactly its upstream's.

    The Estimator puts one after ``input_fn``'s pipeline when the model is on CUDA; since its
    state is the upstream's own, checkpoints are the same with or without it (a checkpoint
    written on a GPU machine resumes on a CPU one, and back). That holds because it snapshots
    the upstream before every pull: the state at the consumer's position is the snapshot
    taken before the next element was pulled or, when nothing was pulled ahead, the
    upstream's state now.
    """

    def __init__(self, upstream: DatasetIterator, transfer: Transfer, buffer_size: int = 2
                 ) -> None:
        super().__init__(upstream, transfer, buffer_size, op_name="device_feed")

    def state_dict(self) -> Dict[str, Any]:
        shared = self._shared
        with shared.pull_lock, shared.cond:
            if self._exhausted:  # the consumer saw the end, so did the upstream
                return self._upstream.state_dict()
            # The snapshot taken just before the next element was pulled is the upstream's
            # state at the consumer's position (also when that pull found the end: the
            # upstream was not yet exhausted there, as it is not for a bare pipeline).
            for index, snapshot in shared.snapshots:
                if index == shared.lowwater:
                    if isinstance(snapshot, _SnapshotFailed):
                        raise RuntimeError(f"cannot save the input position: the input "
                                           f"pipeline's state_dict() failed: {snapshot.exc}"
                                           ) from snapshot.exc
                    return snapshot
            if shared.next_pull == shared.lowwater:  # nothing pulled ahead
                return self._upstream.state_dict()
        raise RuntimeError("device_feed: no upstream snapshot at the consumer's position "
                           "(prefetch snapshots every pull, so this is a bug)")

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self._set_state({UPSTREAM: state, "snapshot_position": 0, "position": 0,
                         "consumed_after": []})
        self._exhausted = False


class _PlainIterator(DatasetIterator):
    """Any Python iterator as a pipeline stage (not checkpointable)."""

    op_name = "iterator"

    def __init__(self, iterator: Any) -> None:
        super().__init__()
        self._it = iterator

    def _next(self) -> Any:
        return next(self._it)

    def _get_state(self) -> Dict[str, Any]:
        raise TypeError(f"a {type(self._it).__name__} cannot save its position")

    def _close(self) -> None:
        close = getattr(self._it, "close", None)
        if callable(close):
            close()


class PlainDeviceFeed:
    """A device feed over an iterator that has no ``state_dict`` (and so offers none)."""

    def __init__(self, iterator: Any, transfer: Transfer, buffer_size: int = 2) -> None:
        self._feed = PrefetchToDeviceIterator(_PlainIterator(iterator), transfer, buffer_size,
                                              op_name="device_feed")

    def __iter__(self) -> "PlainDeviceFeed":
        return self

    def __next__(self) -> Any:
        return next(self._feed)

    def close(self) -> None:
        self._feed.close()


def feed_to_device(iterator: Any, device: torch.device, buffer_size: int = 2,
                   transfer_factory: Optional[Callable[[torch.device], Transfer]] = None) -> Any:
    """``iterator`` with its elements moved to ``device`` by a background thread.

    A pipeline iterator keeps its checkpoint state (:class:`DeviceFeed`); any other iterator
    is fed the same way but stays uncheckpointable. A pipeline that already ends with
    ``prefetch_to_device`` to a CUDA device is returned as it is.
    """
    if isinstance(iterator, PrefetchToDeviceIterator) and \
            isinstance(iterator._transfer, CudaTransfer):
        return iterator
    transfer = (transfer_factory or make_transfer)(device)
    if isinstance(iterator, DatasetIterator):
        return DeviceFeed(iterator, transfer, buffer_size)
    return PlainDeviceFeed(iter(iterator), transfer, buffer_size)
