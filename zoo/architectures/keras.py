"""The seed's own trained Keras models as weights: ``.keras``, ``.h5`` and ``.weights.h5`` files.

The seed saves its best model with ``ModelCheckpoint`` (a full ``.h5`` model; Keras 3 also
writes ``.keras`` archives and ``.weights.h5``). These files are read with h5py as arrays only —
no Keras code runs, and Keras need not be installed — and mapped onto the zoo preset of the same
depth and version:

- The files list the layers in the order of the Keras model's ``layers``: the graph's order by
  depth, which Keras 3 files spell as ``conv2d``, ``conv2d_1``, … and legacy ``.h5`` files as
  their ``layer_names``. zoo's seed presets hold the same convs, batch norms and one dense layer
  in that order, but for one tie: where a block's shortcut conv and its last body conv both feed
  the addition directly (the seed's v2 projection blocks), Keras lists the shortcut first.
- Keras stores a conv kernel as (kh, kw, in, out) and a dense kernel as (in, out); torch as
  (out, in, kh, kw) and (out, in). Batch norm's gamma, beta, moving mean and variance are torch's
  weight, bias, running mean and variance.

With the seed's ``padding="same"`` (zoo's default for those presets) the outputs then equal the
Keras model's logits (before its softmax) to fp32 rounding.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from zoo.errors import ZooError

KERAS_SUFFIXES = (".keras", ".h5")
"""A ``.keras`` archive, a full ``.h5`` model, or ``.weights.h5`` weights."""

ARCHIVE_WEIGHTS = "model.weights.h5"
"""Where a ``.keras`` archive keeps its weights."""

MAX_ARCHIVE_WEIGHTS = 2**30
"""The most bytes read from a ``.keras`` archive's weights (1 GiB; the seed's largest network,
ResNet-1202 v1, has 78 MB): a damaged or hostile archive cannot exhaust the memory."""

KERNELS = {"conv2d": ("kernel (height, width, in, out)", 4), "dense": ("kernel (in, out)", 2)}
"""The kernel of a Keras conv or dense layer, and its rank; a bias vector follows it."""

LAYER_KINDS = {"conv2d": nn.Conv2d, "batch_normalization": nn.BatchNorm2d, "dense": nn.Linear}

Layers = list[tuple[str, list[torch.Tensor]]]


def is_keras_file(path: Path) -> bool:
    return path.suffix in KERAS_SUFFIXES


def keras_state_dict(path: Path, network: nn.Module) -> dict[str, torch.Tensor]:
    """The weights of the Keras file at ``path`` under ``network``'s names; a file of another
    network is one clear error that says what the file holds."""
    layers = read_layers(path)
    check_arrays(path, layers)
    found = {kind: _of_kind(layers, kind) for kind in LAYER_KINDS}
    modules = {
        kind: [(name, m) for name, m in keras_order(network) if isinstance(m, module_type)]
        for kind, module_type in LAYER_KINDS.items()
    }
    mismatch = any(len(found[kind]) != len(modules[kind]) for kind in LAYER_KINDS)
    state: dict[str, torch.Tensor] = {}
    for kind in LAYER_KINDS:
        for weights, (name, module) in zip(found[kind], modules[kind], strict=False):
            for key, tensor in _torch_tensors(kind, weights).items():
                expected = getattr(module, key, None)
                classifier = (
                    kind == "dense" and tensor.shape[1:] == getattr(expected, "shape", ())[1:]
                )
                if expected is None or (expected.shape != tensor.shape and not classifier):
                    mismatch = True
                state[f"{name}.{key}"] = tensor
    if mismatch:
        theirs = describe(found)
        ours = getattr(getattr(network, "spec", None), "name", type(network).__name__)
        raise ZooError(f"{path}: holds {theirs}, which does not fit {ours}")
    return state


def keras_order(network: nn.Module) -> list[tuple[str, nn.Module]]:
    """The network's modules in the order of the Keras model's ``layers``: zoo's order, except
    that a shortcut conv moves before the last conv of a pre-activation block, where both feed
    the addition directly (equal depth in the graph: Keras lists the ``add``'s first input, the
    shortcut, first)."""
    from zoo.blocks import PreActBasicBlock, PreActBottleneck

    order = list(network.named_modules())
    for name, block in network.named_modules():
        if not isinstance(block, PreActBasicBlock | PreActBottleneck):
            continue
        if _ends_in_conv(block.shortcut):
            last_conv = "conv3" if isinstance(block, PreActBottleneck) else "conv2"
            names = [entry[0] for entry in order]
            shortcut = order.pop(names.index(f"{name}.shortcut.conv"))
            order.insert(names.index(f"{name}.{last_conv}"), shortcut)
    return order


def _ends_in_conv(shortcut: nn.Module) -> bool:
    """A projection whose output is its conv's (the seed's Vx + b, no BN after it)."""
    children = list(shortcut.children())
    return (
        isinstance(shortcut, nn.Sequential)
        and bool(children)
        and isinstance(children[-1], nn.Conv2d)
    )


def read_layers(path: Path) -> Layers:
    """Each layer's name and weight arrays (kernel, bias; gamma, beta, moving mean, moving
    variance), in the order of the Keras model's ``layers``, from any of the three forms."""
    try:
        import h5py
    except ImportError as exc:
        raise ZooError(
            f"{path}: reading Keras files needs h5py; install zoo's keras extra: "
            "pip install 'zoo[keras]'"
        ) from exc
    try:
        if path.suffix == ".keras":
            with zipfile.ZipFile(path) as archive, archive.open(ARCHIVE_WEIGHTS) as member:
                data = member.read(MAX_ARCHIVE_WEIGHTS + 1)  # bounded, whatever its header says
            if len(data) > MAX_ARCHIVE_WEIGHTS:
                raise ZooError(
                    f"{path}: its {ARCHIVE_WEIGHTS} is larger than "
                    f"{MAX_ARCHIVE_WEIGHTS / 2**20:,.0f} MiB, more than any network zoo reads "
                    "from Keras; not read"
                )
            source: Any = io.BytesIO(data)
        else:
            source = path
        with h5py.File(source, "r") as file:
            return _layers_of(file)
    except (OSError, KeyError, zipfile.BadZipFile, ValueError) as exc:
        raise ZooError(f"{path}: not a readable Keras file ({exc})") from exc


def check_arrays(path: Path, layers: Layers) -> None:
    """Each conv, dense and BN layer holds the arrays of its kind, of the right ranks: a
    damaged file is one line naming the layer, not an error inside a permute."""
    for name, weights in layers:
        kind = next((k for k in LAYER_KINDS if re.fullmatch(rf"{k}(?:_\d+)?", name)), None)
        if kind is None or not weights:
            continue
        shapes = [list(array.shape) for array in weights]
        if kind == "batch_normalization":
            good = len(weights) == 4 and all(array.dim() == 1 for array in weights)
            wanted = "4 vectors (gamma, beta, moving mean, moving variance)"
        else:
            kernel, rank = KERNELS[kind]
            with_bias = len(weights) == 2 and weights[1].dim() == 1
            without_bias = kind == "conv2d" and len(weights) == 1  # use_bias=False
            good = weights[0].dim() == rank and (with_bias or without_bias)
            wanted = f"a {kernel} and a bias vector"
        if not good:
            raise ZooError(
                f"{path}: layer {name} holds arrays of shapes {shapes}; a Keras {kind} layer "
                f"holds {wanted}"
            )


def _layers_of(file: Any) -> Layers:
    """Keras 3's layout (``layers/NAME/vars/0``…, each type numbered in the model's order) or
    the legacy HDF5 one (``model_weights``, or the root, listing ``layer_names`` in the model's
    order, with each layer's ``weight_names``)."""
    if "layers" in file:
        group = file["layers"]
        numbered = sorted(group, key=lambda name: int(NUMBER.search(name)[1] or 0))
        return [
            (name, [_tensor(group[name]["vars"][str(i)]) for i in range(len(group[name]["vars"]))])
            for name in numbered
            if "vars" in group[name]
        ]
    group = file.get("model_weights", file)
    layers = []
    for raw in group.attrs["layer_names"]:
        name = _text(raw)
        names = [_text(w) for w in group[name].attrs.get("weight_names", [])]
        layers.append((name, [_tensor(group[name][weight]) for weight in names]))
    return layers


NUMBER = re.compile(r"(?:_(\d+))?$")
"""The number Keras appends to a repeated layer name (none for the first)."""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _tensor(dataset: Any) -> torch.Tensor:
    return torch.from_numpy(dataset[()].copy())


def _of_kind(layers: Layers, kind: str) -> list[list[torch.Tensor]]:
    """The weights of the layers of one kind (``conv2d``, ``batch_normalization``, ``dense``)."""
    pattern = re.compile(rf"{kind}(?:_\d+)?")
    return [weights for name, weights in layers if weights and pattern.fullmatch(name)]


def _torch_tensors(kind: str, weights: list[torch.Tensor]) -> dict[str, torch.Tensor]:
    if kind == "conv2d":
        tensors = {"weight": weights[0].permute(3, 2, 0, 1).contiguous()}
        return tensors | ({"bias": weights[1]} if len(weights) > 1 else {})
    if kind == "dense":
        return {"weight": weights[0].t().contiguous(), "bias": weights[1]}
    gamma, beta, mean, variance = weights
    return {"weight": gamma, "bias": beta, "running_mean": mean, "running_var": variance}


def describe(found: dict[str, list[list[torch.Tensor]]]) -> str:
    """What a Keras file holds, in the seed's terms: "the seed's ResNet v1 of depth 20"."""
    convs, dense = found["conv2d"], found["dense"]
    pointwise = sum(1 for weights in convs if weights[0].shape[:2] == (1, 1))
    if len(dense) == 1 and pointwise == 2 and (len(convs) - 3) % 6 == 0 and len(convs) > 3:
        return f"the seed's ResNet v1 of depth {len(convs) - 1} (resnet{len(convs) - 1}_v1)"
    if len(dense) == 1 and (len(convs) - 4) % 9 == 0 and len(convs) > 4:
        return f"the seed's ResNet v2 of depth {len(convs) - 2} (resnet{len(convs) - 2}_v2)"
    counts = f"{_count(convs, 'conv')} and {_count(dense, 'dense layer')}"
    return f"a Keras model of {counts}, not a ResNet of the seed"


def _count(items: Iterable[Any], noun: str) -> str:
    number = len(list(items))
    return f"{number} {noun}" + ("" if number == 1 else "s")
