"""The zoo command as a user meets it: output, JSON, exit codes and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_summarize_resnet29_v2_shows_the_seeds_totals(run_zoo):
    result = run_zoo("summarize", "resnet29_v2")
    assert result.code == 0
    for text in (
        "849,002",
        "843,786",
        "5,216",
        "Depth (weighted layers)",
        "29",
        "matches keras_counts",
    ):
        assert text in result.out


def test_summarize_resnet110_v1(run_zoo):
    result = run_zoo("summarize", "resnet110_v1")
    assert result.code == 0 and "1,742,762" in result.out and "stages.2.8.bn2" in result.out


def test_summarize_json_contract(run_zoo):
    result = run_zoo("summarize", "resnet20_v1_paper", "--json", "--input-size", "3,64,64")
    data = json.loads(result.out)
    assert {"name", "params", "depth", "macs", "input_size", "layers"} <= data.keys()
    assert data["name"] == "resnet20_v1_paper" and data["input_size"] == [3, 64, 64]
    assert data["params"]["trainable"] == 269_722 and data["depth"] == 20


def test_summarize_a_recipe_with_overrides(run_zoo):
    recipe = str(REPO / "recipes" / "resnet56_v2.toml")
    result = run_zoo("summarize", recipe, "--json", "--set", "model.num_classes=100")
    data = json.loads(result.out)
    assert data["layers"][-1]["output_shape"] == [100] and data["depth"] == 56


def test_summarize_an_unpresetted_depth(run_zoo):
    result = run_zoo("summarize", "resnet38_v1", "--json")
    assert json.loads(result.out)["depth"] == 38


def test_audit_passes(run_zoo):
    result = run_zoo("audit", "resnet*_v1")
    assert result.code == 0 and "all 7 presets match" in result.out


def test_audit_exits_1_on_a_planted_mismatch(run_zoo, tmp_path):
    table = (REPO / "zoo" / "inspect" / "reference.toml").read_text()
    table = table.replace("total = 274442", "total = 274443")
    (tmp_path / "ref.toml").write_text(table)
    result = run_zoo("audit", "resnet20_v1", "--reference", str(tmp_path / "ref.toml"))
    assert result.code == 1
    assert "FAIL resnet20_v1: total params is 274,442, keras_counts says 274,443" in result.out
    assert "1 of 1 presets failed" in result.err


def test_audit_json(run_zoo):
    data = json.loads(run_zoo("audit", "vgg*_cifar", "--json").out)
    assert data["ok"] and [p["name"] for p in data["presets"]] == [
        "vgg11_cifar",
        "vgg13_cifar",
        "vgg16_cifar",
        "vgg19_cifar",
    ]


def test_list_blocks_and_architectures(run_zoo):
    blocks = run_zoo("list", "blocks").out
    for name in ("conv_bn_relu", "identity_residual", "projection_residual", "bottleneck"):
        assert name in blocks
    assert "built-in" in blocks
    architectures = run_zoo("list", "architectures", "resnet*_v2*").out
    assert "resnet164_v2_paper" in architectures and "resnet_v2" in architectures
    assert "plain20" not in architectures


def test_list_with_only_a_pattern_searches_every_kind(run_zoo):
    result = run_zoo("list", "resnet2*_v2")
    assert result.code == 0 and "resnet20_v2" in result.out and "resnet29_v2" in result.out
    assert "Blocks" not in result.out  # no block matches, so no empty table
    assert "nothing matches" in run_zoo("list", "zzz*").out


def test_list_recipes(run_zoo, monkeypatch):
    monkeypatch.chdir(REPO)
    assert "resnet29_v2" in run_zoo("list", "recipes").out


def test_recipe_show_prints_the_resolved_recipe(run_zoo):
    result = run_zoo(
        "recipe", "show", str(REPO / "recipes" / "resnet29_v2.toml"), "--set", "train.epochs=3"
    )
    assert result.code == 0
    assert 'preset = "resnet29_v2"' in result.out and "epochs = 3" in result.out
    assert 'name = "adam"' in result.out and "extends" not in result.out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["summarize", "resnet21_v1"], "depth should be 6n+2 (e.g. 20, 32, 44, 56, 110), got 21"),
        (["summarize", "resnet20_v3"], "unknown model 'resnet20_v3'; did you mean"),
        (["summarize", "resnet48_v2"], "depth should be 9n+2 (e.g. 29, 56, 110, 164), got 48"),
        (["summarize", "missing.toml"], "missing.toml: no such recipe file"),
        (["recipe", "show", "missing.toml"], "missing.toml: no such recipe file"),
        (["audit", "nothing*"], "no preset matches 'nothing*'"),
        (["summarize", "resnet20_v1", "--input-size", "1,32,32"], "--input-size has 1 channels"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(run_zoo, args, message):
    result = run_zoo(*args)
    assert result.code == 2
    assert result.out == ""
    assert result.err.count("\n") == 1 and message in result.err
    assert "Traceback" not in result.err


def test_bad_recipes_are_exit_2(run_zoo, tmp_path):
    (tmp_path / "bad.toml").write_text('model = "resnet20_v1"\n[train\n')
    (tmp_path / "key.toml").write_text('model = "resnet20_v1"\n[train]\nepoch = 1\n')
    for name, message in (("bad.toml", "invalid TOML"), ("key.toml", "train.epoch: unknown key")):
        result = run_zoo("recipe", "show", str(tmp_path / name))
        assert result.code == 2 and message in result.err and result.err.count("\n") == 1


def test_debug_shows_the_traceback_and_keeps_the_exit_code(run_zoo):
    result = run_zoo("--debug", "summarize", "resnet21_v1")
    assert result.code == 2
    assert "Traceback" in result.err and "depth should be 6n+2" in result.err.splitlines()[-1]


def test_python_dash_m_zoo_is_the_same_program():
    result = subprocess.run(
        [sys.executable, "-m", "zoo", "summarize", "resnet21_v1"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2 and result.stderr.startswith("zoo: error: resnet_v1: depth")


def test_commands_that_need_no_images_start_without_torchvision():
    """torchvision's import is two of the four seconds a `zoo list` took: zoo imports it where
    images are read, downloaded or drawn, and for torchvision's own networks."""
    code = (
        "import sys, zoo.recipe, zoo.data, zoo.deploy.predict\n"
        "from zoo.cli import main\n"
        "assert main(['list', 'blocks']) == 0\n"
        "assert 'torchvision' not in sys.modules, 'torchvision was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]


def test_list_all_with_a_pattern_as_the_docs_write_it(run_zoo):
    result = run_zoo("list", "all", "resnet2*")
    assert result.code == 0 and "resnet20_v1" in result.out and "Blocks" not in result.out
