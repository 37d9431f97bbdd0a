"""filter."""

import pytest
import torch

from data import Dataset
from resume_harness import check_save_load_state


def test_filter_keeps_true_elements():
    assert list(Dataset.range(10).filter(lambda x: x % 3 == 0)) == [0, 3, 6, 9]


def test_filter_unpacks_tuples():
    ds = Dataset.zip((Dataset.range(5), Dataset.range(10, 15))).filter(lambda a, b: a + b > 15)
    assert list(ds) == [(3, 13), (4, 14)]


def test_filter_accepts_scalar_bool_tensor():
    ds = Dataset.from_tensor_slices(torch.tensor([1.0, -2.0, 3.0])).filter(lambda x: x > 0)
    assert [float(x) for x in ds] == [1.0, 3.0]


def test_filter_non_bool_result_raises():
    with pytest.raises(ValueError, match="invalid predicate.*must return a bool.*returned int 1"):
        list(Dataset.range(3).filter(lambda x: 1))


def test_filter_vector_result_raises():
    ds = Dataset.from_tensors(torch.ones(3)).filter(lambda x: x > 0)
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        list(ds)


def test_filter_not_callable_raises():
    with pytest.raises(TypeError, match="callable"):
        Dataset.range(3).filter(True)


def test_filter_resumes():
    check_save_load_state(lambda: Dataset.range(30).filter(lambda x: x % 4 == 1),
                          expected=list(range(1, 30, 4)))


def test_filter_error_names_element_position_and_keeps_cause():
    def predicate(x):
        if x == 3:
            raise ZeroDivisionError("boom")
        return True

    with pytest.raises(ZeroDivisionError, match="filter.*input element 3") as info:
        list(Dataset.range(5).filter(predicate))
    assert isinstance(info.value.__cause__, ZeroDivisionError)
