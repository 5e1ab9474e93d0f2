"""``zoo eval --report DIR``: the numbers agree with each other and with ``zoo eval``, and the
two pictures are written."""

from __future__ import annotations

import json

import torch

from zoo.train.eval_report import per_class

PNG = b"\x89PNG\r\n\x1a\n"


def test_the_report_agrees_with_eval_and_with_itself(run_zoo, cifar_root, tmp_path, train_tiny):
    train_tiny()
    run, report = tmp_path / "run", tmp_path / "report"
    plain = run_zoo("eval", str(run), "--data-dir", str(cifar_root), "--json")
    result = run_zoo("eval", str(run), "--data-dir", str(cifar_root), "--report", str(report))
    assert plain.code == result.code == 0, result.err
    assert "report.json" in result.out and "misclassified.png" in result.out
    data = json.loads((report / "report.json").read_text())
    assert abs(data["accuracy"] - json.loads(plain.out)["accuracy"]) < 1e-9
    confusion = torch.tensor(data["confusion"])
    assert confusion.shape == (10, 10) and int(confusion.sum()) == 8  # the tiny test split
    assert int(confusion.diag().sum()) / 8 == data["accuracy"]
    assert [row["name"] for row in data["classes"]] == [f"class{i}" for i in range(10)]
    assert [row["support"] for row in data["classes"]] == confusion.sum(1).tolist()
    for name in ("confusion.png", "misclassified.png"):
        assert (report / name).read_bytes()[:8] == PNG


def test_precision_and_recall_come_from_the_matrix_rows_true():
    confusion = torch.tensor([[3, 1, 0], [0, 2, 0], [1, 0, 0]])
    rows = per_class(confusion, ["cat", "dog", "eel"])
    assert rows[0] == {"name": "cat", "support": 4, "precision": 0.75, "recall": 0.75}
    assert rows[1] == {"name": "dog", "support": 2, "precision": 2 / 3, "recall": 1.0}
    assert rows[2] == {"name": "eel", "support": 1, "precision": None, "recall": 0.0}
