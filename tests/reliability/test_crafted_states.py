"""Crafted iterator states for the newer ops are refused at once, naming the op and the field."""

from __future__ import annotations

import time

import pytest
import torch

import data
from data._iterator import MalformedStateError


def _find(state, op):
    """The (nested) state dict of the op named ``op``."""
    if isinstance(state, dict):
        if state.get("op") == op:
            return state
        children = state.values()
    elif isinstance(state, (list, tuple)):
        children = state
    else:
        return None
    for child in children:
        found = _find(child, op)
        if found is not None:
            return found
    return None


def _inner_window_state(make):
    it = iter(make())
    window = next(it)
    inner = iter(window)
    next(inner)
    return inner, inner.state_dict()


_CASES = [
    (lambda: data.Dataset.random(seed=1), "random", "seed", [1],
     r"random: saved state field 'seed' must hold 2 ints"),
    (lambda: data.Dataset.random(seed=1), "random", "epoch", -1,
     r"random: saved state field 'epoch' is -1, outside"),
    (lambda: data.Dataset.random(seed=1), "random", "generator", torch.zeros(8, dtype=torch.uint8),
     r"random: saved state field 'generator' must be a uint8 tensor of \d+ bytes"),
    (lambda: data.Dataset.range(6).rejection_resample(lambda x: x % 2, [0.5, 0.5],
                                                      initial_dist=[0.5, 0.5], seed=3),
     "rejection_resample", "counts", torch.tensor([1.0, -4.0]),
     r"rejection_resample: saved state field 'counts' must be a tensor of 2 non-negative"),
    (lambda: data.Dataset.range(6).rejection_resample(lambda x: x % 2, [0.5, 0.5],
                                                      initial_dist=[0.5, 0.5], seed=3),
     "rejection_resample", "seed", ["a", 2],
     r"rejection_resample: saved state field 'seed' must be an int, got str"),
    (lambda: data.Dataset.sample_from_datasets([data.Dataset.range(3), data.Dataset.range(3)],
                                               seed=2),
     "sample_from_datasets", "ended", [False, "yes"],
     r"sample_from_datasets: saved state field 'ended' must be a bool, got str"),
    (lambda: data.Dataset.sample_from_datasets([data.Dataset.range(3), data.Dataset.range(3)],
                                               seed=2),
     "sample_from_datasets", "epoch", 2.5,
     r"sample_from_datasets: saved state field 'epoch' must be an int, got float"),
    (lambda: data.Dataset.range(3).concatenate(data.Dataset.range(3)), "concatenate",
     "index", 10 ** 9, r"concatenate: saved state field 'index' is 1000000000, outside"),
    (lambda: data.Dataset.zip((data.Dataset.range(3), data.Dataset.range(3))), "zip",
     "upstreams", "x", r"zip: saved state field 'upstreams' must be a list, got str"),
    (lambda: data.Dataset.range(4).interleave(lambda x: data.Dataset.range(3), cycle_length=2,
                                              block_length=2),
     "interleave", "cycle_index", 7, r"interleave: saved state field 'cycle_index' is 7"),
    (lambda: data.Dataset.range(4).interleave(lambda x: data.Dataset.range(3), cycle_length=2,
                                              block_length=2),
     "interleave", "block_index", -1, r"interleave: saved state field 'block_index' is -1"),
    (lambda: data.Dataset.range(4).interleave(lambda x: data.Dataset.range(3), cycle_length=2,
                                              block_length=2),
     "interleave", "position", "1", r"interleave: saved state field 'position' must be an int"),
    (lambda: data.Dataset.range(10).group_by_window(lambda x: x % 2,
                                                    lambda k, w: w.batch(3), window_size=3),
     "group_by_window", "windows", {0: list(range(50))},
     r"group_by_window: saved state field 'windows' has 50 items, more than this op can hold"),
    (lambda: data.Dataset.range(10).group_by_window(lambda x: x % 2,
                                                    lambda k, w: w.batch(3), window_size=3),
     "group_by_window", "upstream_done", 1,
     r"group_by_window: saved state field 'upstream_done' must be a bool, got int"),
    (lambda: data.Dataset.range(10).group_by_window(lambda x: x % 2,
                                                    lambda k, w: w.batch(3), window_size=3),
     "group_by_window", "current", [1, 2],
     r"group_by_window: saved state field 'current' must be a dict or None, got list"),
    (lambda: data.Dataset.range(10).window(3, shift=5), "window", "to_skip", 10 ** 9,
     r"window: saved state field 'to_skip' is 1000000000, outside the valid range \[0, 4\]"),
    (lambda: data.Dataset.range(10).window(3), "window", "buffer", list(range(100)),
     r"window: saved state field 'buffer' has 100 items, more than this op can hold \(3\)"),
    (lambda: data.Dataset.range(10).batch(4).rebatch(3), "rebatch", "row", 99,
     r"rebatch: saved state field 'row' is 99, outside the valid range \[0, 4\]"),
    (lambda: data.Dataset.range(10).batch(4).rebatch(3), "rebatch", "turn", -2,
     r"rebatch: saved state field 'turn' is -2"),
    (lambda: data.Dataset.range(10).map(lambda x: x + 1), "element_seed", "seed", 5,
     r"element_seed: saved state field 'seed' must be a list, got int"),
    (lambda: data.Dataset.range(10).map(lambda x: x + 1), "element_seed", "epoch", -4,
     r"element_seed: saved state field 'epoch' is -4"),
]


@pytest.mark.parametrize("make, op, field, value, expected", _CASES,
                         ids=[f"{c[1]}-{c[2]}" for c in _CASES])
def test_crafted_state_is_refused_at_once_naming_op_and_field(make, op, field, value, expected):
    it = iter(make())
    next(it)
    state = it.state_dict()
    it.close()
    target = _find(state, op)
    assert target is not None and field in target, (op, field, state)
    target[field] = value
    fresh = iter(make())
    start = time.perf_counter()
    with pytest.raises(MalformedStateError, match=expected):
        fresh.load_state_dict(state)
    assert time.perf_counter() - start < 2.0
    fresh.close()


def test_crafted_window_elements_index_is_refused():
    inner, state = _inner_window_state(lambda: data.Dataset.range(10).window(3))
    state["index"] = 4
    with pytest.raises(MalformedStateError,
                       match=r"window_elements: saved state field 'index' is 4, outside the "
                             r"valid range \[0, 3\]"):
        inner.load_state_dict(state)


def test_an_unchanged_state_still_restores_the_same_elements():
    def make():
        return data.Dataset.range(20).window(3, shift=5).flat_map(lambda w: w).batch(3).rebatch(2)

    it = iter(make())
    next(it)
    state = it.state_dict()
    rest = [t.tolist() for t in it]
    restored = iter(make())
    restored.load_state_dict(state)
    assert [t.tolist() for t in restored] == rest


@pytest.mark.parametrize("decoder", ["default", "pil"])
def test_decode_and_crop_jpeg_refuses_a_decompression_bomb_from_its_header(tmp_path, monkeypatch,
                                                                           decoder):
    import io
    import tracemalloc

    from PIL import Image

    if decoder == "pil":
        monkeypatch.setenv(data.image.DECODER_ENV_VAR, "pil")
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (10, 200, 30)).save(buf, "JPEG", quality=50)
    raw = bytearray(buf.getvalue())
    sof = raw.find(b"\xff\xc0")
    raw[sof + 5:sof + 9] = (30000).to_bytes(2, "big") * 2  # claims 30000 x 30000
    path = tmp_path / "bomb.jpg"
    path.write_bytes(bytes(raw))
    contents = data.io.read_file(str(path))
    # The crop decodes through decode_jpeg, whose guard names that op and the file.
    op = "decode_jpeg"
    tracemalloc.start()
    start = time.perf_counter()
    try:
        claim = "(30000x30000|900000000 pixels)"  # ours, or Pillow's words
        with pytest.raises(data.image.DecodeError,
                           match=rf"{op}: .*bomb\.jpg.*{claim}.*decompression bomb"):
            data.image.decode_and_crop_jpeg(contents, [0, 0, 8, 8], channels=3)
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 1.0 and peak < 50 * 2 ** 20, (elapsed, peak)
