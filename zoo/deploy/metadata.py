"""The preprocessing a trained model's inputs need, checked once wherever it is read from.

A checkpoint (``classes``, ``image_size``, ``crop_ratio``, the normaliser's ``mean``/``std``) and
the JSON sidecar of ``zoo export`` (the same under ``preprocessing``) are files a person can
edit or damage. Predict, export and ``zoo.build_model(FILE.safetensors)`` size buffers, divide and
crop by these numbers, so :func:`check_preprocessing` validates them with one schema and answers
a bad value with one line naming the file and the key, before any of them is used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import torch
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
)
from torch import Tensor

from zoo.errors import ZooError
from zoo.validation import first_problem

MAX_SIDE = 8192
"""The largest image side a trained model may ask for: 36 times ImageNet's 224. A larger one
is a damaged file, not a network (one 60,000² RGB image alone is 43 GB of floats)."""

Side = Annotated[StrictInt, Field(ge=1, le=MAX_SIDE)]
CHANNELS = (1, 3)
"""Grayscale or RGB: what predict decodes images into."""


class Preprocessing(BaseModel):
    """Classes, input size and normalisation of a trained model: ``mean``/``std`` per channel
    ``(C, 1, 1)``, or the seed's per-pixel mean image ``(C, H, W)``, in [0, 1] units."""

    model_config = ConfigDict(extra="ignore", arbitrary_types_allowed=True, frozen=True)

    classes: list[StrictStr] = Field(min_length=1)
    image_size: tuple[Side, Side]
    crop_ratio: float = Field(1.0, gt=0, le=1, allow_inf_nan=False)
    mean: Tensor
    std: Tensor

    @field_validator("image_size", mode="before")
    @classmethod
    def _height_and_width(cls, value: Any) -> Any:
        if not isinstance(value, list | tuple) or len(value) != 2:
            raise ValueError("expected [height, width]")
        return value

    @field_validator("mean", "std", mode="before")
    @classmethod
    def _a_tensor(cls, value: Any) -> Tensor:
        """Numbers per channel (a list or a tensor; ``[C]`` is read as ``[C, 1, 1]``), finite."""
        if isinstance(value, bool | str | bytes) or value is None:
            raise ValueError("expected numbers, one per channel (or a per-pixel image)")
        try:
            tensor = torch.as_tensor(value, dtype=torch.float32)
        except (TypeError, ValueError, RuntimeError):
            raise ValueError("expected numbers, one per channel (or a per-pixel image)") from None
        if tensor.dim() == 1:
            tensor = tensor.view(-1, 1, 1)
        if tensor.dim() != 3 or tensor.shape[0] not in CHANNELS:
            raise ValueError(
                f"expected {' or '.join(map(str, CHANNELS))} channels, shape [C], [C, 1, 1] or "
                f"[C, H, W]; got shape {list(tensor.shape)}"
            )
        if not torch.isfinite(tensor).all():
            raise ValueError("holds a value that is not a finite number")
        return tensor

    @field_validator("std")
    @classmethod
    def _positive(cls, std: Tensor) -> Tensor:
        if (std <= 0).any():
            raise ValueError("must be above 0 in every channel (inputs are divided by it)")
        return std

    def model_post_init(self, _context: Any) -> None:
        if self.mean.shape[0] != self.std.shape[0]:
            raise ValueError(f"mean has {self.mean.shape[0]} channels and std {self.std.shape[0]}")
        for name, tensor in (("mean", self.mean), ("std", self.std)):
            if tensor.shape[1:] not in ((1, 1), self.image_size):
                raise ValueError(
                    f"{name} is a per-pixel image of {tuple(tensor.shape[1:])} but the image "
                    f"size is {self.image_size}"
                )


def check_preprocessing(source: Path, keys: dict[str, str], **values: Any) -> Preprocessing:
    """``values`` validated as :class:`Preprocessing`; a problem is one :class:`ZooError` line
    naming ``source`` and the key as that file spells it (``keys`` maps the schema's names to the
    file's, such as ``mean`` → ``preprocessing.mean``). A value of None is a key the file
    lacks."""
    try:
        return Preprocessing(**{key: value for key, value in values.items() if value is not None})
    except ValidationError as exc:
        where, message = first_problem(exc, Preprocessing)
        spelled = keys.get(where.split("[")[0].split(".")[0], where)
        raise ZooError(f"{source}: {message.replace(where, spelled, 1)}") from None
    except ValueError as exc:  # the checks across fields
        raise ZooError(f"{source}: {exc}") from None
