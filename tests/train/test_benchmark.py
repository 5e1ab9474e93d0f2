"""``zoo benchmark``: timm's keys, the trainer's own step and placement, OOM retries, output
forms. Tiny batches and one timed step: no test asserts a speed."""

from __future__ import annotations

import csv
import io
import json

import pytest
import torch

import zoo
from zoo.cli.benchmark import COLUMNS, model_names
from zoo.errors import ZooError
from zoo.train import benchmark as benchmarking
from zoo.train.benchmark import benchmark, seed_sec_per_epoch
from zoo.train.runtime.device import Placement

CUDA = torch.device("cuda")

TIMM_KEYS = {"train_samples_per_sec", "train_step_time", "infer_samples_per_sec",
             "infer_step_time", "batch_size", "param_count", "macs"}  # fmt: skip


def test_a_benchmark_has_timms_keys_and_the_trainers_placement():
    result = benchmark("resnet8_v1", batch_size=4, steps=1, warmup=1, precision="fp32")
    figures = result.to_json()
    assert figures.keys() >= TIMM_KEYS
    assert figures["batch_size"] == 4 and figures["input_size"] == [3, 32, 32]
    parameters = sum(p.numel() for p in zoo.build_model("resnet8_v1").parameters())
    assert figures["param_count"] == round(parameters / 1e6, 3)  # millions, as timm's
    assert figures["macs"] > 0 and figures["precision"] == "fp32"
    assert figures["train_step_time"] > 0 and figures["infer_step_time"] > 0
    rate = figures["train_samples_per_sec"]
    assert rate == pytest.approx(4 / (figures["train_step_time"] / 1e3), rel=1e-2)
    assert figures["sec_per_epoch"] == pytest.approx(50_000 / rate, rel=1e-2)
    assert figures["seed_sec_per_epoch"] is None and figures["peak_memory_mb"] is None


def test_the_seeds_presets_carry_the_seeds_seconds_per_epoch():
    assert seed_sec_per_epoch("resnet20_v1") == 35 and seed_sec_per_epoch("resnet56_v2") == 100
    assert seed_sec_per_epoch("resnet110_v1") == 165
    assert seed_sec_per_epoch("resnet20_v1_paper") is None  # He et al.'s, not the seed's
    assert seed_sec_per_epoch("resnet164_v2") is None  # the table has no time there


def test_running_out_of_memory_halves_the_batch_and_says_so(monkeypatch):
    """On a GPU, as timm does: a batch that ran out of memory is retried at half the size."""
    measured = []

    def measure(name, batch_size, config, placement, steps, warmup, note, reference):
        measured.append(batch_size)
        if batch_size > 2:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return batch_size, note

    monkeypatch.setattr(benchmarking, "_measure", measure)
    monkeypatch.setattr(benchmarking, "place", lambda config: Placement(CUDA, None, False))
    monkeypatch.setattr(benchmarking, "_free", lambda device: None)  # no GPU here: as on one
    assert benchmark("resnet8_v1", batch_size=8, steps=1, warmup=0) == (
        2,
        "batch 8 ran out of memory; measured at 2",
    )
    assert measured == [8, 4, 2]


def test_on_the_host_a_batch_beyond_its_memory_is_refused_before_it_is_allocated(monkeypatch):
    """Halving would end in the kernel's OOM killer there, not in an error: the estimate
    refuses it first, and an allocation that still fails is one line, not a retry."""
    with pytest.raises(ZooError, match=r"training needs about .* GiB .* --batch-size smaller"):
        benchmark("resnet20_v1", batch_size=60_000, steps=1, warmup=0)

    def refused(*args):
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate")

    monkeypatch.setattr(benchmarking, "_measure", refused)
    with pytest.raises(ZooError, match="out of memory on cpu at batch 8; lower --batch-size"):
        benchmark("resnet8_v1", batch_size=8, steps=1, warmup=0)


def test_patterns_expand_over_presets_and_names_stay():
    names = model_names(["resnet*_v2", "resnet20_v1", "resnet56_v2"])
    assert names[0] == "resnet20_v2" and "resnet1001_v2" in names
    assert names.count("resnet56_v2") == 1 and names[-1] == "resnet20_v1"


def test_json_is_sorted_by_training_throughput_and_csv_has_the_columns(run_zoo):
    args = ["benchmark", "resnet8_v1", "resnet14_v1", "--batch-size", "2", "--steps", "1"]
    as_json = run_zoo(*args, "--json")
    assert as_json.code == 0, as_json.err
    rows = json.loads(as_json.out)
    assert {row["model"] for row in rows} == {"resnet8_v1", "resnet14_v1"}
    rates = [row["train_samples_per_sec"] for row in rows]
    assert rates == sorted(rates, reverse=True)
    as_csv = run_zoo(*args, "--csv")
    table = list(csv.DictReader(io.StringIO(as_csv.out)))
    assert as_csv.code == 0 and list(table[0]) == list(COLUMNS) and len(table) == 2
    shown = run_zoo(*args)
    assert shown.code == 0 and "train img/s" in shown.out and "resnet14_v1" in shown.out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["resnet8_v1", "--batch-size", "0"], "--batch-size and --steps must be at least 1"),
        (["nothing*"], "no preset matches 'nothing*'"),
        (["resnet7_v1"], "resnet7_v1"),
    ],
)
def test_bad_arguments_are_one_line(args, message, run_zoo):
    result = run_zoo("benchmark", *args)
    assert result.code == 2 and message in result.err
    assert result.err.strip().splitlines()[-1].startswith("zoo: error: ")
