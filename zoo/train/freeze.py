"""Fine-tuning a pretrained network: freezing modules by name, and choosing modules by pattern.

Patterns are fnmatch wildcards over the module names ``zoo summarize`` prints (design.md,
"Network anatomy"): ``"stem"``, ``"stages.0"``, ``"stages.*"``, ``"head.fc"``. A pattern names a
module and everything inside it, so ``"stem"`` also matches ``stem.conv``. ``train.freeze`` and
``optim.lr_scale`` both read them.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence

from torch import nn

from zoo.errors import ZooError


def matches(name: str, pattern: str) -> bool:
    """Whether the module ``name`` or one of the modules it sits in matches ``pattern``."""
    parts = name.split(".")
    return any(
        fnmatch.fnmatchcase(".".join(parts[:end]), pattern) for end in range(1, len(parts) + 1)
    )


def check_patterns(model: nn.Module, patterns: Sequence[str], key: str, where: str) -> None:
    """A pattern that matches no module is a mistake (a typo, a name of another family)."""
    names = [name for name, _ in model.named_modules() if name]
    for pattern in patterns:
        if not any(matches(name, pattern) for name in names):
            top = ", ".join(name for name, _ in model.named_children())
            raise ZooError(
                f"{where}: {key}: {pattern!r} matches no module of the network; its parts are "
                f"{top} (see `zoo summarize` for every name)"
            )


def check_freeze(model: nn.Module, patterns: Sequence[str], where: str) -> None:
    """``train.freeze``'s patterns must each match a module and leave a parameter to train."""
    check_patterns(model, patterns, "train.freeze", where)
    if not patterns:
        return
    owners = [name.rpartition(".")[0] for name, _ in model.named_parameters()]
    if all(owner and any(matches(owner, p) for p in patterns) for owner in owners):
        raise ZooError(
            f"{where}: train.freeze = {list(patterns)} freezes every parameter, so nothing is "
            'left to train; freeze fewer modules (such as ["stem", "stages.0"])'
        )


def freeze(model: nn.Module, patterns: Sequence[str], where: str) -> list[str]:
    """Stop training the modules matching ``patterns``: their parameters get no gradient, and
    their batch norms stay in eval mode (their running statistics are kept, as pretrained
    weights need). Returns the frozen modules' names."""
    check_freeze(model, patterns, where)
    frozen = []
    for name, module in model.named_modules():
        if not name or not any(matches(name, pattern) for pattern in patterns):
            continue
        frozen.append(name)
        for parameter in module.parameters(recurse=False):
            parameter.requires_grad_(False)
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.train = _always_eval.__get__(module)  # model.train() reaches it here
            module.eval()
    return frozen


def _always_eval(module: nn.Module, mode: bool = True) -> nn.Module:
    """``train`` of a frozen batch norm: it stays in eval mode."""
    return nn.Module.train(module, False)
