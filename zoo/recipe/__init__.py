"""Recipes: TOML files that describe a network and an experiment, validated by pydantic.

- :mod:`zoo.recipe.schema`: :class:`Recipe` and the three forms of ``[model]``;
- :mod:`zoo.recipe.training`: the ``[optim]``, ``[schedule]`` and ``[train]`` tables;
- :mod:`zoo.recipe.budget`: whether a network and its batch fit the machine's memory;
- :mod:`zoo.recipe.loading`: reading a file with ``extends`` and ``--set`` overrides, and
  finding recipes by name.

A recipe names only registered things: nothing in it can make zoo import code.
"""

from zoo.recipe.loading import (
    RecipeFile,
    deep_merge,
    find_recipes,
    flatten,
    load_recipe,
    locate_recipe,
    parse_override,
    read_with_extends,
    recipe_collections,
)
from zoo.recipe.schema import FamilyModel, PresetModel, Recipe, SpecModel

__all__ = [
    "FamilyModel",
    "PresetModel",
    "Recipe",
    "RecipeFile",
    "SpecModel",
    "deep_merge",
    "find_recipes",
    "flatten",
    "load_recipe",
    "locate_recipe",
    "parse_override",
    "read_with_extends",
    "recipe_collections",
]
