"""Serial ``map``: function application, argument unpacking, validation and resume."""

import numpy as np
import pytest
import torch

import data
from resume_harness import check_save_load_state


def test_map_applies_fn_to_each_element_in_order():
    assert list(data.Dataset.range(5).map(lambda x: x * 3)) == [0, 3, 6, 9, 12]


def test_map_unpacks_tuple_elements_into_arguments():
    ds = data.Dataset.zip((data.Dataset.range(3), data.Dataset.range(10, 13)))
    assert list(ds.map(lambda a, b: a + b)) == [10, 12, 14]


def test_map_passes_dict_element_as_one_argument():
    ds = data.Dataset.from_tensor_slices({"a": torch.arange(3)})
    assert [int(x) for x in ds.map(lambda d: d["a"] * 2)] == [0, 2, 4]


def test_map_numpy_result_becomes_tensor():
    out = list(data.Dataset.range(2).map(lambda x: np.full((2,), x, dtype=np.int32)))
    assert all(isinstance(t, torch.Tensor) for t in out)
    assert [t.tolist() for t in out] == [[0, 0], [1, 1]]


def test_map_is_reiterable():
    ds = data.Dataset.range(3).map(lambda x: x + 1)
    assert list(ds) == list(ds) == [1, 2, 3]


def test_map_non_callable_raises_type_error():
    with pytest.raises(TypeError, match="fn must be callable"):
        data.Dataset.range(3).map(5)


@pytest.mark.parametrize("bad", [0, -2])
def test_map_num_parallel_calls_below_one_raises_value_error(bad):
    with pytest.raises(ValueError, match="num_parallel_calls"):
        data.Dataset.range(3).map(lambda x: x, num_parallel_calls=bad)


def test_map_deterministic_must_be_bool():
    with pytest.raises(TypeError, match="deterministic"):
        data.Dataset.range(3).map(lambda x: x, num_parallel_calls=2, deterministic="yes")


def test_serial_map_resumes_exactly():
    check_save_load_state(lambda: data.Dataset.range(12).map(lambda x: (x, x * x)),
                          stop_points=[0, 1, 7, 12])


def test_serial_map_over_shuffle_resumes_exactly():
    data.set_random_seed(3)
    try:
        check_save_load_state(
            lambda: data.Dataset.range(20).shuffle(5).map(lambda x: x * 2).repeat(2),
            stop_points=[0, 13, 29, 40])
    finally:
        data.set_random_seed(None)
