"""Third-party plugins through entry points: the shipped zoo-se-block package, really installed,
and a broken plugin that must not break anything else."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PLUGIN = REPO / "plugins" / "zoo-se-block"


def zoo(site: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = os.environ | {"PYTHONPATH": str(site), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "zoo", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        check=False,
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """pip-install the plugin into a folder of its own, as a user's pip install would."""
    site = tmp_path_factory.mktemp("site")
    source = tmp_path_factory.mktemp("source") / PLUGIN.name
    shutil.copytree(PLUGIN, source)  # setuptools builds in the source tree: not in the checkout
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(site),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    return site


@pytest.mark.slow
def test_the_plugin_block_is_listed_with_its_distribution(installed, tmp_path):
    result = zoo(installed, "list", "blocks", "se_*", cwd=tmp_path)
    assert result.returncode == 0 and "se_residual" in result.stdout
    assert "zoo-se-block" in result.stdout


@pytest.mark.slow
def test_the_plugin_recipe_is_listed_built_and_summarised(installed, tmp_path):
    listed = zoo(installed, "list", "recipes", cwd=tmp_path)
    assert "se_resnet20" in listed.stdout and "zoo-se-block" in listed.stdout
    summary = zoo(installed, "summarize", "se_resnet20", "--json", cwd=tmp_path)
    assert summary.returncode == 0, summary.stderr
    data = json.loads(summary.stdout)
    assert any(
        layer["type"] == "SEModule" or layer["name"].endswith("fc1") for layer in data["layers"]
    )
    assert data["layers"][-1]["output_shape"] == [10]


@pytest.mark.slow
def test_the_plugin_family_builds_by_name(installed, tmp_path):
    result = zoo(installed, "summarize", "se_resnet", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["params"]["total"] > 270_000


@pytest.fixture
def broken_plugin(tmp_path) -> Path:
    """A distribution whose block entry point imports a module that does not exist."""
    site = tmp_path / "site"
    info = site / "broken_zoo_plugin-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-zoo-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[zoo.blocks]\nbroken_block = no_such_module_anywhere:factory\n"
    )
    return site


@pytest.mark.slow
def test_a_broken_plugin_is_reported_and_everything_else_works(broken_plugin, tmp_path):
    listed = zoo(broken_plugin, "list", "blocks", cwd=tmp_path)
    assert listed.returncode == 0
    assert "bottleneck" in listed.stdout and "broken_block" in listed.stdout
    assert "broken-zoo-plugin" in listed.stderr and "failed to load" in listed.stderr
    summary = zoo(broken_plugin, "summarize", "resnet20_v1", "--json", cwd=tmp_path)
    assert summary.returncode == 0


def test_using_a_broken_plugin_block_is_a_clear_error(broken_plugin, tmp_path):
    recipe = tmp_path / "uses_broken.toml"
    recipe.write_text('[[model.stages]]\nblock = "broken_block"\nchannels = 8\n')
    result = zoo(broken_plugin, "summarize", str(recipe), cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "comes from the plugin broken-zoo-plugin, which failed to load" in result.stderr
