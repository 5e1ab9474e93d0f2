"""Batched training augmentation: random shifts, padded crops and flips as tensor operations.

Every function takes a whole batch ``(N, C, H, W)`` on any device and any dtype (uint8 or float)
and draws its randomness from a ``torch.Generator`` passed in, so a seeded generator gives the
same batch every time. :class:`Augmentation` can also draw the random numbers of a whole epoch at
once (:meth:`Augmentation.draw`) and apply a batch's rows of them (:meth:`Augmentation.apply`),
which saves a handful of kernel launches per batch. There is no per-image Python loop and no
PIL: a per-image translation is one ``gather`` over the flattened pixels with per-image row/column
indices.

- ``shift`` is the seed's ``ImageDataGenerator(width_shift_range=0.1, height_shift_range=0.1,
  fill_mode="nearest")``, restricted to whole pixels: uncovered pixels repeat the edge.
- ``crop`` is the paper's "4 pixels are padded on each side, and a 32x32 crop is randomly sampled
  from the padded image" (He et al. 2015, §4.2), zero padding.
- ``flip`` flips a random half horizontally (seed: ``horizontal_flip=True``; paper: "or its
  horizontal flip").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from zoo.data.augment_imagenet import crop_boxes, jitter, jitter_factors, resized_crop

AugmentName = Literal["shift", "crop", "flip", "random_resized_crop", "color_jitter"]
"""The names a recipe's ``augment`` list may use."""

PIXEL_STEPS = ("shift", "crop", "flip")
"""Steps whose draws are whole numbers from one uniform draw; the ImageNet-style steps
(:mod:`zoo.data.augment_imagenet`) draw their own columns after them."""

IMAGENET_COLUMNS = {"random_resized_crop": 4, "color_jitter": 3}
"""Draw columns of the ImageNet-style steps: a crop box (x1, y1, x2, y2); three jitter factors."""

FLIP_PROBABILITY = 0.5
"""Each image is flipped with this probability ("a random half")."""

SEED_SHIFT_FRACTION = 0.1
"""The seed's ``width_shift_range`` / ``height_shift_range``."""

PAPER_CROP_PADDING = 4
"""The paper's "4 pixels are padded on each side" (He et al. 2015, §4.2)."""


def _randint(
    low: int, high: int, n: int, generator: torch.Generator, device: torch.device
) -> Tensor:
    """``n`` integers in ``[low, high]`` drawn on the generator's device, moved to ``device``."""
    values = torch.randint(low, high + 1, (n,), generator=generator, device=generator.device)
    return values.to(device, non_blocking=True)


def gather_windows(images: Tensor, rows: Tensor, cols: Tensor) -> Tensor:
    """Image ``i`` of the result is ``images[i, :, rows[i]][:, :, cols[i]]``, for all ``i`` at once.

    ``rows`` is ``(N, H')`` and ``cols`` is ``(N, W')``, indices into each image's height and
    width. One ``gather`` over the flattened pixels does the whole batch.
    """
    n, c, _, width = images.shape
    index = (rows[:, :, None] * width + cols[:, None, :]).reshape(n, 1, -1)
    flat = images.reshape(n, c, -1).gather(2, index.expand(n, c, index.shape[-1]))
    return flat.reshape(n, c, rows.shape[1], cols.shape[1])


def translate(images: Tensor, dy: Tensor, dx: Tensor) -> Tensor:
    """Move image ``i`` down by ``dy[i]`` and right by ``dx[i]`` pixels, repeating the edge pixels.

    This is Keras' ``fill_mode="nearest"``: a pixel shifted in from outside the image takes the
    value of the nearest edge pixel, which is a clamp of the source index.
    """
    height, width = images.shape[-2:]
    device = images.device
    rows = (torch.arange(height, device=device) - dy[:, None]).clamp(0, height - 1)
    cols = (torch.arange(width, device=device) - dx[:, None]).clamp(0, width - 1)
    return gather_windows(images, rows, cols)


def max_shift(size: int, fraction: float) -> int:
    """The largest whole-pixel shift for ``fraction`` of ``size`` (0.1 of 32 → 3 pixels)."""
    return int(fraction * size)


def random_shift(images: Tensor, fraction: float, generator: torch.Generator) -> Tensor:
    """Shift each image by its own random whole-pixel offset, up to ``fraction`` x size per axis.

    The seed's ``width_shift_range=height_shift_range=0.1`` with ``fill_mode="nearest"``; Keras
    draws a fractional offset and interpolates, here offsets are whole pixels (no blurring).
    """
    n, _, height, width = images.shape
    reach_y, reach_x = max_shift(height, fraction), max_shift(width, fraction)
    dy = _randint(-reach_y, reach_y, n, generator, images.device)
    dx = _randint(-reach_x, reach_x, n, generator, images.device)
    return translate(images, dy, dx)


def crop(images: Tensor, top: Tensor, left: Tensor, padding: int) -> Tensor:
    """Zero-pad each side by ``padding`` and cut image ``i``'s window at ``(top[i], left[i])``.

    The window has the original size; offsets lie in ``[0, 2 * padding]``.
    """
    height, width = images.shape[-2:]
    padded = F.pad(images, (padding, padding, padding, padding))
    device = images.device
    rows = top[:, None] + torch.arange(height, device=device)
    cols = left[:, None] + torch.arange(width, device=device)
    return gather_windows(padded, rows, cols)


def random_crop(images: Tensor, padding: int, generator: torch.Generator) -> Tensor:
    """The paper's augmentation: pad ``padding`` zeros per side, then a random same-size crop."""
    n = images.shape[0]
    top = _randint(0, 2 * padding, n, generator, images.device)
    left = _randint(0, 2 * padding, n, generator, images.device)
    return crop(images, top, left, padding)


def flip_where(images: Tensor, mask: Tensor) -> Tensor:
    """Flip horizontally the images whose entry of the boolean ``mask`` (N,) is true."""
    return torch.where(mask[:, None, None, None], images.flip(-1), images)


def random_flip(images: Tensor, generator: torch.Generator) -> Tensor:
    """Flip each image horizontally with probability one half."""
    draws = torch.rand(images.shape[0], generator=generator, device=generator.device)
    return flip_where(images, (draws < FLIP_PROBABILITY).to(images.device, non_blocking=True))


@dataclass(frozen=True)
class Augmentation:
    """A sequence of named augmentations, applied in order to a batch."""

    steps: tuple[AugmentName, ...] = ("crop", "flip")
    shift_fraction: float = SEED_SHIFT_FRACTION
    crop_padding: int = PAPER_CROP_PADDING

    def __call__(self, images: Tensor, generator: torch.Generator) -> Tensor:
        """Augment a batch ``(N, C, H, W)``; randomness comes from ``generator`` only."""
        draws = self.draw(images.shape[0], images.shape[-2:], generator)
        return self.apply(images, draws.to(images.device, non_blocking=True))

    def _ranges(self, size: tuple[int, int] | torch.Size) -> list[tuple[int, int]]:
        """The inclusive range of each pixel-step column of :meth:`draw` (a flip: 0 or 1)."""
        ranges: list[tuple[int, int]] = []
        for step in self.steps:
            if step == "shift":
                reaches = (max_shift(length, self.shift_fraction) for length in size)
                ranges += [(-reach, reach) for reach in reaches]
            elif step == "crop":
                ranges += [(0, 2 * self.crop_padding)] * 2
            elif step == "flip":
                ranges.append((0, 1))
        return ranges

    def draw(
        self, count: int, size: tuple[int, int] | torch.Size, generator: torch.Generator
    ) -> Tensor:
        """Every random number ``count`` images of ``size`` (H, W) need, as float32 ``(count, K)``
        on the generator's device: per image, (dy, dx) for a shift, (top, left) for a crop and 0
        or 1 for a flip, in the order of ``steps`` (one ``rand`` for a whole epoch); then a crop
        box for ``random_resized_crop`` and three factors for ``color_jitter``."""
        ranges, device = self._ranges(size), generator.device
        columns = [torch.zeros(count, 0, device=device)]
        if ranges:
            uniform = torch.rand(count, len(ranges), generator=generator, device=device)
            low = torch.tensor([low for low, _ in ranges], device=device)
            span = torch.tensor([high - low + 1 for low, high in ranges], device=device)
            pixel_columns = [step for step in self.steps if step in PIXEL_STEPS]
            flips = torch.tensor(
                [s == "flip" for s in pixel_columns for _ in range(1 if s == "flip" else 2)],
                device=device,
            )
            integers = (uniform * span + low).floor()
            columns.append(torch.where(flips, uniform < FLIP_PROBABILITY, integers).float())
        for step in self.steps:
            if step == "random_resized_crop":
                height, width = size
                columns.append(crop_boxes(count, height, width, generator, device))
            elif step == "color_jitter":
                columns.append(jitter_factors(count, generator))
        return torch.cat(columns, dim=1)

    def _layout(self) -> dict[AugmentName, int]:
        """The first column of :meth:`draw` that each step reads."""
        layout, column = {}, 0
        for step in [s for s in self.steps if s in PIXEL_STEPS] + [
            s for s in self.steps if s not in PIXEL_STEPS
        ]:
            layout[step] = column
            column += 1 if step == "flip" else IMAGENET_COLUMNS.get(step, 2)
        return layout

    def apply(self, images: Tensor, draws: Tensor) -> Tensor:
        """Augment a batch ``(N, C, H, W)`` with its rows of :meth:`draw` (on its device). The
        pixel steps keep uint8 images; the ImageNet-style ones give float images in [0, 255]."""
        layout = self._layout()
        for step in self.steps:
            at = draws[:, layout[step] :]
            if step == "shift":
                images = translate(images, at[:, 0].long(), at[:, 1].long())
            elif step == "crop":
                images = crop(images, at[:, 0].long(), at[:, 1].long(), self.crop_padding)
            elif step == "flip":
                images = flip_where(images, at[:, 0].bool())
            elif step == "random_resized_crop":
                images = resized_crop(images, at[:, :4], images.shape[-2:])
            elif step == "color_jitter":
                images = jitter(images, at[:, :3])
            else:
                raise ValueError(f"unknown augmentation {step!r}")
        return images
