"""The depth rules of the CIFAR families: 6n+2 (plain, v1) and 9n+2 (v2), in the seed's words.

The seed's builders refuse other depths with "depth should be 6n+2 (eg 20, 32, 44 in [a])" and
"depth should be 9n+2 (eg 56 or 110 in [b])"; we say the same, with examples of every preset.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import Field, StrictInt

from zoo.errors import ZooError

Depth = Annotated[StrictInt, Field(gt=0)]
"""A depth: a whole number, strictly — ``depth = true`` is a wrong type, not depth 1."""

STAGES = 3
"""CIFAR ResNets have three stages, of 16, 32 and 64 base channels (He et al. 2015 §4.2)."""


@dataclass(frozen=True)
class DepthRule:
    """depth = ``layers_per_n``·n + 2: the stem conv and the classifier, plus the stages."""

    layers_per_n: int
    examples: tuple[int, ...]

    @property
    def formula(self) -> str:
        return f"{self.layers_per_n}n+2"

    def blocks_per_stage(self, depth: int, family: str) -> int:
        """n for a ``depth``, or a ZooError in the seed's words."""
        n, rest = divmod(depth - 2, self.layers_per_n)
        if n < 1 or rest:
            examples = ", ".join(map(str, self.examples))
            raise ZooError(
                f"{family}: depth should be {self.formula} (e.g. {examples}), got {depth}"
            )
        return n

    def depth(self, n: int) -> int:
        return self.layers_per_n * n + 2


SIX_N_PLUS_TWO = DepthRule(6, (20, 32, 44, 56, 110))
"""Plain nets and ResNet v1: two 3×3 convs per block, three stages (He et al. 2015 §4.2)."""

NINE_N_PLUS_TWO = DepthRule(9, (29, 56, 110, 164))
"""ResNet v2: three convs per bottleneck, three stages (the seed's ``resnet_v2``)."""
