"""ImageNet-style training augmentation, batched on the training device.

- ``random_resized_crop``: torchvision's ``RandomResizedCrop`` (Szegedy et al. 2015; the
  ImageNet recipe of He et al. 2015 §3.4 as torchvision trains it) with its defaults: a crop of
  8%–100% of the image's area and an aspect ratio of 3/4–4/3 (log-uniform), resized to the
  output size. torchvision draws up to ten candidates per image and falls back to a centre crop;
  here the ten candidates of every image are drawn at once, and all crops are resized together
  by one ``torchvision.ops.roi_align`` (bilinear sampling of each box into the output grid).
- ``color_jitter``: torchvision's ``ColorJitter`` brightness, contrast and saturation, each a
  random factor in [1 − s, 1 + s] per image (timm's default strength, 0.4), applied in a fixed
  order; hue is left alone, as in timm's ImageNet training default.

Both read their random numbers from :meth:`zoo.data.augment.Augmentation.draw`, drawn for a
whole epoch at once like the pixel steps'.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

RRC_SCALE = (0.08, 1.0)
RRC_RATIO = (3 / 4, 4 / 3)
RRC_ATTEMPTS = 10
"""torchvision's ``RandomResizedCrop`` defaults."""

COLOR_JITTER = 0.4
"""timm's default colour-jitter strength for brightness, contrast and saturation."""

GREY = torch.tensor([0.299, 0.587, 0.114])
"""ITU-R 601 luma weights: torchvision's ``rgb_to_grayscale``."""


def _uniform(shape: tuple[int, ...], low: float, high: float, generator: torch.Generator) -> Tensor:
    return torch.rand(shape, generator=generator, device=generator.device) * (high - low) + low


def crop_boxes(
    n: int, height: int, width: int, generator: torch.Generator, device: torch.device
) -> Tensor:
    """``(n, 4)`` boxes ``x1, y1, x2, y2`` as torchvision's ``RandomResizedCrop.get_params``
    draws them: the first of ten candidates that fits, else the centre crop of the clamped
    ratio."""
    area = height * width
    shape = (n, RRC_ATTEMPTS)
    target = area * _uniform(shape, *RRC_SCALE, generator)
    log_ratio = _uniform(shape, math.log(RRC_RATIO[0]), math.log(RRC_RATIO[1]), generator)
    ratio = torch.exp(log_ratio)
    w = torch.round(torch.sqrt(target * ratio))
    h = torch.round(torch.sqrt(target / ratio))
    fits = (w > 0) & (h > 0) & (w <= width) & (h <= height)
    top = torch.floor(_uniform(shape, 0, 1, generator) * (height - h + 1))
    left = torch.floor(_uniform(shape, 0, 1, generator) * (width - w + 1))
    first = torch.argmax(fits.int(), dim=1, keepdim=True)  # the first fitting candidate
    found = fits.any(dim=1)
    pick = lambda t: t.gather(1, first).squeeze(1)  # noqa: E731
    w, h, top, left = pick(w), pick(h), pick(top), pick(left)
    in_ratio = width / height  # the fallback: the centre crop at the nearest allowed ratio
    if in_ratio < RRC_RATIO[0]:
        fallback_w, fallback_h = width, round(width / RRC_RATIO[0])
    elif in_ratio > RRC_RATIO[1]:
        fallback_w, fallback_h = round(height * RRC_RATIO[1]), height
    else:
        fallback_w, fallback_h = width, height
    w = torch.where(found, w, fallback_w)
    h = torch.where(found, h, fallback_h)
    top = torch.where(found, top, (height - fallback_h) // 2)
    left = torch.where(found, left, (width - fallback_w) // 2)
    return torch.stack([left, top, left + w, top + h], dim=1).to(device)


def resized_crop(images: Tensor, boxes: Tensor, size: tuple[int, int] | torch.Size) -> Tensor:
    """Each image's ``boxes`` row (x1, y1, x2, y2) resized to ``size``: float images out."""
    from torchvision.ops import roi_align  # torchvision: imported on use, not by every command

    n = images.shape[0]
    index = torch.arange(n, device=images.device, dtype=torch.float32)[:, None]
    floats = images if images.is_floating_point() else images.float()
    rois = torch.cat([index, boxes.to(images.device, torch.float32)], dim=1)
    return roi_align(floats, rois, tuple(size), spatial_scale=1.0, sampling_ratio=2, aligned=True)


def jitter_factors(
    count: int, generator: torch.Generator, strength: float = COLOR_JITTER
) -> Tensor:
    """``(count, 3)`` brightness, contrast and saturation factors in [1 − s, 1 + s]."""
    return _uniform((count, 3), 1 - strength, 1 + strength, generator)


def jitter(images: Tensor, factors: Tensor) -> Tensor:
    """Brightness, contrast and saturation of every image scaled by its row of ``factors``, in
    that order (torchvision draws a random order per call; a fixed one keeps the batch one
    sequence of kernels); images in [0, 255], float out."""
    floats = images if images.is_floating_point() else images.float()
    factors = factors.to(floats.device, floats.dtype)[:, :, None, None, None]
    grey_weights = GREY.to(floats)[None, :, None, None]
    floats = (floats * factors[:, 0]).clamp(0, 255)  # brightness: a blend with black
    mean = (floats * grey_weights).sum(1, keepdim=True).mean((2, 3), keepdim=True)
    floats = (mean + (floats - mean) * factors[:, 1]).clamp(0, 255)  # contrast: with the mean grey
    grey = (floats * grey_weights).sum(1, keepdim=True)
    return (grey + (floats - grey) * factors[:, 2]).clamp(0, 255)  # saturation: with own grey
