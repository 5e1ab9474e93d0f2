"""``zoo audit --reference FILE``: the file is validated by a schema before anything is checked;
an empty file, a recipe or a table of the wrong types is one line naming the file (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zoo.errors import ZooError
from zoo.inspect.reference import read_reference

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "nothing to check: give at least one of the tables seed_table"),
        ((REPO / "recipes" / "quickstart.toml").read_text(), "nothing to check"),
        ("[keras_counts]\n", "nothing to check"),
        ('[keras_counts]\nresnet20_v1 = { total = "274442" }\n', "keras_counts.resnet20_v1.total"),
        ("[keras_counts]\nresnet20_v1 = { totl = 1 }\n", "resnet20_v1.totl: unknown key"),
        ("[keras_counts]\nresnet20_v1 = 274442\n", "keras_counts.resnet20_v1: Input should be"),
        ('[paper_v1_option_a]\nr = { paper = "lots" }\n', "paper: String should match pattern"),
        ('[macs]\nresnet20_v1 = "40M"\n', "macs.resnet20_v1: Input should be a valid number"),
        ('seed_table = [{ model = "ResNet20", n_v1 = 3.0 }]', "seed_table[0].n_v1: Input should"),
        ("[macs\n", "invalid TOML"),
    ],
)
def test_a_bad_reference_is_one_line_exit_2(run_zoo, tmp_path, text, message):
    path = tmp_path / "ref.toml"
    path.write_text(text)
    result = run_zoo("audit", "resnet20_v1", "--reference", str(path))
    assert result.code == 2 and f"{path}: " in result.err and message in result.err
    assert result.err.count("\n") == 1 and "all" not in result.out


def test_a_reference_that_is_not_a_regular_file_is_refused(run_zoo):
    result = run_zoo("audit", "--reference", "/dev/zero")
    assert result.code == 2 and "/dev/zero: cannot read the reference: not a regular file" in (
        result.err
    )


@given(total=st.integers(0, 10**9))
def test_any_count_that_is_an_int_is_accepted(total):
    from zoo.inspect.reference import Reference

    Reference.model_validate({"keras_counts": {"resnet20_v1": {"total": total}}})


def test_the_shipped_table_passes_its_schema(tmp_path):
    shipped = REPO / "zoo" / "inspect" / "reference.toml"
    assert read_reference(shipped)["keras_counts"]["resnet20_v1"]["total"] == 274442
    with pytest.raises(ZooError, match="no such reference file"):
        read_reference(tmp_path / "missing.toml")
