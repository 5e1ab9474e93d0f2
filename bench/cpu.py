"""CPU benchmark: zoo train against the hand-written PyTorch loop and against the model alone.

One run, one machine, one model (the seed's ResNet-20 v1, recipes/resnet20_v1.toml) and the same
CIFAR-format files, written here: 5,000 training images by default. It reports training images/s
for

  a. ``zoo train`` with the recipe at batch 128 (the trainer's default fast settings);
  b. the hand-written loop (bench/common.py): PIL transforms, a 2-worker DataLoader, fp32, SGD;
  c. the model alone: forward, backward and step on tensors already in memory, with the
     trainer's settings — the ceiling, which shows what data handling and bookkeeping cost;

each the median of several epochs after a warm-up epoch, and the ratios a/b and a/c.

``--ddp N`` also trains the recipe with N processes under torchrun (gloo, each process with
its share of the cores) and reports the scaling against one process.

    python bench/cpu.py [--train-images 5000] [--epochs 4] [--ddp 2] [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import hand_written_epoch_timer, median_after_warmup, write_cifar10

import zoo
import zoo.inspect
from zoo.recipe import load_recipe
from zoo.recipe.training import OptimConfig, TrainConfig
from zoo.train.loop import train
from zoo.train.optim import make_optimizer
from zoo.train.runtime.device import place

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "resnet20_v1.toml"


def zoo_train_rates(root: Path, epochs: int, batch_size: int, out: Path) -> list[float]:
    overrides = [
        f"data.root={json.dumps(str(root))}",
        "data.download=false",
        f"train.epochs={epochs}",
        f"train.batch_size={batch_size}",
    ]
    run = train(load_recipe(RECIPE, overrides), out, quiet=True)
    return [row["images_per_sec"] for row in run.metrics]


def ddp_rates(root: Path, epochs: int, batch_size: int, processes: int, out: Path) -> list[float]:
    """zoo train under torchrun with ``processes`` CPU processes (images/s of the whole job)."""
    threads = max(1, (os.cpu_count() or 1) // processes)
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone",
        f"--nproc_per_node={processes}", "-m", "zoo", "train", str(RECIPE), "--out", str(out),
        "--no-progress", "--set", f"data.root={json.dumps(str(root))}",
        "--set", "data.download=false", "--set", f"train.epochs={epochs}",
        "--set", f"train.batch_size={batch_size}",
    ]  # fmt: skip
    env = os.environ | {"OMP_NUM_THREADS": str(threads)}
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [row["images_per_sec"] for row in rows]


def model_alone_rates(
    images: int, epochs: int, batch_size: int, precision: str = "auto", layout: str = "auto"
) -> list[float]:
    placement = place(TrainConfig(precision=precision, channels_last=layout))
    model = zoo.build_model("resnet20_v1").to(
        placement.device, memory_format=placement.memory_format
    )
    optimizer = make_optimizer(model, OptimConfig(), placement.device)
    data = torch.randn(images, 3, 32, 32).contiguous(memory_format=placement.memory_format)
    labels = torch.randint(0, 10, (images,))
    rates = []
    for _ in range(epochs):
        started = time.perf_counter()
        for start in range(0, images, batch_size):
            x, y = data[start : start + batch_size], labels[start : start + batch_size]
            with placement.autocast():
                loss = torch.nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        rates.append(images / (time.perf_counter() - started))
    return rates


def matmul_gflops(dtype: torch.dtype, largest: int = 2048, seconds: float = 1.0) -> float:
    """The machine's practical ceiling: GFLOP/s of a square matrix product, the size doubled from
    256 up to ``largest`` while one product takes under a fifth of ``seconds``, then repeated for
    ``seconds``. (Without native bf16, as on an AVX2-only CPU, a bf16 product is emulated at about
    1 GFLOP/s: a fixed 2048² would take a minute a product.)"""
    size = 256
    while True:
        a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
        started = time.perf_counter()
        a @ b
        if size >= largest or time.perf_counter() - started > seconds / 5:
            break
        size *= 2
    repeats, started = 0, time.perf_counter()
    while repeats == 0 or time.perf_counter() - started < seconds:
        a @ b
        repeats += 1
    return 2 * size**3 * repeats / (time.perf_counter() - started) / 1e9


def settings_table(images: int, epochs: int, batch_size: int) -> dict[str, float]:
    """The model alone under each precision and memory layout: the evidence for the defaults."""
    rates = {}
    for precision in ("fp32", "bf16"):
        for layout, name in (("off", "NCHW"), ("on", "channels_last")):
            measured = model_alone_rates(images, epochs, batch_size, precision, layout)
            rates[f"{precision} {name}"] = median_after_warmup(measured)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train-images", type=int, default=5000)
    parser.add_argument("--test-images", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=4, help="per measurement, 1 is warm-up")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers of loop b")
    parser.add_argument("--ddp", type=int, default=0, metavar="N", help="also N DDP processes")
    parser.add_argument(
        "--settings", action="store_true", help="also the model alone in fp32/bf16 × NCHW/NHWC"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    placement = place(TrainConfig())
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, zoo defaults on this CPU: "
        f"{placement.precision} autocast, channels_last={placement.channels_last}"
    )
    with tempfile.TemporaryDirectory() as folder:
        root = write_cifar10(Path(folder) / "data", args.train_images, args.test_images)
        a = zoo_train_rates(root, args.epochs, args.batch_size, Path(folder) / "run")
        epoch = hand_written_epoch_timer(
            zoo.build_model("resnet20_v1"), root, args.batch_size, args.workers, torch.device("cpu")
        )
        b = [epoch() for _ in range(args.epochs)]
        ddp = []
        if args.ddp > 1:
            ddp = ddp_rates(root, args.epochs, args.batch_size, args.ddp, Path(folder) / "ddp")
    c = model_alone_rates(args.train_images, args.epochs, args.batch_size)

    results = {
        "a_zoo_train": median_after_warmup(a),
        "b_hand_written": median_after_warmup(b),
        "c_model_alone": median_after_warmup(c),
    }
    results["a_over_b"] = results["a_zoo_train"] / results["b_hand_written"]
    results["a_over_c"] = results["a_zoo_train"] / results["c_model_alone"]
    for name, rates in (("a. zoo train", a), ("b. hand-written loop", b), ("c. model alone", c)):
        shown = ", ".join(f"{rate:.0f}" for rate in rates)
        print(f"{name:22s} {median_after_warmup(rates):7.0f} images/s  (epochs: {shown})")
    print(f"a/b = {results['a_over_b']:.2f}  (target >= 2.0)")
    print(f"a/c = {results['a_over_c']:.2f}  (target >= 0.9)")
    if ddp:
        results["ddp_processes"] = args.ddp
        results["ddp_images_per_s"] = median_after_warmup(ddp)
        results["ddp_scaling"] = results["ddp_images_per_s"] / results["a_zoo_train"]
        print(
            f"DDP {args.ddp} processes   {results['ddp_images_per_s']:7.0f} images/s  "
            f"(scaling {results['ddp_scaling']:.2f}x against one process)"
        )
    if args.settings:
        results["settings"] = settings_table(args.train_images, args.epochs, args.batch_size)
        for name, rate in results["settings"].items():
            print(f"model alone, {name:20s} {rate:7.0f} images/s")
    results["matmul_gflops"] = {
        "fp32": matmul_gflops(torch.float32),
        "bf16": matmul_gflops(torch.bfloat16),
    }
    macs = zoo.inspect.summarize(zoo.build_model("resnet20_v1"), macs=True).macs
    flops_per_image = 3 * 2 * macs  # forward, and a backward of about twice the forward
    results["train_gflops_per_image"] = flops_per_image / 1e9
    results["achieved_gflops"] = results["a_zoo_train"] * flops_per_image / 1e9
    ceiling = results["matmul_gflops"]
    print(
        f"ResNet-20: {macs / 1e6:.2f}M MACs/image forward → ~{flops_per_image / 1e9:.3f} "
        f"GFLOP/image trained; zoo achieves {results['achieved_gflops']:.0f} GFLOP/s; "
        f"a matrix product (up to 2048²) reaches {ceiling['fp32']:.0f} (fp32) and "
        f"{ceiling['bf16']:.0f} (bf16)"
    )
    if args.json:
        args.json.write_text(json.dumps(results | {"a": a, "b": b, "c": c, "ddp": ddp}, indent=2))


if __name__ == "__main__":
    main()
