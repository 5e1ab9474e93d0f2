"""A residual block from parts, for plugins: ``activation(shortcut(x) + body(x))``.

The built-in blocks are explicit classes (:mod:`zoo.blocks.basic`, :mod:`zoo.blocks.bottleneck`)
with named layers. A plugin that adds a body of its own (a squeeze-and-excitation branch, say)
can compose one here from zoo's units and shortcuts instead of writing a class.
"""

from __future__ import annotations

import torch
from torch import nn


class Residual(nn.Module):
    """``act(shortcut(x) + body(x))`` (seed eq. 10); ``activation`` None for pre-activation
    blocks, which have nothing after the addition."""

    def __init__(self, body: nn.Module, shortcut: nn.Module, activation: nn.Module | None) -> None:
        super().__init__()
        self.body = body
        self.shortcut = shortcut
        self.act = activation if activation is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.shortcut(x) + self.body(x))
