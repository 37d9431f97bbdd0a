"""Small, learnable synthetic stand-ins for the examples' data sets (no download needed).

- :func:`make_dogscats` writes a dogs-vs-cats JPEG tree ``{train,valid}/{dogs,cats}/*.jpg``.
  A "dog" holds one or two filled ellipses, a "cat" three to five parallel stripes; colours,
  sizes, positions, image sizes and the noisy background are random, so the task is not trivial
  but a small CNN learns it in a few epochs.
- :func:`digits` renders MNIST-shaped digits (28x28 uint8, white on black, centred) with random
  jitter, scale, stroke width and noise: the shape of the real data, learnable like it.
"""

from __future__ import annotations

import os
from typing import Tuple

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

DOGSCATS_COUNTS = {"train": 400, "valid": 100}  # images per class
_DONE_MARKER = ".complete"


def _background(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    base = rng.integers(0, 256, size=3)
    noise = rng.normal(0, 25, size=(h, w, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def _dog(draw: ImageDraw.ImageDraw, rng: np.random.Generator, w: int, h: int) -> None:
    for _ in range(rng.integers(1, 3)):
        rx, ry = rng.integers(w // 8, w // 3), rng.integers(h // 8, h // 3)
        cx, cy = rng.integers(rx, w - rx), rng.integers(ry, h - ry)
        draw.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=tuple(rng.integers(0, 256, 3)))


def _cat(draw: ImageDraw.ImageDraw, rng: np.random.Generator, w: int, h: int) -> None:
    n = int(rng.integers(3, 6))
    colour = tuple(int(c) for c in rng.integers(0, 256, 3))
    vertical = bool(rng.integers(0, 2))
    extent = w if vertical else h
    period = max(4, extent // (2 * n + 1))
    start = int(rng.integers(0, max(1, extent - 2 * n * period)))
    for i in range(n):
        a = start + 2 * i * period
        box = [a, 0, a + period - 1, h] if vertical else [0, a, w, a + period - 1]
        draw.rectangle(box, fill=colour)


def make_dogscats(root: str, seed: int = 0, counts: dict = DOGSCATS_COUNTS) -> str:
    """Write the synthetic JPEG tree under ``root`` once (a marker file records completion).

    Returns ``root``. A second call with a complete tree does nothing.
    """
    if os.path.exists(os.path.join(root, _DONE_MARKER)):
        return root
    rng = np.random.default_rng(seed)
    for split, n in counts.items():
        for label, painter in (("dogs", _dog), ("cats", _cat)):
            folder = os.path.join(root, split, label)
            os.makedirs(folder, exist_ok=True)
            for i in range(n):
                w, h = int(rng.integers(56, 112)), int(rng.integers(56, 112))
                image = Image.fromarray(_background(rng, w, h))
                painter(ImageDraw.Draw(image), rng, w, h)
                image.save(os.path.join(folder, f"{label[:-1]}.{i}.jpg"), quality=85)
    with open(os.path.join(root, _DONE_MARKER), "w") as f:
        f.write(f"synthetic dogs-vs-cats set, seed {seed}, {counts} images per class\n")
    return root


def digits(n: int, seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """``n`` rendered digits: uint8 images ``[n, 28, 28]`` and uint8 labels ``[n]``."""
    rng = np.random.default_rng(seed)
    fonts = {size: ImageFont.load_default(size=size) for size in range(22, 31)}
    labels = rng.integers(0, 10, size=n).astype(np.uint8)
    images = np.empty((n, 28, 28), np.uint8)
    for i, label in enumerate(labels):
        canvas = Image.new("L", (28, 28))
        font = fonts[int(rng.integers(22, 31))]
        left, top, right, bottom = font.getbbox(str(int(label)))
        # centred with a small jitter, as MNIST centres its digits
        x = (28 - (right - left)) // 2 - left + int(rng.integers(-2, 3))
        y = (28 - (bottom - top)) // 2 - top + int(rng.integers(-2, 3))
        ImageDraw.Draw(canvas).text((x, y), str(int(label)), fill=255, font=font,
                                    stroke_width=int(rng.integers(0, 2)), stroke_fill=255)
        canvas = canvas.filter(ImageFilter.GaussianBlur(0.6))
        noisy = np.asarray(canvas, np.float32) + rng.normal(0, 20, (28, 28))
        images[i] = np.clip(noisy, 0, 255).astype(np.uint8)
    return images, labels
