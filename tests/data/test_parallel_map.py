"""Parallel ``map``: equals serial map, really runs concurrently, orders, resumes exactly."""

import random
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import data
from data.ops._parallel import cpu_count
from resume_harness import check_save_load_state


def _jittered(x):
    time.sleep(random.random() * 0.002)  # finish out of order
    return x * 7 + 1


@settings(max_examples=25, deadline=None)
@given(n=st.integers(0, 60), calls=st.sampled_from([1, 2, 3, 8, data.AUTOTUNE]))
def test_deterministic_parallel_map_equals_serial_map(n, calls):
    serial = list(data.Dataset.range(n).map(_jittered))
    assert list(data.Dataset.range(n).map(_jittered, num_parallel_calls=calls)) == serial


@settings(max_examples=15, deadline=None)
@given(n=st.integers(0, 60), calls=st.integers(1, 4))
def test_nondeterministic_parallel_map_yields_a_permutation(n, calls):
    out = list(data.Dataset.range(n).map(_jittered, num_parallel_calls=calls,
                                         deterministic=False))
    assert sorted(out) == [_jittered_value(x) for x in range(n)]


def _jittered_value(x):
    return x * 7 + 1


def test_nondeterministic_map_yields_fast_elements_before_a_slow_one():
    release = threading.Event()

    def fn(x):
        if x == 0:
            release.wait(5)
        return x

    it = iter(data.Dataset.range(6).map(fn, num_parallel_calls=2, deterministic=False))
    first = [next(it) for _ in range(3)]
    release.set()
    rest = list(it)
    assert 0 not in first
    assert sorted(first + rest) == list(range(6))


def test_parallel_map_runs_calls_concurrently():
    # Each call waits for a partner call: this only completes if two calls run at once.
    barrier = threading.Barrier(2, timeout=5)

    def fn(x):
        barrier.wait()
        return threading.get_ident()

    idents = list(data.Dataset.range(8).map(fn, num_parallel_calls=2))
    assert len(set(idents)) == 2


def test_autotune_runs_one_call_per_core_at_once():
    # Every call waits until one call per core is running: only completes with that many workers.
    barrier = threading.Barrier(cpu_count(), timeout=10)

    def fn(x):
        barrier.wait()
        return threading.current_thread().name

    names = list(data.Dataset.range(2 * cpu_count()).map(fn, num_parallel_calls=data.AUTOTUNE))
    assert len(set(names)) == cpu_count()


def test_parallel_map_unpacks_tuples_and_normalizes_numpy():
    import numpy as np
    ds = data.Dataset.zip((data.Dataset.range(4), data.Dataset.range(4)))
    out = list(ds.map(lambda a, b: np.array([a, b]), num_parallel_calls=2))
    assert [t.tolist() for t in out] == [[i, i] for i in range(4)]


def test_parallel_map_keeps_a_bounded_number_of_elements_in_flight():
    pulled = []
    lock = threading.Lock()

    def count(x):
        with lock:
            pulled.append(x)
        return x

    it = iter(data.Dataset.range(1000).map(count).map(lambda x: x, num_parallel_calls=2))
    next(it)
    time.sleep(0.3)
    assert len(pulled) <= 1 + 16 * 2 + 2  # the consumer's element plus the largest buffer
    it.close()


@pytest.mark.parametrize("calls", [1, 3])
def test_parallel_map_resumes_exactly(calls):
    check_save_load_state(
        lambda: data.Dataset.range(150).map(lambda x: (x, x % 7), num_parallel_calls=calls),
        stop_points=[0, 1, 63, 64, 65, 130, 150])


def test_parallel_map_over_shuffle_and_repeat_resumes_exactly():
    data.set_random_seed(11)
    try:
        check_save_load_state(
            lambda: data.Dataset.range(40).shuffle(16).repeat(3).map(
                lambda x: x * 2, num_parallel_calls=2).batch(5),
            stop_points=[0, 3, 14, 24])
    finally:
        data.set_random_seed(None)


def test_restore_fast_forwards_without_calling_fn():
    calls, lock = [], threading.Lock()

    def fn(x):
        with lock:
            calls.append(x)
        return x

    make = lambda: data.Dataset.range(100).map(fn, num_parallel_calls=2)  # noqa: E731
    it = iter(make())
    for _ in range(70):
        next(it)
    state = it.state_dict()
    it.close()
    calls.clear()
    restored = iter(make())
    restored.load_state_dict(state)
    assert list(restored) == list(range(70, 100))
    assert sorted(calls) == list(range(70, 100))  # 64..69 were pulled again, not recomputed


def test_nondeterministic_restore_yields_exactly_the_unconsumed_elements():
    make = lambda: data.Dataset.range(200).map(  # noqa: E731
        _jittered, num_parallel_calls=3, deterministic=False)
    it = iter(make())
    prefix = [next(it) for _ in range(90)]
    state = it.state_dict()
    it.close()
    restored = iter(make())
    restored.load_state_dict(state)
    rest = list(restored)
    assert sorted(prefix + rest) == [_jittered_value(x) for x in range(200)]


def test_restore_beyond_the_end_of_upstream_raises_malformed_state():
    it = iter(data.Dataset.range(3).map(lambda x: x, num_parallel_calls=2))
    state = it.state_dict()
    state["position"] = state["snapshot_position"] + 5
    fresh = iter(data.Dataset.range(3).map(lambda x: x, num_parallel_calls=2))
    with pytest.raises(data.MalformedStateError, match="ended after 3"):
        fresh.load_state_dict(state)


def test_restore_while_workers_run_discards_in_flight_work():
    ds = data.Dataset.range(50).map(lambda x: x + 100, num_parallel_calls=2)
    it = iter(ds)
    for _ in range(10):
        next(it)
    state = it.state_dict()
    for _ in range(20):
        next(it)
    it.load_state_dict(state)
    assert list(it) == list(range(110, 150))


@pytest.mark.parametrize("deterministic", [True, False])
def test_parallel_map_delivers_a_ready_element_that_later_ones_wait_for(deterministic):
    # Elements 1.. finish only after element 0 has reached the consumer: the consumer must take
    # a ready result promptly even when no further results can follow yet.
    consumed = threading.Event()

    def fn(x):
        if x > 0 and not consumed.wait(5):
            raise TimeoutError(f"element {x}: element 0 was not delivered")
        return x

    it = iter(data.Dataset.range(6).map(fn, num_parallel_calls=2, deterministic=deterministic))
    start = time.perf_counter()
    assert next(it) == 0
    waited = time.perf_counter() - start
    consumed.set()
    assert sorted(it) == [1, 2, 3, 4, 5]
    assert waited < 2.0


def test_parallel_map_keeps_order_when_results_arrive_in_bursts():
    # Results come in runs (the consumer is woken per run): order and values stay exact.
    def fn(x):
        if x % 7 == 0:
            time.sleep(0.003)
        return x * x

    out = list(data.Dataset.range(300).map(fn, num_parallel_calls=3).batch(16).unbatch())
    assert [int(v) for v in out] == [x * x for x in range(300)]


def test_cpu_workers_counts_parallel_map_workers_but_not_prefetch():
    ds = data.Dataset.range(8)
    with iter(ds.map(lambda x: x, num_parallel_calls=3).prefetch(2).batch(2)) as it:
        assert it.cpu_workers() == 3
    with iter(ds.map(lambda x: x).prefetch(2)) as it:
        assert it.cpu_workers() == 0


@pytest.mark.parametrize("wrap", [
    lambda ds: ds.repeat(),
    lambda ds: ds.cache(),
    lambda ds: data.Dataset.range(2).interleave(lambda _: ds, cycle_length=2),
], ids=["repeat", "cache", "interleave"])
def test_cpu_workers_sees_stages_created_on_the_fly(wrap):
    # repeat, cache and interleave make their upstream iterators as they go
    with iter(wrap(data.Dataset.range(8).map(lambda x: x, num_parallel_calls=3))) as it:
        next(it)
        assert it.cpu_workers() >= 3
