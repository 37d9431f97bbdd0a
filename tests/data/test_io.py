"""``data.io.read_file``: bytes out, the path remembered, missing files named."""

import os
import pickle

import pytest

import data


def test_read_file_returns_the_file_bytes(tmp_path):
    path = tmp_path / "blob.bin"
    path.write_bytes(b"\x00\x01hello")
    contents = data.io.read_file(str(path))
    assert isinstance(contents, bytes)
    assert contents == b"\x00\x01hello"
    assert contents.path == str(path)


def test_read_file_accepts_pathlike_and_bytes_paths(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"abc")
    assert data.io.read_file(path) == b"abc"
    assert data.io.read_file(str(path).encode()) == b"abc"


def test_read_file_result_behaves_as_bytes_and_pickles_with_path(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"abcdef")
    contents = data.io.read_file(str(path))
    assert contents[1:3] == b"bc" and hash(contents) == hash(b"abcdef")
    again = pickle.loads(pickle.dumps(contents))
    assert again == b"abcdef" and again.path == str(path)


def test_read_file_missing_raises_file_not_found_naming_path(tmp_path):
    missing = str(tmp_path / "nope.jpg")
    with pytest.raises(FileNotFoundError, match="nope.jpg"):
        data.io.read_file(missing)


def test_read_file_directory_raises_naming_path(tmp_path):
    with pytest.raises(IsADirectoryError, match=str(tmp_path.name)):
        data.io.read_file(str(tmp_path))


def test_read_file_reads_large_files_whole(tmp_path):
    blob = bytes(range(256)) * 5000  # 1.28 MB
    path = tmp_path / "big.bin"
    path.write_bytes(blob)
    assert data.io.read_file(str(path)) == blob


def test_read_file_reads_empty_files(tmp_path):
    path = tmp_path / "empty.bin"
    path.write_bytes(b"")
    assert data.io.read_file(str(path)) == b""


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux procfs")
def test_read_file_reads_files_that_report_no_size():
    # procfs files report st_size 0 but have contents: read until end of file.
    assert os.stat("/proc/self/status").st_size == 0
    assert b"Name:" in data.io.read_file("/proc/self/status")
