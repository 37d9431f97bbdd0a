"""``import data`` leaves the TFRecord and protobuf code to its first use; every name still works."""

import pytest

import data


def test_import_data_leaves_tfrecord_and_protobuf_for_later(modules_after):
    modules = modules_after("import data")
    assert not any(m.startswith(("data.tfrecord", "google.protobuf")) for m in modules)


def test_tfrecord_names_import_their_modules_on_first_use(modules_after):
    modules = modules_after("import data\ndata.io.Example")
    assert "data.tfrecord._proto" in modules
    modules = modules_after("import data\ndata.tfrecord.parsing")
    assert "data.tfrecord.parsing" in modules


def test_every_public_name_resolves_as_before():
    import data.tfrecord as tfrecord

    assert data.TFRecordDataset is tfrecord.TFRecordDataset
    for name in data.io.__all__:
        assert getattr(data.io, name) is not None
    assert data.io.parse_example is tfrecord.parse_example
    assert data.io.SparseTensor is tfrecord.SparseTensor
    assert set(data.io.__all__) <= set(dir(data.io))
    assert "TFRecordDataset" in dir(data)
    example = data.io.Example()
    example.features.feature["x"].int64_list.value.append(3)
    parsed = data.io.parse_single_example(example.SerializeToString(),
                                          {"x": data.io.FixedLenFeature([], "int64")})
    assert int(parsed["x"]) == 3


def test_unknown_names_raise_attribute_error():
    with pytest.raises(AttributeError, match="'data' has no attribute 'no_such_name'"):
        data.no_such_name
    with pytest.raises(AttributeError, match="'data.io' has no attribute 'no_such_name'"):
        data.io.no_such_name
