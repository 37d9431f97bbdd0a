"""Random image ops, as ``tf.image``'s, drawing from the element's generator.

Inside a ``map`` function each call draws from a generator derived from the map's seed, the
epoch, the element's position and the call's rank within the function (see
:mod:`data._element_seed`), so augmentations are reproducible, independent of thread timing,
and replayed exactly after a restore. ``seed=`` mixes an op seed in, as TF's op seeds do.
"""

from __future__ import annotations

import math
import random as _random
from typing import Any, Optional, Sequence, Tuple

import torch

from data._element_seed import generator
from data._tf_image._check import image_4d
from data._tf_image.color import (adjust_brightness, adjust_contrast, adjust_hue,
                                  adjust_saturation)

__all__ = ["random_brightness", "random_contrast", "random_flip_left_right",
           "random_flip_up_down", "random_hue", "random_saturation",
           "sample_distorted_bounding_box"]


def _uniform(low: float, high: float, seed: Optional[int], size: Tuple[int, ...] = ()
             ) -> torch.Tensor:
    u = torch.rand(size, generator=generator(seed), dtype=torch.float32)
    return u * (high - low) + low


def _random_flip(op: str, image: torch.Tensor, dim: int, seed: Optional[int]) -> torch.Tensor:
    images, batched = image_4d(op, image)
    if not batched:
        return image.flip(dim) if bool(_uniform(0.0, 1.0, seed) < 0.5) else image
    flips = _uniform(0.0, 1.0, seed, (images.shape[0],)) >= 0.5  # TF rounds: >= 0.5 flips
    return torch.where(flips.view(-1, 1, 1, 1), images.flip(dim), images)


def random_flip_left_right(image: torch.Tensor, seed: Optional[int] = None) -> torch.Tensor:
    """Mirror ``image`` along its width with probability 1/2 (each image of a batch apart)."""
    return _random_flip("random_flip_left_right", image, -2, seed)


def random_flip_up_down(image: torch.Tensor, seed: Optional[int] = None) -> torch.Tensor:
    """Mirror ``image`` along its height with probability 1/2 (each image of a batch apart)."""
    return _random_flip("random_flip_up_down", image, -3, seed)


def random_brightness(image: torch.Tensor, max_delta: float,
                      seed: Optional[int] = None) -> torch.Tensor:
    """``adjust_brightness`` by a delta drawn uniformly from ``[-max_delta, max_delta)``."""
    if max_delta < 0:
        raise ValueError(f"random_brightness: max_delta must be non-negative, got {max_delta}")
    return adjust_brightness(image, _uniform(-max_delta, max_delta, seed))


def _check_range(op: str, lower: float, upper: float) -> None:
    if upper <= lower:
        raise ValueError(f"{op}: upper must be > lower, got lower={lower}, upper={upper}")
    if lower < 0:
        raise ValueError(f"{op}: lower must be non-negative, got {lower}")


def random_contrast(image: torch.Tensor, lower: float, upper: float,
                    seed: Optional[int] = None) -> torch.Tensor:
    """``adjust_contrast`` by a factor drawn uniformly from ``[lower, upper)``."""
    _check_range("random_contrast", lower, upper)
    return adjust_contrast(image, _uniform(lower, upper, seed))


def random_saturation(image: torch.Tensor, lower: float, upper: float,
                      seed: Optional[int] = None) -> torch.Tensor:
    """``adjust_saturation`` by a factor drawn uniformly from ``[lower, upper)``."""
    _check_range("random_saturation", lower, upper)
    return adjust_saturation(image, _uniform(lower, upper, seed))


def random_hue(image: torch.Tensor, max_delta: float, seed: Optional[int] = None) -> torch.Tensor:
    """``adjust_hue`` by a delta drawn uniformly from ``[-max_delta, max_delta)``, ``<= 0.5``."""
    if max_delta > 0.5:
        raise ValueError(f"random_hue: max_delta must be <= 0.5, got {max_delta}")
    if max_delta < 0:
        raise ValueError(f"random_hue: max_delta must be non-negative, got {max_delta}")
    return adjust_hue(image, _uniform(-max_delta, max_delta, seed))


# -- sample_distorted_bounding_box: TF's kernel (sample_distorted_bounding_box_op.cc) ----------
def _random_crop(rng: _random.Random, width: int, height: int, min_area_frac: float,
                 max_area_frac: float, aspect: float) -> Optional[Tuple[int, int, int, int]]:
    """TF's GenerateRandomCrop: ``(x, y, w, h)`` or ``None`` when the constraints fail."""
    min_area = min_area_frac * width * height
    max_area = max_area_frac * width * height
    h = round(math.sqrt(min_area / aspect))
    max_h = round(math.sqrt(max_area / aspect))
    if round(max_h * aspect) > width:
        max_h = int((width + 0.5 - 1e-7) / aspect)
        if round(max_h * aspect) > width:
            max_h -= 1
    max_h = min(max_h, height)
    h = min(h, max_h)
    if h < max_h:
        h += rng.randrange(max_h - h + 1)
    w = round(h * aspect)
    area = w * h
    if area < min_area:
        h += 1
        w = round(h * aspect)
        area = w * h
    if area > max_area:
        h -= 1
        w = round(h * aspect)
        area = w * h
    if area < min_area or area > max_area or w > width or h > height or w <= 0 or h <= 0:
        return None
    y = rng.randrange(height - h) if h < height else 0
    x = rng.randrange(width - w) if w < width else 0
    return x, y, w, h


def _area(x0: int, y0: int, x1: int, y1: int) -> int:
    return (x1 - x0) * (y1 - y0)


def _covers(crop: Tuple[int, int, int, int], boxes: Sequence[Tuple[int, int, int, int]],
            minimum: float) -> bool:
    x, y, w, h = crop
    if w * h < 1:
        return False
    for bx0, by0, bx1, by1 in boxes:
        area = _area(bx0, by0, bx1, by1)
        if area < 1:
            continue
        ix0, iy0, ix1, iy1 = max(x, bx0), max(y, by0), min(x + w, bx1), min(y + h, by1)
        inter = _area(ix0, iy0, ix1, iy1) if ix0 <= ix1 and iy0 <= iy1 else 0
        if inter / area >= minimum:
            return True
    return False


def _pair(op: str, name: str, value: Any, default: Tuple[float, float]) -> Tuple[float, float]:
    if value is None:
        return default
    values = [float(v) for v in (value.tolist() if isinstance(value, torch.Tensor) else value)]
    if len(values) != 2:
        raise ValueError(f"{op}: {name} must have 2 values, got {values}")
    return values[0], values[1]


def sample_distorted_bounding_box(image_size: Any, bounding_boxes: Any,
                                  seed: Optional[int] = None, min_object_covered: float = 0.1,
                                  aspect_ratio_range: Optional[Sequence[float]] = None,
                                  area_range: Optional[Sequence[float]] = None,
                                  max_attempts: Optional[int] = None,
                                  use_image_if_no_bounding_boxes: Optional[bool] = None,
                                  name: Optional[str] = None
                                  ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A random crop window covering part of one of ``bounding_boxes``, as TF's.

    ``image_size`` is ``[height, width, channels]`` (e.g. ``extract_jpeg_shape``);
    ``bounding_boxes`` is ``[batch, N, 4]`` of ``[ymin, xmin, ymax, xmax]`` in ``[0, 1]``. Up to
    ``max_attempts`` (100) times, draws an aspect ratio in ``aspect_ratio_range`` ((0.75, 1.33))
    and an area in ``area_range`` ((0.05, 1.0)) of the image, and keeps the first crop that
    covers at least ``min_object_covered`` of some box; else the whole image. Without boxes,
    ``use_image_if_no_bounding_boxes=True`` makes the whole image the box.

    Returns ``(begin, size, bboxes)``: int32 ``[y, x, 0]`` and ``[h, w, -1]`` for slicing
    (or ``crop_window = [y, x, h, w]`` for ``decode_and_crop_jpeg``), and the crop as a float32
    ``[1, 1, 4]`` box.
    """
    op = "sample_distorted_bounding_box"
    size = [int(v) for v in (image_size.tolist() if isinstance(image_size, torch.Tensor)
                             else image_size)]
    if len(size) != 3:
        raise ValueError(f"{op}: image_size must be [height, width, channels], got {size}")
    height, width = size[0], size[1]
    boxes_t = torch.as_tensor(bounding_boxes, dtype=torch.float32)
    if boxes_t.dim() != 3 or boxes_t.shape[-1] != 4:
        raise ValueError(f"{op}: bounding_boxes must be [batch, num_boxes, 4], got shape "
                         f"{tuple(boxes_t.shape)}")
    if min_object_covered < 0:
        raise ValueError(f"{op}: min_object_covered must be non-negative, got "
                         f"{min_object_covered}")
    aspect_lo, aspect_hi = _pair(op, "aspect_ratio_range", aspect_ratio_range, (0.75, 1.33))
    area_lo, area_hi = _pair(op, "area_range", area_range, (0.05, 1.0))
    if aspect_lo <= 0 or aspect_hi <= 0:
        raise ValueError(f"{op}: aspect_ratio_range must be positive, got "
                         f"{[aspect_lo, aspect_hi]}")
    if not (0 < area_lo <= 1 and 0 < area_hi <= 1):
        raise ValueError(f"{op}: area_range must be in (0, 1], got {[area_lo, area_hi]}")
    attempts = 100 if max_attempts is None else int(max_attempts)
    if attempts <= 0:
        raise ValueError(f"{op}: max_attempts must be positive, got {max_attempts}")
    flat = boxes_t.reshape(-1, 4).tolist()
    for box in flat:
        if any(not 0.0 <= c <= 1.0 for c in box):
            raise ValueError(f"{op}: all bounding box coordinates must be in [0.0, 1.0], "
                             f"got {box}")
    rects = [(int(b[1] * width), int(b[0] * height), int(b[3] * width), int(b[2] * height))
             for b in flat]
    if not rects:
        if not use_image_if_no_bounding_boxes:
            raise ValueError(f"{op}: no bounding boxes given; pass "
                             "use_image_if_no_bounding_boxes=True to use the whole image")
        rects = [(0, 0, width, height)]
    gen = generator(seed)
    rng = _random.Random(int(torch.randint(2**62, (), generator=gen)))
    crop = (0, 0, width, height)
    if width > 0 and height > 0 and area_hi > 0 and area_lo <= area_hi:
        for _ in range(attempts):
            aspect = rng.random() * (aspect_hi - aspect_lo) + aspect_lo
            candidate = _random_crop(rng, width, height, area_lo, area_hi, aspect)
            if candidate is not None and _covers(candidate, rects, min_object_covered):
                crop = candidate
                break
    x, y, w, h = crop
    begin = torch.tensor([y, x, 0], dtype=torch.int32)
    size_out = torch.tensor([h, w, -1], dtype=torch.int32)
    bboxes = torch.tensor([[[y / height, x / width, (y + h) / height, (x + w) / width]]],
                          dtype=torch.float32)
    return begin, size_out, bboxes
