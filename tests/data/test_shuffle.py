"""shuffle: a bounded-buffer permutation, reproducible from seeds, new order per epoch."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import data
from data import Dataset
from resume_harness import check_save_load_state


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 60), st.integers(1, 80), st.integers(0, 1000))
def test_shuffle_is_a_permutation(n, buffer_size, seed):
    assert sorted(Dataset.range(n).shuffle(buffer_size, seed=seed)) == list(range(n))


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 1000))
def test_shuffle_differs_across_epochs_with_reshuffle(seed):
    ds = Dataset.range(30).shuffle(30, seed=seed)
    orders = [list(ds) for _ in range(3)]
    assert orders[0] != orders[1] and orders[1] != orders[2]
    assert sorted(orders[0]) == sorted(orders[1])


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 1000))
def test_shuffle_same_order_across_epochs_without_reshuffle(seed):
    ds = Dataset.range(30).shuffle(30, seed=seed, reshuffle_each_iteration=False)
    assert list(ds) == list(ds) == list(ds.repeat(2))[30:]


def test_shuffle_repeat_gives_new_order_each_repetition():
    out = list(Dataset.range(20).shuffle(20, seed=3).repeat(3))
    epochs = [out[i * 20:(i + 1) * 20] for i in range(3)]
    assert all(sorted(e) == list(range(20)) for e in epochs)
    assert len({tuple(e) for e in epochs}) == 3


def test_shuffle_same_seed_same_order():
    def order(seed):
        return list(Dataset.range(50).shuffle(10, seed=seed))

    assert order(5) == order(5) and order(5) != order(6)


def test_global_seed_makes_unseeded_shuffle_reproducible():
    try:
        data.set_random_seed(11)
        a = list(Dataset.range(40).shuffle(40))
        data.set_random_seed(11)
        b = list(Dataset.range(40).shuffle(40))
    finally:
        data.set_random_seed(None)
    assert a == b and a != list(range(40))


def test_shuffle_buffer_is_bounded():
    out = list(Dataset.range(200).shuffle(10, seed=0))
    # Output i can only come from the first i + buffer_size inputs.
    assert all(x <= i + 9 for i, x in enumerate(out))
    assert out != list(range(200))


def test_shuffle_buffer_of_one_keeps_order():
    assert list(Dataset.range(10).shuffle(1, seed=0)) == list(range(10))


def test_shuffle_does_not_touch_global_rng():
    before = torch.random.get_rng_state()
    list(Dataset.range(100).shuffle(20))
    assert torch.equal(before, torch.random.get_rng_state())


@pytest.mark.parametrize("size", [0, -2])
def test_shuffle_buffer_size_not_positive_raises(size):
    with pytest.raises(ValueError, match=f"buffer_size must be >= 1, got {size}"):
        Dataset.range(3).shuffle(size)


@pytest.mark.parametrize("reshuffle", [True, False])
def test_shuffle_resumes_with_buffer_and_generator(reshuffle):
    check_save_load_state(lambda: Dataset.range(25).shuffle(7, reshuffle_each_iteration=reshuffle),
                          stop_points=[0, 1, 6, 7, 8, 18, 24, 25])


def test_shuffle_resumes_across_repeat_epochs():
    check_save_load_state(lambda: Dataset.range(6).shuffle(4).repeat(3), seed=4)
