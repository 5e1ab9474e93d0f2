"""An absurd network is refused before it is built: blocks are bounded on the spec, parameters
and activations are counted on the meta device, and the message gives the estimate."""

from __future__ import annotations

import time

import pytest
import torch

import zoo
from zoo.errors import ZooError
from zoo.recipe import load_recipe
from zoo.recipe.budget import Estimate, check_fits, estimate

SHAPES = '[data]\ndataset = "shapes"\ntrain_size = 16\nval_size = 8\n'


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ('model = "resnet99999998_v1"\n', "the network has 49,999,999 blocks; zoo builds at most"),
        (
            '[[model.stages]]\nblock = "conv_bn_relu"\nchannels = 8\nrepeat = 10000000000\n',
            "the network has 10,000,000,000 blocks",
        ),
        (
            '[model]\narch = "resnet_v1"\ndepth = 20\nwidths = [100000000, 100000000, 100000000]\n',
            "model: the network has about 1,640,000,009,600,000,010 parameters; zoo builds at most",
        ),
    ],
)
def test_an_absurd_network_is_refused_at_once(run_zoo, tmp_path, model, message):
    recipe = tmp_path / "absurd.toml"
    recipe.write_text(model + SHAPES)
    started = time.perf_counter()
    result = run_zoo("train", str(recipe), "--out", str(tmp_path / "run"))
    assert result.code == 2 and message in result.err and result.err.count("\n") == 1
    assert time.perf_counter() - started < 10 and not (tmp_path / "run").exists()


def test_summarize_of_an_absurd_preset_is_refused(run_zoo):
    result = run_zoo("summarize", "resnet99999998_v1")
    assert result.code == 2 and "49,999,999 blocks" in result.err


def test_a_batch_whose_activations_do_not_fit_is_refused_with_the_estimate(run_zoo, tmp_path):
    recipe = tmp_path / "wide.toml"
    recipe.write_text('model = "resnet8_v1"\n' + SHAPES + "[train]\nbatch_size = 1000000\n")
    result = run_zoo("train", str(recipe), "--out", str(tmp_path / "run"))
    assert result.code == 2 and "training needs about" in result.err
    assert "activation values per batch of 1000000" in result.err
    assert not (tmp_path / "run").exists()


def test_the_estimate_counts_parameters_and_outputs():
    with torch.device("meta"):
        network = zoo.build_model("resnet20_v1")
    size = estimate(network, (2, 3, 32, 32))
    assert size.parameters == 273_066  # the Keras count of the seed's resnet20_v1
    assert size.activations > 2 * 16 * 32 * 32 * 19  # at least the stem and first stage's maps
    assert estimate(network).activations == 0


def test_check_fits_compares_against_the_device():
    check_fits(Estimate(1000, 1000), torch.device("cpu"), "r")
    with pytest.raises(ZooError, match=r"r: training needs about .* GiB \(1,000 parameters"):
        check_fits(Estimate(1000, 2**50), torch.device("cpu"), "r", batch_size=7)


def test_a_real_build_is_sized_first(tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_text('model = "resnet20_v1"\n')
    assert sum(p.numel() for p in load_recipe(recipe).build().parameters()) == 273_066
