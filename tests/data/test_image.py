"""``data.image``: decoding, dtype conversion and resizing against straightforward references."""

import io
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import data
from data.image import (DecodeError, convert_image_dtype, decode_image, decode_jpeg,
                        decode_png, resize)


def _smooth_rgb(width, height, seed=0):
    """A smooth image (gradients + a blob): JPEG keeps it close, DCT scaling too."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    channels = []
    for c in range(3):
        fx, fy, phase = rng.uniform(0.5, 2.0), rng.uniform(0.5, 2.0), rng.uniform(0, 6)
        channels.append(127 + 100 * np.sin(fx * x / width * 3 + fy * y / height * 3 + phase))
    return Image.fromarray(np.stack(channels, -1).clip(0, 255).astype(np.uint8))


def _encode(image, fmt, **kw):
    buf = io.BytesIO()
    image.save(buf, fmt, **kw)
    return buf.getvalue()


# -- decoding ----------------------------------------------------------------------------------
def test_decode_jpeg_accurate_dct_matches_pillow_full_decode():
    raw = _encode(_smooth_rgb(64, 48), "JPEG", quality=90)
    image = decode_jpeg(raw, channels=3, dct_method="INTEGER_ACCURATE")
    assert image.dtype == torch.uint8 and image.shape == (48, 64, 3)
    reference = np.asarray(Image.open(io.BytesIO(raw)).convert("RGB"))
    assert np.array_equal(image.numpy(), reference)


def test_decode_jpeg_channels():
    rgb = _encode(_smooth_rgb(20, 10), "JPEG")
    gray = _encode(_smooth_rgb(20, 10).convert("L"), "JPEG")
    assert decode_jpeg(rgb).shape == (10, 20, 3)
    assert decode_jpeg(gray).shape == (10, 20, 1)
    assert decode_jpeg(gray, channels=3).shape == (10, 20, 3)
    one = decode_jpeg(rgb, channels=1)
    assert one.shape == (10, 20, 1)
    # libjpeg's grayscale output is the luma of the RGB decode (within rounding).
    luma = decode_jpeg(rgb, channels=3).float() @ torch.tensor([0.299, 0.587, 0.114])
    assert (one[..., 0].float() - luma).abs().max() <= 2


def test_decoded_tensor_is_writable_and_owns_its_memory():
    image = decode_jpeg(_encode(_smooth_rgb(8, 8), "JPEG"))
    image += 1  # would raise or corrupt shared memory if not owned
    assert image.is_contiguous()


@pytest.mark.parametrize("ratio", [2, 4, 8])
def test_decode_jpeg_ratio_size_is_ceil_of_size_over_ratio(ratio):
    raw = _encode(_smooth_rgb(203, 117), "JPEG")
    image = decode_jpeg(raw, channels=3, ratio=ratio)
    assert image.shape == (math.ceil(117 / ratio), math.ceil(203 / ratio), 3)


@pytest.mark.parametrize("ratio", [2, 4, 8])
def test_decode_jpeg_ratio_is_close_to_full_decode_then_same_downscale(ratio):
    raw = _encode(_smooth_rgb(256, 192, seed=ratio), "JPEG", quality=95)
    reduced = convert_image_dtype(decode_jpeg(raw, channels=3, ratio=ratio), torch.float32)
    full = convert_image_dtype(decode_jpeg(raw, channels=3), torch.float32)
    # The same downscale: the mean of each ratio x ratio block (what DCT scaling computes).
    h, w = full.shape[0] // ratio, full.shape[1] // ratio
    blocks = full[: h * ratio, : w * ratio].reshape(h, ratio, w, ratio, 3).mean((1, 3))
    diff = (reduced[:h, :w] - blocks).abs()
    assert diff.mean() < 0.01 and diff.max() < 0.06


def test_decode_jpeg_bad_ratio_or_channels_raise():
    raw = _encode(_smooth_rgb(8, 8), "JPEG")
    with pytest.raises(ValueError, match="ratio"):
        decode_jpeg(raw, ratio=3)
    with pytest.raises(ValueError, match="channels"):
        decode_jpeg(raw, channels=2)


def test_decode_error_names_the_file(tmp_path):
    path = tmp_path / "broken_cat.jpg"
    path.write_bytes(b"\xff\xd8\xff garbage")
    with pytest.raises(DecodeError, match="broken_cat.jpg"):
        decode_jpeg(data.io.read_file(str(path)))


def test_decode_error_without_a_file_gives_the_size():
    with pytest.raises(DecodeError, match="9 bytes"):
        decode_image(b"not image")


def test_truncated_jpeg_raises_decode_error(tmp_path):
    raw = _encode(_smooth_rgb(64, 64), "JPEG")
    path = tmp_path / "truncated.jpg"
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DecodeError, match="truncated.jpg"):
        decode_jpeg(data.io.read_file(str(path)))


def test_decode_png_is_lossless_and_keeps_alpha():
    rgba = np.random.default_rng(1).integers(0, 256, (9, 7, 4), dtype=np.uint8)
    raw = _encode(Image.fromarray(rgba, "RGBA"), "PNG")
    assert np.array_equal(decode_png(raw).numpy(), rgba)
    assert np.array_equal(decode_png(raw, channels=3).numpy(), rgba[..., :3])


def test_decode_png_rejects_a_jpeg():
    with pytest.raises(DecodeError, match="JPEG"):
        decode_png(_encode(_smooth_rgb(8, 8), "JPEG"))


def test_decode_image_handles_png_jpeg_and_gif():
    img = _smooth_rgb(12, 10)
    assert decode_image(_encode(img, "PNG")).shape == (10, 12, 3)
    assert decode_image(_encode(img, "JPEG")).shape == (10, 12, 3)
    assert decode_image(_encode(img.convert("L"), "GIF"), channels=1).shape == (10, 12, 1)


# -- the two JPEG decoders: simplejpeg (when installed) and Pillow ------------------------------
def _jpeg_variants():
    """Baseline, progressive, 4:4:4 and grayscale JPEGs of odd sizes."""
    rgb = _smooth_rgb(203, 117, seed=3)
    return {
        "baseline": _encode(rgb, "JPEG", quality=90),
        "progressive": _encode(rgb, "JPEG", quality=90, progressive=True),
        "444": _encode(rgb, "JPEG", quality=90, subsampling=0),
        "gray": _encode(rgb.convert("L"), "JPEG", quality=90),
        "tall": _encode(_smooth_rgb(17, 301, seed=4), "JPEG"),
    }


def _decode_with_pillow(monkeypatch, raw, channels, ratio=1):
    with monkeypatch.context() as m:
        m.setenv(data.image.DECODER_ENV_VAR, "pil")
        return decode_jpeg(raw, channels=channels, ratio=ratio)


@pytest.mark.parametrize("ratio", [1, 2, 4, 8])
@pytest.mark.parametrize("channels", [0, 1, 3])
def test_decode_jpeg_simplejpeg_and_pillow_give_identical_pixels(monkeypatch, channels, ratio):
    pytest.importorskip("simplejpeg")
    for name, raw in _jpeg_variants().items():
        direct = decode_jpeg(raw, channels=channels, ratio=ratio, dct_method="INTEGER_ACCURATE")
        reference = _decode_with_pillow(monkeypatch, raw, channels, ratio)
        assert direct.dtype == torch.uint8 and direct.is_contiguous(), name
        assert direct.shape == reference.shape, name
        assert torch.equal(direct, reference), name


def test_decode_jpeg_uses_simplejpeg_without_pillow_when_installed(monkeypatch):
    pytest.importorskip("simplejpeg")
    monkeypatch.delenv(data.image.DECODER_ENV_VAR, raising=False)
    raw = _encode(_smooth_rgb(40, 30), "JPEG")
    expected = _decode_with_pillow(monkeypatch, raw, 3)

    def no_pillow(*args, **kwargs):
        raise AssertionError("Pillow was used although simplejpeg can decode this JPEG")
    monkeypatch.setattr(data.image.Image, "open", no_pillow)
    assert torch.equal(decode_jpeg(raw, channels=3, dct_method="INTEGER_ACCURATE"), expected)
    assert torch.equal(decode_image(raw, channels=3), decode_jpeg(raw, channels=3))


def test_decoder_env_var_pil_forces_pillow(monkeypatch):
    simplejpeg = pytest.importorskip("simplejpeg")
    raw = _encode(_smooth_rgb(40, 30), "JPEG")

    def no_simplejpeg(*args, **kwargs):
        raise AssertionError("simplejpeg was used although DATA_JPEG_DECODER=pil")
    monkeypatch.setattr(simplejpeg, "decode_jpeg", no_simplejpeg)
    monkeypatch.setattr(simplejpeg, "decode_jpeg_header", no_simplejpeg)
    monkeypatch.delenv(data.image.DECODER_ENV_VAR, raising=False)
    assert data.image.jpeg_decoder() == "simplejpeg"
    monkeypatch.setenv(data.image.DECODER_ENV_VAR, "pil")
    assert data.image.jpeg_decoder() == "pillow"
    assert decode_jpeg(raw, channels=3).shape == (30, 40, 3)


def test_decode_jpeg_falls_back_to_pillow_without_simplejpeg(monkeypatch):
    raw = _encode(_smooth_rgb(64, 48), "JPEG", quality=90)
    monkeypatch.setattr(data.image, "_simplejpeg", None)
    assert data.image.jpeg_decoder() == "pillow"
    image = decode_jpeg(raw, channels=3)
    reference = np.asarray(Image.open(io.BytesIO(raw)).convert("RGB"))
    assert np.array_equal(image.numpy(), reference)
    assert decode_jpeg(raw, channels=3, ratio=4).shape == (12, 16, 3)


def test_cmyk_jpeg_is_decoded_by_pillow_on_either_path(monkeypatch):
    raw = _encode(_smooth_rgb(24, 16).convert("CMYK"), "JPEG")
    reference = np.asarray(Image.open(io.BytesIO(raw)).convert("RGB"))
    assert np.array_equal(decode_jpeg(raw, channels=3).numpy(), reference)
    monkeypatch.setattr(data.image, "_simplejpeg", None)
    assert np.array_equal(decode_jpeg(raw, channels=3).numpy(), reference)


@pytest.mark.parametrize("simplejpeg_present", [True, False])
def test_undecodable_jpeg_names_the_file_on_both_paths(monkeypatch, tmp_path,
                                                       simplejpeg_present):
    if simplejpeg_present:
        pytest.importorskip("simplejpeg")
    else:
        monkeypatch.setattr(data.image, "_simplejpeg", None)
    raw = _encode(_smooth_rgb(64, 64), "JPEG")
    for name, contents in {"garbage_dog.jpg": b"\xff\xd8\xff garbage",
                           "half_dog.jpg": raw[: len(raw) // 2]}.items():
        path = tmp_path / name
        path.write_bytes(contents)
        with pytest.raises(DecodeError, match=name):
            decode_jpeg(data.io.read_file(str(path)), channels=3)
        with pytest.raises(DecodeError, match=name):
            decode_image(data.io.read_file(str(path)))


@pytest.mark.parametrize("ratio", [2, 4, 8])
def test_decode_jpeg_images_a_few_pixels_wide_match_the_pillow_path(monkeypatch, ratio):
    # Below ~8 pixels a DCT scale smaller than 1/ratio can reach ceil(size / ratio) too: such
    # images must not be decoded at that other scale. Pillow's draft mode, for its part, picks
    # a scale above 1/ratio for some of them (a larger image than TF's ceil(size / ratio)).
    for width, height in [(3, 3), (5, 7), (6, 2), (2, 9), (7, 7)]:
        raw = _encode(Image.fromarray(np.random.default_rng(width).integers(
            0, 256, (height, width, 3), dtype=np.uint8)), "JPEG")
        direct = decode_jpeg(raw, channels=3, ratio=ratio, dct_method="INTEGER_ACCURATE")
        reference = _decode_with_pillow(monkeypatch, raw, 3, ratio)
        if direct.shape == reference.shape:
            assert torch.equal(direct, reference), (width, height)
        else:
            assert direct.shape == (math.ceil(height / ratio), math.ceil(width / ratio), 3)


@settings(max_examples=25, deadline=None)
@given(width=st.integers(8, 120), height=st.integers(8, 120), ratio=st.sampled_from([2, 4, 8]),
       channels=st.sampled_from([0, 1, 3]))
def test_decode_jpeg_ratio_shape_is_ceil_on_both_paths(width, height, ratio, channels):
    raw = _encode(_smooth_rgb(width, height), "JPEG")
    want = (math.ceil(height / ratio), math.ceil(width / ratio))
    direct = decode_jpeg(raw, channels=channels, ratio=ratio, dct_method="INTEGER_ACCURATE")
    with pytest.MonkeyPatch.context() as m:
        m.setenv(data.image.DECODER_ENV_VAR, "pil")
        reference = decode_jpeg(raw, channels=channels, ratio=ratio)
    assert tuple(direct.shape[:2]) == want == tuple(reference.shape[:2])
    assert torch.equal(direct, reference)


# -- dtype conversion --------------------------------------------------------------------------
def test_convert_uint8_to_float_scales_to_unit_interval():
    x = torch.arange(256, dtype=torch.uint8)
    y = convert_image_dtype(x, torch.float32)
    assert y.dtype == torch.float32
    assert torch.allclose(y, torch.arange(256, dtype=torch.float32) / 255, atol=1e-7)


def test_convert_float_to_uint8_scales_truncates_and_saturates():
    x = torch.tensor([-0.5, 0.0, 0.2, 0.5, 0.999, 1.0, 1.5])
    y = convert_image_dtype(x, torch.uint8)
    # TF: x * 255.5, saturated, then truncated.
    assert y.tolist() == [0, 0, 51, 127, 255, 255, 255]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 255), min_size=1, max_size=50))
def test_convert_uint8_float_uint8_round_trips(values):
    x = torch.tensor(values, dtype=torch.uint8)
    assert torch.equal(convert_image_dtype(convert_image_dtype(x, torch.float32), torch.uint8), x)


def test_convert_between_integer_types_shifts_bits():
    x = torch.tensor([0, 1, 255], dtype=torch.uint8)
    assert convert_image_dtype(x, torch.int16).tolist() == [0, 128, 32640]
    assert convert_image_dtype(torch.tensor([32767], dtype=torch.int16), torch.uint8).tolist() \
        == [255]


def test_convert_same_dtype_returns_input_and_float_to_float_casts():
    x = torch.rand(3)
    assert convert_image_dtype(x, torch.float32) is x
    assert convert_image_dtype(x, torch.float64).dtype == torch.float64


# -- resize ------------------------------------------------------------------------------------
def _tf_bilinear(image, out_h, out_w):
    """tf.image.resize(method='bilinear', antialias=False): half-pixel centres, per pixel."""
    in_h, in_w, _ = image.shape
    out = np.zeros((out_h, out_w, image.shape[2]), np.float64)

    def coords(o, in_size, out_size):
        src = (o + 0.5) * (in_size / out_size) - 0.5
        lo = math.floor(src)
        lerp = src - lo
        return max(lo, 0), min(math.ceil(src), in_size - 1), lerp

    for oy in range(out_h):
        y0, y1, ly = coords(oy, in_h, out_h)
        for ox in range(out_w):
            x0, x1, lx = coords(ox, in_w, out_w)
            top = image[y0, x0] * (1 - lx) + image[y0, x1] * lx
            bottom = image[y1, x0] * (1 - lx) + image[y1, x1] * lx
            out[oy, ox] = top * (1 - ly) + bottom * ly
    return out


@pytest.mark.parametrize("in_size,out_size", [((7, 9), (3, 4)), ((5, 4), (11, 13)),
                                              ((6, 6), (6, 3)), ((30, 20), (28, 28))])
def test_resize_matches_tf_bilinear_reference(in_size, out_size):
    image = np.random.default_rng(0).random((*in_size, 3))
    got = resize(torch.from_numpy(image).float(), out_size)
    assert got.shape == (*out_size, 3) and got.dtype == torch.float32
    assert np.allclose(got.numpy(), _tf_bilinear(image, *out_size), atol=1e-5)


def test_resize_batched_nhwc_resizes_each_image():
    batch = torch.rand(2, 8, 6, 3)
    out = resize(batch, (4, 5))
    assert out.shape == (2, 4, 5, 3) and out.is_contiguous()
    for i in range(2):
        assert torch.allclose(out[i], resize(batch[i], (4, 5)))


def test_resize_uint8_returns_float32_with_unchanged_scale():
    image = torch.full((4, 4, 1), 200, dtype=torch.uint8)
    out = resize(image, (2, 2))
    assert out.dtype == torch.float32 and torch.all(out == 200)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.int32])
def test_resize_always_returns_float32_even_at_the_same_size(dtype):
    image = torch.ones(4, 4, 2, dtype=dtype)
    assert resize(image, (4, 4)).dtype == torch.float32
    assert resize(image, (2, 3)).dtype == torch.float32


@pytest.mark.parametrize("size", [(0, 3), (3,), (2, 2, 2)])
def test_resize_bad_size_raises(size):
    with pytest.raises(ValueError, match="size"):
        resize(torch.rand(4, 4, 3), size)


def test_resize_rank_two_raises():
    with pytest.raises(ValueError, match=r"\(H, W, C\)"):
        resize(torch.rand(4, 4), (2, 2))
