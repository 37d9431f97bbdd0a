"""The Dataset surface: pinned names, immutability, argument validation at construction."""

import inspect

import pytest

import data
from data import Dataset

PINNED_METHODS = {
    "map": ["fn", "num_parallel_calls", "deterministic"],
    "filter": ["predicate"],
    "shuffle": ["buffer_size", "seed", "reshuffle_each_iteration"],
    "repeat": ["count"],
    "batch": ["batch_size", "drop_remainder"],
    "padded_batch": ["batch_size", "padded_shapes", "padding_values", "drop_remainder"],
    "unbatch": [],
    "prefetch": ["buffer_size"],
    "take": ["count"],
    "skip": ["count"],
    "cache": ["filename"],
    "concatenate": ["dataset"],
    "interleave": ["map_func", "cycle_length", "block_length", "num_parallel_calls"],
    "flat_map": ["map_func"],
    "shard": ["num_shards", "index"],
    "enumerate": ["start"],
    "apply": ["transformation_func"],
    "ignore_errors": [],
}


@pytest.mark.parametrize("name, params", sorted(PINNED_METHODS.items()))
def test_pinned_method_signature(name, params):
    signature = inspect.signature(getattr(Dataset, name))
    assert list(signature.parameters)[1:1 + len(params)] == params
    assert getattr(Dataset, name).__doc__


def test_pinned_defaults():
    sig = inspect.signature
    assert sig(Dataset.shuffle).parameters["reshuffle_each_iteration"].default is True
    assert sig(Dataset.cache).parameters["filename"].default == ""
    assert sig(Dataset.interleave).parameters["block_length"].default == 1
    assert sig(Dataset.list_files).parameters["shuffle"].default is None


def test_public_surface():
    assert data.AUTOTUNE == -1
    assert data.__all__ == sorted(data.__all__)
    for name in ["Dataset", "TextLineDataset", "AUTOTUNE", "experimental", "io", "image",
                 "set_random_seed"]:
        assert hasattr(data, name)
    assert callable(data.experimental.shuffle_and_repeat)


def test_transformations_return_new_datasets_and_leave_input_unchanged():
    base = Dataset.range(5)
    batched = base.batch(2)
    assert batched is not base and isinstance(batched, Dataset)
    assert list(base) == [0, 1, 2, 3, 4]


def test_dataset_is_reiterable():
    ds = Dataset.range(3).repeat(2)
    assert list(ds) == list(ds) == [0, 1, 2, 0, 1, 2]


def test_apply_must_return_dataset():
    with pytest.raises(TypeError, match="transformation_func must return a Dataset, got list"):
        Dataset.range(3).apply(list)


def test_closed_iterator_refuses_next():
    it = iter(Dataset.range(3))
    it.close()
    with pytest.raises(RuntimeError, match="closed"):
        next(it)


@pytest.mark.parametrize("build, message", [
    (lambda ds: ds.batch(0), "batch: batch_size must be >= 1, got 0"),
    (lambda ds: ds.padded_batch(-1), "batch: batch_size must be >= 1, got -1"),
    (lambda ds: ds.shuffle(0), "shuffle: buffer_size must be >= 1, got 0"),
    (lambda ds: ds.prefetch(-2), "prefetch: buffer_size must be >= 0 or -1, got -2"),
    (lambda ds: ds.shard(0, 0), "shard: num_shards must be >= 1, got 0"),
    (lambda ds: ds.shard(3, 3), r"shard: index must be in \[0, num_shards\)"),
    (lambda ds: ds.interleave(Dataset.range, cycle_length=0), "cycle_length must be >= 1"),
    (lambda ds: ds.interleave(Dataset.range, block_length=0), "block_length must be >= 1"),
])
def test_invalid_argument_raises_value_error_at_construction(build, message):
    with pytest.raises(ValueError, match=message):
        build(Dataset.range(3))


@pytest.mark.parametrize("build", [
    lambda ds: ds.batch(2.5), lambda ds: ds.take("3"), lambda ds: ds.shuffle(None),
    lambda ds: ds.repeat(True),
])
def test_non_integer_counts_raise_type_error(build):
    with pytest.raises(TypeError, match="must be an int"):
        build(Dataset.range(3))


def test_state_from_another_pipeline_is_rejected():
    state = iter(Dataset.range(3).batch(2)).state_dict()
    with pytest.raises(data.MalformedStateError, match="'batch' stage.*'shuffle' stage"):
        iter(Dataset.range(3).shuffle(2)).load_state_dict(state)
