"""TextLineDataset: compression, filenames as a Dataset, parallel reads, resume."""

import gzip
import zlib

import pytest

import data
from resume_harness import check_save_load_state


@pytest.fixture
def files(tmp_path):
    contents = {"a": "a1\na2\na3\n", "b": "b1\r\nb2", "c": "c1\nc2\nc3\nc4\n"}
    paths = {}
    for name, text in contents.items():
        raw = text.encode()
        for suffix, kind, blob in (("", "", raw), (".gz", "GZIP", gzip.compress(raw)),
                                   (".z", "ZLIB", zlib.compress(raw))):
            (tmp_path / (name + suffix)).write_bytes(blob)
            paths.setdefault(kind, []).append(str(tmp_path / (name + suffix)))
    return paths


ALL = ["a1", "a2", "a3", "b1", "b2", "c1", "c2", "c3", "c4"]


@pytest.mark.parametrize("kind", ["", "GZIP", "ZLIB"])
def test_compression_types(files, kind):
    assert list(data.TextLineDataset(files[kind], compression_type=kind)) == ALL


@pytest.mark.parametrize("kind", ["", "ZLIB"])
def test_resume_in_compressed_and_plain_files(files, kind):
    check_save_load_state(lambda: data.TextLineDataset(files[kind], compression_type=kind,
                                                       buffer_size=4),
                          expected=ALL, stop_points=[0, 2, 4, 5, 9])


def test_filenames_as_a_dataset(files):
    names = data.Dataset.from_tensor_slices(files[""]).skip(1)
    assert list(data.TextLineDataset(names)) == ALL[3:]


def test_num_parallel_reads_interleaves_lines_one_at_a_time(files):
    ds = data.TextLineDataset(files[""], num_parallel_reads=2)
    # tf.data's order: files a and b in turn, then c takes b's place when b ends.
    assert list(ds) == ["a1", "b1", "a2", "b2", "a3", "c1", "c2", "c3", "c4"]
    check_save_load_state(lambda: data.TextLineDataset(files[""], num_parallel_reads=2),
                          stop_points=[0, 3, 6, 9])


def test_truncated_zlib_stream_is_an_error(tmp_path):
    (tmp_path / "t.z").write_bytes(zlib.compress(b"x\n" * 1000)[:-10])
    with pytest.raises(EOFError, match="truncated"):
        list(data.TextLineDataset(str(tmp_path / "t.z"), compression_type="ZLIB"))


def test_bad_filename_element(files):
    with pytest.raises(TypeError, match="an element of filenames is a int"):
        list(data.TextLineDataset(data.Dataset.range(2)))
