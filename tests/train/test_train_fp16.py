"""fp16 with a gradient scaler: chosen where bf16 is not native on CUDA, overflowing steps
skipped and counted, the scaler's state checkpointed and resumed. Its logic runs on the CPU."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from zoo.recipe.training import OptimConfig, TrainConfig
from zoo.train.objective import LossScaler, Objective, train_step
from zoo.train.optim import make_optimizer
from zoo.train.runtime import device as devices
from zoo.train.runtime.device import autocast_dtype, place

TINY_FP16 = """
model = "resnet8_v1"
[data]
dataset = "shapes"
train_size = 32
val_size = 8
[train]
epochs = 1
batch_size = 16
precision = "fp16"
"""


def test_auto_takes_fp16_on_a_cuda_gpu_without_bf16(monkeypatch):
    cuda = torch.device("cuda")
    monkeypatch.setattr(devices, "native_bf16", lambda device: False)
    assert autocast_dtype("auto", cuda) is torch.float16  # a GTX 1080 Ti, a T4
    assert autocast_dtype("auto", torch.device("cpu")) is None  # the CPU: fp32, as before
    monkeypatch.setattr(devices, "native_bf16", lambda device: True)
    assert autocast_dtype("auto", cuda) is torch.bfloat16
    assert autocast_dtype("fp16", torch.device("cpu")) is torch.float16
    placement = place(TrainConfig(device="cpu", precision="fp16"))
    assert placement.precision == "fp16" and LossScaler(placement).enabled
    assert not LossScaler(place(TrainConfig(device="cpu", precision="fp32"))).enabled


class Overflowing(nn.Module):
    """A network whose loss is inf while ``overflow`` is set: its gradients are not finite."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 3)
        self.overflow = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.linear(x.flatten(1))
        return logits * float("inf") if self.overflow else logits


def test_a_step_with_inf_gradients_is_skipped_and_counted():
    placement = place(TrainConfig(device="cpu", precision="fp16", channels_last="off"))
    network = Overflowing()
    optimizer = make_optimizer(network, OptimConfig(lr=0.1), placement.device)
    scaler = LossScaler(placement)
    objective = Objective(network)
    images, labels = torch.rand(4, 1, 2, 2), torch.tensor([0, 1, 2, 0])
    before = [p.detach().clone() for p in network.parameters()]
    network.overflow = True
    train_step(objective, optimizer, placement, images, labels, scaler=scaler)
    assert scaler.skipped == 1 and scaler.scaler.get_scale() == 2.0**15  # halved from 2^16
    assert all(torch.equal(a, b) for a, b in zip(before, network.parameters(), strict=True))
    network.overflow = False
    train_step(objective, optimizer, placement, images, labels, scaler=scaler)
    assert scaler.skipped == 1
    assert not all(torch.equal(a, b) for a, b in zip(before, network.parameters(), strict=True))


@pytest.mark.slow
def test_the_scalers_state_is_checkpointed_and_resumed(run_zoo, tmp_path):
    recipe = tmp_path / "fp16.toml"
    recipe.write_text(TINY_FP16)
    run = tmp_path / "run"
    assert run_zoo("train", str(recipe), "--out", str(run), "--no-progress").code == 0
    first = torch.load(run / "last.pt", weights_only=True)["scaler"]
    assert first["scale"] == 2.0**16 and first["skipped"] == 0 and first["_growth_tracker"] == 2
    resumed = run_zoo("train", "--resume", str(run), "--set", "train.epochs=2", "--no-progress")
    assert resumed.code == 0, resumed.err
    second = torch.load(run / "last.pt", weights_only=True)["scaler"]
    assert second["_growth_tracker"] == 4  # carried on from 2: the state was restored
    rows = (run / "metrics.jsonl").read_text().splitlines()
    assert all('"skipped_steps": 0' in row for row in rows) and len(rows) == 2
