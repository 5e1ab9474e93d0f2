"""A folder larger than the memory a training process may use: ``zoo train`` streams it and
finishes with bounded memory, and refuses to hold it.

    python bench/bigfolder.py                  # a 1.5 GiB limit, 2.1 GiB of decoded images
    python bench/bigfolder.py --limit-gib 1 --json out.json

It writes an image folder (JPEGs of 200–280 pixels a side in four classes, and a small
``val/``) whose decoded size, N × 3 × S × S bytes at ``image_size`` S, is ``--oversize`` times
the limit, and runs ``zoo train`` — the command line, in a subprocess — on it under that limit:

1. ``in_memory = "auto"``: zoo must see that the folder cannot be held, stream it, and train one
   epoch of a small network with a strided stem (15 M multiply-adds an image at 224 px).
2. ``in_memory = true``: must be refused before training, with one line and exit code 2.
3. The control: ``in_memory = "auto"`` without the limit, which holds the folder in memory.

The limit is ``RLIMIT_DATA`` (``ulimit -d``): the heap and private memory a process may
allocate, set in the child before ``zoo`` starts, so its DataLoader workers inherit it. It is
what ``in_memory = "auto"`` reads (:func:`zoo.data.imagefolder.available_memory`). The
address-space limit (``ulimit -v``) would also count the 3 GiB of CUDA libraries that a CUDA
build of torch maps without reading them, and a cgroup needs privileges that a benchmark
should not ask for.
Shared memory (the workers' batches on their way to the main process) is not private and so
not under the limit; it is in the measured figures. Those are the largest single process's
peak resident set (``ru_maxrss``), and the peaks of the whole tree's summed resident set
(which counts a page shared by forked processes once in each) and summed proportional set size
(PSS: a page shared by k processes counts 1/k in each, so the sum is the tree's real share of
memory), sampled every 0.1 s and every second. The script exits 1 if zoo did not stream within
the limit or did not refuse to hold the folder in one line.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from stream import REPOSITORY, make_photos

GIB = 2**30
CHANNELS = 3
VAL_IMAGES = 100
SAMPLE_SECONDS = 0.1
PSS_EVERY = 10
"""Samples of the resident set per sample of the proportional set."""

RECIPE = """\
# A small network for large images: a 5×5/4 stem, one stage of basic blocks, 4 classes.
[model]
name = "strided_stem"
in_channels = 3
num_classes = 4
input_size = [{size}, {size}]

[model.stem]
block = "conv_bn_relu"
channels = 16
kernel_size = 5
stride = 4
bias = false

[[model.stages]]
block = "basic"
channels = 32
stride = 2
depth = 1

[model.head]
pool = "avg"

[data]
dataset = "imagefolder"
root = "{root}"
image_size = {size}
augment = ["flip"]
normalize = "imagenet"
workers = {workers}

[train]
epochs = 1
batch_size = 64
device = "cpu"
"""


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it, from the parent ids in /proc/*/stat."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # ended meanwhile
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])  # the name may hold spaces
        children.setdefault(parent, []).append(int(entry.name))
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        queue += children.get(current, [])
    return found


def memory_bytes(pid: int, field: str, table: str) -> int:
    """A ``kB`` field of ``/proc/PID/TABLE`` in bytes (0 if the process has ended)."""
    try:
        for line in Path(f"/proc/{pid}/{table}").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def sample_peaks(pid: int, done: threading.Event, peaks: dict[str, int]) -> None:
    """Until ``done``, keep the largest sums over ``pid``'s tree of the resident set (every
    0.1 s) and of the proportional set (every second: reading it walks the page tables, some
    17 ms for a process that has imported torch, which would otherwise load the cores)."""
    ticks = 0
    while not done.wait(SAMPLE_SECONDS):
        tree = descendants(pid)
        rss = sum(memory_bytes(each, "VmRSS", "status") for each in tree)
        peaks["rss"] = max(peaks["rss"], rss)
        if ticks % PSS_EVERY == 0:
            pss = sum(memory_bytes(each, "Pss", "smaps_rollup") for each in tree)
            peaks["pss"] = max(peaks["pss"], pss)
        ticks += 1


def limited(limit: int | None) -> Callable[[], None] | None:
    """A ``preexec_fn`` that sets ``RLIMIT_DATA`` to ``limit`` bytes in the child (None: no
    limit, no function)."""
    if limit is None:
        return None

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))

    return apply


def zoo_train(
    recipe: Path, run: Path, limit: int | None, in_memory: str | bool
) -> dict[str, object]:
    """Run ``zoo train`` under ``limit``: exit code, wall seconds, the lines it printed that
    matter, the largest process's peak RSS and the tree's peak summed RSS and PSS (MiB)."""
    command = [
        sys.executable, "-m", "zoo", "train", str(recipe), "--out", str(run), "--no-progress",
        "--set", f"data.in_memory={json.dumps(in_memory)}",  # TOML: "auto", true
    ]  # fmt: skip
    with tempfile.TemporaryFile("w+") as output:
        started = time.perf_counter()
        child = subprocess.Popen(
            command, cwd=REPOSITORY, stdout=output, stderr=subprocess.STDOUT, text=True,
            preexec_fn=limited(limit),
        )  # fmt: skip
        done, peaks = threading.Event(), {"rss": 0, "pss": 0}
        sampler = threading.Thread(target=sample_peaks, args=(child.pid, done, peaks))
        sampler.start()
        # wait4: the child's own resource usage, its reaped workers' included
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        done.set()
        sampler.join()
        output.seek(0)
        lines = output.read().strip().splitlines()
    return {
        "limit_gib": None if limit is None else round(limit / GIB, 2),
        "in_memory": in_memory,
        "exit_code": child.returncode,
        "seconds": round(seconds, 1),
        "lines_printed": len(lines),
        "epoch_line": next((line for line in lines if line.startswith("epoch")), ""),
        "last_line": lines[-1] if lines else "",
        "peak_rss_largest_process_mib": round(usage.ru_maxrss / 1024),
        "peak_rss_all_processes_mib": round(peaks["rss"] / 2**20),
        "peak_pss_all_processes_mib": round(peaks["pss"] / 2**20),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit-gib", type=float, default=1.5, help="RLIMIT_DATA of zoo train")
    parser.add_argument("--oversize", type=float, default=1.4, help="decoded folder ÷ limit")
    parser.add_argument("--size", type=int, default=224, help="data.image_size")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    limit = int(args.limit_gib * GIB)
    per_image = CHANNELS * args.size**2
    images = int(args.oversize * limit / per_image) + 1 - VAL_IMAGES
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        root = make_photos(Path(folder, "data"), images, sides=(200, 280), val=VAL_IMAGES,
                           quality=80)  # fmt: skip
        written = time.perf_counter() - started
        disk = sum(path.stat().st_size for path in root.rglob("*.jpg"))
        recipe = Path(folder, "recipe.toml")
        recipe.write_text(RECIPE.format(size=args.size, root=root, workers=args.workers))
        figures = {
            "images": images + VAL_IMAGES,
            "image_size": args.size,
            "decoded_gib": round((images + VAL_IMAGES) * per_image / GIB, 2),
            "on_disk_mib": round(disk / 2**20),
            "write_seconds": round(written, 1),
            "runs": [
                zoo_train(recipe, Path(folder, f"run-{index}"), run_limit, mode)
                for index, (mode, run_limit) in enumerate(
                    [("auto", limit), (True, limit), ("auto", None)]
                )
            ],
        }
    streamed, refused, _ = figures["runs"]
    figures["streamed_within_limit"] = (
        streamed["exit_code"] == 0 and streamed["peak_pss_all_processes_mib"] < limit / 2**20
    )
    figures["refused_in_one_line"] = refused["exit_code"] == 2 and refused["lines_printed"] == 1
    print(json.dumps(figures, indent=1, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1, ensure_ascii=False))
    sys.exit(0 if figures["streamed_within_limit"] and figures["refused_in_one_line"] else 1)


if __name__ == "__main__":
    main()
