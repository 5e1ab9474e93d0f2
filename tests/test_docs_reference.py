"""docs/recipe-reference.md lists exactly the fields of the recipe models, with their defaults.

Each field table on that page follows a ``<!-- fields: ModelName -->`` marker. Its rows are
``| `key` | type | default | meaning |``; the default is a TOML value in backticks, "required",
"not set" (None), or, for a sub-table, a phrase with "defaults" in it.
"""

from __future__ import annotations

import itertools
import re
import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel
from pydantic_core import PydanticUndefined, to_jsonable_python

from zoo.data import DataConfig
from zoo.recipe import Recipe
from zoo.recipe.training import (
    OptimConfig,
    PlateauConfig,
    ScheduleConfig,
    TrainConfig,
    WarmupConfig,
)

PAGE = Path(__file__).resolve().parents[1] / "docs" / "recipe-reference.md"
MODELS = [Recipe, DataConfig, OptimConfig, ScheduleConfig, PlateauConfig, WarmupConfig, TrainConfig]
MARKER = re.compile(r"<!-- fields: (\w+) -->")


def documented_tables() -> dict[str, dict[str, str]]:
    """{model name: {key: default cell}} from the page's marked tables."""
    tables: dict[str, dict[str, str]] = {}
    lines = PAGE.read_text("utf-8").splitlines()
    for number, line in enumerate(lines):
        marker = MARKER.fullmatch(line.strip())
        if not marker:
            continue
        rest = lines[number + 1 :]
        start = next(i for i, row in enumerate(rest) if row.strip())
        table = list(itertools.takewhile(lambda row: row.startswith("|"), rest[start:]))
        rows = {}
        for row in table[2:]:  # after the header and the |---| line
            key, _type, default, _meaning = (cell.strip() for cell in row.strip("|").split("|"))
            rows[key.strip("`")] = default
        tables[marker.group(1)] = rows
    return tables


def parse_default(cell: str) -> object:
    if cell == "required":
        return PydanticUndefined
    if cell == "not set":
        return None
    assert cell.startswith("`") and cell.endswith("`"), f"default {cell!r} is not `TOML`"
    return tomllib.loads(f"value = {cell.strip('`')}")["value"]


def test_every_model_has_one_table():
    assert sorted(documented_tables()) == sorted(model.__name__ for model in MODELS)


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_the_table_lists_the_fields_and_their_defaults(model: type[BaseModel]):
    documented = documented_tables()[model.__name__]
    assert list(documented) == list(model.model_fields)
    for name, field in model.model_fields.items():
        cell = documented[name]
        if field.default_factory is not None:
            assert "defaults" in cell, f"{model.__name__}.{name}: a table's defaults"
            continue
        expected = field.default
        if expected is not None and expected is not PydanticUndefined:
            expected = to_jsonable_python(expected)  # Path and tuple as TOML writes them
        assert parse_default(cell) == expected, f"{model.__name__}.{name}"
