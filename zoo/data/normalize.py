"""Normalisation of uint8 batches to float: statistics fitted once on the training split.

Three modes (``[data] normalize``):

- ``pixel_mean`` — the seed's: ``x / 255``, then subtract the training set's per-pixel mean image
  (``x_train_mean = np.mean(x_train, axis=0)``; the same mean is subtracted from the test set).
- ``channel`` — per-channel mean and standard deviation of the training set (the usual torchvision
  recipe): ``(x / 255 - mean_c) / std_c``.
- ``imagenet`` — ImageNet's channel mean and std (timm's ``IMAGENET_DEFAULT_MEAN``/``STD``,
  torchvision's), which torchvision's and timm's pretrained weights expect.
- ``none`` — ``x / 255``.

A data set read from its files each epoch (too large to hold) is measured on an even sample of
:data:`STATS_SAMPLE` of its images.

Statistics are exact and cheap: the channel moments come from a 256-bin histogram of the uint8
pixels (``torch.bincount``), and the mean image is summed a few thousand images at a time, so no
float copy of the whole data set is made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor

from zoo.data.files import ImageFiles

NormalizeMode = Literal["pixel_mean", "channel", "imagenet", "none"]
"""The names a recipe's ``normalize`` may use."""

NORMALIZE_MODES = NormalizeMode.__args__

PIXEL_LEVELS = 256
"""Distinct values of a uint8 pixel."""

MAX_PIXEL = 255.0
"""Largest uint8 pixel value: ``x / 255`` maps images into [0, 1] as the seed does."""

MIN_STD = 1.0 / MAX_PIXEL
"""Floor for a channel's std, so a constant channel does not divide by zero."""

STATS_SAMPLE = 2048
"""Images a streamed data set's statistics are measured on."""

STATS_CHUNK = 4096
"""Images converted to float at a time when summing, to bound memory (CIFAR-10 in 13 chunks)."""

CPU_FUSED_LIMIT = 32 * 2**20
"""The largest float batch (bytes) that the CPU normalises with one uint8 ``addcmul``. That op
first casts its input into a float temporary. Above glibc's largest mmap threshold (32 MiB on
64-bit Linux) the temporary is fresh pages from the OS every batch, page faults included: at
64×3×320×320 (78 MB) 49 ms a batch against 27 for a cast into the result and an in-place
``addcmul``, on the main process that a streamed epoch waits on. Below it the temporary is
reused and the one op is the faster (a fifth faster on a CIFAR batch)."""


def pixel_mean(images: Tensor) -> Tensor:
    """Mean image ``(C, H, W)`` of uint8 ``(N, C, H, W)`` images, in [0, 1] units."""
    total = torch.zeros(images.shape[1:], dtype=torch.float64, device=images.device)
    for chunk in images.split(STATS_CHUNK):  # float32 sums of <= 4096 bytes are exact
        total += chunk.float().sum(0)
    return total / (images.shape[0] * MAX_PIXEL)


def channel_moments(images: Tensor) -> tuple[Tensor, Tensor]:
    """Per-channel mean and population std of uint8 ``(N, C, H, W)`` images, in [0, 1] units."""
    levels = torch.arange(PIXEL_LEVELS, dtype=torch.float64, device=images.device)
    means, stds = [], []
    for channel in images.unbind(1):  # a loop over the 1-3 channels, not over images
        counts = torch.bincount(channel.reshape(-1), minlength=PIXEL_LEVELS).double()
        total = counts.sum()
        mean = (counts * levels).sum() / total
        variance = (counts * (levels - mean) ** 2).sum() / total
        means.append(mean / MAX_PIXEL)
        stds.append((variance.sqrt() / MAX_PIXEL).clamp_min(MIN_STD))
    return torch.stack(means), torch.stack(stds)


@dataclass
class Normalizer:
    """``(x / 255 - mean) / std``, with ``mean`` and ``std`` broadcastable to an image (C, H, W)."""

    mean: Tensor
    std: Tensor
    scale: Tensor = field(init=False, repr=False)
    shift: Tensor = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # one fused multiply-add per batch: x * scale + shift
        self.scale = 1.0 / (MAX_PIXEL * self.std)
        self.shift = -self.mean / self.std

    @classmethod
    def unit(cls, channels: int = 3) -> Normalizer:
        """Plain ``x / 255`` (mode ``none``) for ``channels`` channels."""
        return cls(mean=torch.zeros(channels, 1, 1), std=torch.ones(channels, 1, 1))

    @classmethod
    def fit(cls, images: Tensor | ImageFiles, mode: NormalizeMode) -> Normalizer:
        """Statistics of the uint8 training images ``(N, C, H, W)`` (or a sample of files) for
        ``mode``."""
        if mode == "imagenet":
            from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD

            return cls(
                mean=torch.tensor(IMAGENET_DEFAULT_MEAN).view(-1, 1, 1),
                std=torch.tensor(IMAGENET_DEFAULT_STD).view(-1, 1, 1),
            )
        if isinstance(images, ImageFiles):
            images = images.sample(STATS_SAMPLE)
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise ValueError(
                f"expected uint8 images (N, C, H, W), got {images.dtype} {images.shape}"
            )
        if mode == "none":
            return cls.unit(images.shape[1])
        if mode == "pixel_mean":
            return cls(mean=pixel_mean(images).float().cpu(), std=torch.ones(images.shape[1], 1, 1))
        if mode == "channel":
            mean, std = channel_moments(images)
            return cls(mean=mean.float().cpu().view(-1, 1, 1), std=std.float().cpu().view(-1, 1, 1))
        raise ValueError(f"unknown normalize mode {mode!r}; known: {', '.join(NORMALIZE_MODES)}")

    def to(self, device: torch.device | str) -> Normalizer:
        """The same statistics on ``device``."""
        return Normalizer(mean=self.mean.to(device), std=self.std.to(device))

    def __call__(self, images: Tensor, channels_last: bool = False) -> Tensor:
        """Float32 normalised images from uint8 (or float 0-255) images on the same device, in
        ``channels_last`` layout if asked: the cast, the normalisation and the layout change are
        one ``addcmul`` writing into a buffer of that layout. A large batch on the CPU is cast
        into that buffer first and normalised there in place (:data:`CPU_FUSED_LIMIT`): the
        same values, bit for bit."""
        layout = torch.channels_last if channels_last else torch.contiguous_format
        out = torch.empty(
            images.shape, dtype=torch.float32, device=images.device, memory_format=layout
        )
        if images.device.type == "cpu" and out.nbytes > CPU_FUSED_LIMIT:
            images = out.copy_(images)
        return torch.addcmul(self.shift, images, self.scale, out=out)
