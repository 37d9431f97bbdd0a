"""batch, padded_batch and unbatch."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from data import Dataset
from resume_harness import canonical, check_save_load_state


def test_batch_stacks_and_keeps_remainder():
    batches = [b.tolist() for b in Dataset.range(7).batch(3)]
    assert batches == [[0, 1, 2], [3, 4, 5], [6]]


def test_batch_drop_remainder():
    assert [b.tolist() for b in Dataset.range(7).batch(3, drop_remainder=True)] == [
        [0, 1, 2], [3, 4, 5]]


def test_batch_nested_elements_and_strings():
    ds = Dataset.from_tensor_slices(({"img": torch.ones(4, 2, 2)}, ["a", "b", "c", "d"]))
    features, names = next(iter(ds.batch(3)))
    assert features["img"].shape == (3, 2, 2) and names == ["a", "b", "c"]


def test_batch_python_scalars_get_tf_dtypes():
    ds = Dataset.from_generator(lambda: iter([(1, 0.5, True)] * 2))
    ints, floats, bools = next(iter(ds.batch(2)))
    assert (ints.dtype, floats.dtype, bools.dtype) == (torch.int64, torch.float32, torch.bool)


@pytest.mark.parametrize("size", [0, -1])
def test_batch_size_not_positive_raises(size):
    with pytest.raises(ValueError, match=f"batch_size must be >= 1, got {size}"):
        Dataset.range(3).batch(size)


def test_batch_resumes():
    check_save_load_state(lambda: Dataset.range(10).batch(3), expected=[
        torch.tensor([0, 1, 2]), torch.tensor([3, 4, 5]), torch.tensor([6, 7, 8]),
        torch.tensor([9])])


# -- padded_batch ----------------------------------------------------------------------------
def _ragged():
    return Dataset.from_generator(lambda: (torch.full((n,), n) for n in (1, 3, 2)))


def test_padded_batch_pads_to_longest():
    (batch,) = list(_ragged().padded_batch(3))
    assert batch.tolist() == [[1, 0, 0], [3, 3, 3], [2, 2, 0]]


def test_padded_batch_fixed_shape_and_value():
    batches = list(_ragged().padded_batch(2, padded_shapes=(4,), padding_values=-1))
    assert [b.tolist() for b in batches] == [[[1, -1, -1, -1], [3, 3, 3, -1]], [[2, 2, -1, -1]]]


def test_padded_batch_nested_shapes_and_values():
    ds = Dataset.from_generator(lambda: ((torch.ones(n), n) for n in (1, 2)))
    seq, length = next(iter(ds.padded_batch(2, padded_shapes=([None], []),
                                            padding_values=(9.0, 0))))
    assert seq.tolist() == [[1.0, 9.0], [1.0, 1.0]] and length.tolist() == [1, 2]


def test_padded_batch_too_long_raises():
    with pytest.raises(ValueError, match="larger than the padded shape"):
        list(_ragged().padded_batch(3, padded_shapes=[2]))


def test_padded_batch_rank_mismatch_raises():
    with pytest.raises(ValueError, match="rank"):
        list(_ragged().padded_batch(3, padded_shapes=[None, None]))


def test_padded_batch_drop_remainder():
    assert len(list(_ragged().padded_batch(2, drop_remainder=True))) == 1


def test_padded_batch_resumes():
    check_save_load_state(lambda: _ragged().repeat(3).padded_batch(2))


# -- unbatch ---------------------------------------------------------------------------------
def test_unbatch_splits_nested_batches_with_strings():
    ds = Dataset.from_tensors((torch.arange(6).reshape(3, 2), ["a", "b", "c"])).unbatch()
    assert [(x.tolist(), s) for x, s in ds] == [([0, 1], "a"), ([2, 3], "b"), ([4, 5], "c")]


def test_unbatch_scalar_raises():
    with pytest.raises(ValueError, match="leading dimension"):
        list(Dataset.range(3).unbatch())


def test_unbatch_resumes_mid_batch():
    check_save_load_state(lambda: Dataset.range(10).batch(4).unbatch(),
                          expected=[torch.tensor(i) for i in range(10)], stop_points=range(11))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 30), st.integers(1, 7))
def test_batch_then_unbatch_is_identity(n, size):
    source = Dataset.from_tensor_slices(
        {"x": torch.randn(n, 2), "label": torch.arange(n), "name": [str(i) for i in range(n)]})
    expected = [canonical(e) for e in source]
    assert [canonical(e) for e in source.batch(size).unbatch()] == expected
