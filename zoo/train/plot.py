"""``zoo plot``: a PNG of a run's loss, accuracy and learning-rate curves from metrics.jsonl."""

from __future__ import annotations

import math
from pathlib import Path

from zoo.errors import ZooError
from zoo.train.checkpoint import read_metrics


def plot_run(run_dir: Path, out: Path | None = None) -> Path:
    """Write the curves of ``run_dir`` to ``out`` (default ``RUN_DIR/curves.png``)."""
    rows = read_metrics(run_dir)
    if not rows:
        raise ZooError(f"{run_dir}: metrics.jsonl has no epochs yet")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ZooError("zoo plot needs matplotlib: pip install 'zoo[plot]'") from exc
    epochs = [row["epoch"] for row in rows]
    figure, (loss, accuracy, lr) = plt.subplots(1, 3, figsize=(15, 4))
    for axes, key, title in ((loss, "loss", "loss"), (accuracy, "acc", "accuracy")):
        for split, label in (("train", "train"), ("val", "validation")):
            values = [row[f"{split}_{key}"] for row in rows]  # null (diverged): a gap
            axes.plot(epochs, [math.nan if v is None else v for v in values], label=label)
        axes.set(title=title, xlabel="epoch")
        axes.legend()
    lr.plot(epochs, [row["lr"] for row in rows])
    lr.set(title="learning rate", xlabel="epoch", yscale="log")
    figure.suptitle(run_dir.name)
    figure.tight_layout()
    out = out or run_dir / "curves.png"
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
