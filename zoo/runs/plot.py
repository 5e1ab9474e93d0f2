"""``zoo plot``: a PNG of runs' loss, accuracy and learning-rate curves from metrics.jsonl.

One run gives its training and validation curves; several are overlaid, one colour per run,
training dashed and validation solid, so that runs can be compared — ``plain56`` against
``resnet56_v1`` is the paper's Figure 1 (He et al. 2015).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from zoo.errors import ZooError
from zoo.runs.metrics import read_metrics

COMPARISON = Path("comparison.png")
"""Where the curves of several runs go by default (the current directory)."""


def plot_runs(run_dirs: Sequence[Path], out: Path | None = None) -> Path:
    """Write the curves of ``run_dirs``, overlaid, to ``out`` (default ``RUN_DIR/curves.png``
    for one run, ``comparison.png`` for several)."""
    runs = []
    for run_dir in run_dirs:
        rows = read_metrics(run_dir)
        if not rows:
            raise ZooError(f"{run_dir}: metrics.jsonl has no epochs yet")
        runs.append((run_dir, rows))
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator
    except ImportError as exc:
        raise ZooError("zoo plot needs matplotlib: pip install 'zoo[plot]'") from exc
    several = len(runs) > 1
    figure, (loss, accuracy, lr) = plt.subplots(1, 3, figsize=(15, 4))
    for index, (run_dir, rows) in enumerate(runs):
        colour = f"C{index}"
        label = f"{run_dir.name} " if several else ""
        epochs = [row["epoch"] for row in rows]
        for axes, key in ((loss, "loss"), (accuracy, "acc")):
            axes.plot(
                epochs,
                [_gap(row[f"train_{key}"]) for row in rows],
                color=colour,
                linestyle="--" if several else "-",
                label=f"{label}train",
            )
            axes.plot(
                epochs,
                [_gap(row[f"val_{key}"]) for row in rows],
                color=colour if several else "C1",
                label=f"{label}validation",
            )
        lr.plot(epochs, [row["lr"] for row in rows], color=colour, label=run_dir.name)
    loss.set(title="loss", xlabel="epoch")
    accuracy.set(title="accuracy", xlabel="epoch")
    lr.set(title="learning rate", xlabel="epoch", yscale="log")
    for axes in (loss, accuracy, lr):  # epochs are whole: no tick at 1.5
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    loss.legend()
    accuracy.legend()
    figure.suptitle(" vs ".join(run_dir.name for run_dir, _ in runs))
    figure.tight_layout()
    out = out or (COMPARISON if several else runs[0][0] / "curves.png")
    try:
        figure.savefig(out, dpi=100)
    except OSError as exc:
        raise ZooError(f"cannot write {out}: {exc.strerror or exc}") from exc
    except ValueError as exc:  # matplotlib: "Format 'xyz' is not supported"
        kinds = ", ".join(f".{kind}" for kind in figure.canvas.get_supported_filetypes())
        raise ZooError(f"--out {out}: {exc}; use one of {kinds}") from exc
    finally:
        plt.close(figure)
    return out


def _gap(value: float | None) -> float:
    """A diverged epoch's null metric as a gap in the curve."""
    return math.nan if value is None else value
