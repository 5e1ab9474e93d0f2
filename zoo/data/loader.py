"""A data loader that keeps the whole split on the training device and builds batches there.

CIFAR-10 is 150 MiB as uint8, so it fits in any GPU's memory: holding it there removes the host
→ device copy and the worker processes of a ``torch.utils.data.DataLoader``. Each epoch is one
``randperm`` (seeded) and one draw of the epoch's augmentation parameters, and each batch is an
index, batched augmentation (:mod:`zoo.data.augment`), and one kernel that converts to float,
normalises and lays out (:mod:`zoo.data.normalize`) — no per-image Python and no host
synchronisation per batch (nothing calls ``.item()`` or ``.cpu()``).

Under DDP every rank builds the same permutation (same seed) and takes its own interleaved shard,
padded by wrapping or truncated (``drop_last``) so all ranks run the same number of batches —
``torch.utils.data.DistributedSampler``'s convention. The order and the augmentations of an epoch
are drawn from generators seeded by (seed, epoch) and (seed, epoch, rank) — see
:meth:`DeviceLoader.set_epoch` — so they do not depend on the device or on any saved state.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch import Tensor
from torch.utils.data import DataLoader

from zoo.data.augment import Augmentation
from zoo.data.files import ImageFiles, check_bad
from zoo.data.normalize import Normalizer

EPOCH_STRIDE = 1_000_003
RANK_STRIDE = 10_007
"""Mixing constants for per-(seed, epoch, rank) generator seeds (primes, so that neighbouring
seeds, epochs and ranks never share a stream in practice)."""

RESIDENT_FRACTION = 0.5
"""A split is kept on an accelerator if it takes at most this share of its free memory."""


def fits_on_device(nbytes: int, device: torch.device) -> bool:
    """Whether ``nbytes`` may live on ``device`` (always true for the CPU)."""
    if device.type != "cuda":
        return True
    free, _ = torch.cuda.mem_get_info(device)
    return nbytes <= RESIDENT_FRACTION * free


class DeviceLoader:
    """Batches ``(float images, int64 labels)`` of one split, built on ``device``.

    ``images`` are uint8 ``(N, C, H, W)`` and ``labels`` int64 ``(N,)``. ``resident=None`` keeps
    them on ``device`` when they fit (:func:`fits_on_device`), ``True`` always, ``False`` never
    (then each batch is copied over). Augmentation, when given, runs on the uint8 batch before
    normalisation; a normalizer of ``None`` means ``x / 255``.

    ``images`` may instead be :class:`~zoo.data.files.ImageFiles`, a folder too large to hold:
    then each epoch's batches are decoded by a ``torch.utils.data.DataLoader`` with ``workers``
    processes in the same (seed, epoch, rank) order, and copied to ``device`` (streaming). Bad
    images are one clear error, or, with ``skip_bad``, dropped from their batch and counted in
    :attr:`skipped`.
    """

    def __init__(
        self,
        images: Tensor | ImageFiles,
        labels: Tensor,
        *,
        batch_size: int,
        device: torch.device | str = "cpu",
        shuffle: bool = False,
        drop_last: bool = False,
        augment: Augmentation | None = None,
        normalizer: Normalizer | None = None,
        channels_last: bool = False,
        rank: int = 0,
        world_size: int = 1,
        seed: int = 0,
        resident: bool | None = None,
        workers: int = 0,
        skip_bad: bool = False,
    ) -> None:
        streamed = isinstance(images, ImageFiles)
        if not streamed and (images.dtype != torch.uint8 or images.dim() != 4):
            raise ValueError("expected uint8 images (N, C, H, W) and labels (N,)")
        if len(images) != labels.shape[0]:
            raise ValueError("expected as many labels as images")
        if batch_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"bad batch_size {batch_size} or rank {rank} of {world_size}")
        self.device = torch.device(device)
        self.files = images if streamed else None
        self.workers, self.skip_bad, self.skipped = workers, skip_bad, 0
        if streamed:
            self.resident = False
            self.images = torch.empty(
                len(images), 3, *images.size, dtype=torch.uint8, device="meta"
            )
            self.labels = labels.to(torch.int64)
        else:
            nbytes = images.nbytes + labels.nbytes
            self.resident = fits_on_device(nbytes, self.device) if resident is None else resident
            storage = self.device if self.resident else torch.device("cpu")
            self.images = images.to(storage)
            self.labels = labels.to(storage, torch.int64)
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.augment, self.channels_last = augment, channels_last
        self.normalizer = (normalizer or Normalizer.unit(self.images.shape[1])).to(self.device)
        self.rank, self.world_size, self.seed = rank, world_size, seed
        self.epoch = 0

    @property
    def samples_per_rank(self) -> int:
        """Samples this rank sees per epoch (the same on every rank)."""
        total = self.images.shape[0]
        if self.drop_last:
            return total // self.world_size
        return math.ceil(total / self.world_size)

    def __len__(self) -> int:
        """Batches per epoch."""
        if self.drop_last:
            return self.samples_per_rank // self.batch_size
        return math.ceil(self.samples_per_rank / self.batch_size)

    def epoch_indices(self) -> Tensor:
        """This rank's sample indices for the current epoch (:meth:`set_epoch`)."""
        total = self.images.shape[0]
        if self.shuffle:  # on the CPU: the same order whatever the device, on every rank
            shuffle = torch.Generator().manual_seed(self._epoch_seed(rank=0))
            order = torch.randperm(total, generator=shuffle).to(self.labels.device)
        else:
            order = torch.arange(total, device=self.labels.device)
        needed = self.samples_per_rank * self.world_size
        repeats = math.ceil(needed / max(total, 1))
        order = order.repeat(repeats)[:needed]  # pad by wrapping, or truncate
        return order[self.rank :: self.world_size]

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose order and augmentations the next pass draws (each finished
        pass moves on by one). They depend on (seed, epoch, rank) alone, so a resumed run
        repeats them exactly and no generator state needs saving."""
        self.epoch = epoch

    def _epoch_seed(self, rank: int) -> int:
        return (self.seed * EPOCH_STRIDE + self.epoch) * RANK_STRIDE + rank

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        return self.batches_from(0)

    def batches_from(self, first: int) -> Iterator[tuple[Tensor, Tensor]]:
        """The epoch's batches from the ``first``-th on, exactly as a whole pass gives them: a
        run stopped mid-epoch resumes with the batch it would have taken next."""
        indices = self.epoch_indices()
        draws = None
        if self.augment is not None:  # the whole epoch's random numbers at once
            generator = torch.Generator(device=self.device)
            generator.manual_seed(self._epoch_seed(self.rank + 1))
            draws = self.augment.draw(len(indices), self.images.shape[-2:], generator)
        starts = range(first * self.batch_size, len(self) * self.batch_size, self.batch_size)
        batches = [indices[start : start + self.batch_size] for start in starts]
        for start, (images, labels, good) in zip(starts, self._uint8_batches(batches), strict=True):
            rows = None if draws is None else draws[start : start + self.batch_size]
            if good is not None:  # streamed, some images did not decode: drop them
                rows = None if rows is None else rows[good.to(rows.device)]
                images, labels = images[good], labels[good]
            yield self._prepare(images, labels, rows)
        self.epoch += 1  # the next pass draws a new epoch unless set_epoch says otherwise

    def _uint8_batches(
        self, batches: list[Tensor]
    ) -> Iterator[tuple[Tensor, Tensor, Tensor | None]]:
        """Each batch's uint8 images and labels: indexed from memory, or decoded from files by
        worker processes (with which of them decoded, when some did not)."""
        if self.files is None:
            for batch in batches:
                yield self.images[batch], self.labels[batch], None
            return
        loader = DataLoader(
            self.files,
            batch_sampler=[batch.tolist() for batch in batches],
            num_workers=self.workers,
            pin_memory=self.device.type == "cuda",
            persistent_workers=False,
        )
        for images, labels, indices in loader:
            good = check_bad(self.files.samples, labels, indices, self.skip_bad)
            bad = int((~good).sum())
            self.skipped += bad
            # all decoded, the usual case: no boolean-index copy of the batch (20 MB at 320 px)
            yield images, labels.to(torch.int64), good if bad else None

    def _prepare(
        self, images: Tensor, labels: Tensor, draws: Tensor | None
    ) -> tuple[Tensor, Tensor]:
        """Move (if not resident), augment, normalise and lay out one uint8 batch."""
        if not self.resident:
            pin = self.device.type == "cuda"
            images = (images.pin_memory() if pin else images).to(self.device, non_blocking=pin)
            labels = (labels.pin_memory() if pin else labels).to(self.device, non_blocking=pin)
        if self.augment is not None and draws is not None:
            images = self.augment.apply(images, draws)
        return self.normalizer(images, self.channels_last), labels
