"""The package's shape: no import cycles, and no import up the layers (docs/architecture.md).

Every ``import``/``from … import`` in ``zoo/`` counts, at the top of a module or inside a
function, except those under ``if TYPE_CHECKING:``. A name imported from a package that is one
of its modules (``from zoo.train.runtime import distributed``) is an import of that module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ZOO = Path(__file__).resolve().parents[1] / "zoo"

LAYERS: list[tuple[str, ...]] = [
    (
        "zoo.errors",
        "zoo.console",
        "zoo.validation",
        "zoo.registry",
        "zoo.tomlfile",
        "zoo.tensorfile",
        "zoo.runs.layout",
        "zoo.runs.files",
        "zoo.runs.metrics",
        "zoo.runs.checkpoint",
    ),
    ("zoo.blocks",),
    ("zoo.architectures", "zoo.data"),
    ("zoo.inspect", "zoo.recipe"),
    ("zoo.runs",),
    ("zoo.train", "zoo.deploy", "zoo.timm"),
    ("zoo.cli",),
    ("zoo", "zoo.__main__"),
]
"""Lowest first. A module belongs to the layer of the longest prefix that names it: the run
files (names, lock, metrics, the checkpoint schema) are read by every layer; loading a model
from a checkpoint (``zoo.runs.model``), the runs table and plots need networks and recipes."""


def module_name(path: Path) -> str:
    parts = path.relative_to(ZOO.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(ZOO.rglob("*.py"))}


def layer_of(module: str) -> int:
    best, rank = "", -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            matches = module == prefix or module.startswith(prefix + ".")
            if matches and len(prefix) > len(best):
                best, rank = prefix, index
    assert rank >= 0, f"{module} is in no layer"
    return rank


def imports_of(module: str) -> set[str]:
    """The zoo modules ``module`` imports."""
    tree = ast.parse(MODULES[module].read_text("utf-8"))
    skipped = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for statement in block.body
        for node in ast.walk(statement)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("zoo")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("zoo"):
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in MODULES else node.module)
    return {name for name in found if name in MODULES and name != module}


GRAPH = {module: imports_of(module) for module in MODULES}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_import_goes_up_the_layers(module):
    upward = [target for target in GRAPH[module] if layer_of(target) > layer_of(module)]
    assert not upward, f"{module} (layer {layer_of(module)}) imports {upward}"


def test_there_are_no_import_cycles():
    """Tarjan's strongly connected components: any with two modules or more is a cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in GRAPH[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(GRAPH):
        if module not in index:
            visit(module)
    assert not cycles, f"import cycles: {cycles}"


def test_the_checker_sees_a_known_import():
    assert "zoo.runs.checkpoint" in GRAPH["zoo.architectures.weights"]
    assert "zoo.recipe.schema" in GRAPH["zoo.runs.model"] or "zoo.recipe" in GRAPH["zoo.runs.model"]
