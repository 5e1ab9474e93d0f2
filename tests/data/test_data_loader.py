"""The device-resident loader: epoch coverage, batch counts, DDP shards and resumable order."""

from __future__ import annotations

import pytest
import torch

from zoo.data import Augmentation, DeviceLoader, Normalizer


def indexed(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Images whose every pixel holds the sample index (mod 256), labels = index."""
    labels = torch.arange(n)
    images = (labels % 256).to(torch.uint8).view(n, 1, 1, 1).expand(n, 3, 4, 4).contiguous()
    return images, labels


def seen(loader: DeviceLoader) -> list[list[int]]:
    """One epoch's labels, batch by batch."""
    return [labels.tolist() for _, labels in loader]


def epoch(loader: DeviceLoader) -> list[int]:
    """One epoch's labels in order."""
    return torch.cat([labels for _, labels in loader]).tolist()


def test_one_epoch_covers_every_sample_once() -> None:
    loader = DeviceLoader(*indexed(103), batch_size=10, shuffle=True)
    batches = seen(loader)
    assert len(loader) == len(batches) == 11
    assert [len(b) for b in batches] == [10] * 10 + [3]
    order = [label for batch in batches for label in batch]
    assert sorted(order) == list(range(103))
    assert order != list(range(103))  # shuffled
    assert epoch(loader) != order  # a new order each epoch


def test_drop_last_gives_only_full_batches() -> None:
    loader = DeviceLoader(*indexed(103), batch_size=10, shuffle=True, drop_last=True)
    batches = seen(loader)
    assert len(loader) == len(batches) == 10 and all(len(b) == 10 for b in batches)


def test_without_shuffle_the_order_is_the_data_order() -> None:
    loader = DeviceLoader(*indexed(7), batch_size=3)
    assert seen(loader) == [[0, 1, 2], [3, 4, 5], [6]]


def test_batches_are_normalised_floats_with_int64_labels() -> None:
    images, labels = indexed(8)
    normalizer = Normalizer.fit(images, "channel")
    loader = DeviceLoader(images, labels, batch_size=8, normalizer=normalizer)
    ((x, y),) = list(loader)
    assert x.dtype == torch.float32 and y.dtype == torch.int64
    torch.testing.assert_close(x, normalizer(images))


def test_default_normalisation_is_x_over_255() -> None:
    images, labels = indexed(4)
    ((x, _),) = list(DeviceLoader(images, labels, batch_size=4))
    torch.testing.assert_close(x, images.float() / 255)


def test_channels_last() -> None:
    loader = DeviceLoader(*indexed(4), batch_size=2, channels_last=True)
    x, _ = next(iter(loader))
    assert x.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize("n", [120, 121, 125])
@pytest.mark.parametrize("drop_last", [False, True])
def test_ddp_shards_partition_each_epoch(n: int, drop_last: bool) -> None:
    world = 4
    loaders = [
        DeviceLoader(
            *indexed(n), batch_size=8, shuffle=True, drop_last=drop_last, rank=r, world_size=world
        )
        for r in range(world)
    ]
    assert len({len(loader) for loader in loaders}) == 1  # every rank runs the same steps
    everything = [label for loader in loaders for label in epoch(loader)]
    if n % world == 0 and not drop_last:
        assert sorted(everything) == list(range(n))  # disjoint and complete
    elif drop_last:
        assert len(set(everything)) == len(everything)  # disjoint, a tail dropped
    else:
        assert set(everything) == set(range(n))  # complete, a few repeated to even out
        assert len(everything) - n < world


def test_an_epoch_depends_on_seed_and_epoch_alone() -> None:
    _, labels = indexed(50)
    images = torch.randint(0, 256, (50, 3, 8, 8), dtype=torch.uint8)
    augment = Augmentation(steps=("shift", "crop", "flip"))
    loader = DeviceLoader(images, labels, batch_size=16, shuffle=True, augment=augment, seed=3)
    loader.set_epoch(0)
    first = list(loader)
    loader.set_epoch(1)
    second = list(loader)
    assert not all(torch.equal(y1, y2) for (_, y1), (_, y2) in zip(first, second, strict=True))
    fresh = DeviceLoader(images, labels, batch_size=16, shuffle=True, augment=augment, seed=3)
    fresh.set_epoch(1)  # a resumed run: no state but the epoch
    for (x1, y1), (x2, y2) in zip(second, fresh, strict=True):
        assert torch.equal(y1, y2) and torch.equal(x1, x2)


def test_ranks_draw_different_augmentations_of_one_order() -> None:
    images = torch.randint(0, 256, (40, 3, 8, 8), dtype=torch.uint8)
    labels = torch.arange(40)
    augment = Augmentation(steps=("crop", "flip"))
    ranks = [
        DeviceLoader(
            images,
            labels,
            batch_size=20,
            shuffle=True,
            augment=augment,
            seed=1,
            rank=rank,
            world_size=2,
        )
        for rank in (0, 1)
    ]
    shards = [set(torch.cat([y for _, y in loader]).tolist()) for loader in ranks]
    assert shards[0].isdisjoint(shards[1]) and len(shards[0] | shards[1]) == 40


def test_same_seed_same_order_across_loaders() -> None:
    first = DeviceLoader(*indexed(30), batch_size=7, shuffle=True, seed=5)
    second = DeviceLoader(*indexed(30), batch_size=7, shuffle=True, seed=5)
    assert seen(first) == seen(second)


def test_non_resident_gives_the_same_batches() -> None:
    resident = DeviceLoader(*indexed(30), batch_size=7, shuffle=True, resident=True)
    copied = DeviceLoader(*indexed(30), batch_size=7, shuffle=True, resident=False)
    assert seen(resident) == seen(copied)


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        DeviceLoader(*indexed(4), batch_size=0)
    with pytest.raises(ValueError):
        DeviceLoader(*indexed(4), batch_size=2, rank=2, world_size=2)
    with pytest.raises(ValueError):
        DeviceLoader(torch.zeros(4, 3, 2, 2), torch.arange(4), batch_size=2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_batches_live_on_the_gpu() -> None:
    images, labels = indexed(64)
    loader = DeviceLoader(
        images, labels, batch_size=16, device="cuda", shuffle=True, augment=Augmentation()
    )
    assert loader.images.is_cuda and loader.resident
    x, y = next(iter(loader))
    assert x.is_cuda and y.is_cuda
    on_cpu = DeviceLoader(images, labels, batch_size=16, shuffle=True)
    assert torch.equal(y.cpu(), next(iter(on_cpu))[1])  # the order does not depend on the device
