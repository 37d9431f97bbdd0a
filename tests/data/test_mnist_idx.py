"""data.mnist: the IDX reader/writer and the MNIST split loader."""

import gzip
import os

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from data import mnist

_DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(_DTYPES).flatmap(
    lambda dt: hnp.arrays(dt, hnp.array_shapes(min_dims=1, max_dims=4, max_side=5),
                          elements={"allow_nan": False} if np.dtype(dt).kind == "f" else None)),
       st.booleans())
def test_write_then_read_idx_round_trips(tmp_path_factory, array, gzipped):
    path = tmp_path_factory.mktemp("idx") / ("a.idx" + (".gz" if gzipped else ""))
    mnist.write_idx(path, array)
    back = mnist.read_idx(path)
    assert back.dtype == array.dtype.newbyteorder("=")
    np.testing.assert_array_equal(back, array)


def test_idx_header_is_big_endian_as_the_mnist_files(tmp_path):
    path = mnist.write_idx(tmp_path / "x", np.zeros((2, 3, 4), np.uint8))
    raw = open(path, "rb").read()
    assert raw[:4] == bytes([0, 0, 0x08, 3])
    assert raw[4:16] == bytes([0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4])
    assert len(raw) == 16 + 24


def _write(tmp_path, split="train", n=5, gzipped=False):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    mnist.write_split(tmp_path, split, images, labels, gzipped=gzipped)
    return images, labels


@pytest.mark.parametrize("gzipped", [False, True])
def test_load_returns_scaled_nhwc_images_and_int64_labels(tmp_path, gzipped):
    images, labels = _write(tmp_path, "test", gzipped=gzipped)
    x, y = mnist.load(tmp_path, "test")
    assert x.shape == (5, 28, 28, 1) and x.dtype == torch.float32
    assert y.dtype == torch.int64 and y.tolist() == labels.tolist()
    np.testing.assert_allclose(x[..., 0].numpy(), images / 255.0, rtol=1e-6)


def test_load_flatten_gives_784_columns_in_row_major_order(tmp_path):
    images, _ = _write(tmp_path)
    x, _ = mnist.load(tmp_path, "train", flatten=True)
    assert x.shape == (5, 784)
    np.testing.assert_allclose(x.numpy(), images.reshape(5, 784) / 255.0, rtol=1e-6)


def test_missing_file_error_lists_expected_names_and_directory(tmp_path):
    _write(tmp_path, "train")
    with pytest.raises(FileNotFoundError) as info:
        mnist.load(tmp_path, "test")
    message = str(info.value)
    assert str(tmp_path) in message
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        assert name in message
    assert "t10k-images-idx3-ubyte[.gz] not found" in message


def test_missing_directory_is_reported(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        mnist.load(tmp_path / "nowhere", "train")


def test_bad_magic_number_names_the_file(tmp_path):
    _write(tmp_path, "train")
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(b"\x12\x34\x08\x03" + path.read_bytes()[4:])
    with pytest.raises(mnist.IDXFormatError, match="train-images-idx3-ubyte.*magic number"):
        mnist.load(tmp_path, "train")


def test_truncated_file_names_the_file_and_both_sizes(tmp_path):
    _write(tmp_path, "train")
    path = tmp_path / "train-labels-idx1-ubyte"
    path.write_bytes(path.read_bytes()[:-2])
    with pytest.raises(mnist.IDXFormatError, match=r"train-labels-idx1-ubyte.*\[5\].*3 data bytes"):
        mnist.load(tmp_path, "train")


def test_label_count_mismatch_raises(tmp_path):
    _write(tmp_path, "train", n=5)
    mnist.write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(4, np.uint8))
    with pytest.raises(mnist.IDXFormatError, match="expected 5 labels"):
        mnist.load(tmp_path, "train")


def test_corrupt_gzip_names_the_file(tmp_path):
    _write(tmp_path, "train")
    os.remove(tmp_path / "train-images-idx3-ubyte")
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"not gzip at all")
    with pytest.raises(mnist.IDXFormatError, match="train-images-idx3-ubyte.gz"):
        mnist.load(tmp_path, "train")


def test_unknown_split_raises(tmp_path):
    with pytest.raises(ValueError, match="'train' or 'test'"):
        mnist.load(tmp_path, "validation")


def test_write_idx_rejects_dtypes_idx_cannot_hold(tmp_path):
    with pytest.raises(ValueError, match="int64"):
        mnist.write_idx(tmp_path / "x", np.zeros(3, np.int64))


def test_dataset_yields_image_label_pairs(tmp_path):
    images, labels = _write(tmp_path, "t10k", n=3)
    elements = list(mnist.dataset(tmp_path, "test"))
    assert [int(y) for _, y in elements] == labels.tolist()
    assert all(x.shape == (28, 28, 1) for x, _ in elements)


def test_gzip_output_is_a_real_gzip_stream(tmp_path):
    path = mnist.write_idx(tmp_path / "x.gz", np.arange(3, dtype=np.uint8))
    assert gzip.open(path).read()[-3:] == bytes([0, 1, 2])


@pytest.mark.parametrize("gzipped", [False, True])
def test_dotted_idx_names_of_common_copies_are_found(tmp_path, gzipped):
    images, labels = _write(tmp_path, "train", gzipped=gzipped)
    for name in os.listdir(tmp_path):  # train-images-idx3-ubyte -> train-images.idx3-ubyte
        os.rename(tmp_path / name, tmp_path / name.replace("-idx", ".idx"))
    x, y = mnist.load(tmp_path, "train")
    assert y.tolist() == labels.tolist()
    np.testing.assert_allclose(x[..., 0].numpy(), images / 255.0, rtol=1e-6)


def test_canonical_name_wins_over_dotted_name(tmp_path):
    _write(tmp_path, "test")
    os.rename(tmp_path / "t10k-labels-idx1-ubyte", tmp_path / "t10k-labels.idx1-ubyte")
    mnist.write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.full(5, 7, np.uint8))
    _, y = mnist.load(tmp_path, "test")
    assert y.tolist() == [7] * 5
