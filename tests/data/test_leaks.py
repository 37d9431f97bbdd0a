"""Closing, dropping or interrupting an iterator stops every thread and process it started."""

import _thread
import gc
import os
import threading
import time

import pytest

import data


def _children():
    """Pids of this process's child processes (Linux: from /proc)."""
    me, kids = str(os.getpid()), set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me:
            kids.add(int(entry))
    return kids


def _settles(before_threads, before_children, timeout=5.0):
    """True once no thread or child beyond ``before_*`` remains (bounded wait)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        extra = set(threading.enumerate()) - before_threads
        if not extra and _children() <= before_children:
            return True
        time.sleep(0.02)
    return False


def _slow(x):
    time.sleep(0.002)
    return x


def _pipelines():
    return {
        "parallel map": lambda: data.Dataset.range(10_000).map(_slow, num_parallel_calls=3),
        "prefetch": lambda: data.Dataset.range(10_000).map(_slow).prefetch(4),
        "map, batch, prefetch": lambda: data.Dataset.range(10_000).map(
            _slow, num_parallel_calls=2).batch(4).prefetch(2).map(
            lambda x: x, num_parallel_calls=2),
    }


@pytest.fixture
def baseline():
    gc.collect()
    return set(threading.enumerate()), _children()


@pytest.mark.parametrize("name", sorted(_pipelines()))
def test_close_stops_all_threads(name, baseline):
    it = iter(_pipelines()[name]())
    next(it)
    assert set(threading.enumerate()) - baseline[0], "the pipeline should have started threads"
    it.close()
    assert _settles(*baseline)


@pytest.mark.parametrize("name", sorted(_pipelines()))
def test_dropping_the_iterator_stops_all_threads(name, baseline):
    it = iter(_pipelines()[name]())
    next(it)
    del it
    gc.collect()
    assert _settles(*baseline)


def _consume_and_break(dataset):
    for i, _ in enumerate(dataset):
        if i == 5:
            break


@pytest.mark.parametrize("name", sorted(_pipelines()))
def test_breaking_out_of_a_for_loop_stops_all_threads(name, baseline):
    _consume_and_break(_pipelines()[name]())
    gc.collect()
    assert _settles(*baseline)


def test_keyboard_interrupt_while_waiting_stops_all_threads(baseline):
    started = threading.Event()

    def blocking(x):
        started.set()
        time.sleep(0.5)
        return x

    def consume():
        for _ in data.Dataset.range(100).map(blocking, num_parallel_calls=2).prefetch(2):
            pass

    timer = threading.Timer(0.1, lambda: started.wait(5) and _thread.interrupt_main())
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        consume()
    timer.join()
    gc.collect()
    assert _settles(*baseline)


def test_keyboard_interrupt_raised_in_the_function_reaches_the_consumer(baseline):
    def fn(x):
        if x == 2:
            raise KeyboardInterrupt
        return x

    with pytest.raises(KeyboardInterrupt):
        list(data.Dataset.range(10).map(fn, num_parallel_calls=2))
    gc.collect()
    assert _settles(*baseline)


def test_exhausted_iterators_leave_no_threads(baseline):
    ds = data.Dataset.range(50).map(_slow, num_parallel_calls=2).prefetch(3)
    for _ in range(3):
        assert list(ds) == list(range(50))
    gc.collect()
    assert _settles(*baseline)


def test_function_errors_leave_no_threads(baseline):
    def fail(x):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        list(data.Dataset.range(20).map(fail, num_parallel_calls=2).prefetch(2))
    gc.collect()
    assert _settles(*baseline)
