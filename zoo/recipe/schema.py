"""The recipe schema: :class:`Recipe` and the three forms of its ``[model]`` table.

- a preset: ``model = "resnet56_v2"``, or ``[model] preset = "resnet56_v2"`` plus parameter
  overrides such as ``num_classes = 100``;
- a family with its parameters: ``[model] arch = "resnet_v2"``, ``depth = 56``;
- the network spelled out: ``[model.stem]``, ``[[model.stages]]``, ``[model.head]`` — a
  :class:`~zoo.architectures.NetworkSpec`.

The other tables are :class:`~zoo.data.DataConfig` and the training configs of
:mod:`zoo.recipe.training`. A recipe names only registered things: nothing in it can make zoo
import code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import tomli_w
import torch
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    field_validator,
    model_validator,
)
from torch import nn

from zoo.architectures import NetworkSpec, build_network, resolve
from zoo.architectures.create import build_with_weights
from zoo.architectures.external import build_external, is_external
from zoo.architectures.names import make_spec
from zoo.data import DataConfig, NormalizeMode
from zoo.errors import ZooError
from zoo.recipe.budget import check_fits, estimate
from zoo.recipe.training import OptimConfig, ScheduleConfig, TrainConfig

WEIGHTS_DESCRIPTION = (
    "weights to start from: a file (.pth, .pt, .safetensors, a zoo checkpoint or run "
    'directory), "torchvision" or a torchvision weights name, "timm" for timm/ models'
)


class PresetModel(BaseModel):
    """``[model] preset = "resnet56_v2"``; other keys override the family's parameters (or are
    passed to timm's or torchvision's builder, for ``timm/NAME`` and ``torchvision/NAME``)."""

    model_config = ConfigDict(extra="allow")

    preset: str = Field(description="a model name (`zoo list architectures`)")
    weights: str | None = Field(None, description=WEIGHTS_DESCRIPTION)


class FamilyModel(BaseModel):
    """``[model] arch = "resnet_v2"``; other keys are the family's parameters (``depth``...)."""

    model_config = ConfigDict(extra="allow")

    arch: str = Field(description="an architecture family (`zoo list architectures`)")
    weights: str | None = Field(None, description=WEIGHTS_DESCRIPTION)


class SpecModel(NetworkSpec):
    """The network spelled out (``[model.stem]``, ``[[model.stages]]``), and its weights."""

    weights: str | None = Field(None, description=WEIGHTS_DESCRIPTION)


def _model_form(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if not isinstance(value, Mapping):
        return None
    if "preset" in value:
        return "preset"
    if "arch" in value:
        return "arch"
    if "stages" in value or "stem" in value:
        return "explicit"
    return None


ModelSection = Annotated[
    Annotated[PresetModel, Tag("preset")]
    | Annotated[FamilyModel, Tag("arch")]
    | Annotated[SpecModel, Tag("explicit")],
    Discriminator(
        _model_form,
        custom_error_type="model_form",
        custom_error_message=(
            'give a preset (model = "resnet56_v2"), a family (arch = "resnet_v2", depth = 56) '
            "or the network spelled out ([model.stem], [[model.stages]])"
        ),
    ),
]


class Recipe(BaseModel):
    """A whole recipe: the model, and the data, optimiser, schedule and loop of its training."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field("", description="the run's name (default: the file's name)")
    description: str = Field("", description="free text")
    model: ModelSection = Field(description="the network: a preset, a family, or a spec")
    data: DataConfig = Field(default_factory=DataConfig, description="the data set")
    optim: OptimConfig = Field(default_factory=OptimConfig, description="the optimiser")
    schedule: ScheduleConfig = Field(
        default_factory=ScheduleConfig, description="the learning-rate schedule"
    )
    train: TrainConfig = Field(default_factory=TrainConfig, description="the training loop")

    _source: str = PrivateAttr("recipe")

    @field_validator("name")
    @classmethod
    def _plain_file_name(cls, name: str) -> str:
        """The run directory is ``runs/<name>-<time>``: a name with a path in it would put the
        run anywhere on disk (``../../x``, ``/abs/path``)."""
        if name in (".", "..") or any(c in name for c in "/\\") or not name.isprintable():
            raise ValueError(
                "a run name must be a plain file name (no /, \\, control characters, . or ..)"
            )
        return name

    @field_validator("model", mode="before")
    @classmethod
    def _preset_shorthand(cls, value: Any) -> Any:
        return {"preset": value} if isinstance(value, str) else value

    @property
    def source(self) -> str:
        """The file the recipe came from, for messages."""
        return self._source

    def network_spec(self) -> NetworkSpec:
        """The :class:`NetworkSpec` of ``[model]``, in any of its three forms."""
        model = self.model
        if isinstance(model, NetworkSpec):
            spec = NetworkSpec.model_validate(model.model_dump(exclude={"weights"}))
            return spec.model_copy(update={"name": self.name or model.name})
        options = dict(model.model_extra or {})
        try:
            if isinstance(model, PresetModel) and is_external(model.preset):
                raise ZooError(f"model.preset: {model.preset} is not a zoo network; it has no spec")
            if isinstance(model, PresetModel):
                preset = self._named("model.preset", resolve, model.preset)
                return preset.spec(where="model", **options)
            return make_spec(model.arch, options, self.name or model.arch, where="model")
        except ZooError as exc:
            raise ZooError(f"{self.source}: {exc}") from exc

    def _named(self, key: str, lookup: Any, name: str) -> Any:
        try:
            return lookup(name)
        except ZooError as exc:
            raise ZooError(f"{key}: {exc}") from exc

    def build(self, *, weights: bool = True) -> nn.Module:
        """The network of ``[model]``, with its ``weights`` (``weights=False``: freshly
        initialised, as for a summary on the meta device); errors name the recipe file. Unless
        it is built on the meta device, a zoo network is first sized there, and one that would
        not fit the machine's memory is refused before any memory is taken."""
        model = self.model
        source = model.weights if weights else None
        if isinstance(model, PresetModel) and is_external(model.preset):
            try:
                return build_external(model.preset, source, **(model.model_extra or {}))
            except ZooError as exc:
                raise ZooError(f"{self.source}: model.preset: {exc}") from exc
        spec = self.network_spec()
        name = model.preset if isinstance(model, PresetModel) else spec.name
        try:
            if torch.get_default_device().type != "meta":  # size it first, where it costs nothing
                with torch.device("meta"):
                    sized = build_network(spec)
                check_fits(estimate(sized), torch.device("cpu"), "model")
            return build_with_weights(spec, source, False, name)
        except ZooError as exc:
            raise ZooError(f"{self.source}: {exc}") from exc

    @model_validator(mode="after")
    def _mixing_needs_even_batches(self) -> Recipe:
        if (self.data.mixup or self.data.cutmix) and self.train.batch_size % 2:
            raise ValueError(
                f"data.mixup and data.cutmix mix each batch with its mirror, so train.batch_size "
                f"must be even, not {self.train.batch_size}"
            )
        return self

    def normalize_mode(self) -> NormalizeMode:
        """``data.normalize``, or by default ``imagenet`` where ``[model] weights`` are loaded
        (pretrained weights expect ImageNet's statistics) and ``channel`` otherwise."""
        if self.data.normalize is not None:
            return self.data.normalize
        return "imagenet" if self.model.weights else "channel"

    def to_toml(self) -> str:
        """The resolved recipe as TOML: every key, defaults included (``zoo recipe show``)."""
        return tomli_w.dumps(self.model_dump(mode="json", exclude_none=True))
