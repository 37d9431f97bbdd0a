"""The shared save/restore harness every op's tests run (after torchdata's
``run_test_save_load_state``), and random pipelines for the resume property.

``check_save_load_state(make_dataset)`` checks, for a pipeline built by ``make_dataset()``:

- the state of a fresh iterator, loaded into another fresh iterator, reproduces the whole stream;
- a state taken after ``k`` elements (in the first or, for every other ``k``, the second
  iteration of a Dataset), loaded into a fresh iterator of a newly built pipeline,
  reproduces the rest of the stream (for several ``k``, including the end), and the next
  epoch of that pipeline matches the next epoch of the original;
- the same state loaded into a later iteration of the same Dataset (another epoch) does too;
- every state survives ``torch.save`` / ``torch.load(weights_only=True)``, as in a checkpoint;
- a state loaded into a different pipeline raises ``MalformedStateError``.

``make_random_pipeline(draw)`` draws a source and a chain of ops from ``OP_BUILDERS``; other
test modules add builders with :func:`register_op`.
"""

from __future__ import annotations

import io
import itertools
import random
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import pytest
import torch

import data
from data._seed import preserved_op_counter
from data import MalformedStateError

Element = Any


# -- comparing elements ----------------------------------------------------------------------
def canonical(element: Element) -> Any:
    """A comparable form of an element: tensors become (dtype, nested lists)."""
    if isinstance(element, torch.Tensor):
        return ("tensor", str(element.dtype), element.tolist())
    if isinstance(element, dict):
        return {k: canonical(v) for k, v in element.items()}
    if isinstance(element, (tuple, list)):
        return (type(element).__name__, [canonical(v) for v in element])
    return element


def drain(iterator: Iterable[Element], limit: int = 100_000) -> List[Any]:
    out = []
    for element in iterator:
        out.append(canonical(element))
        assert len(out) <= limit, "pipeline produced more elements than the test expects"
    return out


def roundtrip(state: Dict[str, Any]) -> Dict[str, Any]:
    """A state as a checkpoint would return it."""
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def _other_pipeline(make_dataset: Callable[[], data.Dataset], top_op: str) -> data.Dataset:
    for wrap in (lambda ds: ds.skip(0), lambda ds: ds.take(-1)):
        other = wrap(make_dataset())
        with iter(other) as it:
            if it.op_name != top_op:
                return other
    raise AssertionError("no differing pipeline found")


# -- the harness -----------------------------------------------------------------------------
def check_save_load_state(make_dataset: Callable[[], data.Dataset],
                          stop_points: Optional[Sequence[int]] = None,
                          seed: int = 0, expected: Optional[List[Element]] = None) -> List[Any]:
    """Run the save/restore checks on ``make_dataset()``; return the (canonical) stream.

    ``stop_points`` are the numbers of elements consumed before saving; by default the start,
    the end and two random points in between. ``expected`` also checks the stream itself.
    """
    built = make_dataset

    def make_dataset() -> data.Dataset:
        # As a restarted program rebuilds its pipeline: unseeded random ops get the same op
        # seeds every time (under a global seed), so rebuilt pipelines are comparable.
        with preserved_op_counter():
            return built()

    # The initial state reproduces everything.
    with iter(make_dataset()) as it:
        initial = roundtrip(it.state_dict())
        full = drain(it)
        final = roundtrip(it.state_dict())
    if expected is not None:
        assert full == [canonical(e) for e in expected]
    with iter(make_dataset()) as restored:
        restored.load_state_dict(initial)
        assert drain(restored) == full, "restoring the initial state did not replay the stream"
    # A finished iterator's state restores to a finished iterator.
    with iter(make_dataset()) as restored:
        restored.load_state_dict(final)
        assert drain(restored) == []

    if stop_points is None:
        rng = random.Random(seed)
        stop_points = sorted({0, len(full)} | {rng.randint(0, len(full)) for _ in range(2)})
    for i, k in enumerate(stop_points):
        dataset = make_dataset()
        later = i % 2 == 1  # every other stop point saves in the Dataset's second iteration
        if later:
            drain(iter(dataset))
        with iter(dataset) as it:
            # Unseeded shuffles give each rebuilt pipeline its own order, so a filter downstream
            # may pass fewer than k elements: stop at the end then.
            prefix = [canonical(e) for e in itertools.islice(it, k)]
            state = roundtrip(it.state_dict())
            rest = drain(it)
        restored_dataset = make_dataset()
        with iter(restored_dataset) as restored:
            restored.load_state_dict(state)
            assert prefix + drain(restored) == prefix + rest, (
                f"restoring after {k} elements did not continue the stream")
        if not later:  # a fresh Dataset counts its iterations from 0 again
            assert drain(iter(restored_dataset)) == drain(iter(dataset)), (
                f"after restoring at {k} elements, the next epoch differs")
        with iter(dataset) as later_epoch:  # same Dataset object, next iteration number
            later_epoch.load_state_dict(state)
            assert drain(later_epoch) == rest, (
                f"restoring after {k} elements into a later iteration changed the stream")

    other = _other_pipeline(make_dataset, initial["op"])
    with iter(other) as wrong:
        with pytest.raises(MalformedStateError):
            wrong.load_state_dict(initial)
    return full


# -- random pipelines ------------------------------------------------------------------------
#: A builder gets hypothesis's ``draw`` and the pipeline info (``"batched"``: how many batch
#: levels ``unbatch`` may remove; ``"ragged"``: elements may differ in shape, so no ``batch``)
#: and returns ``(label, apply, new_info)``, or ``None`` when it does not apply.
Builder = Callable[[Callable[..., Any], Dict[str, int]],
                   Optional[Tuple[str, Callable[[data.Dataset], data.Dataset], Dict[str, int]]]]
OP_BUILDERS: Dict[str, Builder] = {}


def register_op(name: str) -> Callable[[Builder], Builder]:
    """Decorator: add a random-op builder to the pipelines drawn by make_random_pipeline."""
    def add(builder: Builder) -> Builder:
        OP_BUILDERS[name] = builder
        return builder
    return add


def checksum(*element: Element) -> int:
    """An integer summary of any element (for predicates that work on every shape)."""
    total = 0
    for leaf in data._structure.flatten(element):
        if isinstance(leaf, torch.Tensor):
            total += int(leaf.sum())
        elif isinstance(leaf, (int, float)):
            total += int(leaf)
        elif isinstance(leaf, (str, bytes)):
            total += len(leaf)
    return total


def _repack(*args: Element) -> Element:
    return args if len(args) > 1 else args[0]


def make_random_pipeline(draw: Callable[..., Any], max_ops: int = 5
                         ) -> Tuple[str, Callable[[], data.Dataset]]:
    """Draw a finite pipeline; return its description and a function that builds it afresh."""
    from hypothesis import strategies as st

    n = draw(st.integers(0, 12))
    source_kind = draw(st.sampled_from(["range", "slices", "generator"]))
    steps: List[Tuple[str, Callable[[data.Dataset], data.Dataset]]] = []
    info = {"batched": 0, "ragged": False}
    for _ in range(draw(st.integers(1, max_ops))):
        name = draw(st.sampled_from(sorted(OP_BUILDERS)))
        built = OP_BUILDERS[name](draw, info)
        if built is None:
            continue
        label, apply, info = built
        steps.append((label, apply))

    def make() -> data.Dataset:
        if source_kind == "range":
            ds = data.Dataset.range(n)
        elif source_kind == "slices":
            ds = data.Dataset.from_tensor_slices(torch.arange(n) * 10)
        else:
            ds = data.Dataset.from_generator(lambda: iter(range(100, 100 + n)))
        for _, apply in steps:
            ds = apply(ds)
        return ds

    description = f"{source_kind}({n})" + "".join(f".{label}" for label, _ in steps)
    return description, make


def _draws() -> Any:
    from hypothesis import strategies as st  # imported lazily: only property tests need it
    return st


@register_op("filter")
def _filter(draw, info):
    st = _draws()
    m = draw(st.integers(2, 3))
    return f"filter(%{m})", lambda ds: ds.filter(lambda *e: checksum(*e) % m != 0), info


@register_op("shuffle")
def _shuffle(draw, info):
    st = _draws()
    size, reshuffle = draw(st.integers(1, 8)), draw(st.booleans())
    seed = draw(st.one_of(st.none(), st.integers(0, 100)))
    return (f"shuffle({size},{seed},{reshuffle})",
            lambda ds: ds.shuffle(size, seed=seed, reshuffle_each_iteration=reshuffle), info)


@register_op("repeat")
def _repeat(draw, info):
    count = draw(_draws().integers(0, 3))
    return f"repeat({count})", lambda ds: ds.repeat(count), info


@register_op("repeat_forever")
def _repeat_forever(draw, info):
    n = draw(_draws().integers(0, 15))
    return f"repeat().take({n})", lambda ds: ds.repeat().take(n), info


@register_op("batch")
def _batch(draw, info):
    if info["ragged"]:  # a short last batch cannot be stacked with full ones
        return None
    st = _draws()
    size, drop = draw(st.integers(1, 4)), draw(st.booleans())
    return (f"batch({size},{drop})", lambda ds: ds.batch(size, drop_remainder=drop),
            {"batched": info["batched"] + 1, "ragged": size > 1 and not drop})


@register_op("unbatch")
def _unbatch(draw, info):
    if not info["batched"]:
        return None
    return "unbatch()", lambda ds: ds.unbatch(), {"batched": info["batched"] - 1, "ragged": False}


@register_op("take")
def _take(draw, info):
    n = draw(_draws().integers(-1, 10))
    return f"take({n})", lambda ds: ds.take(n), info


@register_op("skip")
def _skip(draw, info):
    n = draw(_draws().integers(-1, 5))
    return f"skip({n})", lambda ds: ds.skip(n), info


@register_op("shard")
def _shard(draw, info):
    st = _draws()
    n = draw(st.integers(1, 3))
    i = draw(st.integers(0, n - 1))
    return f"shard({n},{i})", lambda ds: ds.shard(n, i), info


@register_op("enumerate")
def _enumerate(draw, info):
    start = draw(_draws().integers(0, 3))
    return (f"enumerate({start})", lambda ds: ds.enumerate(start),
            {"batched": 0, "ragged": info["ragged"]})


@register_op("zip")
def _zip(draw, info):
    return ("zip(range)", lambda ds: data.Dataset.zip((ds, data.Dataset.range(50, 100))),
            {"batched": 0, "ragged": info["ragged"]})


@register_op("concatenate")
def _concatenate(draw, info):
    k = draw(_draws().integers(0, 3))
    return f"concatenate(take({k}))", lambda ds: ds.concatenate(ds.take(k)), info


@register_op("interleave")
def _interleave(draw, info):
    st = _draws()
    cycle, block, copies = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(0, 4))
    parallel = draw(st.sampled_from([None, data.AUTOTUNE]))

    def inner(*e: Element) -> data.Dataset:  # (element, copy number): every output distinct
        copy = data.Dataset.from_tensors(_repack(*e)).repeat(copies)
        return data.Dataset.zip((copy, data.Dataset.range(copies)))

    return (f"interleave({cycle},{block},x{copies},parallel={parallel})",
            lambda ds: ds.interleave(inner, cycle_length=cycle, block_length=block,
                                     num_parallel_calls=parallel),
            {"batched": 0, "ragged": info["ragged"]})


@register_op("interleave_datasets")
def _interleave_datasets(draw, info):
    # Input elements that are datasets: a saved state must still be plain tensors/containers.
    st = _draws()
    cycle, copies = draw(st.integers(1, 3)), draw(st.integers(0, 3))

    def inner(*e: Element) -> data.Dataset:
        return data.Dataset.zip((data.Dataset.from_tensors(_repack(*e)).repeat(copies),
                                 data.Dataset.range(copies)))

    return (f"map(dataset).interleave({cycle},x{copies})",
            lambda ds: ds.map(inner).interleave(lambda d: d, cycle_length=cycle),
            {"batched": 0, "ragged": info["ragged"]})


@register_op("flat_map")
def _flat_map(draw, info):
    seed = draw(_draws().integers(0, 100))

    def inner(*e: Element) -> data.Dataset:
        copies = data.Dataset.from_tensors(_repack(*e)).repeat(3)
        return data.Dataset.zip((copies, data.Dataset.range(3))).shuffle(3, seed=seed)

    return "flat_map(shuffle)", lambda ds: ds.flat_map(inner), {"batched": 0,
                                                                 "ragged": info["ragged"]}


@register_op("window")
def _window(draw, info):
    st = _draws()
    size, shift = draw(st.integers(1, 3)), draw(st.integers(1, 3))

    def rejoin(*window: Any) -> data.Dataset:  # the window's datasets back to elements
        if len(window) > 1:
            return data.Dataset.zip(window)
        return window[0] if isinstance(window[0], data.Dataset) else data.Dataset.zip(window[0])

    return (f"window({size},{shift}).flat_map", lambda ds: ds.window(size, shift).flat_map(
        rejoin), {"batched": 0, "ragged": info["ragged"]})


@register_op("scan")
def _scan(draw, info):
    return ("scan(count)", lambda ds: ds.scan(0, lambda s, e: (s + 1, (s, e))),
            {"batched": 0, "ragged": info["ragged"]})


@register_op("cache")
def _cache(draw, info):
    return "cache()", lambda ds: ds.cache(), info


@register_op("map")
def _map(draw, info):
    calls = draw(_draws().sampled_from([None, 1, 2, data.AUTOTUNE]))
    return (f"map(+1,{calls})",
            lambda ds: ds.map(lambda *e: _plus_one(e), num_parallel_calls=calls), info)


def _plus_one(element: Tuple[Any, ...]) -> Any:
    element = element if len(element) > 1 else element[0]
    return data._structure.map_structure(
        lambda leaf: leaf + 1 if isinstance(leaf, (int, torch.Tensor)) and not isinstance(
            leaf, bool) else leaf, element)


@register_op("prefetch")
def _prefetch(draw, info):
    size = draw(_draws().sampled_from([1, 2, 5, data.AUTOTUNE]))
    return f"prefetch({size})", lambda ds: ds.prefetch(size), info
