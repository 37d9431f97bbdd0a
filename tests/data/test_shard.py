"""shard and enumerate."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from data import Dataset
from resume_harness import check_save_load_state


def test_shard_takes_every_nth_from_index():
    assert list(Dataset.range(10).shard(3, 0)) == [0, 3, 6, 9]
    assert list(Dataset.range(10).shard(3, 2)) == [2, 5, 8]


@pytest.mark.parametrize("num_shards, index, name", [(0, 0, "num_shards"), (2, 2, "index"),
                                                     (2, -1, "index")])
def test_shard_bad_arguments_raise(num_shards, index, name):
    with pytest.raises(ValueError, match=f"shard: {name}"):
        Dataset.range(4).shard(num_shards, index)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 40), st.integers(1, 6))
def test_shards_partition_disjointly_and_completely(n, num_shards):
    shards = [list(Dataset.range(n).shard(num_shards, i)) for i in range(num_shards)]
    merged = sorted(x for shard in shards for x in shard)
    assert merged == list(range(n))
    assert all(x % num_shards == i for i, shard in enumerate(shards) for x in shard)


def test_shard_resumes():
    check_save_load_state(lambda: Dataset.range(20).shard(4, 1), expected=[1, 5, 9, 13, 17],
                          stop_points=range(6))


def test_enumerate_pairs_positions():
    assert list(Dataset.from_tensor_slices(["a", "b", "c"]).enumerate(5)) == [
        (5, "a"), (6, "b"), (7, "c")]


def test_enumerate_batches_to_int64():
    positions, _ = next(iter(Dataset.range(3).enumerate().batch(3)))
    assert positions.dtype == torch.int64 and positions.tolist() == [0, 1, 2]


def test_enumerate_resumes():
    check_save_load_state(lambda: Dataset.range(4).repeat(2).enumerate(), stop_points=range(9))
