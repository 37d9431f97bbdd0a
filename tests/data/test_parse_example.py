"""parse_example / parse_single_example against the values TensorFlow parsed from the same
records (fixtures/expected.json)."""

import pytest
import torch
from hypothesis import given, settings, strategies as st

import data
from data.io import (FixedLenFeature, FixedLenSequenceFeature, SparseTensor, VarLenFeature,
                     parse_example, parse_single_example)
from tf_fixtures import assert_equal, expected, path

SPECS = {
    "fixed": ("fixed", FixedLenFeature([3], torch.int64)),
    "fixed_2d": ("fixed", FixedLenFeature([1, 3], torch.int64)),
    "opt": ("opt", FixedLenFeature([], torch.int64, default_value=-1)),
    "i": ("i", VarLenFeature(torch.int64)),
    "f": ("f", VarLenFeature(torch.float32)),
    "s": ("s", VarLenFeature(bytes)),
    "seq": ("seq", FixedLenSequenceFeature([2], torch.float32, allow_missing=True,
                                           default_value=-1.0)),
    "seq_scalar": ("f", FixedLenSequenceFeature([], torch.float32, allow_missing=True)),
    "s_seq": ("s", FixedLenSequenceFeature([], bytes, allow_missing=True, default_value=b"?")),
}
IMAGENET = {
    "image/encoded": FixedLenFeature([], bytes),
    "image/class/label": FixedLenFeature([], torch.int64),
    "image/class/text": FixedLenFeature([], bytes, default_value=""),
    "image/height": FixedLenFeature([1], torch.int64),
    "image/object/bbox/xmin": VarLenFeature(torch.float32),
    "image/object/bbox/label": VarLenFeature(torch.int64),
}


def _records(name):
    return list(data.TFRecordDataset(path(name)))


def _check(ours, theirs):
    """``ours`` equals TF's parse; a ``key:length`` entry stands for the lengths of ``key``."""
    compared = {k for k in theirs if not k.endswith(":length")}
    assert set(ours) == compared | {k[:-len(":length")] for k in theirs if k.endswith(":length")}
    for key in compared:
        assert_equal(ours[key], theirs[key])


@pytest.mark.parametrize("group", sorted(expected()["parse"]))
def test_parse_example_equals_tf(group):
    features = dict(SPECS[name] for name in group.split(","))
    records = _records("features.tfrecord")
    _check(parse_example(records, features), expected()["parse"][group]["batch"])


@pytest.mark.parametrize("group", sorted(expected()["parse"]))
def test_parse_single_example_equals_tf(group):
    features = dict(SPECS[name] for name in group.split(","))
    for record, want in zip(_records("features.tfrecord"), expected()["parse"][group]["single"]):
        _check(parse_single_example(record, features), want)


def test_imagenet_records_parse_as_tf():
    records = _records("imagenet.tfrecord")
    for record, want in zip(records, expected()["imagenet_parsed"]):
        parsed = parse_single_example(record, IMAGENET)
        assert len(parsed["image/encoded"]) == want["image/encoded:length"]["value"][0]
        _check(parsed, want)
    batch = parse_example(records[:4], IMAGENET)
    _check(batch, expected()["imagenet_batch"])
    assert [len(b) for b in batch["image/encoded"]] == \
        expected()["imagenet_batch"]["image/encoded:length"]["value"]


def test_imagenet_pipeline_decodes_the_pixels_tf_decodes():
    # TF's default dct_method "" is libjpeg's fast integer DCT (exact with simplejpeg only).
    fast = data.image.jpeg_decoder() == "simplejpeg"

    def parse(record):
        parsed = parse_single_example(record, IMAGENET)
        encoded = parsed["image/encoded"]
        return data.image.decode_jpeg(encoded, channels=3), \
            data.image.decode_jpeg(encoded, channels=3, dct_method="INTEGER_ACCURATE"), \
            parsed["image/class/label"]

    ds = data.TFRecordDataset(path("imagenet.tfrecord")).map(parse)
    for (image, accurate, label), info in zip(ds, expected()["imagenet"]):
        assert int(label) == info["label"]
        assert list(image.shape) == info["jpeg_shape"]
        assert accurate.flatten().tolist() == info["pixels_accurate"]
        assert image.flatten().tolist() == info["pixels" if fast else "pixels_accurate"]


@pytest.mark.parametrize("case", ["missing_required", "wrong_dtype", "wrong_length",
                                  "seq_not_multiple"])
def test_errors_carry_tfs_message(case):
    tf_message = expected()["parse_errors"][case]["message"]
    records = _records("features.tfrecord")
    calls = {
        "missing_required": lambda: parse_example(records, {"opt": FixedLenFeature([],
                                                                                   torch.int64)}),
        "wrong_dtype": lambda: parse_example(records, {"fixed": FixedLenFeature([3],
                                                                                torch.float32)}),
        "wrong_length": lambda: parse_example(records, {"fixed": FixedLenFeature([2],
                                                                                 torch.int64)}),
        "seq_not_multiple": lambda: parse_single_example(records[0], {
            "f": FixedLenSequenceFeature([2], torch.float32, allow_missing=True)}),
    }
    with pytest.raises(ValueError) as info:
        calls[case]()
    core = str(info.value).split("Name: <unknown>, ")[-1].rstrip(".")
    assert core.split(" [Op")[0] in tf_message, (str(info.value), tf_message)


def test_spec_errors():
    record = data.io.serialize_example({"a": 1})
    with pytest.raises(ValueError, match="allow_missing=True"):
        parse_single_example(record, {"a": FixedLenSequenceFeature([], torch.int64)})
    with pytest.raises(ValueError, match="dtype must be"):
        parse_single_example(record, {"a": FixedLenFeature([], torch.int32)})
    with pytest.raises(ValueError, match="default_value has 2 values"):
        parse_single_example(record, {"b": FixedLenFeature([3], torch.int64, [1, 2])})
    with pytest.raises(ValueError, match="not a serialized tf.train.Example"):
        parse_single_example(b"\xff\xff\xff", {"a": VarLenFeature(torch.int64)})
    with pytest.raises(ValueError, match="Name: rec7"):
        parse_example([record], {"b": FixedLenFeature([], torch.int64)}, example_names=["rec7"])


def test_defaults_fill_missing_features_and_str_dtype_decodes():
    record = data.io.serialize_example({"name": "zoë"})
    out = parse_single_example(record, {
        "name": FixedLenFeature([], str),
        "shape": FixedLenFeature([2], torch.float32, default_value=0.5),
        "tags": FixedLenFeature([2], bytes, default_value=["a", "b"])})
    assert out["name"] == "zoë"
    assert out["shape"].tolist() == [0.5, 0.5]
    assert out["tags"] == [b"a", b"b"]


def test_sparse_to_dense():
    record = data.io.serialize_example({"s": [b"x", b"y"], "i": [4, 5, 6]})
    batch = parse_example([record, data.io.serialize_example({"s": [b"z"]})], {
        "s": VarLenFeature(bytes), "i": VarLenFeature(torch.int64)})
    assert batch["s"].to_dense() == [[b"x", b"y"], [b"z", b""]]
    assert batch["i"].to_dense(default_value=-1).tolist() == [[4, 5, 6], [-1, -1, -1]]
    assert isinstance(batch["i"], SparseTensor)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.lists(st.integers(-2**63, 2**63 - 1), max_size=5), min_size=1, max_size=5))
def test_var_len_round_trip(rows):
    records = [data.io.serialize_example({"v": row}) for row in rows]
    sparse = parse_example(records, {"v": VarLenFeature(torch.int64)})["v"]
    dense = sparse.to_dense(default_value=0)
    width = max(len(r) for r in rows)
    assert dense.tolist() == [r + [0] * (width - len(r)) for r in rows]
    for record, row in zip(records, rows):
        single = parse_single_example(record, {"v": VarLenFeature(torch.int64)})["v"]
        assert single.values.tolist() == row
        assert single.indices.tolist() == [[i] for i in range(len(row))]


def test_example_protos_build_records_parsed_here():
    example = data.io.Example()
    example.features.feature["x"].float_list.value.extend([1.5, 2.5])
    parsed = parse_single_example(example.SerializeToString(),
                                  {"x": FixedLenFeature([2], torch.float32)})
    assert parsed["x"].tolist() == [1.5, 2.5]


def test_batched_records_parse_in_a_pipeline_and_sparse_elements_checkpoint():
    from resume_harness import check_save_load_state
    spec = {"image/class/label": FixedLenFeature([], torch.int64),
            "image/object/bbox/xmin": VarLenFeature(torch.float32)}
    batches = list(data.TFRecordDataset(path("imagenet.tfrecord")).batch(4)
                   .map(lambda records: parse_example(records, spec)))
    assert [b["image/class/label"].tolist() for b in batches] == [[100, 101, 102, 103],
                                                                [104, 105]]
    assert batches[0]["image/object/bbox/xmin"].dense_shape.tolist() == [4, 2]

    def make():  # SparseTensor elements in a shuffle buffer survive torch.load(weights_only)
        return data.TFRecordDataset(path("imagenet.tfrecord")).map(
            lambda r: parse_single_example(r, spec)).shuffle(3, seed=1)

    check_save_load_state(make, stop_points=[0, 2, 4])
