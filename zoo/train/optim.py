"""Optimisers from ``[optim]``.

The optimisers are torch's (fused kernels where torch has them). Weight decay goes to the
parameters ``decay_on`` names, as separate parameter groups: the seed's Keras
``kernel_regularizer=l2(1e-4)`` sits on conv kernels only. ``lr_scale`` gives groups a fraction
of the learning rate, which the training loop sets at every step from the closed-form schedule
and the plateau of :mod:`zoo.train.schedule`.
"""

from __future__ import annotations

import torch
from torch import nn

from zoo.recipe.training import OptimConfig
from zoo.train.freeze import matches


def parameter_groups(model: nn.Module, config: OptimConfig) -> list[dict]:
    """Split the trained parameters into groups by weight decay (``decay_on``) and by learning
    rate (``lr_scale``: the first pattern that matches a parameter's module scales its rate)."""
    groups: dict[tuple[bool, float], list[nn.Parameter]] = {}
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        if config.decay_on == "all":
            decayed = True
        elif config.decay_on == "weights":
            decayed = parameter.ndim > 1  # conv and linear weights; not biases or BN
        else:
            decayed = parameter.ndim == 4  # conv kernels
        module = name.rpartition(".")[0]
        scales = [s for pattern, s in config.lr_scale.items() if matches(module, pattern)]
        groups.setdefault((decayed, scales[0] if scales else 1.0), []).append(parameter)
    ordered = sorted(groups.items(), key=lambda item: (-item[0][1], not item[0][0]))
    return [
        {
            "params": params,
            "weight_decay": config.weight_decay if decayed else 0.0,
            "lr": config.lr * scale,
            "lr_scale": scale,
        }
        for (decayed, scale), params in ordered
    ]


def make_optimizer(
    model: nn.Module, config: OptimConfig, device: torch.device
) -> torch.optim.Optimizer:
    """The torch optimiser of ``config``; fused kernels on CUDA and CPU, foreach elsewhere."""
    groups = parameter_groups(model, config)
    fast = {"fused": True} if device.type in ("cuda", "cpu") else {"foreach": True}
    if config.name == "sgd":
        return torch.optim.SGD(
            groups, lr=config.lr, momentum=config.momentum, nesterov=config.nesterov, **fast
        )
    optimizer = torch.optim.Adam if config.name == "adam" else torch.optim.AdamW
    return optimizer(groups, lr=config.lr, betas=config.betas, eps=config.eps, **fast)


def load_optimizer_state(optimizer: torch.optim.Optimizer, state: dict) -> None:
    """Restore a saved optimiser state, keeping the recipe's ``lr_scale`` of each group (torch
    takes the saved groups' options, and checkpoints before ``lr_scale`` hold none)."""
    scales = [group["lr_scale"] for group in optimizer.param_groups]
    optimizer.load_state_dict(state)
    for group, scale in zip(optimizer.param_groups, scales, strict=True):
        group["lr_scale"] = scale
