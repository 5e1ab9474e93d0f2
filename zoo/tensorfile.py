"""Reading tensor files safely: tensors and plain data, never pickled code.

``torch.load(weights_only=True)`` refuses any pickled object but tensors and plain containers;
:func:`load_tensors` turns each way a file can fail into one line naming it. Checkpoints,
``.pth`` weights and run directories are all read through it; ``.safetensors`` files hold
nothing but tensors by design (:func:`read_safetensors`).
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import torch

from zoo.errors import ZooError


def load_tensors(path: Path, device: torch.device | str = "cpu") -> Any:
    """``torch.load(weights_only=True)`` of a file: tensors and plain data, never code; a file
    that is not a readable torch file is one clear error."""
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as exc:
        refused = _unsupported_global(exc)
        if not refused:
            lines = [line for line in str(exc).splitlines() if line.startswith("Unsupported")]
            reason = lines[0] if lines else "the safe unpickler cannot read it"
            raise ZooError(f"{path}: not a torch checkpoint ({reason})") from exc
        raise ZooError(
            f"{path}: refusing to load a checkpoint that holds pickled objects or code "
            f"(zoo checkpoints hold only tensors and plain data): it names {refused}"
        ) from exc
    except (RuntimeError, EOFError, OSError) as exc:
        raise ZooError(f"{path}: not a readable checkpoint ({_reason(exc)})") from exc
    except Exception as exc:  # a file of another kind: torch raises whatever its parser meets
        raise ZooError(
            f"{path}: not a torch checkpoint ({type(exc).__name__}: {_reason(exc)})"
        ) from exc
    return state


def _reason(error: Exception) -> str:
    """torch's reason in one line, without its advice to load with ``weights_only=False``:
    that runs whatever code the file holds, and zoo never suggests it."""
    text = str(error)
    if "weights_only" in text:
        return "not a zip-format torch file; other formats can hold code and are not read"
    return text.splitlines()[0] if text else type(error).__name__


def _unsupported_global(error: Exception) -> str:
    """The global torch refused (``posix.system``), from its message, without colour codes."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error))
    match = re.search(r"(?:unsupported|Unsupported global:) GLOBAL (\S+)", text)
    return match[1] if match else ""


def read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a ``.safetensors`` file; a file that is not one is one clear error."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(path)
    except (SafetensorError, OSError, ValueError) as exc:
        raise ZooError(f"{path}: not a readable safetensors file ({exc})") from exc
