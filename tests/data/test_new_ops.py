"""The tf.data methods and constructors added beyond the core, with tf.data 2.21's outputs.

Every expected value was produced by the same pipeline on tf.data 2.21; each op also goes
through the shared save/restore harness (``torch.load(weights_only=True)`` round trips included).
"""

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import data
from data import Dataset
from resume_harness import check_save_load_state

R = Dataset.range


def _plain(x):
    if isinstance(x, torch.Tensor):
        return x.tolist()
    if isinstance(x, tuple):
        return tuple(_plain(v) for v in x)
    if isinstance(x, list):
        return [_plain(v) for v in x]
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    return x


def _all(ds):
    return [_plain(e) for e in ds]


def _windows(ds):
    return [list(w) for w in ds]


# -- window ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, expected", [
    (dict(size=3), [[0, 1, 2], [3, 4, 5], [6]]),
    (dict(size=3, shift=2), [[0, 1, 2], [2, 3, 4], [4, 5, 6], [6]]),
    (dict(size=3, shift=2, stride=2), [[0, 2, 4], [2, 4, 6], [4, 6], [6]]),
    (dict(size=3, drop_remainder=True), [[0, 1, 2], [3, 4, 5]]),
    (dict(size=2, shift=3), [[0, 1], [3, 4], [6]]),
])
def test_window_matches_tf(kwargs, expected):
    assert _windows(R(7).window(**kwargs)) == expected


def test_window_of_nested_elements_is_a_nest_of_datasets():
    ds = Dataset.zip((R(3), R(10, 13))).window(2)
    assert [tuple(list(c) for c in w) for w in ds] == [([0, 1], [10, 11]), ([2], [12])]
    ds = Dataset.from_tensor_slices({"a": [1, 2, 3]}).window(2)
    assert [{k: _all(v) for k, v in w.items()} for w in ds] == [{"a": [1, 2]}, {"a": [3]}]


def test_window_cardinality():
    assert R(7).window(3, shift=2).cardinality() == 4
    assert R(7).window(3, shift=2, drop_remainder=True).cardinality() == 3


@pytest.mark.parametrize("kwargs", [dict(size=3), dict(size=3, shift=2, stride=2),
                                    dict(size=2, shift=3, drop_remainder=True)])
def test_window_resumes(kwargs):
    check_save_load_state(lambda: R(9).window(**kwargs).flat_map(lambda w: w.batch(3)),
                          stop_points=range(8))


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 30), size=st.integers(1, 6))
def test_window_then_unbatch_round_trips(n, size):
    windows = R(n).window(size).flat_map(lambda w: w.batch(size))
    assert list(windows.unbatch().map(int)) == list(range(n))


# -- scan / reduce -------------------------------------------------------------------------------
def test_scan_matches_tf():
    assert _all(R(5).scan(0, lambda s, x: (s + x, s * 10))) == [0, 0, 10, 30, 60]
    tuple_state = R(4).scan((0, 1), lambda s, x: ((s[0] + x, s[1] * 2), s[0] + s[1]))
    assert _all(tuple_state) == [1, 2, 5, 11]
    # The element is one argument: a tuple element stays a tuple.
    zipped = Dataset.zip((R(3), R(10, 13))).scan(0, lambda s, e: (s + e[0] + e[1], s))
    assert _all(zipped) == [0, 10, 22]
    assert R(4).scan(0, lambda s, x: (s, x)).cardinality() == 4


@settings(max_examples=30, deadline=None)
@given(values=st.lists(st.integers(-100, 100), max_size=20))
def test_scan_running_sum_equals_itertools_accumulate(values):
    ds = Dataset.from_tensor_slices(torch.tensor(values, dtype=torch.int64)) if values else \
        Dataset.from_generator(lambda: iter(()))
    sums = ds.scan(torch.tensor(0), lambda s, x: (s + x, s + x))
    assert [int(v) for v in sums] == list(itertools.accumulate(values))


def test_scan_state_must_keep_its_structure():
    with pytest.raises(TypeError, match="initial state"):
        list(R(3).scan((0, 0), lambda s, x: (s[0], x)))


def test_scan_resumes_with_its_state():
    check_save_load_state(lambda: R(8).scan(torch.tensor(0), lambda s, x: (s + x, s * x)),
                          stop_points=range(9))


def test_reduce_matches_tf():
    assert R(5).reduce(0, lambda s, x: s + x) == 10
    assert _plain(R(5).reduce((0, 1), lambda s, x: (s[0] + x, s[1] * (x + 1)))) == (10, 120)
    assert R(0).reduce(7, lambda s, x: s + x) == 7


# -- filtering ---------------------------------------------------------------------------------
def test_take_while_matches_tf_and_resumes():
    assert list(R(10).take_while(lambda x: x < 4)) == [0, 1, 2, 3]
    assert R(5).take_while(lambda x: True).cardinality() == data.UNKNOWN_CARDINALITY
    check_save_load_state(lambda: R(10).take_while(lambda x: x < 4), stop_points=range(5))


def test_unique_matches_tf_and_resumes():
    ds = Dataset.from_tensor_slices([1, 3, 1, 2, 3, 5]).unique()
    assert _all(ds) == [1, 3, 2, 5]
    assert list(Dataset.from_tensor_slices(["a", "b", "a"]).unique()) == ["a", "b"]
    check_save_load_state(lambda: Dataset.from_tensor_slices([1, 3, 1, 2, 3, 5]).unique(),
                          stop_points=range(5))


def test_unique_of_non_scalar_elements_is_type_error():
    with pytest.raises(TypeError, match="unique: elements must be scalar"):
        list(Dataset.from_tensors(torch.ones(2)).unique())


# -- rebatch -------------------------------------------------------------------------------
@pytest.mark.parametrize("args, expected", [
    ((3,), [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]),
    ((3, True), [[0, 1, 2], [3, 4, 5], [6, 7, 8]]),
    (([2, 3],), [[0, 1], [2, 3, 4], [5, 6], [7, 8, 9]]),
])
def test_rebatch_matches_tf(args, expected):
    assert _all(R(10).batch(4).rebatch(*args)) == expected


def test_rebatch_resumes():
    check_save_load_state(lambda: R(10).batch(4).rebatch([2, 3]), stop_points=range(5))


# -- group_by_window / bucket_by_sequence_length --------------------------------------------
def test_group_by_window_matches_tf():
    ds = R(10).group_by_window(key_func=lambda x: x % 3, reduce_func=lambda k, w: w.batch(2),
                               window_size=2)
    assert _all(ds) == [[0, 3], [1, 4], [2, 5], [6, 9], [7], [8]]
    ds = R(7).group_by_window(key_func=lambda x: x % 2,
                              reduce_func=lambda k, w: w.batch(10).map(lambda b: (k, b)),
                              window_size=3)
    assert _all(ds) == [(0, [0, 2, 4]), (1, [1, 3, 5]), (0, [6])]
    ds = R(10).group_by_window(key_func=lambda x: x % 2, reduce_func=lambda k, w: w.batch(10),
                               window_size_func=lambda k: k + 2)
    assert _all(ds) == [[0, 2], [1, 3, 5], [4, 6], [8], [7, 9]]
    ds = Dataset.zip((R(6), R(10, 16))).group_by_window(
        key_func=lambda a, b: a % 2, reduce_func=lambda k, w: w.batch(2), window_size=2)
    assert _all(ds) == [([0, 2], [10, 12]), ([1, 3], [11, 13]), ([4], [14]), ([5], [15])]


def test_group_by_window_needs_exactly_one_window_size():
    with pytest.raises(ValueError, match="exactly one of window_size and window_size_func"):
        R(3).group_by_window(lambda x: 0, lambda k, w: w)


def test_group_by_window_resumes():
    check_save_load_state(lambda: R(11).group_by_window(
        key_func=lambda x: x % 3, reduce_func=lambda k, w: w.batch(3), window_size=3),
        stop_points=range(6))


@settings(max_examples=30, deadline=None)
@given(values=st.lists(st.integers(0, 50), max_size=25), keys=st.integers(1, 4),
       size=st.integers(1, 4))
def test_group_by_window_partitions_the_input_by_key(values, keys, size):
    ds = (Dataset.from_tensor_slices(torch.tensor(values, dtype=torch.int64)) if values
          else Dataset.from_generator(lambda: iter(())))
    groups = [b.tolist() for b in ds.group_by_window(
        key_func=lambda x: x % keys, reduce_func=lambda k, w: w.batch(size), window_size=size)]
    assert sorted(v for g in groups for v in g) == sorted(values)
    for group in groups:
        assert len({v % keys for v in group}) == 1 and 1 <= len(group) <= size
    for key in range(keys):  # within a key, the input order is kept
        assert [v for g in groups for v in g if v % keys == key] == \
            [v for v in values if v % keys == key]


def _sequences():
    return Dataset.from_generator(lambda: ([n] * n for n in [1, 3, 2, 5, 4, 1, 6, 2]),
                                  output_signature=data.TensorSpec((None,), torch.int32))


def test_bucket_by_sequence_length_matches_tf():
    ds = _sequences().bucket_by_sequence_length(lambda x: x.shape[0], [3, 5], [2, 2, 2])
    expected = [[[1, 0], [2, 2]], [[3, 3, 3, 0], [4, 4, 4, 4]],
                [[5, 5, 5, 5, 5, 0], [6, 6, 6, 6, 6, 6]], [[1, 0], [2, 2]]]
    assert _all(ds) == expected
    dropped = _sequences().bucket_by_sequence_length(lambda x: x.shape[0], [3, 5], [2, 2, 2],
                                                     drop_remainder=True)
    assert _all(dropped) == expected
    plain = Dataset.from_tensor_slices([1, 5, 2, 7, 3]).bucket_by_sequence_length(
        lambda x: int(x), [4], [2, 2], no_padding=True)
    assert _all(plain) == [[1, 2], [5, 7], [3]]


def test_bucket_by_sequence_length_pads_to_the_bucket_boundary():
    ds = _sequences().take(4).bucket_by_sequence_length(lambda x: x.shape[0], [3, 6], [2, 2, 2],
                                                        pad_to_bucket_boundary=True)
    assert _all(ds) == [[[1, 0], [2, 2]], [[3, 3, 3, 0, 0], [5, 5, 5, 5, 5]]]


def test_bucket_by_sequence_length_resumes():
    check_save_load_state(lambda: _sequences().bucket_by_sequence_length(
        lambda x: x.shape[0], [3, 5], [2, 2, 2]), stop_points=range(5))


# -- rejection_resample ----------------------------------------------------------------------
def test_rejection_resample_yields_class_element_pairs_near_the_target():
    source = Dataset.from_tensor_slices(torch.tensor([0] * 9 + [1], dtype=torch.int64)).repeat(
        300)
    ds = source.rejection_resample(lambda x: x, target_dist=[0.5, 0.5], seed=3)
    pairs = list(ds)
    assert all(int(c) == int(e) for c, e in pairs)
    ones = sum(int(c) for c, _ in pairs)
    assert 0.4 < ones / len(pairs) < 0.6  # the input had 10% ones


def test_rejection_resample_with_initial_dist_resumes():
    check_save_load_state(lambda: R(40).rejection_resample(
        lambda x: x % 2, [0.8, 0.2], initial_dist=[0.5, 0.5], seed=1), stop_points=range(0, 30, 4))


# -- sampling --------------------------------------------------------------------------------
def test_sample_from_datasets_takes_every_element_and_stops_as_asked():
    ds = Dataset.sample_from_datasets([R(3), R(10, 13)], weights=[0.5, 0.5], seed=1)
    assert sorted(ds) == [0, 1, 2, 10, 11, 12]
    stopping = Dataset.sample_from_datasets([R(3), R(10, 20)], seed=1,
                                            stop_on_empty_dataset=True)
    out = list(stopping)
    assert [v for v in out if v < 10] == [0, 1, 2] and out[-1] < 10  # ends with the first's end


@settings(max_examples=10, deadline=None)
@given(w=st.floats(0.1, 0.9), seed=st.integers(0, 1000))
def test_sample_from_datasets_follows_the_weights(w, seed):
    ds = Dataset.sample_from_datasets([Dataset.from_tensors(0).repeat(),
                                       Dataset.from_tensors(1).repeat()],
                                      weights=[w, 1 - w], seed=seed).take(2000)
    share = sum(ds) / 2000
    assert abs(share - (1 - w)) < 0.05


def test_sample_from_datasets_rejects_incompatible_elements():
    with pytest.raises(TypeError, match="compatible element specs"):
        Dataset.sample_from_datasets([R(3), Dataset.from_tensors(1.0)])


def test_sample_from_datasets_cardinality():
    assert Dataset.sample_from_datasets([R(3), R(4)]).cardinality() == data.UNKNOWN_CARDINALITY
    assert Dataset.sample_from_datasets([R(3).repeat(), R(4).repeat()]).cardinality() == \
        data.INFINITE_CARDINALITY


def test_sample_from_datasets_resumes():
    check_save_load_state(lambda: Dataset.sample_from_datasets(
        [R(5), R(10, 15).shuffle(3, seed=2)], weights=[0.3, 0.7], seed=5), stop_points=range(11))


def test_choose_from_datasets_matches_tf():
    choices = lambda values: Dataset.from_tensor_slices(torch.tensor(values))  # noqa: E731
    ds = Dataset.choose_from_datasets([R(3), R(10, 13)], choices([0, 1, 1, 0, 0, 1]))
    assert list(ds) == [0, 10, 11, 1, 2, 12]
    assert list(Dataset.choose_from_datasets([R(1), R(10, 13)], choices([0, 0, 1]))) == [0]
    assert list(Dataset.choose_from_datasets([R(1), R(10, 13)], choices([0, 0, 1]),
                                             stop_on_empty_dataset=False)) == [0, 10]


def test_choose_from_datasets_checks_choices():
    with pytest.raises(TypeError, match="scalar int64"):
        Dataset.choose_from_datasets([R(1)], Dataset.from_tensor_slices(
            torch.tensor([0], dtype=torch.int32)))
    with pytest.raises(ValueError, match="choice_dataset gave 3"):
        list(Dataset.choose_from_datasets([R(1)], Dataset.from_tensor_slices([3])))


def test_choose_from_datasets_resumes():
    check_save_load_state(lambda: Dataset.choose_from_datasets(
        [R(3), R(10, 13)], Dataset.from_tensor_slices([0, 1, 1, 0, 0, 1]),
        stop_on_empty_dataset=False), stop_points=range(7))


# -- counter / random ------------------------------------------------------------------------
def test_counter_matches_tf():
    assert list(Dataset.counter(3, 2).take(3)) == [3, 5, 7]
    assert list(Dataset.counter(0, -1).take(3)) == [0, -1, -2]
    assert Dataset.counter().cardinality() == data.INFINITE_CARDINALITY
    assert Dataset.counter(dtype=torch.int32).element_spec == data.TensorSpec((), torch.int32)


def test_random_is_reproducible_with_a_seed_and_resumes():
    a = [int(v) for v in Dataset.random(seed=4).take(5)]
    assert a == [int(v) for v in Dataset.random(seed=4).take(5)]
    assert all(v >= 0 for v in a) and len(set(a)) == 5
    assert Dataset.random(seed=4).element_spec == data.TensorSpec((), torch.int64)
    check_save_load_state(lambda: Dataset.random(seed=4).take(6), stop_points=range(7))
    check_save_load_state(lambda: Dataset.random(seed=4, rerandomize_each_iteration=True)
                          .take(4).repeat(2), stop_points=range(9))


# -- save / load / snapshot --------------------------------------------------------------------
def test_save_then_load_gives_the_elements(tmp_path):
    ds = Dataset.zip((R(5), Dataset.from_tensor_slices(["a", "b", "c", "d", "e"])))
    ds.save(str(tmp_path / "saved"))
    loaded = Dataset.load(str(tmp_path / "saved"))
    assert list(loaded) == list(ds)
    check_save_load_state(lambda: Dataset.load(str(tmp_path / "saved")), stop_points=range(6))


def test_load_of_a_missing_directory_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="no dataset saved at"):
        Dataset.load(str(tmp_path / "nothing"))


def test_snapshot_records_once_then_replays(tmp_path):
    calls = []
    ds = R(4).map(lambda x: calls.append(x) or x * 2).snapshot(str(tmp_path / "snap"))
    assert list(ds) == [0, 2, 4, 6] and list(ds) == [0, 2, 4, 6]
    assert calls == [0, 1, 2, 3]
    again = R(4).map(lambda x: calls.append(x) or x).snapshot(str(tmp_path / "snap"))
    assert list(again) == [0, 2, 4, 6] and calls == [0, 1, 2, 3]  # a later run reads it


# -- consuming -------------------------------------------------------------------------------
def test_cardinality_matches_tf():
    cases = [R(5), R(5).repeat(), R(5).filter(lambda x: True), R(5).batch(2),
             R(5).batch(2, True), R(5).take(3), R(5).skip(2), R(5).skip(9), R(5).repeat(3),
             R(0).repeat(), R(5).shard(2, 1), Dataset.zip((R(5), R(3))), R(5).concatenate(R(2)),
             R(5).interleave(lambda x: R(x)), R(5).repeat().interleave(lambda x: R(x)),
             R(5).map(lambda x: x), R(5).repeat().take(4), R(5).repeat().skip(3), R(5).take(-1),
             R(5).batch(2).unbatch(), R(5).cache(), R(5).shuffle(2), R(5).prefetch(1),
             R(5).enumerate(), Dataset.counter(), R(5).repeat().filter(lambda x: True),
             R(5).padded_batch(2), R(5).take_while(lambda x: True), R(5).unique()]
    assert [ds.cardinality() for ds in cases] == [
        5, -1, -2, 3, 2, 3, 3, 0, 15, 0, 2, 3, 7, -2, -2, 5, 4, -1, 5, -2, 5, 5, 5, 5, -1, -2,
        3, -2, -2]
    assert (data.INFINITE_CARDINALITY, data.UNKNOWN_CARDINALITY) == (-1, -2)


def test_len_as_tf():
    assert len(R(5).batch(2)) == 3
    with pytest.raises(TypeError, match="The dataset is infinite."):
        len(R(5).repeat())
    with pytest.raises(TypeError, match="The dataset length is unknown."):
        len(R(5).filter(lambda x: True))
    assert bool(R(5).filter(lambda x: True))


def test_get_single_element():
    assert R(1).get_single_element() == 0
    with pytest.raises(ValueError, match="empty"):
        R(0).get_single_element()
    with pytest.raises(ValueError, match="more than one element"):
        R(2).get_single_element()


def test_as_numpy_iterator():
    import numpy as np
    out = list(Dataset.from_tensor_slices({"a": [1, 2], "s": ["x", "y"]}).as_numpy_iterator())
    assert [set(e) for e in out] == [{"a", "s"}] * 2
    assert all(isinstance(e["a"], np.ndarray) for e in out)
    assert [(int(e["a"]), e["s"]) for e in out] == [(1, "x"), (2, "y")]


def test_element_spec():
    assert R(3).element_spec == data.TensorSpec((), torch.int64)
    assert R(5).batch(2).element_spec == data.TensorSpec((None,), torch.int64)
    assert R(5).batch(2, drop_remainder=True).element_spec == data.TensorSpec((2,), torch.int64)
    spec = Dataset.from_tensor_slices({"x": torch.zeros(4, 3), "s": ["a"] * 4}).element_spec
    assert spec == {"x": data.TensorSpec((3,), torch.float32), "s": data.TensorSpec((), str)}
    mapped = R(3).map(lambda x: (torch.zeros(2), x)).shuffle(3)
    assert mapped.element_spec == (data.TensorSpec((2,), torch.float32),
                                   data.TensorSpec((), torch.int64))
