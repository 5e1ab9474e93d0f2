"""Stochastic depth: Huang et al.'s linear rule over the blocks, timm's DropPath, counts kept."""

from __future__ import annotations

import pytest
import torch
from timm.layers import DropPath

import zoo
from zoo.errors import ZooError
from zoo.inspect import count_parameters


@pytest.mark.parametrize("name", ["resnet20_v1", "resnet29_v2", "resnet164_v2_paper"])
def test_rates_rise_linearly_to_the_last_block_and_counts_stay(name):
    network = zoo.build_model(name, drop_path_rate=0.2)
    blocks = [b for stage in network.stages for b in stage if hasattr(b, "drop_path")]
    rates = [block.drop_path.drop_prob for block in blocks]
    total = len(blocks)
    assert rates == pytest.approx([0.2 * block / total for block in range(1, total + 1)])
    assert all(isinstance(block.drop_path, DropPath) for block in blocks)
    assert count_parameters(network) == count_parameters(zoo.build_model(name))
    assert network.state_dict().keys() == zoo.build_model(name).state_dict().keys()


def test_without_a_rate_no_module_is_added():
    network = zoo.build_model("resnet20_v1")
    assert all(getattr(b, "drop_path", None) is None for s in network.stages for b in s)


def test_branches_drop_in_training_only():
    torch.manual_seed(0)
    network = zoo.build_model("resnet20_v1", drop_path_rate=0.5)
    images = torch.rand(8, 3, 32, 32)
    network.eval()
    with torch.no_grad():
        assert torch.equal(network(images), network(images))  # eval: deterministic
        network.train()
        assert not torch.equal(network(images), network(images))  # branches drop at random


@pytest.mark.parametrize(
    ("name", "rate", "message"),
    [
        ("plain20", 0.1, "'plain' blocks, which have no residual branch to drop"),
        ("resnet20_v1", 1.0, "drop_path_rate: Input should be less than 1"),
        ("resnet20_v1", -0.1, "drop_path_rate: Input should be greater than or equal to 0"),
    ],
)
def test_bad_rates_and_plain_nets_are_one_line(name, rate, message):
    with pytest.raises(ZooError, match=message):
        zoo.build_model(name, drop_path_rate=rate)


def test_a_recipe_sets_it_on_a_preset(tmp_path):
    from zoo.recipe import load_recipe

    recipe = tmp_path / "r.toml"
    recipe.write_text('[model]\npreset = "resnet56_v2"\ndrop_path_rate = 0.1\n')
    network = load_recipe(recipe).build()
    assert network.stages[-1][-1].drop_path.drop_prob == pytest.approx(0.1)
