"""The schema of the audit's reference table (``reference.toml`` and ``--reference FILE``).

``zoo audit --reference FILE`` checks the presets against another table in the shipped one's
format. Without a schema an empty file, or a recipe given by mistake, checks nothing and
"passes"; a count written as a string fails deep inside a comparison. The tables the audit reads
are validated strictly here; tables it does not read (the published recipes, …) are let
through. A file that gives none of the checked tables is an error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    model_validator,
)

from zoo.errors import ZooError
from zoo.tomlfile import read_toml
from zoo.validation import first_problem

RoundedFigure = Annotated[str, Field(pattern=r"^\s*\d+(\.\d+)?M\s*$", examples=["0.27M"])]
"""A parameter count rounded as the papers print it: ``"0.27M"``, ``"19.4M"``."""

STRICT = ConfigDict(strict=True, extra="forbid")


class ExactCounts(BaseModel):
    """One preset's exact parameter counts, and the paper's rounded figure."""

    model_config = STRICT

    total: NonNegativeInt | None = None
    trainable: NonNegativeInt | None = None
    non_trainable: NonNegativeInt | None = None
    paper: RoundedFigure | None = None
    error_pct: float | str | None = None


class SeedRow(BaseModel):
    """A row of the seed's table: blocks per stage (n) of v1 and v2; accuracies are let through."""

    model_config = ConfigDict(strict=True, extra="allow")

    model: str
    n_v1: PositiveInt | None = None
    n_v2: PositiveInt | None = None


class Reference(BaseModel):
    """The tables the audit checks against; at least one of them must have an entry."""

    model_config = ConfigDict(strict=True, extra="allow")

    seed_table: list[SeedRow] = Field(default_factory=list)
    seed_v1_params_approx: dict[str, RoundedFigure] = Field(default_factory=dict)
    keras_counts: dict[str, ExactCounts] = Field(default_factory=dict)
    paper_v1_option_a: dict[str, ExactCounts] = Field(default_factory=dict)
    paper_v2_preact: dict[str, ExactCounts] = Field(default_factory=dict)
    macs: dict[str, PositiveFloat] = Field(default_factory=dict)
    torchvision_imagenet: dict[str, PositiveInt] = Field(default_factory=dict)
    torchvision_gmacs: dict[str, PositiveFloat] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _something_to_check(self) -> Reference:
        if not any(getattr(self, name) for name in type(self).model_fields):
            raise ValueError(
                "nothing to check: give at least one of the tables "
                + ", ".join(type(self).model_fields)
            )
        return self


def read_reference(path: Path) -> dict[str, Any]:
    """The reference table at ``path``, validated by :class:`Reference`; bad files are one line
    naming the file and the key."""
    data = read_toml(Path(path), what="reference")
    try:
        Reference.model_validate(data)
    except ValidationError as exc:
        raise ZooError(f"{path}: {first_problem(exc, Reference)[1]}") from exc
    return data
