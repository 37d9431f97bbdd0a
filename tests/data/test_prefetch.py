"""``prefetch``: background production into a bounded buffer, order kept, resumable."""

import threading
import time

import pytest

import data
from resume_harness import check_save_load_state


def _counting(n):
    pulled, lock = [], threading.Lock()

    def count(x):
        with lock:
            pulled.append(x)
        return x

    return data.Dataset.range(n).map(count), pulled


def _wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.01)
    return predicate()


def test_prefetch_keeps_elements_and_order():
    assert list(data.Dataset.range(50).prefetch(3)) == list(range(50))


@pytest.mark.parametrize("bad", [-2, -7])
def test_prefetch_buffer_size_below_minus_one_raises_value_error(bad):
    with pytest.raises(ValueError, match="buffer_size"):
        data.Dataset.range(3).prefetch(bad)


@pytest.mark.parametrize("size", [0, None])
def test_prefetch_zero_and_none_are_valid(size):  # as tf.data 2.21: no buffer / autotune
    assert list(data.Dataset.range(3).prefetch(size)) == [0, 1, 2]


def test_prefetch_buffer_size_must_be_an_int():
    with pytest.raises(TypeError, match="buffer_size"):
        data.Dataset.range(3).prefetch(2.5)


def test_prefetch_produces_ahead_in_the_background():
    ds, pulled = _counting(100)
    it = iter(ds.prefetch(4))
    assert next(it) == 0
    # Without further calls from the consumer the buffer fills up: 1 consumed + 4 buffered.
    assert _wait_for(lambda: len(pulled) >= 5)
    it.close()


def test_prefetch_never_runs_more_than_buffer_size_ahead():
    ds, pulled = _counting(100)
    it = iter(ds.prefetch(4))
    next(it)
    _wait_for(lambda: len(pulled) >= 5)
    time.sleep(0.2)
    assert len(pulled) <= 1 + 4 + 1  # consumed, buffered, one being pulled at most
    it.close()


def test_prefetch_autotune_delivers_everything():
    assert list(data.Dataset.range(40).prefetch(data.AUTOTUNE)) == list(range(40))


def test_prefetch_passes_upstream_errors_and_continues():
    def fn(x):
        if x == 2:
            raise ValueError("bad two")
        return x

    it = iter(data.Dataset.range(5).map(fn).prefetch(2))
    assert [next(it), next(it)] == [0, 1]
    with pytest.raises(ValueError, match="bad two"):
        next(it)
    assert list(it) == [3, 4]


def test_prefetch_resumes_exactly():
    check_save_load_state(lambda: data.Dataset.range(140).prefetch(5),
                          stop_points=[0, 1, 64, 70, 140])


def test_prefetch_after_batch_resumes_exactly():
    data.set_random_seed(5)
    try:
        check_save_load_state(
            lambda: data.Dataset.range(90).shuffle(10).batch(4).prefetch(data.AUTOTUNE),
            stop_points=[0, 5, 17, 23])
    finally:
        data.set_random_seed(None)
