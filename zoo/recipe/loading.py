"""Reading a recipe: TOML, ``extends``, ``--set`` overrides, then strict validation.

Loading a recipe is one direction of flow (design.md): read the TOML (``tomllib``), merge the
files it ``extends`` (paths relative to the file, deepest first, a cycle is an error), apply
``--set a.b=c`` overrides (the value is parsed as TOML; a bare word that is not TOML is a string),
then validate strictly — an unknown key names the file, the key path and the valid keys. A
``[model] weights`` path, like ``extends``, is relative to the file that sets it.
"""

from __future__ import annotations

import difflib
import fnmatch
import os
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from zoo.architectures.weights import is_weights_name
from zoo.errors import ZooError
from zoo.recipe.schema import Recipe
from zoo.registry import Registry, natural_order
from zoo.tomlfile import check_nesting, loads_value, read_toml
from zoo.validation import first_problem

RESERVED_FOR_INHERITANCE = "extends"

MAX_EXTENDS_DEPTH = 16
"""How many files an ``extends`` chain may pass through: the shipped recipes use two."""


def load_recipe(path: str | Path, overrides: Sequence[str] = ()) -> Recipe:
    """Read, merge, override and validate the recipe at ``path``."""
    path = Path(path)
    origins: dict[str, Path] = {}
    data = read_with_extends(path, origins=origins)
    if isinstance(data.get("model"), str):
        data["model"] = {"preset": data["model"]}
    resolve_weights_path(data, origins)
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


WEIGHTS_KEY = "model.weights"


def resolve_weights_path(data: dict[str, Any], origins: Mapping[str, Path]) -> None:
    """A relative ``[model] weights`` file is relative to the recipe file that sets it, as an
    ``extends`` path is; it is stored absolute, so the run's own ``recipe.toml`` names the same
    file wherever it is read from. Weights names (``torchvision``, ``IMAGENET1K_V2``, ``timm``)
    are left alone, unless a file of that name sits beside the recipe. (A ``--set`` path is
    the shell's: relative to the current directory.)"""
    model = data.get("model")
    weights = model.get("weights") if isinstance(model, dict) else None
    if not isinstance(weights, str) or not weights or WEIGHTS_KEY not in origins:
        return
    path = Path(weights).expanduser()
    beside = origins[WEIGHTS_KEY].parent / path
    if path.is_absolute() or (is_weights_name(weights) and not beside.exists()):
        return
    model["weights"] = os.path.abspath(beside)


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
