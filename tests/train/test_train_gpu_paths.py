"""What the CUDA paths rely on, checked on the CPU: no recompile for a short last batch, no host
sync when nothing is shown, the compile mode under SyncBatchNorm, and DDP's set-up."""

from __future__ import annotations

import pytest
import torch
import torch.distributed as dist

from zoo.data import DeviceLoader
from zoo.errors import ZooError
from zoo.recipe import load_recipe
from zoo.recipe.training import TrainConfig
from zoo.train import loop, progress
from zoo.train.loop import train
from zoo.train.runtime import distributed
from zoo.train.runtime.device import compile_mode


@pytest.fixture
def counted_graphs(monkeypatch: pytest.MonkeyPatch):
    """``torch.compile`` with a backend that counts the graphs Dynamo hands it (one per compile
    or recompile) and runs them as traced: Dynamo's guards and recompiles are those of any
    backend, without the minutes inductor needs on a CPU."""
    graphs: list[torch.fx.GraphModule] = []

    def count(graph: torch.fx.GraphModule, inputs: list[torch.Tensor]):
        graphs.append(graph)
        return graph.forward

    real = torch.compile
    monkeypatch.setattr(torch, "compile", lambda model, mode=None: real(model, backend=count))
    torch._dynamo.reset()
    yield graphs
    torch._dynamo.reset()


def test_three_compiled_epochs_compile_twice(tiny_recipe, cifar_root, tmp_path, counted_graphs):
    # 20 images at batch 8: without drop_last the 4-image batch recompiles the step
    recipe = load_recipe(tiny_recipe, ["train.epochs=3", "train.compile=true"])
    run = train(recipe, tmp_path / "run", data_root=cifar_root, quiet=True)
    assert len(run.metrics) == 3
    assert len(counted_graphs) == 2  # the training step, and evaluation's one recompile
    assert all(row["images_per_sec"] > 0 for row in run.metrics)


@pytest.fixture
def syncs_per_epoch(monkeypatch: pytest.MonkeyPatch):
    """Count ``tolist``/``item`` calls (host syncs on a GPU) between the training steps (while
    an epoch's batches are being taken), refreshing the progress figures at every step."""
    counted: list[int] = []
    inside = [False]
    monkeypatch.setattr(loop, "REFRESH_STEPS", 1)
    for name in ("tolist", "item"):
        real = getattr(torch.Tensor, name)

        def counting(tensor, _real=real):
            counted.append(inside[0])
            return _real(tensor)

        monkeypatch.setattr(torch.Tensor, name, counting)
    real_batches = DeviceLoader.batches_from

    def batches(self, first):
        inside[0] = True
        try:
            yield from real_batches(self, first)
        finally:
            inside[0] = False

    monkeypatch.setattr(DeviceLoader, "batches_from", batches)
    return lambda: sum(counted)


def test_a_quiet_run_reads_the_device_once_an_epoch(
    tiny_recipe, cifar_root, tmp_path, syncs_per_epoch
):
    train(load_recipe(tiny_recipe), tmp_path / "run", data_root=cifar_root, quiet=True)
    assert syncs_per_epoch() == 0  # 2 epochs of 2 steps: the totals are read after the steps


def test_no_terminal_no_reads(tiny_recipe, cifar_root, tmp_path, syncs_per_epoch):
    train(load_recipe(tiny_recipe), tmp_path / "run", data_root=cifar_root)  # bars, no terminal
    assert syncs_per_epoch() == 0


def test_bars_on_a_terminal_read_the_figures_they_show(
    tiny_recipe, cifar_root, tmp_path, syncs_per_epoch, monkeypatch
):
    monkeypatch.setattr(progress.console, "_force_terminal", True)
    train(load_recipe(tiny_recipe), tmp_path / "run", data_root=cifar_root)
    assert syncs_per_epoch() == 2 * 2  # one refresh per step of the 2 epochs


def test_a_batch_larger_than_the_data_is_one_clear_error(tiny_recipe, cifar_root, tmp_path):
    recipe = load_recipe(tiny_recipe, ["train.batch_size=64"])
    with pytest.raises(ZooError, match=r"train\.batch_size: 64 is more than the 20"):
        train(recipe, tmp_path / "run", data_root=cifar_root, quiet=True)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("compile", "sync_batchnorm", "ddp", "mode"),
    [
        (False, True, True, None),
        (True, False, False, "default"),
        ("reduce-overhead", False, True, "reduce-overhead"),
        ("reduce-overhead", True, False, "reduce-overhead"),
        ("reduce-overhead", True, True, "default"),
        ("max-autotune", True, True, "max-autotune-no-cudagraphs"),
        ("default", True, True, "default"),
    ],
)
def test_sync_batchnorm_under_ddp_compiles_without_cuda_graphs(compile, sync_batchnorm, ddp, mode):
    config = TrainConfig(compile=compile, sync_batchnorm=sync_batchnorm)
    assert compile_mode(config, ddp) == mode


def test_a_cuda_rank_binds_its_process_group_to_its_gpu(monkeypatch: pytest.MonkeyPatch):
    calls = []
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "set_device", lambda index: None)
    monkeypatch.setattr(dist, "is_initialized", lambda: False)
    monkeypatch.setattr(dist, "init_process_group", lambda *a, **k: calls.append((a, k)))
    assert distributed.start("auto") == distributed.Distribution(1, 2, 1)
    assert calls == [(("nccl",), {"device_id": torch.device("cuda", 1)})]


def test_ddp_does_not_broadcast_buffers_every_step(tmp_path):
    dist.init_process_group(
        "gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1
    )
    try:
        wrapped = distributed.wrap(torch.nn.BatchNorm1d(3), torch.device("cpu"))
        assert wrapped.broadcast_buffers is False
    finally:
        dist.destroy_process_group()
