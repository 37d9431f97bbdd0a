"""``batch`` over ``from_tensor_slices`` (behind a ``shuffle`` or not) gathers whole batches.

The gathered batches must be those of the element-by-element pipeline, in the same order, in
every epoch; an identity ``map`` in between makes ``batch`` run element by element, so it is
the reference here.
"""

import io

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from data import Dataset, MalformedStateError
from data._take import copy_rows, take_rows
from data.ops.batch import _BatchIterator
from resume_harness import canonical, check_save_load_state, drain, roundtrip


def _columns(n):
    return (torch.arange(n * 3, dtype=torch.float32).reshape(n, 3),
            np.arange(n, dtype=np.int64) * 7, [f"s{i}" for i in range(n)])


def _pipeline(n, buffer, batch, drop, seed, shuffled=True, identity=False, reshuffle=True):
    ds = Dataset.from_tensor_slices(_columns(n))
    if shuffled:
        ds = ds.shuffle(buffer, seed=seed, reshuffle_each_iteration=reshuffle)
    if identity:
        ds = ds.map(lambda a, b, c: (a, b, c))
    return ds.batch(batch, drop_remainder=drop)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 40), st.integers(1, 50), st.integers(1, 12), st.booleans(),
       st.integers(0, 10_000), st.booleans(), st.booleans())
def test_gathered_batches_are_the_element_by_element_batches(n, buffer, batch, drop, seed,
                                                               shuffled, reshuffle):
    fast = _pipeline(n, buffer, batch, drop, seed, shuffled, reshuffle=reshuffle)
    slow = _pipeline(n, buffer, batch, drop, seed, shuffled, identity=True, reshuffle=reshuffle)
    for _ in range(3):  # epochs: reshuffled orders too
        assert drain(fast) == drain(slow)


def test_the_gathered_batch_is_a_copy_with_the_source_dtype():
    x = np.arange(12, dtype=np.float64).reshape(6, 2)
    for ds in (Dataset.from_tensor_slices(x).batch(4),
               Dataset.from_tensor_slices(x).shuffle(3, seed=1).batch(4)):
        b = next(iter(ds))
        assert b.dtype == torch.float64 and b.is_contiguous() and b.shape == (4, 2)
        b.zero_()
        assert x.sum() == 66.0  # the source is untouched


@pytest.mark.parametrize("shuffled", [False, True])
def test_gathered_batches_save_and_resume(shuffled):
    check_save_load_state(lambda: _pipeline(23, 10, 4, False, 3, shuffled))
    check_save_load_state(lambda: _pipeline(23, 30, 5, True, 4, shuffled).repeat(2))


def test_the_shuffle_state_holds_row_numbers_not_rows():
    x = torch.zeros(5000, 256)
    it = iter(Dataset.from_tensor_slices(x).shuffle(1000, seed=0).batch(10))
    next(it)
    buf = io.BytesIO()
    torch.save(it.state_dict(), buf)
    assert buf.tell() < 64_000  # 1000 rows of 256 floats would be 1 MB
    assert sorted(it.state_dict()["upstream"]["buffer_indices"])[-1] < 5000


def test_a_state_saved_element_by_element_loads_and_continues_element_by_element():
    ds = _pipeline(23, 10, 4, False, 3)
    slow = _BatchIterator(ds, ds._input._iterator(1))  # as before gathering existed
    next(slow)
    state = roundtrip(slow.state_dict())
    with iter(_pipeline(23, 10, 4, False, 3)) as it:
        it.load_state_dict(state)
        assert [canonical(next(slow)) for _ in range(2)] == drain(it)[:2]


def test_a_gathered_state_in_a_different_pipeline_fails_clearly():
    with iter(_pipeline(10, 4, 2, False, 0)) as it:
        state = it.state_dict()
    with pytest.raises(MalformedStateError, match="'shuffle'"):
        iter(Dataset.from_tensor_slices(_columns(10)).batch(2)).load_state_dict(state)
    bad = roundtrip(state)
    bad["upstream"]["buffer_indices"] = [99]
    with pytest.raises(MalformedStateError, match="buffer_indices"):
        iter(_pipeline(10, 4, 2, False, 0)).load_state_dict(bad)


@pytest.mark.parametrize("dtype", [torch.float32, torch.int64, torch.bool, torch.bfloat16])
def test_take_rows_is_index_select(dtype):
    column = (torch.arange(40) % 3).to(dtype).reshape(10, 4)
    rows = [7, 0, 7, 3]
    assert torch.equal(take_rows(column, rows), column.index_select(0, torch.tensor(rows)))
    assert take_rows(column, torch.tensor(rows)).dtype == dtype
    assert torch.equal(copy_rows(column, 2, 5), column[2:5])
    assert copy_rows(column, 2, 5).data_ptr() != column[2:5].data_ptr()
