"""Batched augmentation: shapes, the crop/shift window rules, fill, flips and reproducibility."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from zoo.data import (
    Augmentation,
    crop,
    flip_where,
    random_crop,
    random_flip,
    random_shift,
    translate,
)
from zoo.data.augment import max_shift


def batch(n: int = 6, c: int = 3, h: int = 8, w: int = 8, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, c, h, w), generator=generator).to(torch.uint8)


def generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def windows(padded: torch.Tensor, h: int, w: int) -> list[torch.Tensor]:
    """Every h x w window of one padded image."""
    rows, cols = padded.shape[-2:]
    return [
        padded[:, y : y + h, x : x + w] for y in range(rows - h + 1) for x in range(cols - w + 1)
    ]


def is_one_of(image: torch.Tensor, candidates: list[torch.Tensor]) -> bool:
    return any(torch.equal(image, candidate) for candidate in candidates)


images_strategy = st.tuples(
    st.integers(1, 5), st.integers(1, 3), st.integers(1, 12), st.integers(1, 12)
)


@settings(max_examples=60, deadline=None)
@given(shape=images_strategy, padding=st.integers(0, 5), seed=st.integers(0, 2**31))
def test_random_crop_is_a_window_of_the_zero_padded_image(
    shape: tuple[int, int, int, int], padding: int, seed: int
) -> None:
    images = batch(*shape, seed=seed)
    out = random_crop(images, padding, generator(seed))
    assert out.shape == images.shape and out.dtype == images.dtype
    padded = F.pad(images, (padding,) * 4)
    for original, cropped in zip(padded, out, strict=True):
        assert is_one_of(cropped, windows(original, *shape[2:]))


@settings(max_examples=60, deadline=None)
@given(shape=images_strategy, fraction=st.floats(0.0, 0.49), seed=st.integers(0, 2**31))
def test_random_shift_is_a_window_of_the_edge_padded_image(
    shape: tuple[int, int, int, int], fraction: float, seed: int
) -> None:
    images = batch(*shape, seed=seed).float()
    out = random_shift(images, fraction, generator(seed))
    assert out.shape == images.shape and out.dtype == images.dtype
    reach_y, reach_x = max_shift(shape[2], fraction), max_shift(shape[3], fraction)
    padded = F.pad(images, (reach_x, reach_x, reach_y, reach_y), mode="replicate")
    for original, shifted in zip(padded, out, strict=True):
        assert is_one_of(shifted, windows(original, *shape[2:]))


def test_max_shift_matches_the_seed() -> None:
    assert max_shift(32, 0.1) == 3  # width_shift_range=0.1 of a 32-pixel CIFAR image
    assert max_shift(32, 0.0) == 0


def test_translate_repeats_edge_pixels() -> None:
    images = batch(n=2)
    out = translate(images, dy=torch.tensor([2, 0]), dx=torch.tensor([0, -3]))
    assert torch.equal(out[0, :, 2:], images[0, :, :-2])  # moved down by 2
    assert torch.equal(out[0, :, :2], images[0, :, :1].expand(-1, 2, -1))  # top row repeated
    assert torch.equal(out[1, :, :, :-3], images[1, :, :, 3:])  # moved left by 3
    assert torch.equal(out[1, :, :, -3:], images[1, :, :, -1:].expand(-1, -1, 3))


def test_crop_pads_with_zeros() -> None:
    images = batch(n=1) | 1  # no zero pixels in the image itself
    out = crop(images, top=torch.tensor([0]), left=torch.tensor([8]), padding=4)
    assert (out[0, :, :4] == 0).all() and (out[0, :, :, -4:] == 0).all()
    assert torch.equal(out[0, :, 4:, :4], images[0, :, :4, 4:])


def test_centre_crop_and_zero_shift_are_identity() -> None:
    images = batch()
    zeros = torch.zeros(images.shape[0], dtype=torch.int64)
    assert torch.equal(crop(images, zeros + 4, zeros + 4, padding=4), images)
    assert torch.equal(translate(images, zeros, zeros), images)


def test_flip_of_a_flip_is_the_identity() -> None:
    images = batch()
    mask = torch.tensor([True, False, True, True, False, False])
    once = flip_where(images, mask)
    assert torch.equal(once[0], images[0].flip(-1)) and torch.equal(once[1], images[1])
    assert torch.equal(flip_where(once, mask), images)
    state = generator(3)
    replay = generator(3)
    assert torch.equal(random_flip(random_flip(images, state), replay), images)


def test_random_flip_flips_about_half() -> None:
    images = batch(n=2000, c=1, h=1, w=2)
    out = random_flip(images, generator())
    flipped = (out != images).any(dim=(1, 2, 3)).float().mean()
    assert 0.4 < flipped < 0.6


@pytest.mark.parametrize("steps", [("shift", "flip"), ("crop", "flip"), ("shift", "crop", "flip")])
def test_pipeline_is_reproducible_with_a_seeded_generator(steps: tuple[str, ...]) -> None:
    augmentation = Augmentation(steps=steps)  # type: ignore[arg-type]
    images = batch(n=16, h=32, w=32)
    first, second = augmentation(images, generator(7)), augmentation(images, generator(7))
    assert torch.equal(first, second)
    assert not torch.equal(first, augmentation(images, generator(8)))
    assert first.shape == images.shape


def test_empty_pipeline_changes_nothing() -> None:
    images = batch()
    assert torch.equal(Augmentation(steps=())(images, generator()), images)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_runs_on_the_gpu_with_a_gpu_generator() -> None:
    images = batch(n=128, h=32, w=32).cuda()
    cuda_generator = torch.Generator(device="cuda").manual_seed(0)
    out = Augmentation(steps=("shift", "crop", "flip"))(images, cuda_generator)
    assert out.device == images.device and out.shape == images.shape


@pytest.mark.parametrize("steps", [("shift", "flip"), ("crop", "flip"), ("shift", "crop", "flip")])
def test_an_epochs_draws_lie_in_range_and_apply_as_the_single_steps(steps) -> None:
    augmentation = Augmentation(steps=steps)  # type: ignore[arg-type]
    draws = augmentation.draw(4000, (32, 32), generator(5))
    assert draws.shape == (4000, 2 * len(steps) - 1)
    assert torch.equal(draws, draws.round())  # whole pixels and 0/1 flips, float for the rest
    column = 0
    images = batch(n=4000, h=32, w=32)
    expected = images
    for step in steps:
        if step == "flip":
            assert set(draws[:, column].tolist()) == {0, 1}
            assert 0.45 < draws[:, column].float().mean() < 0.55
            expected = flip_where(expected, draws[:, column].bool())
            column += 1
            continue
        pair = draws[:, column : column + 2].long()
        reach = 3 if step == "shift" else 8  # 0.1 of 32; twice the 4-pixel padding
        assert pair.min() == (-reach if step == "shift" else 0) and pair.max() == reach
        if step == "shift":
            expected = translate(expected, pair[:, 0], pair[:, 1])
        else:
            expected = crop(expected, pair[:, 0], pair[:, 1], padding=4)
        column += 2
    assert torch.equal(augmentation.apply(images, draws), expected)
