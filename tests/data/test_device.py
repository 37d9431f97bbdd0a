"""``prefetch_to_device`` / ``copy_to_device`` and the device feed the Estimator inserts.

Without a GPU, the CUDA transfer runs against a fake device: its CUDA primitives (stream,
event, pinning, copy, record_stream) are replaced by recorders over CPU tensors, so the tests
check which thread pins and copies, that the consumer waits on the copy's event, and that every
tensor is marked as used by the consumer's stream.
"""

import threading

import pytest
import torch

import data
from data.ops.device import (CudaTransfer, DeviceFeed, PrefetchToDeviceDataset,
                             feed_to_device, parse_device)
from resume_harness import check_save_load_state


class FakeCuda(CudaTransfer):
    """CudaTransfer with its CUDA primitives recorded instead of run."""

    def __init__(self, device):
        super().__init__(device)
        self.log = []
        self.lock = threading.Lock()

    def _note(self, what, detail=None):
        with self.lock:
            self.log.append((what, threading.current_thread().name, detail))

    def new_stream(self):
        self._note("new_stream")
        return "side-stream"

    def stream_context(self, stream):
        transfer = self

        class Context:
            def __enter__(self):
                transfer._note("enter", stream)

            def __exit__(self, *exc):
                transfer._note("exit", stream)

        return Context()

    def record_event(self, stream):
        self._note("record_event", stream)
        return ("event", stream)

    def consumer_stream(self):
        transfer = self

        class Stream:
            def wait_event(self, event):
                transfer._note("wait_event", event)

        return Stream()

    def pin(self, tensor):
        self._note("pin", tuple(tensor.shape))
        return tensor.clone()

    def copy(self, tensor):
        self._note("copy", tuple(tensor.shape))
        return self.pin(tensor)  # a real copy pins, then copies non_blocking to the device

    def mark_used(self, tensor, stream):
        self._note("mark_used", tuple(tensor.shape))


def fake_cuda_dataset(ds, buffer_size=2):
    transfers = []

    def factory(device):
        transfers.append(FakeCuda(torch.device("cpu")))
        return transfers[-1]

    return PrefetchToDeviceDataset(ds, "cuda:0", buffer_size, transfer_factory=factory), transfers


def test_tf_and_torch_device_names_are_parsed():
    assert parse_device("/gpu:0", "op") == torch.device("cuda", 0)
    assert parse_device("/device:GPU:1", "op") == torch.device("cuda", 1)
    assert parse_device("/job:localhost/replica:0/task:0/device:CPU:0", "op") == torch.device("cpu")
    assert parse_device("cuda:2", "op") == torch.device("cuda", 2)
    with pytest.raises(ValueError, match="prefetch_to_device: cannot parse device 'nonsense'"):
        data.experimental.prefetch_to_device("nonsense")


def test_copy_to_device_source_must_be_the_cpu():
    with pytest.raises(ValueError, match="source_device must be the CPU"):
        data.experimental.copy_to_device("cpu", source_device="/gpu:0")


@pytest.mark.parametrize("transformation", [
    lambda: data.experimental.prefetch_to_device("cpu", buffer_size=2),
    lambda: data.experimental.prefetch_to_device("/cpu:0"),
    lambda: data.experimental.copy_to_device("cpu"),
])
def test_on_a_cpu_device_elements_pass_through(transformation):
    ds = data.Dataset.range(7).map(lambda x: ({"x": torch.tensor([x] * 2)}, x)).batch(3)
    got = [(b[0]["x"].tolist(), b[1].tolist()) for b in ds.apply(transformation())]
    want = [(b[0]["x"].tolist(), b[1].tolist()) for b in ds]
    assert got == want


@pytest.mark.parametrize("transformation", [
    lambda ds: ds.apply(data.experimental.prefetch_to_device("cpu", 2)),
    lambda ds: ds.apply(data.experimental.copy_to_device("cpu")),
    lambda ds: fake_cuda_dataset(ds)[0],
])
def test_device_transfers_save_and_restore_like_every_op(transformation):
    check_save_load_state(lambda: transformation(data.Dataset.range(11).shuffle(5, seed=1)
                                                 .batch(2)))


def test_fake_cuda_pins_and_copies_in_the_background_and_waits_on_the_consumer_stream():
    ds = data.Dataset.range(6).map(lambda x: (torch.full((2, 3), x, dtype=torch.uint8), x)).batch(2)
    moved, transfers = fake_cuda_dataset(ds)
    out = list(moved)
    assert [b[0][:, 0, 0].tolist() for b in out] == [[0, 1], [2, 3], [4, 5]]
    assert out[0][0].dtype == torch.uint8  # shipped as uint8
    log = transfers[0].log
    main = threading.current_thread().name
    worker_side = [what for what, thread, _ in log if thread != main]
    consumer_side = [what for what, thread, _ in log if thread == main]
    assert worker_side.count("pin") == 6 and worker_side.count("copy") == 6  # 3 batches x 2
    assert worker_side.count("new_stream") == 1 and worker_side.count("record_event") == 3
    assert consumer_side == ["wait_event", "mark_used", "mark_used"] * 3
    # each copy happens inside the side stream's context, then the event is recorded on it
    first = [what for what, thread, _ in log if thread != main][:8]
    assert first == ["new_stream", "enter", "copy", "pin", "copy", "pin", "record_event", "exit"]
    assert ("wait_event", main, ("event", "side-stream")) in log


def test_copy_to_device_with_fake_cuda_transfers_in_the_pulling_thread():
    from data.ops.device import CopyToDeviceDataset

    fake = FakeCuda(torch.device("cpu"))
    ds = CopyToDeviceDataset(data.Dataset.range(3).batch(1), "cuda", transfer_factory=lambda d: fake)
    assert [int(b) for b in ds] == [0, 1, 2]
    assert {thread for _, thread, _ in fake.log} == {threading.current_thread().name}


def same_state(a, b):
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(
            same_state(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(same_state, a, b))
    return a == b


def test_device_feed_state_is_the_pipelines_own_at_every_position():
    def make():  # a fresh Dataset each time: the same epoch, so the same order
        return data.Dataset.range(9).shuffle(4, seed=3).batch(2)

    plain = iter(make())
    feed = DeviceFeed(iter(make()), FakeCuda(torch.device("cpu")))
    try:
        for _ in range(6):
            assert same_state(feed.state_dict(), plain.state_dict())
            a, b = next(feed, None), next(plain, None)
            assert (a is None and b is None) or a.tolist() == b.tolist()
        assert same_state(feed.state_dict(), plain.state_dict())
        # and such a state restores into a bare pipeline, and back into a feed
        bare = iter(make())
        bare.load_state_dict(feed.state_dict())
        again = DeviceFeed(iter(make()), FakeCuda(torch.device("cpu")))
        again.load_state_dict(plain.state_dict())
        assert [x.tolist() for x in bare] == [x.tolist() for x in again] == [
            x.tolist() for x in plain]
        again.close()
    finally:
        feed.close()


def test_device_feed_over_a_plain_iterator_offers_no_state():
    feed = feed_to_device([torch.ones(2), torch.zeros(2)], torch.device("cpu"),
                          transfer_factory=FakeCuda)
    assert not hasattr(feed, "state_dict")
    assert [x.tolist() for x in feed] == [[1.0, 1.0], [0.0, 0.0]]
    feed.close()


def test_transfer_errors_reach_the_consumer():
    class Broken(FakeCuda):
        def copy(self, tensor):
            raise RuntimeError("CUDA out of memory (fake)")

    ds = PrefetchToDeviceDataset(data.Dataset.range(2).batch(1), "cuda", 1,
                                 transfer_factory=Broken)
    with pytest.raises(Exception, match="out of memory"):
        list(ds)


def test_a_pipeline_ending_in_prefetch_to_device_gets_no_second_feed():
    moved, _ = fake_cuda_dataset(data.Dataset.range(3).batch(1))
    it = iter(moved)
    try:
        assert feed_to_device(it, torch.device("cuda", 0), transfer_factory=FakeCuda) is it
    finally:
        it.close()
