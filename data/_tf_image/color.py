"""Colour adjustments, as ``tf.image``'s, with the arithmetic of TF's CPU kernels.

Integer images are converted to ``float32`` in ``[0, 1]`` first and back to their dtype after
(``data.image.convert_image_dtype``), as TF's Python wrappers do; ``float16``/``float32``
images are adjusted as they are (no clipping, as in TF). ``adjust_saturation`` and
``adjust_hue`` follow the kernels' own RGB <-> HSV conversions, including their mixed
float/double steps, so results match TF's bit for bit.
"""

from __future__ import annotations

from typing import Any, Callable, Union

import torch

from data._tf_image._check import image_3d_or_more
from data.image import convert_image_dtype

__all__ = ["adjust_brightness", "adjust_contrast", "adjust_hue", "adjust_saturation",
           "per_image_standardization", "rgb_to_grayscale"]

_FLOATS = (torch.float16, torch.float32)


def _in_float(image: torch.Tensor, fn: Callable[[torch.Tensor], torch.Tensor],
              saturate: bool) -> torch.Tensor:
    if image.dtype in _FLOATS:
        return fn(image)
    result = fn(convert_image_dtype(image, torch.float32))
    return convert_image_dtype(result, image.dtype, saturate=saturate)


def _scalar(value: Any) -> float:
    return float(value.item() if isinstance(value, torch.Tensor) else value)


def adjust_brightness(image: torch.Tensor, delta: Union[float, torch.Tensor]) -> torch.Tensor:
    """``image + delta`` (in ``[0, 1]`` units for integer images, which saturate).

    >>> adjust_brightness(torch.tensor([[[10, 250, 0]]], dtype=torch.uint8), 0.1).tolist()
    [[[35, 255, 25]]]
    """
    image = image_3d_or_more("adjust_brightness", image)
    delta = _scalar(delta)
    return _in_float(image, lambda x: x + torch.tensor(delta, dtype=x.dtype), saturate=True)


def _pairwise_mean(x: torch.Tensor) -> torch.Tensor:
    """Per image and channel mean of ``(N, P, C)`` as TF's CPU kernel sums it: halve the pixel
    range, add the halves, repeat; then multiply by ``1.0f / P``."""
    pixels = x.shape[1]
    s = x
    remaining = pixels
    while remaining > 1:
        right = remaining // 2
        left = remaining - right
        s = torch.cat([s[:, left:left + right] + s[:, :right], s[:, right:left]], dim=1)
        remaining = left
    return s[:, :1] * torch.tensor(1.0 / pixels, dtype=torch.float32)


def adjust_contrast(images: torch.Tensor,
                    contrast_factor: Union[float, torch.Tensor]) -> torch.Tensor:
    """``mean + contrast_factor * (x - mean)``, the mean taken per image and channel.

    >>> adjust_contrast(torch.tensor([[[0.2], [0.6]]]), 2.0).flatten().tolist()
    [0.0, 0.8000000715255737]
    """
    images = image_3d_or_more("adjust_contrast", images)
    factor = _scalar(contrast_factor)

    def contrast(x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        flat = x.float().reshape(-1, x.shape[-3] * x.shape[-2], x.shape[-1])
        mean = _pairwise_mean(flat)
        out = mean + torch.tensor(factor, dtype=torch.float32) * (flat - mean)
        return out.reshape(x.shape).to(dtype)

    return _in_float(images, contrast, saturate=True)


def _rgb_to_hsv(rgb: torch.Tensor):
    r, g, b = rgb.unbind(-1)
    vv = torch.maximum(r, torch.maximum(g, b))
    spread = vv - torch.minimum(r, torch.minimum(g, b))
    s = torch.where(vv > 0, spread / vv, torch.zeros_like(vv))
    norm = 1.0 / (6.0 * spread)
    # `norm * (b - r) + 2.0 / 6.0`: a float product plus a double constant, stored as float.
    third = (norm * (b - r)).double().add(2.0 / 6.0).float()
    two_thirds = (norm * (r - g)).double().add(4.0 / 6.0).float()
    hh = torch.where(r == vv, norm * (g - b), torch.where(g == vv, third, two_thirds))
    hh = torch.where(spread <= 0, torch.zeros_like(hh), hh)
    hh = torch.where(hh < 0, hh + 1, hh)
    return hh, s, vv


def _hsv_to_rgb(h: torch.Tensor, s: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    c = s * v
    m = v - c
    dh = h * 6
    category = dh.to(torch.int32)  # static_cast<int>: truncation
    fmodu = torch.where(dh <= 0, dh + 2, dh)
    fmodu = torch.where(fmodu >= 2, fmodu - 2, fmodu)
    fmodu = torch.where(fmodu >= 2, fmodu - 2, fmodu)
    x = c * (1 - (fmodu - 1).abs())
    zero = torch.zeros_like(c)
    table = [(c, x, zero), (x, c, zero), (zero, c, x), (zero, x, c), (x, zero, c), (c, zero, x)]
    channels = []
    for k in range(3):
        out = zero
        for cat, parts in enumerate(table):
            out = torch.where(category == cat, parts[k], out)
        channels.append(out + m)
    return torch.stack(channels, -1)


def adjust_saturation(image: torch.Tensor,
                      saturation_factor: Union[float, torch.Tensor]) -> torch.Tensor:
    """Scale the saturation (HSV) of an RGB image by ``saturation_factor``, clipped to [0, 1].

    >>> adjust_saturation(torch.tensor([[[1.0, 0.5, 0.5]]]), 0.0).tolist()
    [[[1.0, 1.0, 1.0]]]
    """
    image = image_3d_or_more("adjust_saturation", image, channels=3)
    factor = _scalar(saturation_factor)

    def saturate(x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        h, s, v = _rgb_to_hsv(x.float())
        s = (s * torch.tensor(factor, dtype=torch.float32)).clamp(0.0, 1.0)
        return _hsv_to_rgb(h, s, v).to(dtype)

    return _in_float(image, saturate, saturate=False)




def _rgb_to_hv_range(rgb: torch.Tensor):
    r, g, b = rgb.unbind(-1)
    lt = r < g
    category = torch.where(
        lt, torch.where(b < r, 1, torch.where(b > g, 3, 2)),
        torch.where(b < g, 0, torch.where(b > r, 4, 5))).to(torch.int32)
    channels = (r, g, b)
    picks = {0: (0, 1, 2), 1: (1, 0, 2), 2: (1, 2, 0), 3: (2, 1, 0), 4: (2, 0, 1), 5: (0, 2, 1)}
    v_max, v_mid, v_min = (torch.zeros_like(r) for _ in range(3))
    for cat, (hi, mid, lo) in picks.items():
        here = category == cat
        v_max = torch.where(here, channels[hi], v_max)
        v_mid = torch.where(here, channels[mid], v_mid)
        v_min = torch.where(here, channels[lo], v_min)
    ratio = (v_mid - v_min) / (v_max - v_min)
    increase = (category & 1) == 0
    h = category.float() + torch.where(increase, ratio, 1 - ratio)
    h = torch.where(v_max == v_min, torch.zeros_like(h), h)
    return h, v_min, v_max


def _hv_range_to_rgb(h: torch.Tensor, v_min: torch.Tensor, v_max: torch.Tensor) -> torch.Tensor:
    category = h.to(torch.int32)
    ratio = h - category.float()
    ratio = torch.where((category & 1) == 0, ratio, 1 - ratio)
    v_mid = v_min + ratio * (v_max - v_min)
    order = {0: (v_max, v_mid, v_min), 1: (v_mid, v_max, v_min), 2: (v_min, v_max, v_mid),
             3: (v_min, v_mid, v_max), 4: (v_mid, v_min, v_max)}
    out = [v_max, v_min, v_mid]  # case 5 and default
    for cat, values in order.items():
        here = category == cat
        out = [torch.where(here, v, o) for v, o in zip(values, out)]
    return torch.stack(out, -1)


def adjust_hue(image: torch.Tensor, delta: Union[float, torch.Tensor]) -> torch.Tensor:
    """Rotate the hue of an RGB image by ``delta`` (a fraction of the colour wheel, [-1, 1]).

    >>> adjust_hue(torch.tensor([[[1.0, 0.0, 0.0]]]), 1 / 3).tolist()
    [[[0.0, 1.0, 0.0]]]
    """
    image = image_3d_or_more("adjust_hue", image, channels=3)
    delta = _scalar(delta)
    if not -1 <= delta <= 1:
        raise ValueError(f"adjust_hue: delta must be in the interval [-1, 1], got {delta}")

    def rotate(x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        h, v_min, v_max = _rgb_to_hv_range(x.float())
        h = h + torch.tensor(delta, dtype=torch.float32) * 6
        for _ in range(2):  # TF's `while (h < 0) h += 6; while (h >= 6) h -= 6;`
            h = torch.where(h < 0, h + 6, h)
        for _ in range(2):
            h = torch.where(h >= 6, h - 6, h)
        return _hv_range_to_rgb(h, v_min, v_max).to(dtype)

    return _in_float(image, rotate, saturate=False)


def per_image_standardization(image: torch.Tensor) -> torch.Tensor:
    """``(x - mean) / max(stddev, 1 / sqrt(N))`` per image, in ``float32``, as TF 2.x.

    Integer images are cast (not rescaled) to ``float32`` first, as TF does.

    >>> per_image_standardization(torch.tensor([[[0], [2]]], dtype=torch.uint8)).flatten().tolist()
    [-1.0, 1.0]
    """
    image = image_3d_or_more("per_image_standardization", image).to(torch.float32)
    num_pixels = image.shape[-1] * image.shape[-2] * image.shape[-3]
    dims = (-1, -2, -3)
    # Accurate sums (TF's Eigen reductions sum in a tree; float64 gives the same float32 result).
    mean = image.double().mean(dim=dims, keepdim=True).float()
    stddev = (image - mean).square().double().mean(dim=dims, keepdim=True).float().sqrt()
    min_stddev = torch.rsqrt(torch.tensor(float(num_pixels), dtype=torch.float32))
    return (image - mean) / torch.maximum(stddev, min_stddev)


_GRAY = torch.tensor([0.2989, 0.5870, 0.1140], dtype=torch.float32)


def rgb_to_grayscale(images: torch.Tensor) -> torch.Tensor:
    """Luma ``0.2989 R + 0.5870 G + 0.1140 B`` as a 1-channel image of the same dtype.

    >>> rgb_to_grayscale(torch.tensor([[[255, 255, 255]]], dtype=torch.uint8)).tolist()
    [[[255]]]
    """
    images = image_3d_or_more("rgb_to_grayscale", images, channels=3)
    gray = torch.tensordot(convert_image_dtype(images, torch.float32), _GRAY, dims=([-1], [0]))
    return convert_image_dtype(gray.unsqueeze(-1), images.dtype, saturate=False)
