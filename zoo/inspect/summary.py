"""What a built network is: per-layer shapes and parameters, Keras-style totals, depth and MACs.

It looks only at the module (design.md, "Summarize and audit"), so it works on any network,
plugin blocks included:

- *trainable*: elements of parameters that require gradients;
- *non-trainable*, the Keras convention of the seed's ``model.summary()``: frozen parameters plus
  floating-point buffers — BN's moving mean and variance, not the integer ``num_batches_tracked``;
- *depth*: weighted layers (convolutions and linear layers) on the longest input → output path
  of the autograd graph of one forward pass. A shortcut projection (one conv) runs beside a longer
  residual branch, so it is never on that path: 6n+2 for v1 and 9n+2 for v2, as the papers count;
- *MACs* per image: ``torch.utils.flop_counter`` FLOPs / 2 (convolutions and matrix products).

A network built on the ``meta`` device is summarised without allocating or computing anything,
which is how the CLI summarises even ResNet-1202 instantly.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

WEIGHTED_OPS = frozenset(
    {"ConvolutionBackward0", "AddmmBackward0", "MmBackward0", "LinearBackward0"}
)
"""Autograd nodes of a convolution or a linear layer (with and without bias)."""

FLOPS_PER_MAC = 2
"""A multiply-accumulate is two floating-point operations."""

BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


@dataclass(frozen=True)
class Layer:
    """One executed leaf module: its dotted name, type, output shape (without the batch
    dimension) and own parameters (BN's moving statistics are not parameters)."""

    name: str
    type: str
    output_shape: tuple[int, ...]
    params: int


@dataclass
class Summary:
    """The figures of one network for one input size (C, H, W)."""

    name: str
    input_size: tuple[int, int, int]
    trainable: int
    non_trainable: int
    depth: int
    macs: int | None
    layers: list[Layer] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.trainable + self.non_trainable

    def to_json(self) -> dict[str, Any]:
        """The ``zoo summarize --json`` object (design.md, "Contracts")."""
        return {
            "name": self.name,
            "params": {
                "trainable": self.trainable,
                "non_trainable": self.non_trainable,
                "total": self.total,
            },
            "depth": self.depth,
            "macs": self.macs,
            "input_size": list(self.input_size),
            "layers": [
                asdict(layer) | {"output_shape": list(layer.output_shape)} for layer in self.layers
            ],
        }


def count_parameters(module: nn.Module) -> tuple[int, int]:
    """(trainable, non-trainable) element counts, the Keras way (see the module docstring)."""
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in module.parameters() if not p.requires_grad)
    moving = sum(b.numel() for b in module.buffers() if b.is_floating_point())
    return trainable, frozen + moving


def summarize(
    module: nn.Module,
    input_size: tuple[int, int, int] = (3, 32, 32),
    *,
    name: str = "model",
    macs: bool = True,
) -> Summary:
    """Run one image through ``module`` in eval mode and measure it."""
    trainable, non_trainable = count_parameters(module)
    layers: list[Layer] = []
    device = next(module.parameters(), torch.empty(0)).device
    image = torch.zeros((1, *input_size), device=device, requires_grad=True)
    was_training = module.training
    module.eval()
    handles = [
        leaf.register_forward_hook(_recorder(layers, leaf_name))
        for leaf_name, leaf in module.named_modules()
        if not any(True for _ in leaf.children())
    ]
    try:
        counter = FlopCounterMode(display=False) if macs else contextlib.nullcontext()
        with torch.enable_grad(), counter, _shape_only_batch_norm(module, device):
            output = module(image)
    finally:
        for handle in handles:
            handle.remove()
        module.train(was_training)
    return Summary(
        name=name,
        input_size=input_size,
        trainable=trainable,
        non_trainable=non_trainable,
        depth=weighted_depth(output),
        macs=counter.get_total_flops() // FLOPS_PER_MAC if macs else None,  # type: ignore[union-attr]
        layers=layers,
    )


@contextlib.contextmanager
def _shape_only_batch_norm(module: nn.Module, device: torch.device) -> Any:
    """On the meta device, each BatchNorm passes its input through while ``module`` is measured.
    Nothing it yields changes: a BN keeps its input's shape, is no weighted op, and has no MACs
    in the flop counter; but torch computes a meta batch_norm by a Python decomposition, which
    took over half of ``zoo audit``'s time."""
    norms = [leaf for leaf in module.modules() if isinstance(leaf, BATCH_NORMS)]
    if device.type != "meta":
        norms = []
    for norm in norms:
        norm.forward = _pass_through
    try:
        yield
    finally:
        for norm in norms:
            del norm.forward


def _pass_through(input: torch.Tensor) -> torch.Tensor:
    return input


def _recorder(layers: list[Layer], name: str):
    def record(leaf: nn.Module, _inputs: Any, output: Any) -> None:
        shape = tuple(output.shape[1:]) if isinstance(output, torch.Tensor) else ()
        own = sum(p.numel() for p in leaf.parameters(recurse=False))
        layers.append(Layer(name, type(leaf).__name__, shape, own))

    return record


def weighted_depth(output: torch.Tensor) -> int:
    """The most weighted ops on any path of ``output``'s autograd graph (iterative, so that a
    1,001-layer net does not hit Python's recursion limit)."""
    if output.grad_fn is None:
        return 0
    longest: dict[Any, int] = {}
    stack: list[tuple[Any, bool]] = [(output.grad_fn, False)]
    while stack:
        node, children_done = stack.pop()
        if node in longest:
            continue
        children = [child for child, _ in node.next_functions if child is not None]
        if not children_done:
            stack.append((node, True))
            stack.extend((child, False) for child in children if child not in longest)
            continue
        own = 1 if type(node).__name__ in WEIGHTED_OPS else 0
        longest[node] = own + max((longest[child] for child in children), default=0)
    return longest[output.grad_fn]
