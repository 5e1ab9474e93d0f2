"""Where and how fast to train: the device, the autocast precision, the memory format.

``auto`` picks CUDA, then MPS, then the CPU. bf16 autocast is used where the hardware computes in
bf16 natively: CUDA GPUs that support it, and CPUs with AVX-512 BF16 or AMX (oneDNN then runs
bf16 convolutions). It is safe for accuracy: autocast keeps the fp32 master weights and the
optimiser state in fp32, batch norm keeps its parameters and running statistics in fp32, the loss
is computed in fp32, and bf16 has fp32's exponent range, so no loss scaling is needed. A CUDA
GPU without bf16 gets fp16 autocast instead, whose small range needs the loss scaled
(``torch.amp.GradScaler``, in :class:`~zoo.train.objective.LossScaler`).
channels_last (NHWC) is what cuDNN's and oneDNN's fastest convolution kernels use; ``bench/cpu.py
--settings`` measures all four combinations. ``train.compile`` chooses torch.compile's mode.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from zoo.errors import ZooError
from zoo.recipe.training import TrainConfig

WITHOUT_CUDA_GRAPHS = {"reduce-overhead": "default", "max-autotune": "max-autotune-no-cudagraphs"}
"""Each torch.compile mode that records CUDA graphs, and the same mode without them."""


@dataclass(frozen=True)
class Placement:
    """The resolved device, autocast dtype (None: fp32) and memory format."""

    device: torch.device
    autocast_dtype: torch.dtype | None
    channels_last: bool

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format

    @property
    def precision(self) -> str:
        return {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(self.autocast_dtype, "fp32")

    def autocast(self) -> torch.autocast:
        return torch.autocast(
            self.device.type,
            dtype=self.autocast_dtype or torch.float32,
            enabled=self.autocast_dtype is not None,
        )


def choose_device(name: str) -> torch.device:
    """``auto`` → CUDA, MPS or CPU; otherwise the named device, which must exist."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ZooError(
            f"train.device: {name!r} is not a torch device (try auto, cuda, cpu)"
        ) from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ZooError("train.device: cuda was asked for, but no CUDA GPU is available")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ZooError("train.device: mps was asked for, but MPS is not available")
    return device


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bf16 natively (see the module docstring)."""
    if device.type == "cuda":
        with torch.cuda.device(device):
            return torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type == "cpu":
        cpu = torch.cpu
        return cpu._is_avx512_bf16_supported() or cpu._is_amx_tile_supported()
    return False


def place(config: TrainConfig, device: torch.device | None = None) -> Placement:
    """Resolve ``train.device`` (unless ``device`` is given), ``train.precision`` and
    ``train.channels_last``."""
    device = device or choose_device(config.device)
    if config.precision == "bf16" and not native_bf16(device) and device.type != "cpu":
        raise ZooError(f"train.precision: bf16 is not supported on {device}; use fp32 or auto")
    channels_last = config.channels_last == "on" or (
        config.channels_last == "auto" and device.type in ("cuda", "cpu")
    )
    return Placement(device, autocast_dtype(config.precision, device), channels_last)


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """``train.precision`` on ``device``: bf16 where it is native; on a CUDA GPU without it
    (the seed's GTX 1080 Ti, Colab's T4) ``auto`` takes fp16, with loss scaling
    (:class:`~zoo.train.objective.LossScaler`); None is fp32."""
    if precision == "fp16":
        return torch.float16
    if precision == "bf16" or (precision == "auto" and native_bf16(device)):
        return torch.bfloat16
    if precision == "auto" and device.type == "cuda":
        return torch.float16
    return None


def compile_mode(config: TrainConfig, distributed: bool = False) -> str | None:
    """torch.compile's mode for ``train.compile`` (None: not compiled). SyncBatchNorm under DDP
    with CUDA graphs is untested and reported to break, so there the mode drops its CUDA graphs."""
    if config.compile is False:
        return None
    mode = "default" if config.compile is True else config.compile
    if distributed and config.sync_batchnorm:
        return WITHOUT_CUDA_GRAPHS.get(mode, mode)
    return mode
