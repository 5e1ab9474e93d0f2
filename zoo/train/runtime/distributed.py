"""torch.distributed (DDP) for ``torchrun --nproc_per_node=N -m zoo train RECIPE``.

torchrun sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; without them zoo trains in one process.
NCCL connects CUDA processes and gloo CPU ones. Each rank trains on its own shard of every epoch
(the device-resident loader shards by rank), gradients are averaged by DDP, and only rank 0
prints, validates for the record, logs and writes checkpoints.
"""

from __future__ import annotations

import inspect
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

NO_BUFFER_SYNC = (
    "forward_sync_buffers"
    if "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters
    else "broadcast_buffers"
)
"""DDP's option for the per-forward buffer broadcast: torch 2.14 renamed ``broadcast_buffers``
(its new name still syncs the buffers once, at the start)."""


@dataclass(frozen=True)
class Distribution:
    """This process's place in the job."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def start(device_name: str) -> Distribution:
    """Join the process group torchrun describes, if any."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Distribution()
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() and (
        device_name == "auto" or device_name.startswith("cuda")
    )
    if use_cuda:
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        if use_cuda:  # device_id binds the group to this rank's GPU at once (no guessing later)
            dist.init_process_group("nccl", device_id=torch.device("cuda", local_rank))
        else:
            dist.init_process_group("gloo")
    return Distribution(rank, world_size, local_rank)


def device_for(distribution: Distribution, device: torch.device) -> torch.device:
    """One GPU per rank: ``cuda:LOCAL_RANK``."""
    if distribution.enabled and device.type == "cuda":
        return torch.device("cuda", distribution.local_rank)
    return device


def wrap(model: nn.Module, device: torch.device) -> DistributedDataParallel:
    """DDP around ``model`` on ``device``. Buffers (batch norm's running statistics) are not
    broadcast from rank 0 before each forward: validation and checkpoints use rank 0's alone, so
    the broadcast would be a collective per step for nothing."""
    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids, **{NO_BUFFER_SYNC: False})


def all_sum(tensor: torch.Tensor, distribution: Distribution) -> torch.Tensor:
    """Sum a metric tensor over ranks (a no-op in one process)."""
    if distribution.enabled:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def all_max(tensor: torch.Tensor, distribution: Distribution) -> torch.Tensor:
    """The elementwise maximum of ``tensor`` over all processes (itself without DDP)."""
    if distribution.enabled:
        tensor = tensor.clone()
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return tensor


def from_main(values: tuple[float, ...], distribution: Distribution) -> tuple[float, ...]:
    """Rank 0's values on every rank, so that every rank takes the same decisions from them
    (the plateau's, say) even where kernels differ in their last bits."""
    if not distribution.enabled:
        return values
    device = "cuda" if dist.get_backend() == "nccl" else "cpu"
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.broadcast(tensor, src=0)
    return tuple(tensor.tolist())


def barrier(distribution: Distribution) -> None:
    """Wait for every rank (a no-op in one process)."""
    if distribution.enabled:
        dist.barrier()


def stop(distribution: Distribution) -> None:
    if distribution.enabled and dist.is_initialized():
        dist.destroy_process_group()
