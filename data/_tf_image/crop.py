"""Crops, pads and flips, as ``tf.image``'s."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from data._tf_image._check import image_4d, integer

__all__ = ["central_crop", "crop_to_bounding_box", "flip_left_right", "flip_up_down",
           "pad_to_bounding_box", "resize_image_with_crop_or_pad", "resize_with_crop_or_pad"]


def _out(image: torch.Tensor, batched: bool) -> torch.Tensor:
    return image if batched else image[0]


def crop_to_bounding_box(image: torch.Tensor, offset_height: int, offset_width: int,
                         target_height: int, target_width: int) -> torch.Tensor:
    """The ``target_height x target_width`` window at ``(offset_height, offset_width)``.

    Returns a view of ``image`` (HWC or NHWC). Raises ``ValueError`` as TF does when the window
    does not fit.

    >>> crop_to_bounding_box(torch.arange(12).reshape(3, 4, 1), 1, 1, 2, 2)[..., 0].tolist()
    [[5, 6], [9, 10]]
    """
    op = "crop_to_bounding_box"
    images, batched = image_4d(op, image)
    oh, ow = integer(op, "offset_height", offset_height, 0), integer(op, "offset_width",
                                                                      offset_width, 0)
    th, tw = integer(op, "target_height", target_height, 1), integer(op, "target_width",
                                                                      target_width, 1)
    height, width = images.shape[1], images.shape[2]
    if width < tw + ow:
        raise ValueError(f"{op}: width must be >= target + offset: width {width} < "
                         f"target_width {tw} + offset_width {ow}")
    if height < th + oh:
        raise ValueError(f"{op}: height must be >= target + offset: height {height} < "
                         f"target_height {th} + offset_height {oh}")
    return _out(images[:, oh:oh + th, ow:ow + tw, :], batched)


def pad_to_bounding_box(image: torch.Tensor, offset_height: int, offset_width: int,
                        target_height: int, target_width: int) -> torch.Tensor:
    """``image`` placed at ``(offset_height, offset_width)`` in a zero image of the target size.

    >>> pad_to_bounding_box(torch.ones(1, 1, 1), 1, 0, 2, 2)[..., 0].tolist()
    [[0.0, 0.0], [1.0, 0.0]]
    """
    op = "pad_to_bounding_box"
    images, batched = image_4d(op, image)
    oh, ow = integer(op, "offset_height", offset_height, 0), integer(op, "offset_width",
                                                                      offset_width, 0)
    th, tw = integer(op, "target_height", target_height, 1), integer(op, "target_width",
                                                                      target_width, 1)
    height, width = images.shape[1], images.shape[2]
    after_h, after_w = th - oh - height, tw - ow - width
    if after_w < 0:
        raise ValueError(f"{op}: target_width {tw} must be >= width {width} + offset_width {ow}")
    if after_h < 0:
        raise ValueError(f"{op}: target_height {th} must be >= height {height} + "
                         f"offset_height {oh}")
    return _out(F.pad(images, (0, 0, ow, after_w, oh, after_h)), batched)


def resize_with_crop_or_pad(image: torch.Tensor, target_height: int,
                            target_width: int) -> torch.Tensor:
    """Centre-crop and/or zero-pad ``image`` to ``target_height x target_width``, as TF.

    A dimension larger than the target is cropped evenly from both sides (the extra pixel of an
    odd difference from the end), a smaller one padded the same way.

    >>> resize_with_crop_or_pad(torch.ones(2, 4, 1), 4, 2)[..., 0].tolist()
    [[0.0, 0.0], [1.0, 1.0], [1.0, 1.0], [0.0, 0.0]]
    """
    op = "resize_with_crop_or_pad"
    images, batched = image_4d(op, image)
    th, tw = integer(op, "target_height", target_height, 1), integer(op, "target_width",
                                                                      target_width, 1)
    height, width = images.shape[1], images.shape[2]
    width_diff, height_diff = tw - width, th - height
    cropped = crop_to_bounding_box(images, max(-height_diff // 2, 0), max(-width_diff // 2, 0),
                                   min(th, height), min(tw, width))
    return _out(pad_to_bounding_box(cropped, max(height_diff // 2, 0), max(width_diff // 2, 0),
                                    th, tw), batched)


#: TF 1.x's name of :func:`resize_with_crop_or_pad`.
resize_image_with_crop_or_pad = resize_with_crop_or_pad


def central_crop(image: torch.Tensor, central_fraction: float) -> torch.Tensor:
    """The central ``central_fraction`` of ``image`` along height and width, as TF.

    The crop starts at ``int((size - size * central_fraction) / 2)`` on each side (TF's
    arithmetic), so its size is ``size - 2 * start``.

    >>> central_crop(torch.zeros(10, 7, 3), 0.5).shape
    torch.Size([6, 5, 3])
    """
    op = "central_crop"
    if isinstance(central_fraction, torch.Tensor):
        central_fraction = float(central_fraction)
    if not 0.0 < central_fraction <= 1.0:
        raise ValueError(f"{op}: central_fraction must be within (0, 1], got {central_fraction}")
    images, batched = image_4d(op, image)
    if central_fraction == 1.0:
        return image
    height, width = float(images.shape[1]), float(images.shape[2])
    start_h = int((height - height * central_fraction) / 2)
    start_w = int((width - width * central_fraction) / 2)
    return _out(images[:, start_h:images.shape[1] - start_h,
                       start_w:images.shape[2] - start_w, :], batched)


def flip_left_right(image: torch.Tensor) -> torch.Tensor:
    """Mirror ``image`` along its width (HWC or NHWC)."""
    return image.flip(-2)


def flip_up_down(image: torch.Tensor) -> torch.Tensor:
    """Mirror ``image`` along its height (HWC or NHWC)."""
    return image.flip(-3)
