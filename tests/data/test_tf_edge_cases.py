"""tf.data's behaviour on edge cases, with the outputs real tf.data 2.21 gives.

Each expected value below was produced by the same pipeline on ``tensorflow-cpu`` 2.21
(``tf.data``), translated to this API.
"""

import collections

import pytest
import torch

import data
from data import Dataset
from resume_harness import check_save_load_state


def _fails_at_2(x):
    if x == 2:
        raise ZeroDivisionError("boom")
    return x


def _outcomes(ds):
    """Elements, and ``"ERR"`` for an element that raised (iteration goes on, as in TF)."""
    out, it = [], iter(ds)
    while True:
        try:
            out.append(next(it))
        except StopIteration:
            return out
        except Exception:
            out.append("ERR")


# -- wrong results --------------------------------------------------------------------------
def test_zip_advances_every_input_past_a_failed_element():
    a = Dataset.range(5).map(_fails_at_2)
    b = Dataset.range(10, 15)
    assert _outcomes(Dataset.zip((a, b))) == [(0, 10), (1, 11), "ERR", (3, 13), (4, 14)]
    assert _outcomes(Dataset.zip((b, a))) == [(10, 0), (11, 1), "ERR", (13, 3), (14, 4)]
    assert _outcomes(Dataset.zip((a, a))) == [(0, 0), (1, 1), "ERR", (3, 3), (4, 4)]
    assert list(Dataset.zip((a, b)).ignore_errors()) == [(0, 10), (1, 11), (3, 13), (4, 14)]


def _stops_at_2(x):
    if x == 2:
        raise StopIteration
    return x


@pytest.mark.parametrize("calls", [None, 2])
def test_stop_iteration_in_map_function_is_an_error_naming_the_element(calls):
    ds = Dataset.range(5).map(_stops_at_2, num_parallel_calls=calls)
    assert _outcomes(ds) == [0, 1, "ERR", 3, 4]
    it = iter(ds)
    next(it), next(it)
    with pytest.raises(RuntimeError, match="StopIteration on input element 2"):
        next(it)


def test_stop_iteration_in_filter_predicate_is_an_error():
    ds = Dataset.range(4).filter(lambda x: _stops_at_2(x) >= 0)
    assert _outcomes(ds) == [0, 1, "ERR", 3]


P = collections.namedtuple("P", "a b")


def test_namedtuple_element_is_one_argument():
    assert list(Dataset.from_tensors(P(1, 2)).map(lambda p: p.a + p.b)) == [3]
    with pytest.raises(TypeError):
        list(Dataset.from_tensors(P(1, 2)).map(lambda a, b: a + b))


def test_plain_tuple_element_is_unpacked():
    assert list(Dataset.from_tensors((1, 2)).map(lambda a, b: a + b)) == [3]


@pytest.mark.parametrize("calls", [None, 2])
def test_list_returned_by_map_becomes_a_tuple(calls):
    ds = Dataset.range(2).map(lambda x: [x, x * 2], num_parallel_calls=calls)
    assert list(ds.map(lambda a, b: a + b)) == [0, 3]
    assert list(ds) == [(0, 0), (1, 2)]


def test_list_of_strings_returned_by_map_stays_one_component():
    ds = Dataset.from_tensor_slices(["a", "b", "c"]).batch(2).map(lambda names: names)
    assert list(ds) == [["a", "b"], ["c"]]


def test_interleave_autotune_cycle_length_follows_tf(monkeypatch):
    from data.ops import combine
    monkeypatch.setattr(combine, "cpu_count", lambda: 8)
    lengths = {}
    for label, kwargs in {"serial": {}, "fixed": {"num_parallel_calls": 3},
                          "autotune": {"num_parallel_calls": data.AUTOTUNE}}.items():
        for cycle in (None, data.AUTOTUNE):
            ds = Dataset.range(1).interleave(Dataset.range, cycle_length=cycle, **kwargs)
            lengths[label, cycle] = ds._cycle_length
    assert lengths == {("serial", None): 8, ("serial", -1): 8, ("fixed", None): 3,
                       ("fixed", -1): 3, ("autotune", None): 3, ("autotune", -1): 3}


@pytest.mark.parametrize("kwargs, expected", [
    ({}, [1, 2, 1, 2, 3, 3]),
    ({"num_parallel_calls": 1}, [1, 1, 2, 2, 3, 3]),
    ({"num_parallel_calls": 2}, [1, 2, 1, 2, 3, 3]),
    ({"num_parallel_calls": data.AUTOTUNE}, [1, 1, 2, 2, 3, 3]),
])
def test_interleave_default_cycle_length_gives_tf_order(monkeypatch, kwargs, expected):
    # tf.data 2.21 on 2 schedulable cores, cycle_length left to its default.
    from data.ops import combine
    monkeypatch.setattr(combine, "cpu_count", lambda: 2)
    ds = Dataset.range(1, 4).interleave(lambda x: Dataset.from_tensors(x).repeat(2), **kwargs)
    assert list(ds) == expected


def test_interleave_num_parallel_calls_above_fixed_cycle_length_is_value_error():
    with pytest.raises(ValueError, match="num_parallel_calls must be AUTOTUNE or at most "
                                         "cycle_length"):
        Dataset.range(3).interleave(Dataset.range, cycle_length=2, num_parallel_calls=3)


@pytest.mark.parametrize("other", [
    lambda: Dataset.from_tensors((1, 2)),                     # structure
    lambda: Dataset.from_tensors(1.0),                        # dtype
    lambda: Dataset.from_tensors(torch.tensor(1, dtype=torch.int32)),  # int32 vs int64
])
def test_concatenate_of_incompatible_elements_is_type_error(other):
    with pytest.raises(TypeError, match="Incompatible dataset elements"):
        Dataset.range(2).concatenate(other())


def test_concatenate_of_different_dict_keys_is_type_error():
    with pytest.raises(TypeError, match="Incompatible dataset elements"):
        Dataset.from_tensors({"a": 1}).concatenate(Dataset.from_tensors({"b": 1}))


def test_concatenate_of_different_shapes_is_allowed():
    ds = Dataset.from_tensors(torch.tensor([1, 2])).concatenate(
        Dataset.from_tensors(torch.tensor([1, 2, 3])))
    assert [t.tolist() for t in ds] == [[1, 2], [1, 2, 3]]
    assert ds.element_spec == data.TensorSpec((None,), torch.int64)


def test_concatenate_checks_elements_behind_a_map():
    with pytest.raises(TypeError, match="Incompatible dataset elements"):
        Dataset.range(2).map(lambda x: (x, x)).concatenate(Dataset.range(2))


def test_interleave_over_dataset_elements_resumes_through_a_checkpoint():
    # The input elements are datasets; states must load with torch.load(weights_only=True).
    make = lambda: Dataset.range(4).map(lambda x: Dataset.range(x)).interleave(  # noqa: E731
        lambda d: d, cycle_length=2)
    check_save_load_state(make, expected=[0, 0, 1, 0, 1, 2], stop_points=range(7))


def test_flat_map_over_window_datasets_resumes():
    make = lambda: Dataset.range(5).map(  # noqa: E731
        lambda x: Dataset.range(x, x + 2)).flat_map(lambda d: d)
    check_save_load_state(make, expected=[0, 1, 1, 2, 2, 3, 3, 4, 4, 5],
                          stop_points=range(11))


# -- arguments as TF takes them ----------------------------------------------------------------
def test_filter_predicate_returning_non_bool_is_value_error():
    with pytest.raises(ValueError, match="invalid predicate"):
        list(Dataset.range(3).filter(lambda x: x))
    with pytest.raises(ValueError, match="invalid predicate"):
        list(Dataset.range(3).filter(lambda x: torch.tensor([x > 0, x > 1])))


@pytest.mark.parametrize("calls", [None, 2])
def test_map_returning_a_class_is_type_error_naming_the_element(calls):
    with pytest.raises(TypeError, match="input element 0.*unsupported return value.*object"):
        list(Dataset.range(3).map(lambda x: object, num_parallel_calls=calls))


def test_map_returning_none_is_type_error_but_none_inside_a_tuple_is_allowed():
    with pytest.raises(TypeError, match="input element 0.*returned None"):
        list(Dataset.range(3).map(lambda x: None))
    assert list(Dataset.range(2).map(lambda x: (x, None))) == [(0, None), (1, None)]


def test_from_generator_str_output_type_decodes_bytes():
    ds = Dataset.from_generator(lambda: iter([b"a", "b"]), output_types=str)
    assert list(ds) == ["a", "b"]
    ds = Dataset.from_generator(lambda: iter(["a"]), output_types=bytes)
    assert list(ds) == [b"a"]


def test_from_generator_int_shapes_and_nested_signature():
    import numpy as np
    ds = Dataset.from_generator(lambda: iter([np.ones((2, 1))]), output_types=torch.float32,
                                output_shapes=(2, 1))
    assert [t.tolist() for t in ds] == [[[1.0], [1.0]]]
    ds = Dataset.from_generator(lambda: iter([(np.ones((2, 1)), 3)]),
                                output_types=(torch.float32, torch.int64),
                                output_shapes=((2, 1), ()))
    ((x, y),) = list(ds)
    assert x.tolist() == [[1.0], [1.0]] and y.dtype == torch.int64 and int(y) == 3
    signature = {"a": (data.TensorSpec((), torch.int32), data.TensorSpec((None,), torch.float32))}
    ds = Dataset.from_generator(lambda: iter([{"a": (1, [2.0, 3.0])}]), output_signature=signature)
    ((element),) = list(ds)
    assert element["a"][0].dtype == torch.int32 and element["a"][1].tolist() == [2.0, 3.0]
    assert ds.element_spec == signature


def test_from_generator_list_is_converted_to_the_signature_tuple():
    ds = Dataset.from_generator(lambda: iter([[1, [2, 3]]]),
                                output_types=(torch.int64, torch.int64),
                                output_shapes=((), (2,)))
    ((a, b),) = list(ds)
    assert int(a) == 1 and b.tolist() == [2, 3]


def test_from_generator_shape_mismatch_names_the_element():
    ds = Dataset.from_generator(lambda: iter([[1, 2, 3]]),
                                output_signature=data.TensorSpec((2,), torch.int64))
    with pytest.raises(ValueError, match=r"element 0: expected shape \(2,\), got \(3,\)"):
        list(ds)


def test_generator_is_closed_when_its_iteration_ends():
    events = []

    def gen():
        try:
            yield 1
            yield 2
        finally:
            events.append("closed")

    it = iter(Dataset.from_generator(gen))
    assert list(it) == [1, 2]
    assert events == ["closed"]


def test_take_closes_a_generator_once_its_count_is_reached():
    events = []

    def gen():
        try:
            yield from range(10)
        finally:
            events.append("closed")

    it = iter(Dataset.from_generator(gen).take(2))
    assert list(it) == [0, 1] and events == ["closed"]
    check_save_load_state(lambda: Dataset.from_generator(gen).take(2), expected=[0, 1])


def test_padded_batch_of_strings_pads_with_empty_strings():
    sig = data.TensorSpec((None,), bytes)
    ds = Dataset.from_generator(lambda: iter([[b"a"], [b"b", b"c"]]), output_signature=sig)
    assert list(ds.padded_batch(2)) == [[[b"a", b""], [b"b", b"c"]]]
    ds = Dataset.from_generator(lambda: iter([["é"], ["ü", "c"]]),
                                output_signature=data.TensorSpec((None,), str))
    assert list(ds.padded_batch(2, padding_values="?")) == [[["é", "?"], ["ü", "c"]]]


def test_padded_batch_of_strings_and_numbers_to_fixed_shapes():
    ds = Dataset.from_generator(lambda: iter([(["a"], [1]), (["b", "c"], [2, 3])]),
                                output_signature=(data.TensorSpec((None,), str),
                                                  data.TensorSpec((None,), torch.int32)))
    ((names, numbers),) = list(ds.padded_batch(2, padded_shapes=([3], [3])))
    assert names == [["a", "", ""], ["b", "c", ""]]
    assert numbers.tolist() == [[1, 0, 0], [2, 3, 0]] and numbers.dtype == torch.int32


def test_padded_batch_of_scalar_strings():
    assert list(Dataset.from_tensor_slices(["a", "bb"]).padded_batch(2)) == [["a", "bb"]]


def test_range_output_type():
    ints = list(Dataset.range(3, output_type=torch.int32))
    assert [int(v) for v in ints] == [0, 1, 2] and all(v.dtype == torch.int32 for v in ints)
    floats = list(Dataset.range(0, 2, 1, output_type=torch.float32))
    assert [float(v) for v in floats] == [0.0, 1.0]
    assert Dataset.range(3, output_type=torch.float64).element_spec == data.TensorSpec(
        (), torch.float64)
    assert next(iter(Dataset.range(3, output_type=torch.int32).batch(2))).dtype == torch.int32


def test_datasets_as_components():
    inner = [Dataset.range(3), Dataset.range(2)]
    ds = Dataset.from_tensor_slices(inner)
    assert [list(d) for d in ds] == [[0, 1, 2], [0, 1]]
    assert [list(d) for d in Dataset.from_tensors(Dataset.range(3))] == [[0, 1, 2]]
    spec = Dataset.from_tensors(Dataset.range(3)).element_spec
    assert spec == data.DatasetSpec(data.TensorSpec((), torch.int64))
    assert list(Dataset.range(3).map(lambda x: Dataset.range(x)).flat_map(lambda d: d)) == [0, 0, 1]


# -- pandas input (optional dependency) --------------------------------------------------------
def test_from_tensor_slices_of_pandas_series_and_dataframes():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"a": [1, 2, 3], "b": [0.5, 1.5, 2.5]})
    rows = list(Dataset.from_tensor_slices(df))
    assert [r.tolist() for r in rows] == [[1.0, 0.5], [2.0, 1.5], [3.0, 2.5]]
    assert rows[0].dtype == torch.float64  # as tf.data: the DataFrame's common dtype
    assert [int(v) for v in Dataset.from_tensor_slices(df["a"])] == [1, 2, 3]
    names = pd.Series(["x", "y", "z"], index=[5, 6, 7])  # the index is not used
    assert list(Dataset.from_tensor_slices(names)) == ["x", "y", "z"]
    pairs = list(Dataset.from_tensor_slices((dict(df), df["a"])))
    assert [({k: float(v) for k, v in f.items()}, int(y)) for f, y in pairs] == [
        ({"a": 1.0, "b": 0.5}, 1), ({"a": 2.0, "b": 1.5}, 2), ({"a": 3.0, "b": 2.5}, 3)]
    spec = Dataset.from_tensor_slices(dict(df)).element_spec
    assert spec == {"a": data.TensorSpec((), torch.int64), "b": data.TensorSpec((), torch.float64)}


def test_from_tensor_slices_of_a_mixed_dataframe_points_to_dict():
    pd = pytest.importorskip("pandas")
    with pytest.raises(ValueError, match=r"pass dict\(df\)"):
        Dataset.from_tensor_slices(pd.DataFrame({"a": [1, 2], "s": ["u", "v"]}))


def test_parallel_interleave_over_dataset_elements_resumes_through_a_checkpoint():
    make = lambda: Dataset.range(5).map(lambda x: Dataset.range(x)).interleave(  # noqa: E731
        lambda d: d, cycle_length=2, num_parallel_calls=data.AUTOTUNE)
    # tf.data 2.21 gives this order too.
    check_save_load_state(make, expected=[0, 0, 1, 0, 1, 0, 2, 1, 2, 3],
                          stop_points=range(0, 11, 2))
