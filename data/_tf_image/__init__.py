"""The ``tf.image`` ops that input pipelines call inside ``map``, with TF's semantics.

- :mod:`.crop`: ``central_crop``, ``crop_to_bounding_box``, ``pad_to_bounding_box``,
  ``resize_with_crop_or_pad``, ``flip_left_right``, ``flip_up_down``.
- :mod:`.color`: ``adjust_brightness``, ``adjust_contrast``, ``adjust_saturation``,
  ``adjust_hue``, ``per_image_standardization``, ``rgb_to_grayscale`` (the arithmetic of TF's
  CPU kernels, step for step).
- :mod:`.jpeg`: ``extract_jpeg_shape``, ``decode_and_crop_jpeg``.
- :mod:`.random`: ``random_flip_left_right``, ``random_flip_up_down``, ``random_brightness``,
  ``random_contrast``, ``random_saturation``, ``random_hue``,
  ``sample_distorted_bounding_box``, seeded per element (see :mod:`data._element_seed`).

Images are ``(H, W, C)`` or ``(N, H, W, C)`` tensors, as ``data.image``'s decoders return them.
"""

from data._tf_image.color import (adjust_brightness, adjust_contrast, adjust_hue,
                                  adjust_saturation, per_image_standardization, rgb_to_grayscale)
from data._tf_image.crop import (central_crop, crop_to_bounding_box, flip_left_right,
                                 flip_up_down, pad_to_bounding_box, resize_image_with_crop_or_pad,
                                 resize_with_crop_or_pad)
from data._tf_image.jpeg import decode_and_crop_jpeg, extract_jpeg_shape
from data._tf_image.random import (random_brightness, random_contrast, random_flip_left_right,
                                   random_flip_up_down, random_hue, random_saturation,
                                   sample_distorted_bounding_box)

__all__ = [
    "adjust_brightness",
    "adjust_contrast",
    "adjust_hue",
    "adjust_saturation",
    "central_crop",
    "crop_to_bounding_box",
    "decode_and_crop_jpeg",
    "extract_jpeg_shape",
    "flip_left_right",
    "flip_up_down",
    "pad_to_bounding_box",
    "per_image_standardization",
    "random_brightness",
    "random_contrast",
    "random_flip_left_right",
    "random_flip_up_down",
    "random_hue",
    "random_saturation",
    "resize_image_with_crop_or_pad",
    "resize_with_crop_or_pad",
    "rgb_to_grayscale",
    "sample_distorted_bounding_box",
]
