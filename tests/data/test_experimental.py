"""data.experimental.shuffle_and_repeat."""

import pytest

import data
from data import Dataset
from resume_harness import check_save_load_state


def test_shuffle_and_repeat_each_epoch_is_a_new_permutation():
    out = list(Dataset.range(10).apply(data.experimental.shuffle_and_repeat(10, count=4, seed=2)))
    epochs = [out[i * 10:(i + 1) * 10] for i in range(4)]
    assert all(sorted(e) == list(range(10)) for e in epochs)  # no blur across epochs
    assert len({tuple(e) for e in epochs}) == 4


def test_shuffle_and_repeat_forever():
    ds = Dataset.range(3).apply(data.experimental.shuffle_and_repeat(3))
    assert sorted(ds.take(30)) == sorted(list(range(3)) * 10)


def test_shuffle_and_repeat_seed_reproduces():
    def make():
        return Dataset.range(8).apply(data.experimental.shuffle_and_repeat(4, 2, seed=9))

    assert list(make()) == list(make())


@pytest.mark.parametrize("kwargs, message", [({"buffer_size": 0}, "buffer_size must be >= 1"),
                                             ({"buffer_size": 4, "count": -3}, "count must be")])
def test_shuffle_and_repeat_bad_arguments_raise_at_once(kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.experimental.shuffle_and_repeat(**kwargs)


def test_shuffle_and_repeat_resumes():
    check_save_load_state(
        lambda: Dataset.range(5).apply(data.experimental.shuffle_and_repeat(3, count=3)),
        stop_points=[0, 4, 5, 6, 11, 15])


def test_tf1_experimental_forms_match_the_methods():
    ds = data.Dataset.range(10)
    assert data.experimental.cardinality(ds.batch(3)) == 4
    assert list(ds.apply(data.experimental.take_while(lambda x: x < 3))) == [0, 1, 2]
    assert list(ds.apply(data.experimental.scan(0, lambda s, x: (s + x, s)))) == \
        list(ds.scan(0, lambda s, x: (s + x, s)))
    grouped = ds.apply(data.experimental.group_by_window(
        lambda x: x % 2, lambda k, w: w.batch(5), window_size=5))
    assert [b.tolist() for b in grouped] == [[0, 2, 4, 6, 8], [1, 3, 5, 7, 9]]
    assert list(data.experimental.Counter(2).take(2)) == [2, 3]
    assert data.experimental.get_single_element(data.Dataset.range(1)) == 0
    assert sorted(data.experimental.sample_from_datasets([ds.take(2), ds.skip(8)], seed=1)) == \
        [0, 1, 8, 9]
