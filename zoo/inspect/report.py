"""rich renderings of summaries and audits, for the CLI."""

from __future__ import annotations

from collections.abc import Sequence

from rich import box
from rich.console import Group
from rich.table import Table

from zoo.inspect.audit import (
    PresetAudit,
    count_checks,
    load_reference,
    macs_checks,
    show_value,
)
from zoo.inspect.summary import Summary


def summary_table(summary: Summary) -> Group:
    """One row per executed layer, then the totals."""
    layers = Table(
        title=f"{summary.name}  input {_shape(summary.input_size)}", title_justify="left"
    )
    for column, justify in (
        ("layer", "left"),
        ("type", "left"),
        ("output", "right"),
        ("params", "right"),
    ):
        layers.add_column(column, justify=justify)  # type: ignore[arg-type]
    for layer in summary.layers:
        layers.add_row(layer.name, layer.type, _shape(layer.output_shape), f"{layer.params:,}")
    totals = Table(show_header=False, box=None)
    totals.add_column(justify="left")
    totals.add_column(justify="right")
    totals.add_row("Total params", f"{summary.total:,}")
    totals.add_row("Trainable params", f"{summary.trainable:,}")
    totals.add_row("Non-trainable params", f"{summary.non_trainable:,}")
    totals.add_row("Depth (weighted layers)", str(summary.depth))
    if summary.macs is not None:
        totals.add_row("MACs per image", f"{summary.macs:,} ({summary.macs / 1e6:.2f} M)")
    return Group(layers, totals)


def comparison_lines(summary: Summary, reference_name: str | None) -> list[str]:
    """How the network compares with the documented table."""
    if reference_name is None:
        return ["Documented table: this network is not a preset, so there is nothing to compare."]
    reference = load_reference()
    checks = [
        *count_checks(reference_name, summary, reference),
        *macs_checks(reference_name, summary, reference),
    ]
    if not checks:
        return [f"Documented table: no figures for {reference_name}."]
    lines = []
    for check in checks:
        mark = "[green]matches[/green]" if check.ok else "[red]DIFFERS from[/red]"
        lines.append(
            f"Documented table: {check.what} {show_value(check.actual)} {mark} {check.source} "
            f"({show_value(check.expected)})"
        )
    return lines


SOURCE_NAMES = {
    "keras_counts": "keras",
    "paper_v1_option_a": "paper v1",
    "paper_v2_preact": "paper v2",
    "seed_v1_params_approx": "seed ≈",
    "torchvision_imagenet": "torchvision",
}
"""Short names of the reference tables, so that the audit fits 80 columns (``--json`` and the
failure lines give the full ones)."""


def audit_table(results: Sequence[PresetAudit]) -> Table:
    """One row per preset: measured figures, where the expected ones came from, the verdict.

    It fits 80 columns: names and figures are never cut; the depth rule and the source of the
    counts fold onto more lines instead (the total is trainable + non-trainable, in ``--json``).
    """
    table = Table(
        title="zoo audit: presets against the documented table",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    longest = max((len(result.name) for result in results), default=6)
    table.add_column("preset", no_wrap=True, min_width=longest)
    for column in ("depth", "trainable", "non-train."):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("rule", overflow="fold")
    table.add_column("counts from", overflow="fold")
    table.add_column("result", no_wrap=True)
    for result in results:
        formulas = [c.source.removeprefix("formula ") for c in result.checks if c.what == "depth"]
        counts = sorted(
            {
                SOURCE_NAMES.get(c.source, c.source)
                for c in result.checks
                if c.what.endswith("params")
            }
        )
        verdict = "[green]pass[/green]" if result.ok else "[red]FAIL[/red]"
        table.add_row(
            result.name,
            str(result.depth),
            f"{result.trainable:,}",
            f"{result.non_trainable:,}",
            next((f for f in formulas if f != "the name"), "the name"),
            ", ".join(counts) or "-",
            verdict,
        )
    return table


def _shape(shape: Sequence[int]) -> str:
    return "×".join(map(str, shape))
