"""Check every documented preset against the documented table (``reference.toml``, shipped data).

For each preset the audit builds the network (on the meta device: nothing is allocated) and
checks

- its measured depth against the depth in its name, and against its family's formula (6n+2,
  9n+2, …) with n counted from the spec — and n against the seed's table where it lists one;
- its parameter counts against the table: exactly where the table is exact (the Keras counts, the
  papers' exact definitions), and within the table's rounding where the table only says "0.27M";
- its multiply-accumulates per 32×32 image, where the table lists them;
- torchvision's networks: their parameter counts exactly against torchvision's, and their MACs
  per 224×224 image within 0.5% of torchvision's GFLOPS column (which counts MACs).

Where the table gives both an exact count and a rounded paper figure for a model, the exact count
is what is checked; a rounded figure that the exact count itself does not round to is reported as
a note about the table, not as a failure of the model.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from zoo.architectures import Preset, build_network, presets
from zoo.architectures.names import formula_depth
from zoo.errors import ZooError
from zoo.inspect.summary import Summary, summarize

REFERENCE_INPUT = (3, 32, 32)
"""The table's MACs are per 32×32 RGB image."""

IMAGENET_INPUT = (3, 224, 224)
"""torchvision's figures are per 224×224 RGB image."""

MACS_HALF_UNIT = 0.005e6
"""The table gives MACs to two decimals of millions (40.81e6)."""

EXACT_TABLES = ("keras_counts", "paper_v1_option_a", "paper_v2_preact")
"""Tables of exact counts, keyed by preset name."""

TORCHVISION_PARAMS = "torchvision_imagenet"
TORCHVISION_GMACS = "torchvision_gmacs"
"""torchvision's parameter counts and GFLOPS (MACs in billions) per 224×224 image."""

TORCHVISION_MACS_TOLERANCE = 0.005
"""torchvision's GFLOPS come from another counter, rounded to three decimals: within 0.5%."""

COUNT_KEYS = ("total", "trainable", "non_trainable")


@dataclass(frozen=True)
class Check:
    """One comparison: what was checked, against which source, and whether it held."""

    what: str
    source: str
    expected: int | str
    actual: int | str
    ok: bool

    def describe(self) -> str:
        """``total params is 274,442, keras_counts says 274,443``."""
        expected, actual = show_value(self.expected), show_value(self.actual)
        return f"{self.what} is {actual}, {self.source} says {expected}"


def show_value(value: int | str) -> str:
    return f"{value:,}" if isinstance(value, int) else value


@dataclass
class PresetAudit:
    """All checks of one preset, with its measured figures."""

    name: str
    depth: int
    total: int
    trainable: int
    non_trainable: int
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"ok": self.ok}


def load_reference(path: Path | None = None) -> dict[str, Any]:
    """The documented table: the shipped ``reference.toml``, or another file in its format."""
    if path is None:
        text = resources.files("zoo.inspect").joinpath("reference.toml").read_text("utf-8")
        return tomllib.loads(text)
    from zoo.inspect.reference import read_reference

    return read_reference(Path(path))


def audit(pattern: str = "*", reference: Mapping[str, Any] | None = None) -> list[PresetAudit]:
    """Audit the documented presets whose names match ``pattern``."""
    table = reference if reference is not None else load_reference()
    names = presets.names(pattern)
    if not names:
        raise ZooError(f"no preset matches {pattern!r}; try `zoo list architectures`")
    return [audit_preset(presets.get(name), table) for name in names]


def audit_preset(preset: Preset, reference: Mapping[str, Any]) -> PresetAudit:
    """Build one preset on the meta device and check it against ``reference``."""
    spec = preset.spec()
    with torch.device("meta"):
        network = build_network(spec)
    listed = preset.name in reference.get("macs", {}) or preset.name in reference.get(
        TORCHVISION_GMACS, {}
    )
    input_size = (spec.in_channels, *spec.input_size)
    summary = summarize(network, input_size, name=preset.name, macs=listed)
    result = PresetAudit(
        preset.name, summary.depth, summary.total, summary.trainable, summary.non_trainable
    )
    result.checks += depth_checks(preset, spec, summary, reference)
    result.checks += count_checks(preset.name, summary, reference)
    result.checks += macs_checks(preset.name, summary, reference)
    result.notes += table_notes(preset.name, reference)
    return result


def depth_checks(
    preset: Preset, spec: Any, summary: Summary, reference: Mapping[str, Any]
) -> Iterable[Check]:
    """Depth against the name, the family formula, and the seed table's n."""
    named = re.search(r"\d+", preset.name)
    if named:
        yield _compare("depth", "the name", int(named[0]), summary.depth)
    formula = formula_depth(preset.arch, spec)
    if formula is None:
        return
    text, depth = formula
    yield _compare("depth", f"formula {text}", depth, summary.depth)
    seed_n = _seed_table_n(preset, reference)
    n = re.search(r"n=(\d+)", text)
    if seed_n is not None and n:
        yield _compare("n", "the seed's table", seed_n, int(n[1]))


def count_checks(name: str, summary: Summary, reference: Mapping[str, Any]) -> Iterable[Check]:
    """Exact counts where the table is exact; otherwise its rounded figure, within rounding."""
    measured = {key: getattr(summary, key) for key in COUNT_KEYS}
    exact_found = False
    for table in EXACT_TABLES:
        entry = reference.get(table, {}).get(name)
        if not entry:
            continue
        for key in COUNT_KEYS:
            if key in entry:
                exact_found = True
                yield _compare(f"{key} params", table, entry[key], measured[key])
    torchvision = reference.get(TORCHVISION_PARAMS, {}).get(name)
    if torchvision is not None:
        exact_found = True
        yield _compare("trainable params", TORCHVISION_PARAMS, torchvision, summary.trainable)
    rounded = _rounded_figure(name, reference)
    if rounded is not None and not exact_found:
        source, figure = rounded
        yield Check("params", source, figure, summary.total, within_rounding(summary.total, figure))


def macs_checks(name: str, summary: Summary, reference: Mapping[str, Any]) -> Iterable[Check]:
    """MACs per 32×32 image against the table, within its rounding (two decimals of millions);
    torchvision's networks per 224×224 image, within 0.5% of its GFLOPS."""
    if summary.macs is None:
        return
    expected = reference.get("macs", {}).get(name)
    if expected is not None and summary.input_size == REFERENCE_INPUT:
        close = abs(summary.macs - expected) <= MACS_HALF_UNIT
        yield Check("MACs", "macs", f"{expected / 1e6:.2f}M", f"{summary.macs / 1e6:.2f}M", close)
    gmacs = reference.get(TORCHVISION_GMACS, {}).get(name)
    if gmacs is not None and summary.input_size == IMAGENET_INPUT:
        close = abs(summary.macs / 1e9 - gmacs) <= TORCHVISION_MACS_TOLERANCE * gmacs
        source = f"{TORCHVISION_GMACS} (±0.5%)"
        yield Check("MACs", source, f"{gmacs:.3f}G", f"{summary.macs / 1e9:.3f}G", close)


def table_notes(name: str, reference: Mapping[str, Any]) -> list[str]:
    """Where the table's exact count does not round to its own rounded paper figure."""
    notes = []
    for table in EXACT_TABLES:
        entry = reference.get(table, {}).get(name, {})
        if {"trainable", "paper"} <= entry.keys() and not within_rounding(
            entry["trainable"], entry["paper"]
        ):
            notes.append(
                f"{name}: the paper prints {entry['paper']}, but the exact count of its "
                f"definition is {entry['trainable']:,} ({table})"
            )
    return notes


def within_rounding(count: int, figure: str) -> bool:
    """Whether ``count`` rounds to ``figure`` ("0.27M", "19.4M"): within half its last digit."""
    match = re.fullmatch(r"(\d+(?:\.(\d+))?)M", figure.strip())
    if not match:
        raise ZooError(f"reference table: cannot read the parameter figure {figure!r}")
    value = Decimal(match[1]) * 1_000_000
    half_unit = Decimal(5) * Decimal(10) ** (6 - len(match[2] or "") - 1)
    return abs(Decimal(count) - value) <= half_unit


def _rounded_figure(name: str, reference: Mapping[str, Any]) -> tuple[str, str] | None:
    for table in EXACT_TABLES:
        entry = reference.get(table, {}).get(name, {})
        if "paper" in entry:
            return table, entry["paper"]
    seed_name = _seed_model_name(name)
    approx = reference.get("seed_v1_params_approx", {})
    if name.endswith("_v1") and seed_name in approx:
        return "seed_v1_params_approx", approx[seed_name]
    return None


def _seed_table_n(preset: Preset, reference: Mapping[str, Any]) -> int | None:
    version = "v2" if preset.arch == "resnet_v2" else "v1" if preset.arch == "resnet_v1" else None
    if version is None:
        return None
    for row in reference.get("seed_table", []):
        if row.get("model") == _seed_model_name(preset.name):
            return row.get(f"n_{version}")
    return None


def _seed_model_name(name: str) -> str:
    """``resnet110_v1_paper`` → ``ResNet110``, the seed table's row name."""
    match = re.match(r"resnet(\d+)", name)
    return f"ResNet{match[1]}" if match else name


def _compare(what: str, source: str, expected: int, actual: int) -> Check:
    return Check(what, source, expected, actual, expected == actual)
