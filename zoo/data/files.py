"""Image files decoded to one size: the part of a folder data set that runs per image.

Users' images come in any size, aspect, mode (L, RGB, RGBA, P, CMYK, 16-bit) and format. Each is
decoded with PIL (torchvision's own image decoders are deprecated since torchvision 0.29),
converted to RGB, scaled so that it covers the target size divided by the crop ratio — the
shorter side, keeping the aspect, as torchvision's ``Resize(int)`` — and centre-cropped to the
target size (torchvision's ``Resize``/``CenterCrop`` convention for evaluation, with timm's crop
ratio of 0.875). Large JPEGs are decoded at a reduced scale first (PIL's ``draft``), which is
most of the cost saved against a plain ``ImageFolder`` pipeline, and only the region that the
crop keeps is resampled (PIL's ``resize`` with a ``box``), not the whole scaled image.

The result is uint8 ``(3, H, W)``: conversion to float, normalisation and augmentation run on
whole batches on the training device (:mod:`zoo.data.augment`, :mod:`zoo.data.normalize`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from torch import Tensor
from torch.utils.data import Dataset

from zoo.errors import ZooError

CROP_RATIO = 0.875
"""The share of the resized image an evaluation centre crop keeps (timm's ``crop_pct``; 224 of
256 in torchvision's ImageNet recipes)."""

REDUCING_GAP = 3.0
"""PIL's ``reducing_gap`` for resizing: a large reduction first takes whole-pixel box averages,
then resamples the rest; 3.0 is "indistinguishable from fair resampling" (PIL's docs)."""

ROUNDING = 1e-6
"""Slack for float error when a scaled side is truncated to whole pixels."""

Size = tuple[int, int]
"""(height, width)."""

Box = tuple[float, float, float, float]
"""A region of an image in pixels, PIL's (left, top, right, bottom)."""


class BadImage(Exception):
    """An image file that cannot be decoded (truncated, corrupt, a decompression bomb)."""


def decode(
    path: str | Path, size: Size, crop_ratio: float = CROP_RATIO, mode: str = "RGB"
) -> Tensor:
    """The image at ``path`` as uint8 ``(C, *size)`` (RGB, or ``mode="L"`` grey): scaled to
    cover ``size / crop_ratio`` keeping its aspect, then centre-cropped to ``size``."""
    height, width = size
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                cover = _cover_scale(image.size, (height / crop_ratio, width / crop_ratio))
                target = (max(1, round(image.width * cover)), max(1, round(image.height * cover)))
                image.draft(mode, target)  # JPEG: decode at a reduced scale where it can
                image = ImageOps.exif_transpose(image)
                rgb = _to_rgb(image) if mode == "RGB" else _to_rgb(image).convert(mode)
                box = _centre_crop_box(rgb.size, size, crop_ratio)
                rgb = rgb.resize(
                    (width, height), Image.Resampling.BILINEAR, box, reducing_gap=REDUCING_GAP
                )
                array = np.array(rgb, dtype=np.uint8)  # one copy, writable for torch
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as exc:  # fmt: skip
        raise BadImage(f"{path}: {exc}") from exc
    pixels = torch.from_numpy(array)
    return pixels[None] if pixels.dim() == 2 else pixels.permute(2, 0, 1)


def _cover_scale(have: Sequence[float], want: Sequence[float]) -> float:
    """The scale at which an image of ``have`` (width, height) covers ``want`` (height, width)."""
    return max(want[1] / have[0], want[0] / have[1])


def _centre_crop_box(have: Sequence[int], size: Size, crop_ratio: float) -> Box:
    """The region of an image of ``have`` (width, height) pixels that becomes the ``size``
    (height, width) centre crop once the image is scaled to cover ``size / crop_ratio``.

    The scaled size and the crop offsets follow torchvision's integer rules exactly
    (``Resize(int)``: the covering side truncated to whole pixels, the other side truncated in
    proportion to it; ``CenterCrop``: offsets rounded), so the region samples the positions
    that ``Resize`` then ``CenterCrop`` sample. Resizing only this region (PIL's
    ``resize(box=...)``) computes only the pixels that are kept: a third less decoding time
    per image at 320 pixels for typical photos."""
    height, width = size
    want_height, want_width = height / crop_ratio, width / crop_ratio
    have_width, have_height = have
    if want_width / have_width >= want_height / have_height:  # the width covers
        scaled_width = int(want_width + ROUNDING)
        scaled_height = int(scaled_width * have_height / have_width)
    else:
        scaled_height = int(want_height + ROUNDING)
        scaled_width = int(scaled_height * have_width / have_height)
    scaled_width, scaled_height = max(width, scaled_width), max(height, scaled_height)
    left = round((scaled_width - width) / 2)  # halves to even, as CenterCrop's round()
    top = round((scaled_height - height) / 2)
    step_x, step_y = have_width / scaled_width, have_height / scaled_height
    return (left * step_x, top * step_y, (left + width) * step_x, (top + height) * step_y)


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any PIL mode as 8-bit RGB: 16-bit and float greys are scaled to 0-255, palettes and
    transparency are flattened, CMYK is converted."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or values.max() > 255 else 255.0
        image = Image.fromarray(np.clip(values / top * 255.0, 0, 255).astype(np.uint8))
    if image.mode == "P":
        image = image.convert("RGBA")
    return image if image.mode == "RGB" else image.convert("RGB")


def output_size(size: int | Sequence[int]) -> Size:
    """``image_size`` as (height, width)."""
    if isinstance(size, int):
        return (size, size)
    height, width = size
    return (height, width)


BAD = -1
"""The label an unreadable image is given, for the main process to drop or report."""


class ImageFiles(Dataset[tuple[Tensor, int, int]]):
    """(path, label) samples decoded to ``size``, as ``(image, label, index)``. A bad image
    comes back as zeros with the label :data:`BAD`: the worker process that met it cannot stop
    the run with a clear message, so the main process reports or skips it (:func:`check_bad`)."""

    def __init__(
        self, samples: Sequence[tuple[str, int]], size: Size, crop_ratio: float = CROP_RATIO
    ) -> None:
        self.samples = list(samples)
        self.size, self.crop_ratio = size, crop_ratio

    def __len__(self) -> int:
        return len(self.samples)

    def subset(self, indices: Sequence[int]) -> ImageFiles:
        """The samples at ``indices`` (a held-out split), decoded the same way."""
        return ImageFiles([self.samples[i] for i in indices], self.size, self.crop_ratio)

    def sample(self, count: int) -> Tensor:
        """uint8 ``(n, 3, H, W)`` of up to ``count`` evenly spaced images that decode."""
        step = max(1, len(self) // count)
        decoded = []
        for index in range(0, len(self), step):
            image, label, _ = self[index]
            if label != BAD:
                decoded.append(image)
        if not decoded:
            raise ZooError(f"none of the images sampled from {len(self)} files could be read")
        return torch.stack(decoded[:count])

    @property
    def labels(self) -> Tensor:
        return torch.tensor([label for _, label in self.samples], dtype=torch.int64)

    def __getitem__(self, index: int) -> tuple[Tensor, int, int]:
        path, label = self.samples[index]
        try:
            return decode(path, self.size, self.crop_ratio), label, index
        except BadImage:
            return torch.zeros((3, *self.size), dtype=torch.uint8), BAD, index


def check_bad(
    samples: Sequence[tuple[str, int]], labels: Tensor, indices: Tensor, skip: bool
) -> Tensor:
    """The positions of a batch's good images; a bad one is one clear error naming the file,
    unless ``skip`` (``data.skip_bad_images``)."""
    good = labels != BAD
    if not skip and not bool(good.all()):
        path = samples[int(indices[~good][0])][0]
        try:
            decode(path, (1, 1))
        except BadImage as exc:
            raise ZooError(
                f"cannot read the image {exc}; set data.skip_bad_images = true to skip such files"
            ) from None
    return good
