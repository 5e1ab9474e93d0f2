"""How big a network is, found before it is built for real.

A recipe can ask for an absurd network — ``repeat = 10000000000``, a preset named with depth
99,999,998, channels of 10^8 — and building it would hang or exhaust memory. The size is found
in two cheap steps instead: the spec's number of blocks is bounded first (building a module per
block on any device takes time); then the network is built on the meta device, where parameters
and a forward pass have shapes but no memory, and its parameters and activations are counted.
Anything beyond a sane bound, or beyond the memory of the device, is one line with the estimate.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import nn

from zoo.errors import ZooError

MAX_PARAMETERS = 2**31
"""Parameters: 2.1 billion, three times the largest ImageNet ViT; more is a typo."""

BYTES_PER_VALUE = 4
"""float32."""

TRAINING_COPIES = 4
"""Training keeps each parameter four times: the weight, its gradient, and an optimiser's two
moments (Adam; SGD with momentum keeps one)."""


@dataclass(frozen=True)
class Estimate:
    """Values a network holds: its parameters, and the activations of one forward pass."""

    parameters: int
    activations: int = 0

    def training_bytes(self) -> int:
        """Weights, gradients and optimiser state, plus the activations kept for backward."""
        return BYTES_PER_VALUE * (TRAINING_COPIES * self.parameters + self.activations)


def estimate(network: nn.Module, input_shape: tuple[int, ...] | None = None) -> Estimate:
    """Count the parameters of ``network`` (built on the meta device) and, given a batch's
    ``input_shape``, the values its modules output in one forward pass."""
    parameters = sum(p.numel() for p in network.parameters())
    if input_shape is None:
        return Estimate(parameters)
    outputs = 0

    def count(_module: nn.Module, _inputs: object, output: object) -> None:
        nonlocal outputs
        if isinstance(output, torch.Tensor):
            outputs += output.numel()

    leaves = [m for m in network.modules() if not next(m.children(), None)]
    handles = [module.register_forward_hook(count) for module in leaves]
    try:
        with torch.device("meta"), torch.no_grad():
            network(torch.empty(input_shape, device="meta"))
    finally:
        for handle in handles:
            handle.remove()
    return Estimate(parameters, outputs)


def memory_of(device: torch.device) -> int:
    """The memory of ``device`` in bytes: a GPU's total, or the machine's physical memory."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[1]
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_fits(size: Estimate, device: torch.device, where: str, batch_size: int = 0) -> None:
    """Refuse a network beyond :data:`MAX_PARAMETERS`, or one whose training needs more memory
    than ``device`` has; the message gives the estimate."""
    if size.parameters > MAX_PARAMETERS:
        raise ZooError(
            f"{where}: the network has about {size.parameters:,} parameters; zoo builds at "
            f"most {MAX_PARAMETERS:,}"
        )
    needed, available = size.training_bytes(), memory_of(device)
    if needed > available:
        batch = f" and {size.activations:,} activation values per batch of {batch_size}"
        raise ZooError(
            f"{where}: training needs about {needed / 2**30:,.1f} GiB ({size.parameters:,} "
            f"parameters{batch if size.activations else ''}), but {device} has "
            f"{available / 2**30:,.1f} GiB; make the network or train.batch_size smaller"
        )
