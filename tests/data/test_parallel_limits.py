"""``limit_workers`` and ``worker_cpu_seconds``: how the Estimator shares the CPU with a
pipeline's parallel stages."""

from __future__ import annotations

import threading
import time

import torch

import data


def _pipeline(fn, parallel=4, deterministic=True):
    ds = data.Dataset.range(200).map(fn, num_parallel_calls=parallel, deterministic=deterministic)
    return iter(ds.batch(10).prefetch(2))


def test_a_worker_limit_keeps_the_elements_and_their_order():
    slow = lambda x: (time.sleep(0.0005 * (int(x) % 3)), x * 2)[1]  # noqa: E731
    plain = [b.tolist() for b in _pipeline(slow)]
    it = _pipeline(slow)
    it.limit_workers(1)
    assert [b.tolist() for b in it] == plain == [list(range(i, i + 20, 2))
                                                 for i in range(0, 400, 20)]


def test_a_worker_limit_bounds_the_calls_in_flight():
    lock, running, most = threading.Lock(), [0], [0]

    def counted(x):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.001)
        with lock:
            running[0] -= 1
        return x

    it = _pipeline(counted, parallel=4)
    it.limit_workers(1)
    assert sum(len(b) for b in it) == 200
    assert most[0] == 1
    assert it.cpu_workers() == 1
    it = _pipeline(counted, parallel=4)
    it.limit_workers(99)  # at or above the worker count: no limit
    assert it.cpu_workers() == 4
    it.close()


def test_worker_cpu_seconds_counts_the_functions_cpu_time():
    def busy(x):
        t = torch.ones(64, 64)
        end = time.thread_time() + 0.002
        while time.thread_time() < end:
            t = t * 1.0
        return x

    it = _pipeline(busy, parallel=2)
    assert it.worker_cpu_seconds() == 0.0
    assert sum(len(b) for b in it) == 200
    assert 0.4 <= it.worker_cpu_seconds() < 5.0  # 200 calls of >= 2 ms of CPU each
    serial = iter(data.Dataset.range(10).map(busy).batch(5))
    list(serial)
    assert serial.worker_cpu_seconds() == 0.0  # no background workers: nothing to share
