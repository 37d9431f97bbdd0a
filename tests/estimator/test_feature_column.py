"""Feature columns through the public API: inputs, layout, variables, errors, invariants."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import estimator as est
from estimator.feature_column._hash import fingerprint64
from estimator.scope import ModelScope

fc = est.feature_column


def run(features, columns, fn=None, **kwargs):
    with ModelScope().call("infer"):
        return (fn or fc.input_layer)(features, columns, **kwargs).detach()


def test_numeric_column_flattens_and_normalizes():
    col = fc.numeric_column("x", shape=(2, 2), normalizer_fn=lambda t: t - 1)
    out = run({"x": torch.arange(8.0).reshape(2, 2, 2)}, [col])
    assert out.tolist() == [[-1.0, 0.0, 1.0, 2.0], [3.0, 4.0, 5.0, 6.0]]


@pytest.mark.parametrize("value", [np.array([1.0, 2.0]), [1.0, 2.0],
                                   torch.tensor([1.0, 2.0], dtype=torch.float64)])
def test_numeric_inputs_numpy_list_tensor(value):
    out = run({"x": value}, [fc.numeric_column("x")])
    assert out.dtype == torch.float32 and out.tolist() == [[1.0], [2.0]]


def test_pandas_columns_are_accepted():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"x": [1.0, 2.0], "c": ["b", "a"]})
    cols = [fc.numeric_column("x"),
            fc.indicator_column(fc.categorical_column_with_vocabulary_list("c", ["a", "b"]))]
    out = run({k: frame[k] for k in frame}, cols)
    assert out.tolist() == [[0.0, 1.0, 1.0], [1.0, 0.0, 2.0]]


@pytest.mark.parametrize("value", [["b", "a"], np.array(["b", "a"]), [b"b", b"a"],
                                   np.array([["b"], ["a"]], dtype=object)])
def test_string_inputs_in_every_form(value):
    col = fc.indicator_column(fc.categorical_column_with_vocabulary_list("c", ["a", "b"]))
    assert run({"c": value}, [col]).tolist() == [[0.0, 1.0], [1.0, 0.0]]


def test_ragged_string_lists_are_multivalent():
    col = fc.indicator_column(fc.categorical_column_with_vocabulary_list("c", ["a", "b", "c"]))
    assert run({"c": [["a", "c"], ["b"], []]}, [col]).tolist() == [
        [1.0, 0.0, 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]


def test_integer_vocabulary_and_identity():
    vocab = fc.indicator_column(fc.categorical_column_with_vocabulary_list("n", [5, 7]))
    ident = fc.indicator_column(fc.categorical_column_with_identity("i", 3))
    out = run({"n": torch.tensor([7, 5, 6]), "i": np.array([2, 0, 1])}, [vocab, ident])
    assert out.tolist() == [[0, 0, 1, 0, 1], [1, 0, 0, 1, 0], [0, 1, 0, 0, 0]]


def test_input_layer_orders_columns_by_name_and_fills_dicts():
    cols = [fc.numeric_column("z"), fc.numeric_column("a")]
    outputs, variables = {}, {}
    out = run({"z": [1.0], "a": [2.0]}, cols, cols_to_output_tensors=outputs,
              cols_to_vars=variables)
    assert out.tolist() == [[2.0, 1.0]]
    assert outputs[cols[0]].tolist() == [[1.0]] and variables[cols[1]] == []


def test_embedding_variables_live_in_the_scope_and_are_reused():
    col = fc.embedding_column(fc.categorical_column_with_identity("i", 10), 4)
    scope = ModelScope()
    with scope.call("train"):
        a = fc.input_layer({"i": torch.tensor([1, 2])}, [col])
    with scope.call("train"):
        b = fc.input_layer({"i": torch.tensor([1, 2])}, [col])
    assert scope.variable_names() == ["input_layer/i_embedding/embedding_weights"]
    assert torch.equal(a, b) and a.requires_grad
    table = dict(scope.root.named_parameters())["input_layer.i_embedding.embedding_weights"]
    assert table.shape == (10, 4)
    assert float(table.detach().abs().max()) <= 2 / 4 ** 0.5  # truncated normal, 2 stddev


def test_embedding_without_a_model_scope_is_a_clear_error():
    col = fc.embedding_column(fc.categorical_column_with_identity("i", 10), 4)
    with pytest.raises(RuntimeError, match="'i_embedding' has variables.*model_fn"):
        fc.input_layer({"i": torch.tensor([1])}, [col])


def test_shared_embeddings_share_one_table():
    a = fc.categorical_column_with_identity("a", 5)
    b = fc.categorical_column_with_identity("b", 5)
    ea, eb = fc.shared_embeddings([a, b], 3, combiner="sum")
    assert (ea.name, eb.name) == ("a_shared_embedding", "b_shared_embedding")
    scope = ModelScope()
    with scope.call("infer"):
        out = fc.input_layer({"a": torch.tensor([2]), "b": torch.tensor([2])}, [ea, eb])
    assert scope.variable_names() == ["input_layer/a_b_shared_embedding/embedding_weights"]
    assert torch.equal(out[:, :3], out[:, 3:])
    with pytest.raises(ValueError, match="same num_buckets"):
        fc.shared_embeddings([a, fc.categorical_column_with_identity("c", 6)], 3)


def test_linear_model_variables_and_value():
    cols = [fc.numeric_column("x", shape=(2,)), fc.categorical_column_with_identity("i", 3)]
    scope = ModelScope()
    with scope.call("train"):
        zero = fc.linear_model({"x": torch.ones(2, 2), "i": torch.tensor([[0, 2], [1, -1]])},
                               cols, units=2)
    assert zero.tolist() == [[0.0, 0.0], [0.0, 0.0]]
    assert sorted(scope.variable_names()) == ["linear_model/bias_weights",
                                              "linear_model/i/weights", "linear_model/x/weights"]
    params = dict(scope.root.named_parameters())
    with torch.no_grad():
        params["linear_model.i.weights"].copy_(torch.tensor([[1.0, 0], [2, 0], [3, 0]]))
        params["linear_model.x.weights"].fill_(0.5)
        params["linear_model.bias_weights"].copy_(torch.tensor([10.0, 20.0]))
    with scope.call("train"):
        out = fc.linear_model({"x": torch.ones(2, 2), "i": torch.tensor([[0, 2], [1, -1]])},
                              cols, units=2, sparse_combiner="mean")
    assert out.tolist() == [[1 + 2 + 10, 1 + 20], [1 + 2 + 10, 1 + 20]]


def test_bucketized_as_categorical_in_linear_model_offsets_ids():
    col = fc.bucketized_column(fc.numeric_column("x", shape=(2,)), [0.0])
    scope = ModelScope()
    with scope.call("train"):
        fc.linear_model({"x": torch.tensor([[-1.0, 1.0]])}, [col])
    params = dict(scope.root.named_parameters())
    assert params["linear_model.x_bucketized.weights"].shape == (4, 1)


def test_cross_of_columns_and_keys_names():
    col = fc.crossed_column([fc.bucketized_column(fc.numeric_column("age"), [30.0]), "job"], 10)
    assert col.name == "age_bucketized_X_job" and col.keys == ("age", "job")


@pytest.mark.parametrize("features, columns, error, match", [
    ({"y": [1.0]}, [fc.numeric_column("x")], KeyError,
     r"'x' needs the feature 'x'.*keys: \['y'\]"),
    ({"x": ["a"]}, [fc.numeric_column("x")], TypeError, "expects numbers for feature 'x'"),
    ({"x": torch.ones(2, 3)}, [fc.numeric_column("x", shape=(2,))], ValueError,
     r"shape \(2,\).*3 values per example"),
    ({"c": torch.tensor([1])}, [fc.indicator_column(
        fc.categorical_column_with_hash_bucket("c", 5))], TypeError,
     "'c' has dtype string but feature 'c' is a torch.int64 tensor"),
    ({"c": ["a"]}, [fc.indicator_column(fc.categorical_column_with_identity("c", 5))],
     TypeError, "integer dtype but feature 'c' holds strings"),
    ({"c": torch.tensor([1.5])}, [fc.indicator_column(
        fc.categorical_column_with_identity("c", 5))], TypeError, "needs integer ids"),
    ({"c": torch.tensor([7])}, [fc.indicator_column(
        fc.categorical_column_with_identity("c", 5))], ValueError, r"ids \[7\] outside \[0, 5\)"),
    ({"c": torch.tensor([1])}, [fc.categorical_column_with_identity("c", 5)], ValueError,
     "wrap the categorical column 'c'"),
    ({"c": torch.tensor([1])}, "c", ValueError, "must be a list of feature columns"),
])
def test_errors_name_the_column_and_the_key(features, columns, error, match):
    with pytest.raises(error, match=match):
        run(features, columns)


@pytest.mark.parametrize("make, match", [
    (lambda: fc.numeric_column("x", shape=(0,)), "positive"),
    (lambda: fc.bucketized_column(fc.numeric_column("x"), [1.0, 0.0]), "sorted"),
    (lambda: fc.bucketized_column(fc.categorical_column_with_identity("x", 2), [1.0]),
     "numeric_column"),
    (lambda: fc.categorical_column_with_vocabulary_list("c", ["a", "a"]), "duplicate"),
    (lambda: fc.categorical_column_with_vocabulary_list("c", ["a"], default_value=0,
                                                        num_oov_buckets=2), "both"),
    (lambda: fc.categorical_column_with_vocabulary_file("c", "/nonexistent/v.txt"),
     "does not exist"),
    (lambda: fc.categorical_column_with_identity("c", 0), "num_buckets"),
    (lambda: fc.categorical_column_with_hash_bucket("c", 1), "hash_bucket_size"),
    (lambda: fc.crossed_column(["a"], 10), "at least 2"),
    (lambda: fc.crossed_column([fc.categorical_column_with_hash_bucket("a", 5), "b"], 10),
     "hashed categorical"),
    (lambda: fc.embedding_column(fc.categorical_column_with_identity("c", 3), 2,
                                 combiner="max"), "combiner"),
    (lambda: fc.indicator_column(fc.numeric_column("x")), "categorical column"),
    (lambda: fc.input_layer({}, [fc.numeric_column("x"), fc.numeric_column("x", shape=2)]),
     "duplicate feature column name 'x'"),
])
def test_bad_column_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_vocabulary_file_with_integer_dtype(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("10\n20\n30\n")
    col = fc.categorical_column_with_vocabulary_file("n", str(path), dtype="int64",
                                                     num_oov_buckets=1)
    assert col.num_buckets == 4
    out = run({"n": torch.tensor([20, 99])}, [fc.indicator_column(col)])
    assert out.tolist() == [[0, 1, 0, 0], [0, 0, 0, 1]]


words = st.lists(st.text(max_size=12), min_size=1, max_size=8)


@settings(max_examples=40, deadline=None)
@given(words, st.integers(2, 50))
def test_hash_bucket_ids_are_fingerprint_modulo_size(values, size):
    col = fc.indicator_column(fc.categorical_column_with_hash_bucket("w", size))
    out = run({"w": [[v] for v in values]}, [col])
    for row, v in zip(out, values):
        if v == "":
            assert row.sum() == 0
        else:
            assert row.argmax().item() == fingerprint64(v) % size and row.sum() == 1


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["a", "b", "c", "zz", ""]), min_size=1, max_size=4),
                min_size=1, max_size=6), st.integers(0, 3))
def test_indicator_counts_every_present_value_once(rows, oov):
    col = fc.categorical_column_with_vocabulary_list("w", ["a", "b", "c"], num_oov_buckets=oov)
    out = run({"w": rows}, [fc.indicator_column(col)])
    for row, values in zip(out, rows):
        present = [v for v in values if v and (v != "zz" or oov)]
        assert row.sum().item() == len(present)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-10, 10, width=32), min_size=1, max_size=10),
       st.lists(st.floats(-5, 5), min_size=1, max_size=5, unique=True))
def test_bucketized_is_one_hot_of_bisect_right(values, boundaries):
    import bisect
    boundaries = sorted(boundaries)
    col = fc.bucketized_column(fc.numeric_column("x"), boundaries)
    values = [v + 0.0 for v in values]  # -0.0 -> 0.0: bisect orders them apart, floats don't
    out = run({"x": torch.tensor(values, dtype=torch.float32)}, [col])
    assert out.argmax(1).tolist() == [bisect.bisect_right(boundaries, v) for v in values]
    assert out.sum(1).tolist() == [1.0] * len(values)
