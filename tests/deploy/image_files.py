"""Image files written by tests (a module of its own: every test folder has a conftest)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def write_image(path: Path, height: int, width: int, mode: str = "RGB", seed: int = 0) -> Path:
    """A random image of ``height`` × ``width`` in PIL ``mode``, saved by its ending."""
    channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, channels), np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels.squeeze(-1) if channels == 1 else pixels).save(path)
    return path
