"""``zoo eval --report DIR``: what a checkpoint gets wrong, as numbers and as pictures.

Over the split its run validated on (as ``zoo eval``), it writes into ``DIR``:

- ``report.json``: ``accuracy``, ``loss``, ``classes`` (one ``{name, support, precision,
  recall}`` each; ``null`` where a class was never predicted, or has no images) and
  ``confusion``, the matrix of counts with rows the true class and columns the predicted one;
- ``confusion.png``: that matrix, with the class names;
- ``misclassified.png``: the most confidently misclassified images, each titled with its true
  and predicted class and the probability given to the wrong one.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from zoo.errors import ZooError
from zoo.runs.files import write_text
from zoo.train.checkpoint_eval import Evaluation, EvaluationSetup, prepare
from zoo.train.objective import predict_logits

SHOWN_MISTAKES = 16
"""Misclassified images in the grid, the most confident first."""

ANNOTATED_CLASSES = 20
"""Up to this many classes, each cell of the confusion picture shows its count."""

REPORT_FILES = ("report.json", "confusion.png", "misclassified.png")


@dataclass(frozen=True)
class Mistake:
    image: torch.Tensor
    """``(C, H, W)`` in [0, 1], as the network saw it before normalisation."""
    true: int
    predicted: int
    confidence: float


@torch.no_grad()
def write_report(
    path: Path, out: Path, data_root: Path | None = None, *, tta: bool = False
) -> tuple[Evaluation, list[Path]]:
    """Evaluate the checkpoint at ``path`` and write the three report files into ``out``."""
    plt = _pyplot()
    setup = prepare(path, data_root)
    classes = list(setup.loaded.state["classes"])
    confusion, loss_sum, mistakes = _predictions(setup, len(classes), tta)
    seen = int(confusion.sum())
    correct = int(confusion.diag().sum())
    evaluation = setup.evaluation(loss_sum / max(seen, 1), correct / max(seen, 1), tta)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ZooError(f"--report {out}: cannot make the folder ({exc.strerror or exc})") from None
    report = evaluation.to_json() | {
        "classes": per_class(confusion, classes),
        "confusion": confusion.tolist(),
    }
    files = [out / name for name in REPORT_FILES]
    try:
        write_text(files[0], json.dumps(report, indent=1, allow_nan=False) + "\n")
        _confusion_picture(plt, confusion, classes, files[1])
        _mistakes_picture(plt, mistakes, classes, files[2])
    except OSError as exc:
        raise ZooError(f"--report {out}: cannot write it ({exc.strerror or exc})") from None
    return evaluation, files


def _predictions(
    setup: EvaluationSetup, count: int, tta: bool
) -> tuple[torch.Tensor, float, list[Mistake]]:
    """The confusion matrix, the summed loss, and the most confident mistakes."""
    confusion = torch.zeros(count, count, dtype=torch.int64)
    loss_sum = 0.0
    candidates: list[Mistake] = []
    mean = setup.normalizer.mean.to(setup.placement.device)
    std = setup.normalizer.std.to(setup.placement.device)
    for images, labels in setup.loader:
        with setup.placement.autocast():
            logits = predict_logits(setup.model, images, tta)
        loss_sum += F.cross_entropy(logits, labels, reduction="sum").item()
        probabilities, predicted = logits.softmax(1).max(1)
        confusion += torch.bincount(
            (labels * count + predicted).cpu(), minlength=count * count
        ).view(count, count)
        wrong = (predicted != labels).nonzero().flatten()
        if wrong.numel():
            top = wrong[probabilities[wrong].argsort(descending=True)[:SHOWN_MISTAKES]]
            shown = (images[top].float() * std + mean).clamp(0, 1).cpu()
            candidates += [
                Mistake(shown[i], int(labels[j]), int(predicted[j]), float(probabilities[j]))
                for i, j in enumerate(top.tolist())
            ]
            candidates = sorted(candidates, key=lambda m: -m.confidence)[:SHOWN_MISTAKES]
    return confusion, loss_sum, candidates


def per_class(confusion: torch.Tensor, classes: list[str]) -> list[dict[str, Any]]:
    """Support (true images), precision and recall of each class from the confusion matrix."""
    rows = []
    for index, name in enumerate(classes):
        hits = int(confusion[index, index])
        support = int(confusion[index].sum())
        predicted = int(confusion[:, index].sum())
        rows.append(
            {
                "name": name,
                "support": support,
                "precision": hits / predicted if predicted else None,
                "recall": hits / support if support else None,
            }
        )
    return rows


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ZooError("zoo eval --report needs matplotlib: pip install 'zoo[plot]'") from exc
    return plt


def _confusion_picture(plt: Any, confusion: torch.Tensor, classes: list[str], path: Path) -> None:
    count = len(classes)
    side = max(4.0, 0.45 * count + 2)
    figure, axes = plt.subplots(figsize=(side + 1, side))
    picture = axes.imshow(confusion.numpy(), cmap="Blues")
    figure.colorbar(picture, ax=axes, fraction=0.046)
    axes.set_xticks(range(count), classes, rotation=90)
    axes.set_yticks(range(count), classes)
    axes.set(xlabel="predicted class", ylabel="true class", title="confusion matrix")
    if count <= ANNOTATED_CLASSES:
        brightest = max(int(confusion.max()), 1)
        for row, counts in enumerate(confusion.tolist()):
            for column, value in enumerate(counts):
                colour = "white" if value > brightest / 2 else "black"
                axes.text(column, row, str(value), ha="center", va="center", color=colour,
                          fontsize=8)  # fmt: skip
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _mistakes_picture(plt: Any, mistakes: list[Mistake], classes: list[str], path: Path) -> None:
    columns = 4
    rows = max(1, math.ceil(len(mistakes) / columns))
    figure, grid = plt.subplots(rows, columns, figsize=(3 * columns, 3.2 * rows), squeeze=False)
    for axes in grid.flat:
        axes.axis("off")
    for axes, mistake in zip(grid.flat, mistakes, strict=False):  # fewer mistakes than cells
        image = mistake.image
        axes.imshow(image[0] if image.shape[0] == 1 else image.permute(1, 2, 0),
                    cmap="gray" if image.shape[0] == 1 else None)  # fmt: skip
        axes.set_title(
            f"true {classes[mistake.true]}\npredicted {classes[mistake.predicted]} "
            f"({mistake.confidence:.0%})",
            fontsize=9,
        )
    if not mistakes:
        grid.flat[0].text(0.5, 0.5, "no misclassified images", ha="center", va="center")
    figure.suptitle("most confidently misclassified")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
