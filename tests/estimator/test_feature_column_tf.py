"""Feature-column outputs against values computed by real TensorFlow 2.15.

The fixture ``fixtures/feature_column_tf.json`` is written by
``fixtures/make_feature_column_fixtures.py`` (run with TensorFlow); each case gives the
features, the column and TF's ``DenseFeatures``/``input_layer`` output.
"""

import json
import os

import numpy as np
import pytest
import torch

import estimator as est
from estimator.scope import ModelScope

fc = est.feature_column
HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "fixtures", "feature_column_tf.json")) as f:
    CASES = {c["name"]: c for c in json.load(f)["cases"]}


def _table_init(table):
    return lambda t: t.copy_(torch.tensor(table))


def build(spec, tmp_path):
    kind = spec["kind"]
    if kind == "vocab_list":
        kwargs = {k: spec[k] for k in ("num_oov_buckets", "default_value") if k in spec}
        return [fc.indicator_column(fc.categorical_column_with_vocabulary_list(
            spec["key"], spec["vocabulary_list"], **kwargs))]
    if kind == "vocab_file":
        path = tmp_path / "vocab.txt"
        path.write_text("\n".join(spec["lines"]) + "\n")
        return [fc.indicator_column(fc.categorical_column_with_vocabulary_file(
            spec["key"], str(path), vocabulary_size=spec["vocabulary_size"],
            num_oov_buckets=spec["num_oov_buckets"]))]
    if kind == "identity":
        return [fc.indicator_column(fc.categorical_column_with_identity(
            spec["key"], spec["num_buckets"], default_value=spec["default_value"]))]
    if kind == "hash":
        return [fc.indicator_column(fc.categorical_column_with_hash_bucket(
            spec["key"], spec["hash_bucket_size"], dtype=spec.get("dtype", "string")))]
    if kind == "bucketized":
        return [fc.bucketized_column(fc.numeric_column(spec["key"], shape=spec.get("shape", 1)),
                                     spec["boundaries"])]
    if kind == "numeric":
        return [fc.numeric_column(spec["key"], shape=spec["shape"])]
    if kind == "crossed":
        return [fc.indicator_column(fc.crossed_column(spec["keys"], spec["hash_bucket_size"]))]
    if kind == "crossed_columns":
        return [fc.indicator_column(fc.crossed_column([
            fc.bucketized_column(fc.numeric_column("x"), [0.0, 1.0, 2.0]),
            fc.categorical_column_with_vocabulary_list("city", ["paris", "rome"])],
            spec["hash_bucket_size"]))]
    if kind in ("embedding", "weighted_embedding"):
        cat = fc.categorical_column_with_identity(spec["key"], spec["num_buckets"])
        if kind == "weighted_embedding":
            cat = fc.weighted_categorical_column(cat, spec["weight_key"])
        return [fc.embedding_column(cat, len(spec["table"][0]), combiner=spec["combiner"],
                                    initializer=_table_init(spec["table"]),
                                    max_norm=spec.get("max_norm"))]
    if kind == "weighted_indicator":
        return [fc.indicator_column(fc.weighted_categorical_column(
            fc.categorical_column_with_identity(spec["key"], spec["num_buckets"]),
            spec["weight_key"]))]
    if kind == "order":
        return [fc.indicator_column(fc.categorical_column_with_vocabulary_list("w", ["a", "b"])),
                fc.numeric_column("b_num"), fc.bucketized_column(fc.numeric_column("c"), [1.0])]
    raise AssertionError(kind)


def as_features(features):
    """Numbers become tensors; strings stay lists (as ``Dataset.batch`` gives them)."""
    out = {}
    for key, value in features.items():
        flat = np.asarray(value, dtype=object).reshape(-1)
        out[key] = value if isinstance(flat[0], str) else torch.tensor(value)
    return out


@pytest.mark.parametrize("name", sorted(CASES))
def test_output_matches_tensorflow(name, tmp_path):
    case = CASES[name]
    columns = build(case["spec"], tmp_path)
    with ModelScope().call("infer"):
        out = fc.input_layer(as_features(case["features"]), columns)
    assert list(out.shape) == case["shape"]
    if "output" in case:
        np.testing.assert_allclose(out.detach().numpy(), np.array(case["output"]), rtol=1e-5, atol=1e-6)
    else:
        expected = np.zeros(case["shape"], dtype=np.float32)
        for row, col, value in case["nonzero"]:
            expected[row, col] = value
        np.testing.assert_array_equal(out.detach().numpy(), expected)


def test_fixture_covers_the_exact_behaviours():
    kinds = {c["spec"]["kind"] for c in CASES.values()}
    assert {"vocab_list", "vocab_file", "identity", "hash", "bucketized", "crossed",
            "embedding", "weighted_embedding"} <= kinds
