"""repeat, take and skip."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from data import Dataset
from resume_harness import check_save_load_state


@pytest.mark.parametrize("count, expected", [(0, []), (1, [0, 1]), (3, [0, 1] * 3)])
def test_repeat_count(count, expected):
    assert list(Dataset.range(2).repeat(count)) == expected


@pytest.mark.parametrize("count", [None, -1])
def test_repeat_forever(count):
    assert list(Dataset.range(3).repeat(count).take(10)) == [0, 1, 2] * 3 + [0]


def test_repeat_forever_of_empty_dataset_ends():
    assert list(Dataset.range(0).repeat()) == []


def test_repeat_forever_of_filtered_empty_ends():
    assert list(Dataset.range(5).filter(lambda x: x > 10).repeat()) == []


def test_repeat_any_negative_count_is_forever():  # as tf.data 2.21
    assert list(Dataset.range(2).repeat(-2).take(5)) == [0, 1, 0, 1, 0]
    assert list(Dataset.range(2).repeat(-1).take(5)) == [0, 1, 0, 1, 0]


def test_repeat_resumes_across_epochs():
    check_save_load_state(lambda: Dataset.range(3).repeat(3), expected=[0, 1, 2] * 3,
                          stop_points=range(10))


def test_repeat_forever_resumes():
    check_save_load_state(lambda: Dataset.range(3).repeat().take(8))


@pytest.mark.parametrize("count, expected", [(0, []), (2, [0, 1]), (9, [0, 1, 2]), (-1, [0, 1, 2])])
def test_take(count, expected):
    assert list(Dataset.range(3).take(count)) == expected


@pytest.mark.parametrize("count, expected", [(0, [0, 1, 2]), (2, [2]), (9, []), (-1, [])])
def test_skip(count, expected):
    assert list(Dataset.range(3).skip(count)) == expected


@pytest.mark.parametrize("op", ["take", "skip"])
def test_take_all_skip_all_for_any_negative_count(op):  # as tf.data 2.21
    expected = {"take": [0, 1, 2], "skip": []}[op]
    assert list(getattr(Dataset.range(3), op)(-5)) == expected
    assert list(getattr(Dataset.range(3), op)(-1)) == expected


def test_take_does_not_pull_past_its_count():
    pulled = []

    def gen():
        for i in range(10):
            pulled.append(i)
            yield i

    assert list(Dataset.from_generator(gen).take(3)) == [0, 1, 2]
    assert pulled == [0, 1, 2]


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 30), st.integers(0, 40))
def test_take_and_skip_partition_the_stream(n, k):
    ds = Dataset.range(n)
    assert list(ds.take(k)) + list(ds.skip(k)) == list(range(n))


def test_take_skip_resume():
    check_save_load_state(lambda: Dataset.range(20).skip(5).take(7), expected=list(range(5, 12)),
                          stop_points=range(8))
