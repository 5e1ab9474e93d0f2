"""Summaries (Keras-style counts, depth from the graph, MACs) and the audit, planted mismatches
included."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

import zoo
from zoo.inspect import audit, count_parameters, summarize
from zoo.inspect.audit import within_rounding


def test_non_trainable_is_bn_moving_mean_and_variance_only():
    network = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    assert count_parameters(network) == (3 * 4 * 9 + 4 + 2 * 4, 2 * 4)  # no num_batches_tracked
    network[0].weight.requires_grad_(False)
    assert count_parameters(network) == (4 + 8, 8 + 108)


class TwoPaths(nn.Module):
    """A long path of three convs beside a short one of one: depth counts the long one."""

    def __init__(self) -> None:
        super().__init__()
        self.long = nn.Sequential(*[nn.Conv2d(4, 4, 3, padding=1) for _ in range(3)])
        self.short = nn.Conv2d(4, 4, 1)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc((self.long(x) + self.short(x)).mean((2, 3)))


def test_depth_is_the_longest_weighted_path():
    assert summarize(TwoPaths(), (4, 8, 8)).depth == 4


def test_summary_rows_shapes_and_json():
    summary = summarize(zoo.build_model("resnet20_v1"), name="resnet20_v1")
    data = summary.to_json()
    assert data["params"] == {"trainable": 273_066, "non_trainable": 1_376, "total": 274_442}
    assert data["depth"] == 20 and data["input_size"] == [3, 32, 32]
    assert data["macs"] == summary.macs > 40e6
    first = data["layers"][0]
    assert first == {
        "name": "stem.conv",
        "type": "Conv2d",
        "output_shape": [16, 32, 32],
        "params": 448,
    }
    assert sum(layer["params"] for layer in data["layers"]) == 273_066


def test_summarize_keeps_the_training_mode():
    network = zoo.build_model("resnet20_v1")
    network.train()
    summarize(network, macs=False)
    assert network.training


def test_meta_and_real_networks_summarise_alike():
    with torch.device("meta"):
        meta = zoo.build_model("resnet32_v1")
    real = zoo.build_model("resnet32_v1")
    a, b = summarize(meta), summarize(real)
    assert (a.total, a.depth, a.macs) == (b.total, b.depth, b.macs)


@pytest.mark.parametrize(
    ("count", "figure", "ok"),
    [
        (269_722, "0.27M", True),
        (274_999, "0.27M", True),
        (275_001, "0.27M", False),
        (1_727_962, "1.7M", True),
        (19_421_274, "19.4M", True),
        (10_327_706, "10.2M", False),
    ],
)
def test_rounding_rule(count, figure, ok):
    assert within_rounding(count, figure) is ok


def test_plain_nets_pass_the_audit_with_their_depth_formula():
    """A plain block holds two convolutions, as a basic block does: n is blocks per stage."""
    results = audit("plain*")
    assert len(results) == 5 and all(result.ok for result in results), [
        check for result in results for check in result.checks if not check.ok
    ]


def test_audit_passes_on_the_shipped_table():
    results = audit("resnet*_v1")
    assert results and all(result.ok for result in results)
    assert {c.source for r in results for c in r.checks} >= {
        "keras_counts",
        "the name",
        "the seed's table",
    }


def test_audit_catches_planted_mismatches(reference):
    planted = copy.deepcopy(reference)
    planted["keras_counts"]["resnet20_v1"]["total"] += 1
    planted["paper_v1_option_a"]["resnet56_v1_paper"]["trainable"] = 1_000_000
    for row in planted["seed_table"]:
        if row["model"] == "ResNet110":
            row["n_v1"] = 17
    results = {r.name: r for r in audit("resnet*_v1*", planted)}
    failed = {
        name: [c.what for c in r.checks if not c.ok] for name, r in results.items() if not r.ok
    }
    assert failed == {
        "resnet20_v1": ["total params"],
        "resnet56_v1_paper": ["trainable params"],
        "resnet110_v1": ["n"],
        "resnet110_v1_paper": ["n"],
    }


def test_audit_checks_a_rounded_figure_where_the_table_has_no_exact_count(reference):
    planted = copy.deepcopy(reference)
    del planted["keras_counts"]["resnet20_v1"]
    result = audit("resnet20_v1", planted)[0]
    rounded = [c for c in result.checks if c.source == "seed_v1_params_approx"]
    assert [(c.expected, c.ok) for c in rounded] == [("0.27M", True)]
    planted["seed_v1_params_approx"]["ResNet20"] = "0.30M"
    assert not audit("resnet20_v1", planted)[0].ok


def test_audit_notes_where_the_table_disagrees_with_itself():
    result = audit("resnet1001_v2_paper")[0]
    assert result.ok and "10.2M" in result.notes[0] and "10,327,706" in result.notes[0]
