"""zip, concatenate, interleave and flat_map."""

import gc
import threading
import time

import pytest
import torch

import data
from data import Dataset
from resume_harness import check_save_load_state


# -- zip -------------------------------------------------------------------------------------
def test_zip_tuple_stops_at_shortest():
    assert list(Dataset.zip((Dataset.range(3), Dataset.range(10, 20)))) == [
        (0, 10), (1, 11), (2, 12)]


def test_zip_positional_form():
    assert list(Dataset.zip(Dataset.range(2), Dataset.range(5, 7))) == [(0, 5), (1, 6)]


def test_zip_dict_and_nested():
    ds = Dataset.zip({"a": Dataset.range(2), "b": (Dataset.range(2), Dataset.range(4, 6))})
    assert list(ds) == [{"a": 0, "b": (0, 4)}, {"a": 1, "b": (1, 5)}]


def test_zip_non_dataset_raises():
    with pytest.raises(TypeError, match="found a list|found a int"):
        Dataset.zip((Dataset.range(2), [1, 2]))


def test_zip_resumes():
    check_save_load_state(lambda: Dataset.zip((Dataset.range(5), Dataset.range(3).repeat())))


# -- concatenate -----------------------------------------------------------------------------
def test_concatenate_chains():
    assert list(Dataset.range(2).concatenate(Dataset.range(7, 9))) == [0, 1, 7, 8]


def test_concatenate_non_dataset_raises():
    with pytest.raises(TypeError, match="concatenate: dataset must be a Dataset"):
        Dataset.range(2).concatenate([1])


def test_concatenate_resumes():
    check_save_load_state(lambda: Dataset.range(3).shuffle(3).concatenate(Dataset.range(3, 6)),
                          stop_points=range(7))


# -- interleave ------------------------------------------------------------------------------
def test_interleave_matches_tf_documented_order():
    ds = Dataset.range(1, 6).interleave(lambda x: Dataset.from_tensors(x).repeat(6),
                                        cycle_length=2, block_length=4)
    assert list(ds) == ([1] * 4 + [2] * 4 + [1] * 2 + [2] * 2 + [3] * 4 + [4] * 4 + [3] * 2
                        + [4] * 2 + [5] * 6)


def test_interleave_refills_a_finished_slot_on_its_next_turn():
    # As tf.data: a slot that ends passes the turn on; the next input opens there next round.
    ds = Dataset.from_tensor_slices([1, 3, 2]).interleave(
        lambda n: Dataset.zip((Dataset.from_tensors(int(n)).repeat(int(n)), Dataset.range(int(n)))),
        cycle_length=2)
    assert [(int(a), b) for a, b in ds] == [(1, 0), (3, 0), (3, 1), (2, 0), (3, 2), (2, 1)]


def test_interleave_unpacks_tuple_elements():
    ds = Dataset.zip((Dataset.range(2), Dataset.range(10, 12))).interleave(
        lambda a, b: Dataset.from_tensor_slices(torch.tensor([a, b])), cycle_length=1)
    assert [int(x) for x in ds] == [0, 10, 1, 11]


def test_interleave_function_must_return_dataset():
    with pytest.raises(TypeError, match="must return a Dataset, got int"):
        list(Dataset.range(2).interleave(lambda x: x, cycle_length=1))


@pytest.mark.parametrize("kwargs, name", [({"cycle_length": 0}, "cycle_length"),
                                          ({"block_length": 0}, "block_length"),
                                          ({"num_parallel_calls": 0}, "num_parallel_calls")])
def test_interleave_bad_arguments_raise(kwargs, name):
    with pytest.raises(ValueError, match=name):
        Dataset.range(2).interleave(lambda x: Dataset.range(x), **kwargs)


def test_interleave_accepts_parallel_calls_with_same_order():
    fn = lambda x: Dataset.range(x)  # noqa: E731
    plain = list(Dataset.range(6).interleave(fn, cycle_length=3, block_length=2))
    assert list(Dataset.range(6).interleave(fn, cycle_length=3, block_length=2,
                                            num_parallel_calls=-1)) == plain


def test_interleave_resumes_mid_block():
    check_save_load_state(
        lambda: Dataset.range(1, 6).interleave(
            lambda x: Dataset.range(x * 10, x * 10 + x).shuffle(3, seed=1), cycle_length=2,
            block_length=2),
        stop_points=range(16))


# -- flat_map --------------------------------------------------------------------------------
def test_flat_map_chains_in_order():
    assert list(Dataset.range(4).flat_map(lambda x: Dataset.range(x))) == [0, 0, 1, 0, 1, 2]


def test_flat_map_unbatches_like_tf():
    ds = Dataset.range(5).batch(2).flat_map(Dataset.from_tensor_slices)
    assert [int(x) for x in ds] == [0, 1, 2, 3, 4]


def test_flat_map_resumes():
    check_save_load_state(lambda: Dataset.range(5).flat_map(lambda x: Dataset.range(x)),
                          stop_points=range(11))


def test_interleave_function_error_names_input_position():
    def fn(x):
        if x == 2:
            raise ValueError("bad input")
        return Dataset.range(x)

    with pytest.raises(ValueError, match="input element 2.*bad input"):
        list(Dataset.range(4).interleave(fn, cycle_length=2))


def _slow_range(n, delay):
    def gen():
        for i in range(n):
            time.sleep(delay)
            yield i
    return Dataset.from_generator(gen)


def test_parallel_interleave_overlaps_inner_datasets_in_same_order():
    def make(parallel):
        return Dataset.range(4).interleave(
            lambda x: Dataset.zip((Dataset.from_tensors(x).repeat(5), _slow_range(5, 0.02))),
            cycle_length=4, block_length=2, num_parallel_calls=parallel)

    start = time.perf_counter()
    sequential = list(make(None))
    sequential_s = time.perf_counter() - start
    start = time.perf_counter()
    parallel = list(make(data.AUTOTUNE))
    parallel_s = time.perf_counter() - start
    assert parallel == sequential
    assert parallel_s < 0.6 * sequential_s


def test_parallel_interleave_resumes():
    check_save_load_state(
        lambda: Dataset.range(1, 6).interleave(
            lambda x: Dataset.range(x * 10, x * 10 + x).shuffle(3, seed=1), cycle_length=2,
            block_length=2, num_parallel_calls=2),
        stop_points=[0, 3, 8, 15])


def test_closing_parallel_interleave_leaves_no_thread():
    before = set(threading.enumerate())
    it = iter(Dataset.range(4).interleave(lambda x: Dataset.range(100), cycle_length=4,
                                          num_parallel_calls=4))
    [next(it) for _ in range(10)]
    it.close()
    deadline = time.monotonic() + 5
    while set(threading.enumerate()) - before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert set(threading.enumerate()) - before == set()


def test_dropping_parallel_interleave_leaves_no_thread():
    before = set(threading.enumerate())
    it = iter(Dataset.range(4).interleave(lambda x: Dataset.range(100), cycle_length=4,
                                          num_parallel_calls=4))
    [next(it) for _ in range(10)]
    del it
    gc.collect()
    deadline = time.monotonic() + 5
    while set(threading.enumerate()) - before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert set(threading.enumerate()) - before == set()


def test_zip_datasets_keyword():
    assert list(Dataset.zip(datasets={"a": Dataset.range(2)})) == [{"a": 0}, {"a": 1}]
    with pytest.raises(TypeError, match="exactly once"):
        Dataset.zip()
