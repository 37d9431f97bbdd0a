"""The deterministic tf.image ops against the outputs of real TF (fixtures/image_ops.npz):
bit-exact, dtype and shape included."""

import io

import pytest
import torch
from PIL import Image

import data
from data import image as im
from tf_fixtures import expected, image_ops, path


def _inputs():
    e = image_ops()
    return {k: torch.from_numpy(e[k]) for k in ("u8", "f32", "batch")}


def _assert_tf(name, ours):
    want = torch.from_numpy(image_ops()[name])
    assert ours.dtype == want.dtype and ours.shape == want.shape, (ours.shape, want.shape)
    assert torch.equal(ours, want), f"{name}: {int((ours != want).sum())} values differ"


CASES = (
    [(f"central_crop_{f}_{k}", lambda x, f=f: im.central_crop(x, f), k)
     for f in (0.5, 0.33, 0.8, 1.0) for k in ("u8", "batch")]
    + [(f"crop_or_pad_{h}_{w}_{k}", lambda x, h=h, w=w: im.resize_with_crop_or_pad(x, h, w), k)
       for h, w in ((4, 5), (10, 12), (7, 3), (3, 14)) for k in ("u8", "batch")]
    + [("crop_1_2_4_5_u8", lambda x: im.crop_to_bounding_box(x, 1, 2, 4, 5), "u8"),
       ("crop_0_0_2_3_batch", lambda x: im.crop_to_bounding_box(x, 0, 0, 2, 3), "batch")]
    + [(f"std_{k}", im.per_image_standardization, k) for k in ("u8", "f32", "batch")]
    + [(f"gray_{k}", im.rgb_to_grayscale, k) for k in ("u8", "f32")]
    + [(f"brightness_{d}_{k}", lambda x, d=d: im.adjust_brightness(x, d), k)
       for d in (0.2, -0.3, 0.9) for k in ("u8", "f32")]
    + [(f"contrast_{c}_{k}", lambda x, c=c: im.adjust_contrast(x, c), k)
       for c in (0.5, 1.7) for k in ("u8", "f32", "batch")]
    + [(f"saturation_{s}_{k}", lambda x, s=s: im.adjust_saturation(x, s), k)
       for s in (0.0, 0.4, 1.8) for k in ("u8", "f32")]
    + [(f"hue_{h}_{k}", lambda x, h=h: im.adjust_hue(x, h), k)
       for h in (0.1, -0.45, 0.5) for k in ("u8", "f32")]
)


@pytest.mark.parametrize("name,op,kind", CASES, ids=[c[0] for c in CASES])
def test_equals_tf_exactly(name, op, kind):
    _assert_tf(name, op(_inputs()[kind]))


def test_standardization_of_a_constant_image_uses_the_minimum_stddev():
    _assert_tf("std_const", im.per_image_standardization(torch.full((3, 3, 1), 5,
                                                                    dtype=torch.uint8)))


def test_crop_and_pad_errors_name_the_problem():
    x = torch.zeros(4, 5, 3)
    with pytest.raises(ValueError, match="width must be >= target \\+ offset"):
        im.crop_to_bounding_box(x, 0, 2, 2, 4)
    with pytest.raises(ValueError, match="height must be >= target \\+ offset"):
        im.crop_to_bounding_box(x, 3, 0, 2, 2)
    with pytest.raises(ValueError, match="target_width 5 must be >= width 5 \\+ offset_width 1"):
        im.pad_to_bounding_box(x, 0, 1, 4, 5)
    with pytest.raises(ValueError, match="central_fraction must be within \\(0, 1\\]"):
        im.central_crop(x, 0.0)
    with pytest.raises(ValueError, match="image must be a \\(height, width, channels\\)"):
        im.central_crop(torch.zeros(4, 5), 0.5)
    with pytest.raises(ValueError, match="3 channels"):
        im.adjust_hue(torch.zeros(2, 2, 4), 0.1)
    with pytest.raises(ValueError, match="delta must be in the interval"):
        im.adjust_hue(torch.zeros(2, 2, 3), 1.5)


def test_flips():
    x = torch.arange(6).reshape(2, 3, 1)
    assert im.flip_left_right(x)[..., 0].tolist() == [[2, 1, 0], [5, 4, 3]]
    assert im.flip_up_down(x)[..., 0].tolist() == [[3, 4, 5], [0, 1, 2]]


# -- JPEG --------------------------------------------------------------------------------------
def _encoded():
    records = list(data.TFRecordDataset(path("imagenet.tfrecord")))
    spec = {"image/encoded": data.io.FixedLenFeature([], bytes)}
    return [data.io.parse_single_example(r, spec)["image/encoded"] for r in records]


def test_extract_jpeg_shape_equals_tf():
    for encoded, info in zip(_encoded(), expected()["imagenet"]):
        shape = im.extract_jpeg_shape(encoded)
        assert shape.dtype == torch.int32 and shape.tolist() == info["jpeg_shape"]


def test_extract_jpeg_shape_of_grayscale_and_not_a_jpeg():
    buf = io.BytesIO()
    Image.new("L", (9, 4)).save(buf, "JPEG")
    assert im.extract_jpeg_shape(buf.getvalue(), torch.int64).tolist() == [4, 9, 1]
    png = io.BytesIO()
    Image.new("RGB", (3, 3)).save(png, "PNG")
    with pytest.raises(im.DecodeError, match="not a JPEG"):
        im.extract_jpeg_shape(png.getvalue())


def _assert_crop_equals_tf(out, info, key):
    """Equal to TF's crop, except that TF's last column may differ by a little: libjpeg's
    cropped decode upsamples the chroma at the crop's right edge as at an image edge."""
    want = torch.tensor(info[key], dtype=torch.uint8).reshape(info["cropped_shape"])
    assert out.shape == want.shape
    assert torch.equal(out[:, :-1], want[:, :-1])
    assert (out[:, -1].int() - want[:, -1].int()).abs().max() <= 8


def test_decode_and_crop_jpeg_accurate_dct_equals_tf():
    for encoded, info in zip(_encoded(), expected()["imagenet"]):
        out = im.decode_and_crop_jpeg(encoded, info["crop_window"], channels=3,
                                      dct_method="INTEGER_ACCURATE")
        _assert_crop_equals_tf(out, info, "cropped_accurate")


def test_decode_and_crop_jpeg_default_equals_tf_with_simplejpeg():
    pytest.importorskip("simplejpeg")
    for encoded, info in zip(_encoded(), expected()["imagenet"]):
        out = im.decode_and_crop_jpeg(encoded, info["crop_window"], channels=3)
        _assert_crop_equals_tf(out, info, "cropped")  # TF's default: the fast DCT


def test_decode_and_crop_jpeg_window_outside_the_image():
    encoded = _encoded()[0]  # 20 x 16
    with pytest.raises(ValueError, match="crop window \\[15, 0, 6, 4\\].*20x16"):
        im.decode_and_crop_jpeg(encoded, [15, 0, 6, 4])
    with pytest.raises(ValueError, match="dct_method"):
        im.decode_and_crop_jpeg(encoded, [0, 0, 1, 1], dct_method="FAST")
