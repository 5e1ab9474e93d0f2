"""Normaliser statistics: the seed's per-pixel mean, per-channel mean/std, and plain x/255."""

from __future__ import annotations

import pytest
import torch

import zoo.data.normalize as normalize_module
from zoo.data import Normalizer


def images(seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    base = torch.randint(0, 256, (50, 3, 4, 5), generator=generator)
    return (base // torch.tensor([1, 2, 4]).view(1, 3, 1, 1)).to(torch.uint8)  # distinct channels


def test_pixel_mean_is_the_seeds_mean_image() -> None:
    train = images()
    normalizer = Normalizer.fit(train, "pixel_mean")
    expected = (train.double() / 255).mean(0)  # np.mean(x_train / 255, axis=0)
    assert normalizer.mean.shape == (3, 4, 5)
    torch.testing.assert_close(normalizer.mean.double(), expected)
    out = normalizer(train)
    torch.testing.assert_close(out.mean(0), torch.zeros(3, 4, 5), atol=1e-6, rtol=0)
    other = images(seed=1)  # the val split gets the training set's mean, as in the seed
    torch.testing.assert_close(normalizer(other), other.float() / 255 - normalizer.mean)


def test_channel_statistics_match_a_float_computation() -> None:
    train = images()
    normalizer = Normalizer.fit(train, "channel")
    pixels = train.double().div(255).transpose(0, 1).reshape(3, -1)
    torch.testing.assert_close(
        normalizer.mean.flatten().double(), pixels.mean(1), rtol=1e-6, atol=0
    )
    torch.testing.assert_close(
        normalizer.std.flatten().double(), pixels.std(1, correction=0), rtol=1e-6, atol=0
    )
    out = normalizer(train).transpose(0, 1).reshape(3, -1)
    torch.testing.assert_close(out.mean(1), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.std(1, correction=0), torch.ones(3), atol=1e-5, rtol=0)


def test_constant_channel_does_not_divide_by_zero() -> None:
    train = torch.full((4, 3, 2, 2), 7, dtype=torch.uint8)
    assert torch.isfinite(Normalizer.fit(train, "channel")(train)).all()


def test_none_is_x_over_255() -> None:
    train = images()
    out = Normalizer.fit(train, "none")(train)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, train.float() / 255)


def test_to_moves_the_statistics() -> None:
    normalizer = Normalizer.fit(images(), "channel").to("cpu")
    assert normalizer.mean.device.type == "cpu" and normalizer.mean.shape == (3, 1, 1)


def test_normalising_into_channels_last_gives_the_same_values() -> None:
    images = torch.randint(0, 256, (5, 3, 6, 7), dtype=torch.uint8)
    normalizer = Normalizer.fit(images, "channel")
    plain, nhwc = normalizer(images), normalizer(images, channels_last=True)
    assert plain.is_contiguous() and nhwc.is_contiguous(memory_format=torch.channels_last)
    assert plain.dtype == nhwc.dtype == torch.float32 and torch.equal(plain, nhwc)


@pytest.mark.parametrize("mode", ["pixel_mean", "channel", "imagenet"])
def test_a_large_cpu_batch_gives_the_one_kernel_values_bit_for_bit(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above :data:`CPU_FUSED_LIMIT` (here every batch) a CPU batch is cast, then normalised in
    place: exactly the values of the one uint8 ``addcmul`` (a fused multiply-add, rounded
    once), in either layout and whatever the input's layout, so where a batch lived or how
    large it was cannot change what the network sees."""
    train = images()
    normalizer = Normalizer.fit(train, mode)
    one_kernel = torch.addcmul(normalizer.shift, train, normalizer.scale)
    monkeypatch.setattr(normalize_module, "CPU_FUSED_LIMIT", 0)
    nhwc = train.contiguous(memory_format=torch.channels_last)
    for batch in (train, nhwc):
        for channels_last in (False, True):
            assert torch.equal(normalizer(batch, channels_last), one_kernel)
