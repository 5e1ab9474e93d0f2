"""torch.hub entry points: one for every zoo preset, generated from zoo's preset registry.

    torch.hub.load("<owner>/zoo", "resnet56_v2", num_classes=100)
    torch.hub.load("path/to/a/clone", "resnet50", source="local", weights="IMAGENET1K_V2")

Keyword arguments (``num_classes``, ``weights``, any family parameter) pass through to
:func:`zoo.build_model`; ``weights`` takes what it takes there (a file, a run directory, a
torchvision weights name). ``torch.hub.list`` lists the presets; ``torch.hub.help`` describes one.
"""

from collections.abc import Callable as _Callable  # underscored: hub lists public callables
from typing import Any as _Any

dependencies = ["torch", "torchvision", "timm", "pydantic", "rich", "tomli_w", "safetensors"]

from zoo import build_model as _build_model  # noqa: E402  (hub reads `dependencies` first)
from zoo import presets as _presets  # noqa: E402


def _entry_point(name: str, description: str) -> _Callable[..., _Any]:
    """``name(**kwargs)``: the network of the preset ``name``, as torch.hub calls it."""

    def entry(**kwargs: _Any) -> _Any:
        return _build_model(name, **kwargs)

    entry.__name__ = entry.__qualname__ = name
    entry.__doc__ = (
        f"zoo's {name}: {description}. Keyword arguments (num_classes, weights, ...) pass "
        "through to zoo.build_model."
    )
    return entry


for _entry in _presets.entries():
    globals()[_entry.name] = _entry_point(_entry.name, _entry.obj.description)
