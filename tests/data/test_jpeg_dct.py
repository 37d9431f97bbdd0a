"""``decode_jpeg``'s ``dct_method``: TF's pixels exactly, for its default and each method.

The expected pixels were written by TF 2.21 (``fixtures/make_jpeg_dct_fixtures.py``).
"""

import io
import os
import warnings

import numpy as np
import pytest
from PIL import Image

import data
from data.image import DecodeError, decode_image, decode_jpeg

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "jpeg_dct.npz")
NAMES = ("c420", "c444", "gray")


@pytest.fixture(scope="module")
def tf_pixels():
    with np.load(FIXTURE) as f:
        return {k: f[k] for k in f.files}


def _jpeg(tf_pixels, name):
    return tf_pixels[f"{name}/jpeg"].tobytes()


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("channels", [0, 1, 3])
@pytest.mark.parametrize("ratio", [1, 2])
def test_accurate_dct_equals_tfs_on_both_decoders(monkeypatch, tf_pixels, name, channels, ratio):
    want = tf_pixels[f"{name}/INTEGER_ACCURATE/{channels}/{ratio}"]
    got = decode_jpeg(_jpeg(tf_pixels, name), channels, ratio, dct_method="INTEGER_ACCURATE")
    assert np.array_equal(got.numpy(), want)
    monkeypatch.setenv(data.image.DECODER_ENV_VAR, "pil")
    got = decode_jpeg(_jpeg(tf_pixels, name), channels, ratio, dct_method="INTEGER_ACCURATE")
    assert np.array_equal(got.numpy(), want)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("channels", [0, 1, 3])
@pytest.mark.parametrize("ratio", [1, 2])
def test_default_and_fast_dct_equal_tfs_default(tf_pixels, name, channels, ratio):
    pytest.importorskip("simplejpeg")
    want = tf_pixels[f"{name}/default/{channels}/{ratio}"]
    raw = _jpeg(tf_pixels, name)
    assert np.array_equal(decode_jpeg(raw, channels, ratio).numpy(), want)
    assert np.array_equal(decode_jpeg(raw, channels, ratio, dct_method="INTEGER_FAST").numpy(),
                          want)
    if ratio == 1:
        assert not np.array_equal(
            decode_jpeg(raw, channels, ratio, dct_method="INTEGER_ACCURATE").numpy(), want)


@pytest.mark.parametrize("name", NAMES)
def test_decode_image_decodes_jpegs_as_tfs(tf_pixels, name):
    pytest.importorskip("simplejpeg")
    got = decode_image(_jpeg(tf_pixels, name))
    assert np.array_equal(got.numpy(), tf_pixels[f"{name}/decode_image"])


def test_decode_and_crop_jpeg_takes_the_same_dct(tf_pixels):
    pytest.importorskip("simplejpeg")
    raw = _jpeg(tf_pixels, "c444")
    for method in ("", "INTEGER_ACCURATE"):
        crop = data.image.decode_and_crop_jpeg(raw, [0, 0, 4, 5], channels=3,
                                                   dct_method=method)
        whole = tf_pixels[f"c444/{method or 'default'}/3/1"]
        assert np.array_equal(crop.numpy(), whole[:4, :5])


def test_unknown_dct_method_is_refused(tf_pixels):
    with pytest.raises(ValueError, match="dct_method must be one of.*'FAST'"):
        decode_jpeg(_jpeg(tf_pixels, "gray"), dct_method="FAST")


@pytest.mark.parametrize("method", ["", "INTEGER_FAST", "INTEGER_ACCURATE"])
def test_the_decompression_bomb_guard_applies_to_every_dct_method(monkeypatch, method):
    buf = io.BytesIO()
    Image.new("RGB", (40, 30)).save(buf, "JPEG")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)
    with pytest.raises(DecodeError, match="decompression bomb"):
        decode_jpeg(buf.getvalue(), dct_method=method)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert decode_jpeg(buf.getvalue(), dct_method=method).shape == (30, 40, 3)
    assert any(issubclass(w.category, Image.DecompressionBombWarning) for w in caught)
