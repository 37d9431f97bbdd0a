"""The input side under attack: decompression bombs, hostile iterator states, and threads
that must not outlive a pipeline that raised."""

from __future__ import annotations

import gc
import io
import signal
import threading
import time
import tracemalloc

import pytest
import torch
from PIL import Image

import data
from data._iterator import MalformedStateError


def _bomb(path, side=30000):
    """A valid little JPEG whose header claims ``side`` x ``side`` pixels."""
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (10, 200, 30)).save(buf, "JPEG", quality=50)
    raw = bytearray(buf.getvalue())
    sof = raw.find(b"\xff\xc0")
    raw[sof + 5:sof + 9] = side.to_bytes(2, "big") * 2
    path.write_bytes(bytes(raw))
    return str(path)


@pytest.mark.parametrize("decoder", ["default", "pil"])
@pytest.mark.parametrize("decode", ["decode_jpeg", "decode_image"])
def test_decompression_bomb_is_refused_from_its_header(tmp_path, monkeypatch, decoder, decode):
    if decoder == "pil":
        monkeypatch.setenv(data.image.DECODER_ENV_VAR, "pil")
    path = _bomb(tmp_path / "bomb.jpg")
    contents = data.io.read_file(path)
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(data.image.DecodeError, match=r"bomb\.jpg.*(decompression bomb|"
                                                         r"decompression bomb DOS)"):
            getattr(data.image, decode)(contents, channels=3)
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Decoding it would take 2.7 GB and seconds; refusing it takes neither.
    assert elapsed < 1.0 and peak < 50 * 2 ** 20, (elapsed, peak)


def test_image_over_the_limit_but_not_twice_warns_as_pillow_does(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    buf = io.BytesIO()
    Image.new("RGB", (12, 12)).save(buf, "JPEG")
    with pytest.warns(Image.DecompressionBombWarning):
        assert data.image.decode_jpeg(buf.getvalue()).shape == (12, 12, 3)


def _bad_on(position):
    def fn(x):
        if x == position:
            raise ValueError(f"bad element {x}")
        return x
    return fn


@pytest.mark.slow
def test_threads_stop_after_200_raising_loops_even_when_the_errors_are_kept():
    gc.collect()
    baseline = threading.active_count()
    kept = []  # as a test runner or an error log keeps them, tracebacks and all
    for _ in range(200):
        ds = data.Dataset.range(100).map(_bad_on(3), num_parallel_calls=2).prefetch(2)
        try:
            for _ in ds:
                pass
        except ValueError as e:
            kept.append(e)
    deadline = time.monotonic() + 10
    while threading.active_count() > baseline and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() == baseline, threading.enumerate()
    assert len(kept) == 200


def test_pipeline_goes_on_after_an_error_once_its_workers_stopped():
    ds = data.Dataset.range(50).map(_bad_on(7), num_parallel_calls=3).prefetch(2)
    assert list(ds.ignore_errors()) == [x for x in range(50) if x != 7]
    it = iter(data.Dataset.range(20).map(_bad_on(4), num_parallel_calls=2))
    got = [next(it) for _ in range(4)]
    with pytest.raises(ValueError, match="element 4"):
        next(it)
    assert got + list(it) == [0, 1, 2, 3] + list(range(5, 20))


def _map_state(steps=5):
    it = iter(data.Dataset.range(1000).map(lambda x: x, num_parallel_calls=2))
    for _ in range(steps):
        next(it)
    state = it.state_dict()
    it.close()
    return state


@pytest.mark.parametrize("field, value, expected", [
    ("position", 5 + 10 ** 9, r"map: saved state field 'position' is 1000000005, outside"),
    ("position", "5", r"map: saved state field 'position' must be an int, got str"),
    ("snapshot_position", -3, r"map: saved state field 'snapshot_position' is -3"),
    ("consumed_after", [2], r"map: saved state field 'consumed_after' is 2, outside"),
    ("state_version", 99, r"map: saved state field 'state_version' is 99"),
    ("exhausted", "no", r"map: saved state field 'exhausted' must be a bool"),
])
def test_crafted_map_state_is_refused_at_once_naming_the_field(field, value, expected):
    state = _map_state()
    state[field] = value
    it = iter(data.Dataset.range(1000).map(lambda x: x, num_parallel_calls=2))
    start = time.perf_counter()
    with pytest.raises(MalformedStateError, match=expected):
        it.load_state_dict(state)
    assert time.perf_counter() - start < 2.0
    it.close()


@pytest.mark.parametrize("make, field, value, expected", [
    (lambda: data.Dataset.range(10), "next", 10 ** 9, r"range: saved state field 'next'"),
    (lambda: data.Dataset.range(10).shuffle(4), "buffer", list(range(9)),
     r"shuffle: saved state field 'buffer' has 9 items, more than this op can hold \(4\)"),
    (lambda: data.Dataset.range(10).shuffle(4), "generator", "seed",
     r"shuffle: saved state field 'generator' must be a uint8 tensor"),
    (lambda: data.Dataset.range(10).take(3), "taken", 7,
     r"take: saved state field 'taken' is 7, outside the valid range \[0, 3\]"),
    (lambda: data.Dataset.range(10).repeat(2), "repetition", -1,
     r"repeat: saved state field 'repetition' is -1"),
    (lambda: data.Dataset.from_tensor_slices(torch.arange(5)), "index", 6,
     r"from_tensor_slices: saved state field 'index' is 6"),
])
def test_crafted_state_of_other_ops_names_op_and_field(make, field, value, expected):
    it = iter(make())
    next(it)
    state = it.state_dict()
    state[field] = value
    with pytest.raises(MalformedStateError, match=expected):
        iter(make()).load_state_dict(state)


class _Alarm(Exception):
    pass


def test_an_alarm_during_a_restore_is_not_swallowed():
    replayed = []
    armed = False

    def source(x):
        if armed:
            replayed.append(x)
            if len(replayed) == 3:  # the alarm fires while the restore replays upstream
                signal.raise_signal(signal.SIGALRM)
        return x

    def on_alarm(*_):
        raise _Alarm("time is up")

    def make():
        return data.Dataset.range(1000).map(source).map(lambda x: x, num_parallel_calls=2)

    it = iter(make())
    for _ in range(40):  # 40 past the upstream snapshot taken at 0: a restore replays 40
        next(it)
    state = it.state_dict()
    it.close()
    assert state["position"] - state["snapshot_position"] == 40
    armed = True
    previous = signal.signal(signal.SIGALRM, on_alarm)
    try:
        restored = iter(make())
        with pytest.raises(_Alarm, match="time is up"):
            restored.load_state_dict(state)
        restored.close()
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert replayed == [0, 1, 2]
