"""FixedLengthRecordDataset and decode_raw (tf.data's way of reading raw binary files)."""

import gzip
import zlib

import numpy as np
import pytest
import torch

import data
from resume_harness import check_save_load_state
from tf_fixtures import expected, value

_DTYPES = {"uint8": torch.uint8, "int16": torch.int16, "int32": torch.int32,
           "float32": torch.float32}
RAW = expected()["raw"]


@pytest.mark.parametrize("case", RAW, ids=[f"{c['dtype']}-{c['kwargs']}" for c in RAW])
def test_decode_raw_equals_tf(case):
    raw = case["bytes"]
    raw = bytes(raw) if not isinstance(raw[0], list) else [bytes(r) for r in raw]
    if case.get("error"):
        with pytest.raises(ValueError, match="length 3 that is not a multiple of 2"):
            data.io.decode_raw(raw, _DTYPES[case["dtype"]], **case["kwargs"])
        return
    ours = data.io.decode_raw(raw, _DTYPES[case["dtype"]], **case["kwargs"])
    want = value(case["result"])
    assert ours.dtype == want.dtype and torch.equal(ours, want)


def test_decode_raw_errors():
    with pytest.raises(ValueError, match="element 1 has size 2 != 4"):
        data.io.decode_raw([b"abcd", b"ab"], torch.uint8)
    with pytest.raises(TypeError, match="out_type"):
        data.io.decode_raw(b"ab", "uint8")
    with pytest.raises(ValueError, match="fixed_length"):
        data.io.decode_raw(b"ab", torch.int16, fixed_length=3)
    assert data.io.decode_raw(b"", torch.float32).shape == (0,)


def _official_mnist_dataset(directory, images_file, labels_file):
    """The input pipeline of the official TF MNIST model (official/mnist/dataset.py), ported:
    ``tf.`` -> ``data.``/``torch``; the structure is the original's."""
    def decode_image(image):
        image = data.io.decode_raw(image, torch.uint8)
        image = image.to(torch.float32)
        image = torch.reshape(image, [784])
        return image / 255.0

    def decode_label(label):
        label = data.io.decode_raw(label, torch.uint8)
        label = torch.reshape(label, [])
        return label.to(torch.int32)

    images = data.FixedLengthRecordDataset(
        f"{directory}/{images_file}", 28 * 28, header_bytes=16).map(decode_image)
    labels = data.FixedLengthRecordDataset(
        f"{directory}/{labels_file}", 1, header_bytes=8).map(decode_label)
    return data.Dataset.zip((images, labels))


def test_official_mnist_pipeline_reads_idx_files(tmp_path):
    rng = np.random.RandomState(0)
    images = rng.randint(0, 256, (5, 28, 28)).astype(np.uint8)
    labels = np.array([3, 1, 4, 1, 5], np.uint8)
    data.mnist.write_split(str(tmp_path), "test", images, labels)
    ds = _official_mnist_dataset(str(tmp_path), "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
    out = list(ds.batch(5))
    (image_batch, label_batch), = out
    assert image_batch.shape == (5, 784) and label_batch.dtype == torch.int32
    assert torch.equal(image_batch, torch.from_numpy(images.reshape(5, 784)).float() / 255.0)
    assert label_batch.tolist() == [3, 1, 4, 1, 5]


def test_header_footer_and_compression(tmp_path):
    body = bytes(range(12))
    contents = b"HEAD" + body + b"FT"
    (tmp_path / "r.bin").write_bytes(contents)
    (tmp_path / "r.bin.gz").write_bytes(gzip.compress(contents))
    (tmp_path / "r.bin.z").write_bytes(zlib.compress(contents))
    want = [body[i:i + 3] for i in range(0, 12, 3)]
    for name, kind in (("r.bin", None), ("r.bin.gz", "GZIP"), ("r.bin.z", "ZLIB")):
        ds = data.FixedLengthRecordDataset(str(tmp_path / name), 3, header_bytes=4,
                                           footer_bytes=2, compression_type=kind)
        assert list(ds) == want, name


def test_body_not_a_multiple_of_the_record_is_an_error_naming_the_file(tmp_path):
    (tmp_path / "odd.bin").write_bytes(b"HH" + bytes(7) + b"F")
    ds = data.FixedLengthRecordDataset(str(tmp_path / "odd.bin"), 2, header_bytes=2,
                                       footer_bytes=1)
    with pytest.raises(ValueError, match="odd.bin.* has 10 bytes.*not a whole number of 2-byte"):
        list(ds)


def test_resume_across_files(tmp_path):
    for i in range(3):
        (tmp_path / f"{i}.bin").write_bytes(b"H" + bytes([i] * 2 * (i + 2)))
    files = [str(tmp_path / f"{i}.bin") for i in range(3)]
    stream = check_save_load_state(
        lambda: data.FixedLengthRecordDataset(files, 2, header_bytes=1),
        stop_points=[0, 1, 2, 4, 6, 9])
    assert len(stream) == 2 + 3 + 4
    check_save_load_state(
        lambda: data.FixedLengthRecordDataset(files, 2, header_bytes=1, num_parallel_reads=2),
        stop_points=[0, 3, 7])
