"""Random states in checkpoints: a run resumes on a machine with another number of GPUs."""

from __future__ import annotations

import pytest
import torch

from zoo.train.state import restore_rng, rng_state


@pytest.fixture
def fake_gpus(monkeypatch: pytest.MonkeyPatch):
    """Pretend this machine shows ``count`` CUDA GPUs; record the states set on each."""
    restored: dict[int, torch.Tensor] = {}

    def fake(count: int) -> dict[int, torch.Tensor]:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
        monkeypatch.setattr(
            torch.cuda,
            "get_rng_state_all",
            lambda: [torch.full((4,), i, dtype=torch.uint8) for i in range(count)],
        )
        monkeypatch.setattr(
            torch.cuda, "set_rng_state", lambda state, device: restored.__setitem__(device, state)
        )
        monkeypatch.setattr(torch.cuda, "set_rng_state_all", _refuse)
        return restored

    return fake


def _refuse(states: list[torch.Tensor]) -> None:
    raise AssertionError("set_rng_state_all fails when there are more states than GPUs")


def test_a_run_saved_on_four_gpus_resumes_on_one(fake_gpus) -> None:
    fake_gpus(4)
    saved = rng_state()
    assert len(saved["cuda"]) == 4
    restored = fake_gpus(1)
    restore_rng(saved)
    assert list(restored) == [0] and torch.equal(restored[0], saved["cuda"][0])


def test_a_run_saved_on_one_gpu_resumes_on_two(fake_gpus) -> None:
    fake_gpus(1)
    saved = rng_state()
    restored = fake_gpus(2)
    restore_rng(saved)
    assert list(restored) == [0]


def test_the_cpu_state_is_restored() -> None:
    saved = rng_state()
    first = torch.rand(3)
    restore_rng(saved)
    assert torch.equal(torch.rand(3), first)
