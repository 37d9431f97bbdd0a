"""TFRecordDataset and TFRecordWriter: TF's framing, checksums, compression and resume."""

import os
import struct

import pytest
import torch
from hypothesis import given, settings, strategies as st

import data
from data.tfrecord import _crc
from resume_harness import check_save_load_state
from tf_fixtures import expected, path

FILES = {"": "imagenet.tfrecord", "GZIP": "imagenet.tfrecord.gz", "ZLIB": "imagenet.tfrecord.zlib"}


def _records(name, compression=""):
    return list(data.TFRecordDataset(path(name), compression_type=compression))


# -- checksums ---------------------------------------------------------------------------------
def test_crc32c_standard_vector():
    assert _crc.crc32c(b"123456789") == 0xE3069283
    assert _crc._crc32c_loop(b"123456789") == 0xE3069283
    assert _crc._crc32c_lanes(b"123456789" * 100) == _crc._crc32c_loop(b"123456789" * 100)


@settings(max_examples=40, deadline=None)
@given(st.binary(min_size=4, max_size=5000))
def test_crc32c_lane_implementation_equals_table_loop(payload):
    assert _crc._crc32c_lanes(payload) == _crc._crc32c_loop(payload)


def test_masked_crc_matches_tf_files():
    raw = open(path("imagenet.tfrecord"), "rb").read()
    length, length_crc = struct.unpack("<QI", raw[:12])
    assert _crc.masked_crc32c(raw[:8]) == length_crc
    assert _crc.masked_crc32c(raw[12:12 + length]) == struct.unpack(
        "<I", raw[12 + length:16 + length])[0]


# -- reading TF's files ------------------------------------------------------------------------
@pytest.mark.parametrize("compression", ["GZIP", "ZLIB"])
def test_compressed_files_written_by_tf_hold_the_same_records(compression):
    plain = _records(FILES[""])
    assert len(plain) == len(expected()["imagenet"]) == 6
    assert _records(FILES[compression], compression) == plain


def test_records_are_the_examples_tf_wrote():
    records = _records(FILES[""])
    for record, info in zip(records, expected()["imagenet"]):
        parsed = data.io.parse_single_example(record, {
            "image/class/label": data.io.FixedLenFeature([], torch.int64),
            "image/height": data.io.FixedLenFeature([], torch.int64)})
        assert int(parsed["image/class/label"]) == info["label"]
        assert int(parsed["image/height"]) == info["height"]


def test_compressed_file_read_without_compression_type_is_a_data_loss_error():
    with pytest.raises(data.io.DataLossError, match="corrupted record at 0 .*compression_type"):
        _records(FILES["GZIP"])


def test_corrupt_record_names_file_and_tf_offset():
    corrupt = expected()["corrupt"]
    offset = corrupt["third_record_start"] + 12
    assert f"corrupted record at {offset}" in corrupt["error"]["message"]  # TF's offset
    it = iter(data.TFRecordDataset(path("corrupt.tfrecord")))
    assert len([next(it), next(it)]) == 2
    with pytest.raises(data.io.DataLossError, match=f"corrupted record at {offset} in .*corrupt"):
        next(it)
    with pytest.raises(StopIteration):  # as TF, the rest of the file is skipped
        next(it)


def test_ignore_errors_skips_the_rest_of_a_corrupt_file_as_tf():
    ds = data.TFRecordDataset([path("corrupt.tfrecord"), path("corrupt.tfrecord")])
    it = iter(ds.ignore_errors())
    assert len(list(it)) == expected()["corrupt"]["ignore_errors_count"] == 4
    assert it.num_ignored == 2


def _framed(records):
    return b"".join(data.tfrecord._framing.frame(r) for r in records)


def test_truncated_and_length_corrupted_records(tmp_path):
    raw = _framed([b"a" * 10, b"b" * 10, b"c" * 10])
    cases = {"trunc_data": (raw[:26 + 20], "truncated record at 26"),
             "trunc_header": (raw[:26 + 5], "truncated record at 26"),
             "bad_length": (raw[:26] + bytes([raw[26] ^ 1]) + raw[27:], "corrupted record at 26")}
    for name, (contents, message) in cases.items():
        (tmp_path / name).write_bytes(contents)
        it = iter(data.TFRecordDataset(str(tmp_path / name)))
        assert next(it) == b"a" * 10
        with pytest.raises(data.io.DataLossError, match=message) as info:
            next(it)
        assert info.value.offset == 26 and info.value.path.endswith(name)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="TFRecordDataset: no such file .*nope"):
        list(data.TFRecordDataset(str(tmp_path / "nope.tfrecord")))


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="compression_type"):
        data.TFRecordDataset("x", compression_type="BZIP2")
    with pytest.raises(ValueError, match="buffer_size"):
        data.TFRecordDataset("x", buffer_size=-1)
    with pytest.raises(TypeError, match=r"filenames\[1\] is a int"):
        data.TFRecordDataset(["x", 3])


# -- writing -----------------------------------------------------------------------------------
def test_writer_output_is_byte_identical_to_tf(tmp_path):
    out = str(tmp_path / "copy.tfrecord")
    with data.io.TFRecordWriter(out) as writer:
        for record in _records(FILES[""]):
            writer.write(record)
    assert open(out, "rb").read() == open(path(FILES[""]), "rb").read()


@pytest.mark.parametrize("options", ["GZIP", "ZLIB",
                                     data.io.TFRecordOptions("GZIP", compression_level=1),
                                     data.io.TFRecordOptions(compression_type="ZLIB",
                                                             window_bits=10)])
def test_writer_compression_round_trips(tmp_path, options):
    kind = data.io.TFRecordOptions.get_compression_type_string(options)
    out = str(tmp_path / "c.tfrecord")
    records = [os.urandom(n) for n in (0, 1, 1000, 70000)]
    with data.io.TFRecordWriter(out, options) as writer:
        for r in records:
            writer.write(r)
    assert _records(out, kind) == records
    with pytest.raises(data.io.DataLossError):
        _records(out)  # compressed bytes are not TFRecord framing


def test_writer_flush_makes_records_readable_before_close(tmp_path):
    out = str(tmp_path / "f.tfrecord.gz")
    writer = data.io.TFRecordWriter(out, "GZIP")
    writer.write(b"one")
    writer.flush()
    assert list(data.TFRecordDataset(out, "GZIP").take(1)) == [b"one"]
    writer.close()
    writer.close()
    with pytest.raises(ValueError, match="closed"):
        writer.write(b"two")


# -- filenames, parallel reads, resume ---------------------------------------------------------
def test_num_parallel_reads_interleaves_records_in_tfs_order():
    ds = data.TFRecordDataset([path("features.tfrecord"), path(FILES[""])],
                              num_parallel_reads=2)
    heads = [r[:12].decode("latin-1") for r in ds]
    assert heads == expected()["num_parallel_reads"]


def test_filenames_as_a_dataset(tmp_path):
    for i in range(3):
        with data.io.TFRecordWriter(str(tmp_path / f"{i}.tfrecord")) as w:
            w.write(b"file%d" % i)
    files = data.Dataset.list_files(str(tmp_path / "*.tfrecord"), shuffle=False)
    assert list(data.TFRecordDataset(files)) == [b"file0", b"file1", b"file2"]


@pytest.mark.parametrize("compression", ["", "GZIP", "ZLIB"])
def test_resume_at_the_exact_record(compression):
    files = [path(FILES[compression])] * 2
    check_save_load_state(lambda: data.TFRecordDataset(files, compression_type=compression),
                          stop_points=[0, 1, 5, 6, 7, 12])


def test_resume_with_parallel_reads_and_shuffled_files(tmp_path):
    for i in range(4):
        with data.io.TFRecordWriter(str(tmp_path / f"{i}.tfrecord")) as w:
            for j in range(3 + i):
                w.write(b"%d-%d" % (i, j))

    def make():
        files = data.Dataset.list_files(str(tmp_path / "*.tfrecord"), seed=3)
        return data.TFRecordDataset(files, num_parallel_reads=2)

    stream = check_save_load_state(make, stop_points=[0, 3, 8, 18])
    assert len(stream) == 3 + 4 + 5 + 6


def test_resume_after_a_corrupt_record_with_ignore_errors():
    files = [path("corrupt.tfrecord"), path(FILES[""])]
    stream = check_save_load_state(
        lambda: data.TFRecordDataset(files).ignore_errors(), stop_points=[1, 2, 3, 5])
    assert len(stream) == 2 + 6


def test_reads_and_writes_without_the_crc_package(monkeypatch, tmp_path):
    monkeypatch.setattr(_crc, "_google_crc32c", None)
    records = _records(FILES[""])
    out = str(tmp_path / "copy.tfrecord")
    with data.io.TFRecordWriter(out) as writer:
        for record in records:
            writer.write(record)
    assert open(out, "rb").read() == open(path(FILES[""]), "rb").read()
    with pytest.raises(data.io.DataLossError):
        _records("corrupt.tfrecord")


def test_parallel_reads_skip_the_rest_of_a_corrupt_file_only():
    files = [path("corrupt.tfrecord"), path(FILES[""])]
    it = iter(data.TFRecordDataset(files, num_parallel_reads=2).ignore_errors())
    assert len(list(it)) == 2 + 6 and it.num_ignored == 1
