"""Gradient accumulation: k micro-batches give one batch's step, schedules count optimiser
steps, and DDP synchronises only the last micro-batch."""

from __future__ import annotations

import contextlib
import copy

import pytest
import torch
from torch import nn

from zoo.recipe.training import OptimConfig, TrainConfig
from zoo.train.objective import Objective, train_step
from zoo.train.optim import make_optimizer
from zoo.train.runtime.device import place


def no_batch_norm() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10),
    )  # fmt: skip


@pytest.mark.parametrize("k", [2, 4, 10])
def test_k_micro_batches_give_the_step_of_one_batch(k):
    """10 images in k parts (4: of 3, 3, 2 and 2): the same weights after two steps."""
    placement = place(TrainConfig(device="cpu", precision="fp32", channels_last="off"))
    whole, parts = no_batch_norm(), copy.deepcopy(no_batch_norm())
    generator = torch.Generator().manual_seed(1)
    batches = [
        (
            torch.rand(10, 3, 8, 8, generator=generator),
            torch.randint(0, 10, (10,), generator=generator),
        )
        for _ in range(2)
    ]
    config = OptimConfig(lr=0.1)
    for network, accumulate in ((whole, 1), (parts, k)):
        optimizer = make_optimizer(network, config, placement.device)
        objective = Objective(network, label_smoothing=0.1).train()
        sums = [
            train_step(objective, optimizer, placement, images, labels, accumulate)
            for images, labels in batches
        ]
        network.sums = torch.stack(sums)
    for a, b in zip(whole.parameters(), parts.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(whole.sums, parts.sums, rtol=1e-5, atol=1e-5)


def test_ddp_synchronises_only_the_last_micro_batch():
    placement = place(TrainConfig(device="cpu", precision="fp32", channels_last="off"))
    network = no_batch_norm()
    skipped = []

    @contextlib.contextmanager
    def no_sync():
        skipped.append(True)
        yield

    optimizer = make_optimizer(network, OptimConfig(), placement.device)
    images, labels = torch.rand(6, 3, 8, 8), torch.randint(0, 10, (6,))
    train_step(Objective(network), optimizer, placement, images, labels, 3, no_sync)
    assert len(skipped) == 2  # micro-batches 1 and 2 of 3; the last all-reduces


def test_more_micro_batches_than_images_is_one_line():
    with pytest.raises(ValueError, match=r"accumulate_steps \(16\) is more than batch_size \(8\)"):
        TrainConfig(batch_size=8, accumulate_steps=16)


def test_a_run_with_accumulation_keeps_the_schedule_of_optimiser_steps(
    run_zoo, tiny_recipe, cifar_root, tmp_path
):
    import json

    runs = {}
    for k in (1, 2):
        out = tmp_path / f"k{k}"
        settings = ["--set", f"train.accumulate_steps={k}", "--set", 'schedule.name="cosine"']
        result = run_zoo("train", str(tiny_recipe), "--out", str(out), "--data-dir",
                         str(cifar_root), "--no-progress", *settings)  # fmt: skip
        assert result.code == 0, result.err
        runs[k] = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [row["lr"] for row in runs[1]] == [row["lr"] for row in runs[2]]
    assert len(runs[2]) == 2


def test_a_resume_may_change_the_micro_batches(train_tiny, resume_tiny):
    assert train_tiny("--set", "train.epochs=1").code == 0
    resumed = resume_tiny("--set", "train.epochs=2", "--set", "train.accumulate_steps=2")
    assert resumed.code == 0, resumed.err
