"""The parallel engine behind ``map(num_parallel_calls=...)`` and ``prefetch``.

Backend: threads. Decoding (Pillow/libjpeg-turbo), file reads and torch ops release the GIL, so
worker threads run the reference pipeline's read/decode/convert/resize on every core, and their
results reach the consumer without pickling or copies. Measured on the 2-core development
machine (shared with other jobs, so noisy) for ``read_file -> decode_jpeg ->
convert_image_dtype -> resize`` of 500x375 JPEGs, map stage alone, best of 3 alternating runs
of 3,000 images (``benchmarks/input_pipeline.py --compare-backends``):

=======================  =========  ====================================
work per image           2 threads  2 processes (spawn, numpy results)
=======================  =========  ====================================
full decode, 28x28       1261/s     925/s
full decode, 224x224     1001/s     504/s
ratio=8 decode, 28x28    2221/s     1679/s
=======================  =========  ====================================

(A second run at lower load: threads 1263/953/2211, processes 1158/491/1685.)
Processes pay for pickling every result back (600 KB per 224x224 float image) and need
``spawn`` (a forked child of a process whose torch already ran OpenMP threads can hang), so
threads won everywhere and are the only backend. A function that holds the GIL throughout
would gain from processes, but not the image work this engine is for.

Torch's intra-op threads: each worker's convert/resize ops would otherwise fan out over all
cores on top of the N workers (2 workers x 2 OpenMP threads on 2 cores). Each worker sets its
own OpenMP thread count to 1, which cut the pipeline's CPU time per image from 2,050-2,200 to
~1,270 us at 224x224 and from 1,020-1,140 to 850-890 us at 28x28. It calls
``omp_set_num_threads`` directly because ``torch.set_num_threads`` also changes the count that
every thread created later (or the main thread, if it has not run a parallel op yet) starts
with.

Hand-off: workers and consumer share one lock with two conditions. A worker that stores a
result wakes the consumer only when the consumer waits and a run of results is ready (half
the buffer, or the buffer is full, or the input ended); the consumer wakes one waiting worker
per freed slot, and never waits longer than :data:`_RUN_WAIT_S` at a time, so a ready result
is taken within that even when no run can follow. Waking every thread on every result (as a
single ``notify_all`` did) cost ~3 voluntary and ~2 involuntary context switches per element
with 2 workers on 2 cores; now it is ~0.6-1 and ~0.15. The reference pipeline at 28x28 with
``ratio=8`` went from ~4,700 to ~5,000-5,300 images/s (sys time 48 -> 20-27 us per image),
within ~5% of two bare threads calling the same function in a loop. A third worker (more
threads than cores, to hide the Python parts between GIL-free calls) did not help: 2 against
3 workers gave 4,268 / 3,621 and 4,145 / 3,918 images/s at ``ratio=8`` and the same CPU
time per image at 224x224, so ``AUTOTUNE`` stays at one worker per core.

Checkpointing is "snapshot + steps since": the thread that pulls from upstream records the
upstream's ``state_dict()`` every :data:`SNAPSHOT_EVERY` pulls, with the pull count.
``state_dict()`` returns the newest snapshot at or before the consumer's position and how many
elements to pull and discard after restoring it; in-flight work is dropped and recomputed.
For ``deterministic=False`` the indices consumed out of order past that position are saved too
and skipped after a restore, so no element is lost or repeated. Upstream ``state_dict()``
values must not be mutated by later iteration (every op returns fresh containers).
"""

from __future__ import annotations

import ctypes
import os
import threading
import time
from collections import deque
from typing import AbstractSet, Any, Callable, Deque, Dict, List, Optional, Set, Tuple

import torch

from data._allocator import tune_allocator
from data._iterator import (UPSTREAM, DatasetIterator, Finalizer, MalformedStateError,
                            require_keys, state_int, state_list)
from data.ops.errors import element_error

#: ``num_parallel_calls`` / ``buffer_size`` value that lets the engine choose.
AUTOTUNE = -1
#: Pulls between two upstream snapshots for ``map``: a restore re-pulls (without applying the
#: function) fewer than this many upstream elements. ``prefetch``, whose upstream elements may
#: be expensive batches, snapshots every pull instead.
SNAPSHOT_EVERY = 64
#: Longest single wait on a condition, so every wait notices a stop request.
_POLL_S = 0.1
#: Longest single wait of the consumer: bounds how long a ready result waits for a run.
_RUN_WAIT_S = 0.005
#: How long ``close()`` waits for each worker thread to finish its current element.
_JOIN_TIMEOUT_S = 5.0


def _openmp_runtime() -> Optional[ctypes.CDLL]:
    """The OpenMP runtime torch loaded (libgomp or libiomp), or ``None``."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "omp" in line and ".so" in line}
    except OSError:  # not Linux
        return None
    for path in sorted(paths):
        name = os.path.basename(path)
        if name.startswith(("libgomp", "libiomp", "libomp")):
            try:
                runtime = ctypes.CDLL(path)
                runtime.omp_set_num_threads  # noqa: B018 - check the symbol exists
                return runtime
            except (OSError, AttributeError):
                continue
    return None


_OPENMP: Optional[ctypes.CDLL] = None
_OPENMP_LOOKED_UP = False


def _use_one_intra_op_thread() -> None:
    """Make torch ops in the calling thread single-threaded, leaving other threads alone."""
    set_intra_op_threads(1)


def set_intra_op_threads(n: int) -> None:
    """Let torch ops in the calling thread use ``n`` OpenMP threads (other threads keep theirs)."""
    global _OPENMP, _OPENMP_LOOKED_UP
    if not _OPENMP_LOOKED_UP:
        _OPENMP, _OPENMP_LOOKED_UP = _openmp_runtime(), True
    if _OPENMP is not None:
        torch.get_num_threads()  # let torch initialise this thread first, or it would undo ours
        _OPENMP.omp_set_num_threads(n)


def cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def resolve_parallelism(num_parallel_calls: int) -> int:
    """Worker count for ``num_parallel_calls`` (``AUTOTUNE`` means one per available core)."""
    return cpu_count() if num_parallel_calls == AUTOTUNE else num_parallel_calls


class _SnapshotFailed:
    """Stands in for an upstream snapshot whose ``state_dict()`` raised."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class _Shared:
    """State shared by the consumer and the workers; workers never see the iterator itself."""

    def __init__(self, upstream: DatasetIterator, fn: Optional[Callable[[Any], Any]],
                 num_workers: int, capacity: int, max_capacity: int, deterministic: bool,
                 op_name: str, snapshot_every: int, ram_budget: int = 0) -> None:
        self.upstream = upstream
        self.fn = fn
        self.num_workers = num_workers
        self.capacity = capacity  # results pulled but not yet consumed, at most
        self.max_capacity = max_capacity  # > capacity: grow when the consumer has to wait
        self.deterministic = deterministic
        self.op_name = op_name
        self.snapshot_every = snapshot_every
        self.ram_budget = ram_budget  # bytes the buffer may grow to (0: no limit)
        self.element_bytes = 0  # size of the last element consumed, for ram_budget
        # One lock, two conditions: workers wait on `cond` (for room, or to stop), the consumer
        # on `consumer_cond` (for results). Waking only the side that can proceed, and the
        # consumer only once a run of results is ready, saves ~2 context switches per element.
        lock = threading.Lock()
        self.cond = threading.Condition(lock)
        self.consumer_cond = threading.Condition(lock)
        self.consumer_waiting = False
        self.workers_waiting = 0
        self.pull_lock = threading.Lock()  # serialises use of `upstream`; taken before `cond`
        self.stop = threading.Event()
        self.threads: List[threading.Thread] = []
        # Workers run for one (generation, run): a restore starts a new generation (in-flight
        # work dropped), an error delivered to the consumer a new run (workers finish the
        # element in hand, keep its result, and exit; the next `next()` starts new ones).
        self.run = 0
        self.started: Tuple[int, int] = (-1, -1)
        # (generation, run) in which a worker stored an error: its workers pull no more (a
        # pull past it could start the upstream's workers anew, to outlive a kept exception)
        self.halted: Tuple[int, int] = (-1, -1)
        # Workers with a slot >= active_workers take no new element (see limit_workers);
        # busy_cpu_s is their thread CPU time spent in `fn` so far.
        self.active_workers = num_workers
        self.busy_cpu_s = 0.0
        self.reset(0, 0, set(), [])

    def reset(self, position: int, snapshot_position: int, consumed_after: Set[int],
              snapshots: List[Tuple[int, Any]],
              upstream_errors: AbstractSet[int] = frozenset()) -> None:
        """Forget all in-flight work; the next pull is input element ``position``."""
        self.generation = getattr(self, "generation", 0) + 1
        self.next_pull = position
        self.end: Optional[int] = None
        self.results: Dict[int, Tuple[bool, Any, bool]] = {}
        self.ready: Deque[int] = deque()
        self.reserved = 0  # pulled (or being pulled) and not yet consumed
        self.lowwater = position  # smallest index not yet consumed
        self.consumed_after = set(consumed_after)
        self.skip = set(consumed_after)
        self.snapshots: Deque[Tuple[int, Any]] = deque(snapshots)
        self.last_snapshot: Optional[int] = snapshot_position if snapshots else None
        # Input positions where pulling from upstream raised (the consumer got the error):
        # a restore that replays past them expects them to raise again, and nothing else.
        self.upstream_errors: Set[int] = set(upstream_errors)

    def live(self, generation: int, run: int) -> bool:
        return (not self.stop.is_set() and self.generation == generation and self.run == run
                and self.halted != (generation, run))


def _worker(shared: _Shared, generation: int, run: int, slot: int) -> None:
    _use_one_intra_op_thread()  # N workers already use the N cores
    cond, upstream, fn = shared.cond, shared.upstream, shared.fn
    while True:
        # Reserve room for one result first: waiting for room must not hold `pull_lock`, which
        # the consumer needs to save the state.
        with cond:
            while (shared.live(generation, run) and shared.end is None
                   and (shared.reserved >= shared.capacity or slot >= shared.active_workers)):
                shared.workers_waiting += 1
                try:
                    cond.wait(_POLL_S)
                finally:
                    shared.workers_waiting -= 1
            if not shared.live(generation, run) or shared.end is not None:
                return
            shared.reserved += 1
        with shared.pull_lock:
            if not shared.live(generation, run) or shared.end is not None:
                with cond:
                    if shared.generation == generation:
                        shared.reserved -= 1
                        _wake_all(shared)
                return
            index = shared.next_pull
            if shared.last_snapshot is None or index - shared.last_snapshot >= shared.snapshot_every:
                try:
                    snapshot: Any = upstream.state_dict()
                except Exception as exc:  # e.g. an uncheckpointable source: fail on save only
                    snapshot = _SnapshotFailed(exc)
                with cond:
                    shared.snapshots.append((index, snapshot))
                    shared.last_snapshot = index
                    _prune_snapshots(shared)
            failed = False
            try:
                element = next(upstream)
            except StopIteration:
                with cond:
                    shared.end = index
                    shared.reserved -= 1
                    _wake_all(shared)
                return
            except BaseException as exc:  # delivered to the consumer at this position
                element, failed = exc, True
                with cond:
                    shared.upstream_errors.add(index)
            shared.next_pull = index + 1
            if index in shared.skip:  # consumed before the restore (deterministic=False)
                shared.skip.discard(index)
                with cond:
                    shared.reserved -= 1
                    _wake_all(shared)
                continue
        busy = 0.0
        if failed:
            result: Tuple[bool, Any, bool] = (False, element, False)
        elif fn is None:
            result = (True, element, False)
        else:
            started = time.thread_time()
            try:
                result = (True, fn(element), False)
            except BaseException as exc:
                result = (False, exc, True)
            busy = time.thread_time() - started
        del element
        with cond:
            shared.busy_cpu_s += busy
            if shared.generation == generation:
                shared.results[index] = result
                if not result[0]:
                    shared.halted = (generation, run)
                    shared.cond.notify_all()
                if not shared.deterministic:
                    shared.ready.append(index)
                if shared.consumer_waiting and _consumer_can_go(shared):
                    shared.consumer_cond.notify()
        del result


def _consumer_can_go(shared: _Shared) -> bool:
    """Whether a waiting consumer should wake: its next result is there and either a run of
    results is (half the buffer), or no more can come before it consumes (buffer full or
    input ended). Waking once per run instead of once per result keeps the workers running."""
    if shared.deterministic:
        if shared.lowwater not in shared.results:
            return False
        ready = len(shared.results)
    else:
        ready = len(shared.ready)
        if not ready:
            return shared.end is not None and shared.reserved == 0
    return (ready >= max(1, shared.capacity // 2) or shared.reserved >= shared.capacity
            or shared.end is not None)


def _nbytes(element: Any) -> int:
    """Bytes held by an element's tensors (and strings), for ``autotune.ram_budget``."""
    from data._structure import flatten
    total = 0
    for leaf in flatten(element):
        if isinstance(leaf, torch.Tensor):
            total += leaf.element_size() * leaf.nelement()
        elif isinstance(leaf, (str, bytes)):
            total += len(leaf)
    return total


def _wake_all(shared: _Shared) -> None:
    shared.cond.notify_all()
    shared.consumer_cond.notify_all()


def _prune_snapshots(shared: _Shared) -> None:
    # Keep the newest snapshot at or before the consumer's position, and the newer ones.
    snaps = shared.snapshots
    while len(snaps) > 1 and snaps[1][0] <= shared.lowwater:
        snaps.popleft()
    if shared.upstream_errors and snaps:
        oldest = snaps[0][0]
        shared.upstream_errors = {i for i in shared.upstream_errors if i >= oldest}


def _shutdown(shared: _Shared) -> None:
    """Stop the workers and wait (bounded) for them; safe to call more than once."""
    shared.stop.set()
    with shared.cond:
        shared.results.clear()
        shared.ready.clear()
        _wake_all(shared)
    _join(shared.threads)


def _join(threads: List[threading.Thread]) -> None:
    current = threading.current_thread()
    for thread in threads:
        if thread is not current:
            thread.join(_JOIN_TIMEOUT_S)
    threads[:] = [t for t in threads if t.is_alive()]


class ParallelMapIterator(DatasetIterator):
    """Applies ``fn`` (``None``: identity, i.e. prefetch) to upstream elements in worker threads.

    Results come in input order when ``deterministic``, else as they complete. Errors from
    ``fn`` are re-raised in the consumer with the element's input position, chained to the
    original; errors from upstream are re-raised as they are. Either way the iterator goes on.
    """

    def __init__(self, upstream: DatasetIterator, fn: Optional[Callable[[Any], Any]],
                 num_workers: int, deterministic: bool = True, op_name: str = "map",
                 buffer_size: Optional[int] = None,
                 snapshot_every: int = SNAPSHOT_EVERY, ram_budget: int = 0) -> None:
        super().__init__()
        self.op_name = op_name
        self._upstream = upstream
        self._own(upstream)
        self._cpu_workers = num_workers if fn is not None else 0
        if buffer_size is None or buffer_size == AUTOTUNE:
            # Start small and grow while the consumer finds the buffer empty (TF's autotune,
            # reduced to its essence): memory stays low when the consumer is the bottleneck.
            start = 2 * num_workers if fn is not None else 1
            capacity, max_capacity = start, max(start, 16 * num_workers)
        else:
            capacity = max_capacity = buffer_size
        self._shared = _Shared(upstream, fn, num_workers, capacity, max_capacity,
                               deterministic, op_name, snapshot_every, ram_budget)
        self._finalizer = Finalizer(self, _shutdown, self._shared)

    # -- workers ---------------------------------------------------------------------------
    def _ensure_started(self) -> None:
        shared = self._shared
        generation = shared.generation
        if shared.started == (generation, shared.run):
            return
        shared.started = (generation, shared.run)
        shared.threads[:] = [t for t in shared.threads if t.is_alive()]
        tune_allocator()  # before the workers exist, so they share the tuned heap
        for i in range(shared.num_workers):
            thread = threading.Thread(target=_worker, args=(shared, generation, shared.run, i),
                                      name=f"data-{self.op_name}-{i}", daemon=True)
            shared.threads.append(thread)
            thread.start()

    def limit_workers(self, n: int) -> None:
        """Let at most ``n`` (>= 1) of this stage's workers take new elements, and apply the
        same limit upstream. Elements and their order do not change; only how many are
        computed at once. ``n`` at or above the worker count lifts the limit."""
        super().limit_workers(n)
        shared = self._shared
        if shared.fn is None:
            return  # a prefetch's one producer thread mostly waits: not limited
        with shared.cond:
            shared.active_workers = max(1, min(int(n), shared.num_workers))
            self._cpu_workers = shared.active_workers
            _wake_all(shared)

    def worker_cpu_seconds(self) -> float:
        shared = self._shared
        with shared.cond:
            own = shared.busy_cpu_s
        return own + super().worker_cpu_seconds()

    def _stop_workers(self) -> None:
        shared = self._shared
        with shared.cond:
            shared.generation += 1  # workers of the old generation exit at their next check
            _wake_all(shared)
        _join(shared.threads)

    # -- consuming -------------------------------------------------------------------------
    def _next(self) -> Any:
        shared = self._shared
        self._ensure_started()
        cond = shared.cond
        with cond:
            waited = False
            while True:
                if shared.deterministic:
                    index = shared.lowwater
                    if index in shared.results:
                        break
                    if shared.end is not None and index >= shared.end:
                        raise StopIteration
                else:
                    if shared.ready:
                        index = shared.ready.popleft()
                        break
                    if shared.end is not None and shared.reserved == 0:
                        raise StopIteration
                if not any(t.is_alive() for t in shared.threads):
                    raise RuntimeError(f"{self.op_name}: worker threads stopped unexpectedly")
                if not waited and shared.capacity < shared.max_capacity and (
                        not shared.ram_budget
                        or (shared.capacity + 1) * shared.element_bytes <= shared.ram_budget):
                    shared.capacity += 1  # the consumer is starved: allow more work ahead
                    if shared.workers_waiting:
                        cond.notify()
                waited = True
                if not _consumer_can_go(shared):
                    # Short waits: once its next result is there, short of a run, it is
                    # taken within _RUN_WAIT_S (an element later ones depend on is not held).
                    shared.consumer_waiting = True
                    try:
                        shared.consumer_cond.wait(_RUN_WAIT_S)
                    finally:
                        shared.consumer_waiting = False
            ok, value, from_fn = shared.results.pop(index)
            shared.reserved -= 1
            if shared.ram_budget and ok:
                shared.element_bytes = _nbytes(value)
            if index == shared.lowwater:
                shared.lowwater += 1
                while shared.lowwater in shared.consumed_after:
                    shared.consumed_after.discard(shared.lowwater)
                    shared.lowwater += 1
            else:
                shared.consumed_after.add(index)
            if not ok:
                # The consumer may keep this exception (and through its traceback this
                # iterator) for long: stop the workers now rather than when it is collected.
                # They keep the results in hand; a later next() starts new ones.
                shared.run += 1
                _wake_all(shared)
            elif shared.workers_waiting:
                cond.notify()  # one slot freed: one worker can go on
        if ok:
            return value
        try:
            if from_fn and isinstance(value, Exception):
                raise element_error(self.op_name, index, value) from value
            raise value
        finally:
            del value  # this frame is in the traceback: no cycle through the exception

    # -- checkpointing ---------------------------------------------------------------------
    def _get_state(self) -> Dict[str, Any]:
        shared = self._shared
        with shared.cond:
            state = self._state_from_snapshot()
        if state is None:
            # Nothing pulled since the start or a restore: the upstream itself is at the
            # consumer's position. Reading it needs `pull_lock` (taken before `cond`).
            with shared.pull_lock, shared.cond:
                state = self._state_from_snapshot()
                if state is None:
                    state = self._state(shared.next_pull, self._upstream.state_dict())
        return state

    def _state_from_snapshot(self) -> Optional[Dict[str, Any]]:
        shared = self._shared
        _prune_snapshots(shared)
        if shared.snapshots and shared.snapshots[0][0] <= shared.lowwater:
            return self._state(*shared.snapshots[0])
        return None

    def _state(self, position: int, snapshot: Any) -> Dict[str, Any]:
        if isinstance(snapshot, _SnapshotFailed):
            raise RuntimeError(f"{self.op_name}: cannot save the iterator state because the "
                               f"upstream's state_dict() failed: {snapshot.exc}"
                               ) from snapshot.exc
        shared = self._shared
        return {
            UPSTREAM: snapshot,
            "snapshot_position": position,
            "position": shared.lowwater,
            "consumed_after": sorted(shared.consumed_after),
            "upstream_errors": sorted(i for i in shared.upstream_errors
                                      if position <= i < shared.lowwater),
        }

    def _set_state(self, state: Dict[str, Any]) -> None:
        op, shared = self.op_name, self._shared
        require_keys(op, state, UPSTREAM)
        snapshot_position = state_int(op, state, "snapshot_position")
        # A snapshot is taken every `snapshot_every` pulls, so a state this op saved never asks
        # to replay more than that: a larger gap is a crafted state, not a long fast-forward.
        position = state_int(op, state, "position", snapshot_position,
                             snapshot_position + shared.snapshot_every)
        # (deterministic=False: one slow element lets any number after it be consumed first)
        consumed_after = set(self._positions(state, "consumed_after", position + 1, None, None))
        errors = set(self._positions(state, "upstream_errors", snapshot_position, position - 1,
                                     shared.snapshot_every))
        self._stop_workers()
        with shared.pull_lock:
            self._restore_upstream(state[UPSTREAM], snapshot_position, position, errors)
            with shared.cond:
                shared.reset(position, snapshot_position, consumed_after,
                             [(snapshot_position, state[UPSTREAM])], errors)

    def _positions(self, state: Dict[str, Any], key: str, low: int, high: Optional[int],
                   max_len: Optional[int]) -> List[int]:
        """Sorted distinct input positions in ``[low, high]`` (``[]`` for an older state)."""
        values = state_list(self.op_name, state, key, max_len) if key in state else []
        positions = [state_int(self.op_name, {key: v}, key, low, high) for v in values]
        if len(set(positions)) != len(positions):
            raise MalformedStateError(f"{self.op_name}: saved state field {key!r} repeats a "
                                      "position")
        return positions

    def _restore_upstream(self, snapshot: Any, start: int, position: int,
                          errors: Set[int]) -> None:
        self._upstream.load_state_dict(snapshot)
        for index in range(start, position):
            try:
                next(self._upstream)  # fast-forward without applying the function
            except StopIteration:
                raise MalformedStateError(
                    f"{self.op_name}: the saved state needs {position - start} elements after "
                    f"its upstream snapshot but the upstream ended after {index - start}; the "
                    "state does not belong to this pipeline or its input files changed"
                ) from None
            except Exception as exc:
                if index in errors:
                    continue  # it failed when it was first pulled too, and the consumer saw it
                if hasattr(exc, "add_note"):  # raised as it is (an alarm stays an alarm)
                    exc.add_note(f"{self.op_name}: raised by upstream element {index} while "
                                 "replaying a restored iterator state")
                raise

    def _close(self) -> None:
        self._finalizer()
