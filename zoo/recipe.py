"""Recipes: TOML files that describe a network and an experiment, validated by pydantic.

Loading a recipe is one direction of flow (design.md): read the TOML (``tomllib``), merge the
files it ``extends`` (paths relative to the file, deepest first, a cycle is an error), apply
``--set a.b=c`` overrides (the value is parsed as TOML; a bare word that is not TOML is a string),
then validate strictly — an unknown key names the file, the key path and the valid keys.

The ``[model]`` table has one of three forms:

- a preset: ``model = "resnet56_v2"``, or ``[model] preset = "resnet56_v2"`` plus parameter
  overrides such as ``num_classes = 100``;
- a family with its parameters: ``[model] arch = "resnet_v2"``, ``depth = 56``;
- the network spelled out: ``[model.stem]``, ``[[model.stages]]``, ``[model.head]`` — a
  :class:`~zoo.architectures.NetworkSpec`.

A recipe names only registered things: nothing in it can make zoo import code.
"""

from __future__ import annotations

import difflib
import fnmatch
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import tomli_w
import torch
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)
from torch import nn

from zoo.architectures import NetworkSpec, build_network, make_spec, resolve
from zoo.architectures.create import build_from_spec
from zoo.architectures.external import build_external, is_external
from zoo.data import DataConfig, NormalizeMode
from zoo.errors import ZooError
from zoo.registry import Registry, natural_order
from zoo.tomlfile import check_nesting, loads_value, read_toml
from zoo.train.budget import check_fits, estimate
from zoo.train.config import OptimConfig, ScheduleConfig, TrainConfig
from zoo.validation import first_problem

RESERVED_FOR_INHERITANCE = "extends"

MAX_EXTENDS_DEPTH = 16
"""How many files an ``extends`` chain may pass through: the shipped recipes use two."""


WEIGHTS_DESCRIPTION = (
    "weights to start from: a file (.pth, .pt, .safetensors, a zoo checkpoint or run "
    'directory), "torchvision" or a torchvision weights name, "timm" for timm/ models'
)


class PresetModel(BaseModel):
    """``[model] preset = "resnet56_v2"``; other keys override the family's parameters (or are
    passed to timm's or torchvision's builder, for ``timm/NAME`` and ``torchvision/NAME``)."""

    model_config = ConfigDict(extra="allow")

    preset: str = Field(description="a model name (`zoo list architectures`)")
    weights: str | None = Field(None, description=WEIGHTS_DESCRIPTION)


class FamilyModel(BaseModel):
    """``[model] arch = "resnet_v2"``; other keys are the family's parameters (``depth``...)."""

    model_config = ConfigDict(extra="allow")

    arch: str = Field(description="an architecture family (`zoo list architectures`)")
    weights: str | None = Field(None, description=WEIGHTS_DESCRIPTION)


class SpecModel(NetworkSpec):
    """The network spelled out (``[model.stem]``, ``[[model.stages]]``), and its weights."""

    weights: str | None = Field(None, description=WEIGHTS_DESCRIPTION)


def _model_form(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if not isinstance(value, Mapping):
        return None
    if "preset" in value:
        return "preset"
    if "arch" in value:
        return "arch"
    if "stages" in value or "stem" in value:
        return "explicit"
    return None


ModelSection = Annotated[
    Annotated[PresetModel, Tag("preset")]
    | Annotated[FamilyModel, Tag("arch")]
    | Annotated[SpecModel, Tag("explicit")],
    Discriminator(
        _model_form,
        custom_error_type="model_form",
        custom_error_message=(
            'give a preset (model = "resnet56_v2"), a family (arch = "resnet_v2", depth = 56) '
            "or the network spelled out ([model.stem], [[model.stages]])"
        ),
    ),
]


class Recipe(BaseModel):
    """A whole recipe: the model, and the data, optimiser, schedule and loop of its training."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field("", description="the run's name (default: the file's name)")
    description: str = Field("", description="free text")
    model: ModelSection = Field(description="the network: a preset, a family, or a spec")
    data: DataConfig = Field(default_factory=DataConfig, description="the data set")
    optim: OptimConfig = Field(default_factory=OptimConfig, description="the optimiser")
    schedule: ScheduleConfig = Field(
        default_factory=ScheduleConfig, description="the learning-rate schedule"
    )
    train: TrainConfig = Field(default_factory=TrainConfig, description="the training loop")

    _source: str = PrivateAttr("recipe")

    @field_validator("name")
    @classmethod
    def _plain_file_name(cls, name: str) -> str:
        """The run directory is ``runs/<name>-<time>``: a name with a path in it would put the
        run anywhere on disk (``../../x``, ``/abs/path``)."""
        if name in (".", "..") or any(c in name for c in "/\\") or not name.isprintable():
            raise ValueError(
                "a run name must be a plain file name (no /, \\, control characters, . or ..)"
            )
        return name

    @field_validator("model", mode="before")
    @classmethod
    def _preset_shorthand(cls, value: Any) -> Any:
        return {"preset": value} if isinstance(value, str) else value

    @property
    def source(self) -> str:
        """The file the recipe came from, for messages."""
        return self._source

    def network_spec(self) -> NetworkSpec:
        """The :class:`NetworkSpec` of ``[model]``, in any of its three forms."""
        model = self.model
        if isinstance(model, NetworkSpec):
            spec = NetworkSpec.model_validate(model.model_dump(exclude={"weights"}))
            return spec.model_copy(update={"name": self.name or model.name})
        options = dict(model.model_extra or {})
        try:
            if isinstance(model, PresetModel) and is_external(model.preset):
                raise ZooError(f"model.preset: {model.preset} is not a zoo network; it has no spec")
            if isinstance(model, PresetModel):
                preset = self._named("model.preset", resolve, model.preset)
                return preset.spec(where="model", **options)
            return make_spec(model.arch, options, self.name or model.arch, where="model")
        except ZooError as exc:
            raise ZooError(f"{self.source}: {exc}") from exc

    def _named(self, key: str, lookup: Any, name: str) -> Any:
        try:
            return lookup(name)
        except ZooError as exc:
            raise ZooError(f"{key}: {exc}") from exc

    def build(self, *, weights: bool = True) -> nn.Module:
        """The network of ``[model]``, with its ``weights`` (``weights=False``: freshly
        initialised, as for a summary on the meta device); errors name the recipe file. Unless
        it is built on the meta device, a zoo network is first sized there, and one that would
        not fit the machine's memory is refused before any memory is taken."""
        model = self.model
        source = model.weights if weights else None
        if isinstance(model, PresetModel) and is_external(model.preset):
            try:
                return build_external(model.preset, source, **(model.model_extra or {}))
            except ZooError as exc:
                raise ZooError(f"{self.source}: model.preset: {exc}") from exc
        spec = self.network_spec()
        name = model.preset if isinstance(model, PresetModel) else spec.name
        try:
            if torch.get_default_device().type != "meta":  # size it first, where it costs nothing
                with torch.device("meta"):
                    sized = build_network(spec)
                check_fits(estimate(sized), torch.device("cpu"), "model")
            return build_from_spec(spec, source, False, name)
        except ZooError as exc:
            raise ZooError(f"{self.source}: {exc}") from exc

    @model_validator(mode="after")
    def _mixing_needs_even_batches(self) -> Recipe:
        if (self.data.mixup or self.data.cutmix) and self.train.batch_size % 2:
            raise ValueError(
                f"data.mixup and data.cutmix mix each batch with its mirror, so train.batch_size "
                f"must be even, not {self.train.batch_size}"
            )
        return self

    def normalize_mode(self) -> NormalizeMode:
        """``data.normalize``, or by default ``imagenet`` where ``[model] weights`` are loaded
        (pretrained weights expect ImageNet's statistics) and ``channel`` otherwise."""
        if self.data.normalize is not None:
            return self.data.normalize
        return "imagenet" if self.model.weights else "channel"

    def to_toml(self) -> str:
        """The resolved recipe as TOML: every key, defaults included (``zoo recipe show``)."""
        return tomli_w.dumps(self.model_dump(mode="json", exclude_none=True))


def load_recipe(path: str | Path, overrides: Sequence[str] = ()) -> Recipe:
    """Read, merge, override and validate the recipe at ``path``."""
    path = Path(path)
    origins: dict[str, Path] = {}
    data = read_with_extends(path, origins=origins)
    if isinstance(data.get("model"), str):
        data["model"] = {"preset": data["model"]}
    set_keys = []
    for override in overrides:
        keys, value = parse_override(override)
        apply_override(data, keys, value, override)
        set_keys.append(".".join(keys))
    data.setdefault("name", path.stem)
    check_nesting(data, str(path))
    try:
        recipe = Recipe.model_validate(data)
    except ValidationError as exc:
        raise ZooError(_validation_message(exc, path, set_keys, origins)) from exc
    recipe._source = str(path)
    return recipe


def read_with_extends(
    path: Path, chain: tuple[Path, ...] = (), origins: dict[str, Path] | None = None
) -> dict[str, Any]:
    """The TOML at ``path`` merged over the files it ``extends`` (a string or a list).
    ``origins`` collects, for each key path, the file whose value won."""
    resolved = path.resolve()
    if resolved in chain:
        cycle = " → ".join(str(p) for p in (*chain, resolved))
        raise ZooError(f"{chain[-1]}: extends makes a cycle: {cycle}")
    if len(chain) >= MAX_EXTENDS_DEPTH:
        raise ZooError(
            f"{chain[0]}: extends goes more than {MAX_EXTENDS_DEPTH} files deep (at {path})"
        )
    data = read_toml(path)
    parents = data.pop(RESERVED_FOR_INHERITANCE, [])
    if isinstance(parents, str):
        parents = [parents]
    if not isinstance(parents, list) or not all(isinstance(p, str) for p in parents):
        raise ZooError(f"{path}: extends: give a file name or a list of file names")
    merged: dict[str, Any] = {}
    for parent in parents:
        inherited = read_with_extends(path.parent / parent, (*chain, resolved), origins)
        merged = deep_merge(merged, inherited)
    if origins is not None:
        origins |= dict.fromkeys(flatten(data), path)
    return deep_merge(merged, data)


def flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"train": {"epochs": 3}}`` → ``{"train.epochs": 3}``."""
    flat: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, Mapping):
            flat |= flatten(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def deep_merge(base: Mapping[str, Any], child: Mapping[str, Any]) -> dict[str, Any]:
    """``child`` over ``base``: tables merge key by key, any other value replaces."""
    merged = dict(base)
    for key, value in child.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"train.epochs=3"`` → (["train", "epochs"], 3). The value is TOML, else a string."""
    key, sep, raw = text.partition("=")
    keys = key.strip().split(".")
    if not sep or not all(keys):
        raise ZooError(f"--set {text}: expected KEY.PATH=VALUE, e.g. --set train.epochs=3")
    try:
        value = loads_value(raw)
    except tomllib.TOMLDecodeError:
        value = raw
    return keys, value


def apply_override(data: dict[str, Any], keys: Iterable[str], value: Any, text: str) -> None:
    """Set ``value`` at the key path, creating tables on the way."""
    *tables, last = list(keys)
    target = data
    for key in tables:
        target = target.setdefault(key, {})
        if not isinstance(target, dict):
            raise ZooError(f"--set {text}: {key} is a value, not a table")
    target[last] = value


def _validation_message(
    exc: ValidationError, path: Path, set_keys: list[str], origins: dict[str, Path]
) -> str:
    where, message = first_problem(exc, Recipe)
    related = (f"{where}.", f"{where}[") if where else ()
    if any(
        where == key or where.startswith((f"{key}.", f"{key}[")) or key.startswith(related)
        for key in set_keys
    ):
        message += " (from --set)"
        return f"{path}: {message}"
    return f"{_file_of(where, origins, path)}: {message}"


def _file_of(where: str, origins: dict[str, Path], path: Path) -> str:
    """The file that wrote the key at ``where`` (or its nearest table), named with the recipe."""
    for key in sorted(origins, key=len, reverse=True):
        if where == key or where.startswith((f"{key}.", f"{key}[")):
            origin = origins[key]
            return str(path) if origin == path else f"{origin} (extended by {path})"
    return str(path)


RECIPE_DIR = Path("recipes")
"""Where ``zoo list recipes`` and recipe names look first: ``./recipes/*.toml``."""

recipe_collections: Registry[Any] = Registry("recipe collection", group="zoo.recipes")
"""Plugin packages that ship recipes: an entry point in ``zoo.recipes`` names a package whose
``*.toml`` files are recipes."""


@dataclass(frozen=True)
class RecipeFile:
    """A recipe found by name: where it is and who ships it."""

    name: str
    path: Path
    origin: str


def find_recipes(pattern: str = "*") -> list[RecipeFile]:
    """Recipes in ``./recipes`` and in plugin packages, matching ``pattern``; local ones first."""
    by_name = lambda path: natural_order(path.stem)  # noqa: E731  (resnet20 before resnet110)
    found = [
        RecipeFile(p.stem, p, str(RECIPE_DIR))
        for p in sorted(RECIPE_DIR.glob("*.toml"), key=by_name)
    ]
    for entry in recipe_collections.entries():
        folder = Path(str(resources.files(entry.obj)))
        found += [
            RecipeFile(p.stem, p, entry.origin) for p in sorted(folder.glob("*.toml"), key=by_name)
        ]
    return [r for r in found if fnmatch.fnmatchcase(r.name, pattern)]


def locate_recipe(name_or_path: str) -> Path:
    """A recipe file: an existing path, or the name of a recipe from :func:`find_recipes`."""
    path = Path(name_or_path)
    if path.exists() or path.suffix == ".toml":
        return path
    for recipe in find_recipes():
        if recipe.name == name_or_path:
            return recipe.path
    names = [r.name for r in find_recipes()]
    close = difflib.get_close_matches(name_or_path, names, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise ZooError(f"no recipe file or recipe named {name_or_path!r}{hint}")
