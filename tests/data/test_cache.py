"""cache: record the first complete pass, replay later ones (memory and file)."""

import os

import pytest
import torch

from data import Dataset, MalformedStateError
from resume_harness import check_save_load_state, roundtrip


def _counting(calls):
    def gen():
        for i in range(5):
            calls.append(i)
            yield i
    return Dataset.from_generator(gen)


def test_memory_cache_replays_without_recomputing():
    calls = []
    ds = _counting(calls).cache()
    assert list(ds) == list(range(5)) and list(ds) == list(range(5))
    assert calls == list(range(5))


def test_memory_cache_freezes_first_shuffled_pass():
    ds = Dataset.range(20).shuffle(20).cache()
    first = list(ds)
    assert list(ds) == first and list(ds.repeat(2)) == first * 2


def test_partial_first_pass_does_not_fill_memory_cache():
    calls = []
    ds = _counting(calls).cache()
    it = iter(ds)
    next(it), next(it)
    it.close()
    assert list(ds) == list(range(5))
    assert calls == [0, 1] + list(range(5))
    list(ds)
    assert len(calls) == 7


def test_file_cache_is_shared_by_new_pipelines(tmp_path):
    path = str(tmp_path / "cache")
    calls = []
    assert list(_counting(calls).cache(path)) == list(range(5))
    assert os.path.exists(path)
    assert list(_counting(calls).cache(path)) == list(range(5))
    assert calls == list(range(5))


def test_file_cache_keeps_nested_elements(tmp_path):
    path = str(tmp_path / "cache")
    ds = Dataset.from_tensor_slices({"x": torch.randn(3, 2), "name": ["a", "b", "c"]}).cache(path)
    first = list(ds)
    other_input = Dataset.from_tensor_slices({"x": torch.zeros(3, 2), "name": ["?"] * 3})
    again = list(other_input.cache(path))
    assert [e["name"] for e in again] == ["a", "b", "c"]
    assert all(torch.equal(a["x"], b["x"]) for a, b in zip(first, again))


def test_partial_first_pass_leaves_no_cache_file(tmp_path):
    path = tmp_path / "cache"
    it = iter(Dataset.range(5).cache(str(path)))
    next(it)
    it.close()
    assert os.listdir(tmp_path) == []


def test_dropped_iterator_leaves_no_temporary_file(tmp_path):
    it = iter(Dataset.range(5).cache(str(tmp_path / "cache")))
    next(it)
    del it
    assert os.listdir(tmp_path) == []


def test_concurrent_writers_first_complete_pass_wins(tmp_path):
    path = str(tmp_path / "cache")
    ds = Dataset.range(4).cache(path)
    a, b = iter(ds), iter(ds)
    assert next(a) == 0 and next(b) == 0
    assert list(a) == [1, 2, 3] and list(b) == [1, 2, 3]
    assert os.listdir(tmp_path) == ["cache"]
    assert list(Dataset.range(0).cache(path)) == [0, 1, 2, 3]


def test_foreign_file_is_rejected(tmp_path):
    path = tmp_path / "cache"
    path.write_bytes(b"not a cache")
    with pytest.raises(ValueError, match="not a cache file"):
        list(Dataset.range(3).cache(str(path)))


def test_memory_cache_resumes_while_recording_and_replaying():
    check_save_load_state(lambda: Dataset.range(6).shuffle(6).cache().repeat(3),
                          stop_points=[0, 3, 6, 9, 17, 18])


def test_file_cache_resumes(tmp_path):
    path = str(tmp_path / "cache")
    check_save_load_state(lambda: Dataset.range(6).cache(path).repeat(2), expected=
                          list(range(6)) * 2, stop_points=[0, 2, 7, 12])


def test_memory_cache_state_rebuilds_cache_in_new_pipeline():
    def make():
        return Dataset.range(8).shuffle(8).cache()
    ds = make()
    full = list(ds)
    it = iter(ds)  # a replaying pass
    [next(it) for _ in range(3)]
    state = roundtrip(it.state_dict())
    restored = iter(make())  # empty cache: the first pass is rebuilt from its initial state
    restored.load_state_dict(state)
    assert list(restored) == full[3:]


def test_file_cache_state_without_file_is_malformed(tmp_path):
    path = tmp_path / "cache"
    ds = Dataset.range(3).cache(str(path))
    list(ds)
    it = iter(ds)
    next(it)
    state = it.state_dict()
    path.unlink()
    with pytest.raises(MalformedStateError, match="no longer exists"):
        iter(Dataset.range(3).cache(str(path))).load_state_dict(state)


def test_cache_in_missing_directory_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        list(Dataset.range(3).cache(str(tmp_path / "missing" / "cache")))
