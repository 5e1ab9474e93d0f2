"""What lets a benchmark run from a bare copy of the repository (no virtual environment, maybe
read-only): zoo is imported from this checkout, not from whatever is installed, and a missing
package is one line that names it. The scripts write only to temporary directories."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

REPO = Path(__file__).resolve().parents[1]

DISTRIBUTIONS = {"PIL": "pillow", "tomli_w": "tomli-w", "yaml": "pyyaml"}
"""Import names whose package (on PyPI) is called otherwise."""


def use_checkout() -> None:
    """Put this checkout (and ``bench/``) first on the import path."""
    for path in (REPO / "bench", REPO):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))


def missing_package(error: ModuleNotFoundError, script: str) -> NoReturn:
    """Exit 2 with one line that names the package an import did not find."""
    module = (error.name or "?").split(".")[0]
    package = DISTRIBUTIONS.get(module, module)
    print(
        f"{script}: the Python package {package!r} is missing; install it "
        f"(pip install {package}) or all of zoo's dependencies (pip install {REPO})",
        file=sys.stderr,
    )
    raise SystemExit(2)
