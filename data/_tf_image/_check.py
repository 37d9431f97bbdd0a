"""Argument checks shared by the image ops."""

from __future__ import annotations

from typing import Any, Tuple

import torch


def image_4d(op: str, image: Any) -> Tuple[torch.Tensor, bool]:
    """``image`` as ``(N, H, W, C)`` and whether it was batched; ``ValueError`` otherwise."""
    if not isinstance(image, torch.Tensor):
        image = torch.as_tensor(image)
    if image.dim() == 3:
        return image.unsqueeze(0), False
    if image.dim() == 4:
        return image, True
    raise ValueError(f"{op}: image must be a (height, width, channels) or (batch, height, width, "
                     f"channels) tensor, got shape {tuple(image.shape)}")


def image_3d_or_more(op: str, image: Any, channels: int = 0) -> torch.Tensor:
    if not isinstance(image, torch.Tensor):
        image = torch.as_tensor(image)
    if image.dim() < 3:
        raise ValueError(f"{op}: image must be at least 3-D (height, width, channels), got "
                         f"shape {tuple(image.shape)}")
    if channels and image.shape[-1] != channels:
        raise ValueError(f"{op}: image must have {channels} channels (last dimension), got "
                         f"shape {tuple(image.shape)}")
    return image


def integer(op: str, name: str, value: Any, minimum: int) -> int:
    if isinstance(value, torch.Tensor):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{op}: {name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {value}")
    return value
