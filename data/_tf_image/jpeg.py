"""``extract_jpeg_shape`` and ``decode_and_crop_jpeg``, as ``tf.image``'s.

TF decodes with libjpeg's fast integer DCT unless ``dct_method="INTEGER_ACCURATE"``.
``decode_and_crop_jpeg`` follows that: with the optional ``simplejpeg`` package its default
(``dct_method=""`` or ``"INTEGER_FAST"``) decodes with the fast DCT and gives TF's pixels
exactly; ``"INTEGER_ACCURATE"``, ``ratio`` > 1, 4 channels, or no ``simplejpeg`` decode through
``data.image.decode_jpeg`` (the accurate DCT: TF's ``INTEGER_ACCURATE`` pixels).

The crop is cut from the decoded image. TF decodes only the window (libjpeg's cropped
decode), which upsamples the chroma at the window's right edge as at an image edge: when the
window ends inside a chroma sample pair, TF's last column differs from ours by a few levels;
every other pixel is the same.
"""

from __future__ import annotations

import io
from typing import Any, Sequence

import torch
from PIL import Image

from data.image import DecodeError, _check_image_size, decode_jpeg

try:  # optional, as in data.image
    import simplejpeg as _simplejpeg
except ImportError:  # pragma: no cover - depends on the installed extras
    _simplejpeg = None

__all__ = ["decode_and_crop_jpeg", "extract_jpeg_shape"]

_COMPONENTS = {"Gray": 1, "YCbCr": 3, "RGB": 3, "CMYK": 4, "YCCK": 4}
_MODES = {"L": 1, "1": 1, "RGB": 3, "YCbCr": 3, "CMYK": 4}
_DCT_METHODS = ("", "INTEGER_FAST", "INTEGER_ACCURATE")


def _contents(op: str, contents: Any) -> bytes:
    if isinstance(contents, torch.Tensor):
        contents = contents.numpy().tobytes()
    if not isinstance(contents, (bytes, bytearray, memoryview)):
        raise TypeError(f"{op}: contents must be bytes, got {type(contents).__name__}")
    return bytes(contents) if not isinstance(contents, bytes) else contents


def _describe(contents: bytes) -> str:
    path = getattr(contents, "path", None)
    return f"file {path!r}" if path else f"{len(contents)} bytes of image data"


def extract_jpeg_shape(contents: bytes, output_type: torch.dtype = torch.int32) -> torch.Tensor:
    """``[height, width, components]`` of a JPEG, read from its header without decoding.

    >>> buf = io.BytesIO(); Image.new("RGB", (40, 30)).save(buf, "JPEG")
    >>> extract_jpeg_shape(buf.getvalue()).tolist()
    [30, 40, 3]
    """
    op = "extract_jpeg_shape"
    if output_type not in (torch.int32, torch.int64):
        raise TypeError(f"{op}: output_type must be torch.int32 or torch.int64, got "
                        f"{output_type!r}")
    data = _contents(op, contents)
    if _simplejpeg is not None:
        try:
            height, width, space, _ = _simplejpeg.decode_jpeg_header(data)
            if space in _COMPONENTS:
                return torch.tensor([height, width, _COMPONENTS[space]], dtype=output_type)
        except Exception:  # noqa: BLE001 - Pillow below gives the error for a bad file
            pass
    try:
        image = Image.open(io.BytesIO(data))
        if image.format != "JPEG":
            raise ValueError(f"it holds a {image.format} image")
        shape = [image.height, image.width, _MODES.get(image.mode, len(image.getbands()))]
    except Exception as exc:
        raise DecodeError(f"{op}: {_describe(contents)} is not a JPEG: {exc}") from exc
    return torch.tensor(shape, dtype=output_type)


def decode_and_crop_jpeg(contents: bytes, crop_window: Sequence[int], channels: int = 0,
                         ratio: int = 1, fancy_upscaling: bool = True,
                         try_recover_truncated: bool = False, acceptable_fraction: float = 1,
                         dct_method: str = "") -> torch.Tensor:
    """Decode the ``crop_window`` ``[y, x, height, width]`` of a JPEG, as TF.

    Returns a ``uint8`` ``(height, width, C)`` tensor. ``channels`` and ``ratio`` as for
    ``data.image.decode_jpeg`` (the window applies to the decoded, possibly scaled, image);
    ``fancy_upscaling``, ``try_recover_truncated`` and ``acceptable_fraction`` are accepted
    for compatibility (TF's defaults are what happens). Raises ``ValueError`` when the window
    does not lie inside the image.

    >>> buf = io.BytesIO(); Image.new("RGB", (40, 30), (0, 0, 255)).save(buf, "JPEG")
    >>> decode_and_crop_jpeg(buf.getvalue(), [5, 10, 8, 6], channels=3).shape
    torch.Size([8, 6, 3])
    """
    op = "decode_and_crop_jpeg"
    if dct_method not in _DCT_METHODS:
        raise ValueError(f"{op}: dct_method must be one of {_DCT_METHODS}, got {dct_method!r}")
    window = [int(v) for v in (crop_window.tolist() if isinstance(crop_window, torch.Tensor)
                               else crop_window)]
    if len(window) != 4:
        raise ValueError(f"{op}: crop_window must be [y, x, height, width], got {window}")
    data = _contents(op, contents)
    image = None
    space = None
    if _simplejpeg is not None:
        try:
            height, width, space, _ = _simplejpeg.decode_jpeg_header(data)
        except Exception:  # noqa: BLE001 - decode_jpeg below reports a bad file
            space = None
        if space is not None:
            # decode_jpeg's decompression-bomb guard, before any pixel memory is allocated
            # (without simplejpeg, decode_jpeg below applies it).
            _check_image_size(op, contents, height, width)
    if (space in ("YCbCr", "Gray") and dct_method != "INTEGER_ACCURATE" and ratio == 1
            and channels in (0, 1, 3)):
        colorspace = {1: "GRAY", 3: "RGB"}.get(channels) or (
            "GRAY" if space == "Gray" else "RGB")
        try:
            image = torch.from_numpy(_simplejpeg.decode_jpeg(data, colorspace,
                                                             fastdct=True))
        except Exception:  # noqa: BLE001 - decode_jpeg below reports a bad file
            image = None
    if image is None:
        image = decode_jpeg(contents, channels=channels, ratio=ratio)
    y, x, h, w = window
    height, width = image.shape[0], image.shape[1]
    if y < 0 or x < 0 or h <= 0 or w <= 0 or y + h > height or x + w > width:
        raise ValueError(f"{op}: crop window {window} ([y, x, height, width]) does not lie inside "
                         f"the {height}x{width} image of {_describe(contents)}")
    return image[y:y + h, x:x + w].contiguous()
