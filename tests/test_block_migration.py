"""Weights written before blocks were explicit classes still load, into the same function.

Before, a block's layers were ``body.N.conv``/``body.N.norm`` (units of a flag-driven builder),
and a plain net's stage was 2n conv-BN-ReLU units. The state dicts here are spelled in that old
layout from a network's own tensors, then loaded through the public weights path."""

from __future__ import annotations

import re

import pytest
import torch

import zoo
from zoo.architectures.weights import fit_and_load


def old_layout(state: dict[str, torch.Tensor], plain: bool = False) -> dict[str, torch.Tensor]:
    """``conv{N}``/``bn{N}`` as ``body.{N-1}.conv``/``body.{N-1}.norm``; a plain block's two
    units as two consecutive conv-BN-ReLU units of the stage."""
    renamed = {}
    for key, value in state.items():
        if plain:
            match = re.match(r"(stages\.\d+)\.(\d+)\.(conv|bn)(\d)\.(.*)", key)
            if match:
                unit = 2 * int(match[2]) + int(match[4]) - 1
                layer = "conv" if match[3] == "conv" else "norm"
                key = f"{match[1]}.{unit}.{layer}.{match[5]}"
        else:
            key = re.sub(r"\.conv(\d)\.", lambda m: f".body.{int(m[1]) - 1}.conv.", key)
            key = re.sub(r"\.bn(\d)\.", lambda m: f".body.{int(m[1]) - 1}.norm.", key)
        renamed[key] = value
    return renamed


@pytest.mark.parametrize("name", ["resnet8_v1", "resnet11_v2", "plain8", "resnet18"])
def test_old_block_names_load_into_the_explicit_blocks(name):
    torch.manual_seed(0)
    source = zoo.build_model(name).eval()
    old = old_layout(source.state_dict(), plain=name.startswith("plain"))
    assert set(old) != set(source.state_dict())  # the old names really differ
    target = zoo.build_model(name).eval()
    fit_and_load(target, old, "old.pt", fresh_classifier=False)
    size = 64 if name == "resnet18" else 32
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        assert torch.equal(target(x), source(x))


def test_weights_of_another_network_are_still_refused():
    old = old_layout(zoo.build_model("resnet8_v1").state_dict())
    with pytest.raises(zoo.ZooError, match="do not fit"):
        fit_and_load(zoo.build_model("resnet14_v1"), old, "old.pt", fresh_classifier=False)
