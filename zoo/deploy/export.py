"""``zoo export``: a trained model as a file that needs nothing from zoo, checked against PyTorch.

Every export takes float32 NCHW images in [0, 1] at the checkpoint's image size, with a dynamic
batch dimension, normalises them inside (:class:`Deployable`), and returns logits:

- ``onnx``: torch's exporter (``torch.onnx.export``, the ``torch.export``-based one), one file
  with the weights inside; the metadata holds ``classes`` (a JSON list), ``image_size`` (JSON
  ``[H, W]``), ``recipe`` (TOML) and ``input`` (what the model takes).
- ``pt2``: ``torch.export.export`` saved by ``torch.export.save``; the same metadata is in the
  archive's extra file ``zoo.json`` (``torch.export.load(path, extra_files={"zoo.json": ""})``).
- ``safetensors``: the network's weights (without the normalisation), plus a JSON sidecar
  ``FILE.json`` with the network spec, the classes and the preprocessing, which
  :func:`zoo.deploy.trained.load_exported` (``zoo.build_model``, ``zoo predict``) reads back.

Each export is written into a hidden folder beside ``-o``, loaded from there, run on a batch of
random images of another batch size than the one it was traced with, and compared with the
PyTorch model: the largest difference must be within :data:`ATOL` plus :data:`RTOL` of the
largest logit, or the export fails. Only a checked export is renamed into place, so a failed
check, a full disk, Ctrl-C or SIGTERM never leave a broken file at ``-o`` (nor touch the file
that was there). The libraries serialise into memory and zoo writes the bytes, so a write error
is an ``OSError`` (torch's own zip writer aborts the interpreter on a full disk).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import shutil
import signal
import stat
import tempfile
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from zoo.deploy.trained import SIDECAR_FORMAT, TrainedModel, load_exported
from zoo.errors import CheckFailed, ZooError

FORMATS = ("onnx", "pt2", "safetensors")

ATOL = 1e-4
RTOL = 1e-3
"""An export agrees with PyTorch when its logits differ by at most ``ATOL + RTOL * max|logit|``:
float32 kernels of two runtimes differ by rounding (about 1e-6 of the logits here), far less."""

TRACE_BATCH = 2
CHECK_BATCH = 3
"""Batch sizes of the example traced and of the check: different, so the check also shows that
the batch dimension is dynamic (a batch of 1 would be specialised by ``torch.export``)."""

CHECK_SEED = 0

INPUT = "float32 NCHW images in [0, 1], dynamic batch; normalised inside; returns logits"

EXPORT_EXTRA = ("onnx", "onnxruntime", "onnxscript")
"""What the ``export`` extra installs: ONNX, its runtime (for the check) and torch's exporter's
dependency."""


class Deployable(nn.Module):
    """A network with its normalisation inside: ``network((images - mean) / std)``."""

    def __init__(self, network: nn.Module, mean: Tensor, std: Tensor) -> None:
        super().__init__()
        self.network = network
        self.register_buffer("mean", mean.float().clone())
        self.register_buffer("std", std.float().clone())

    def forward(self, images: Tensor) -> Tensor:
        return self.network((images - self.mean) / self.std)


@dataclass(frozen=True)
class Exported:
    """What an export wrote, and how far its outputs are from PyTorch's."""

    files: list[Path]
    difference: float
    tolerance: float


def deployable(trained: TrainedModel) -> Deployable:
    """The trained network in float32 eval mode on the CPU, with its normalisation inside."""
    network = trained.network.float().to("cpu", memory_format=torch.contiguous_format)
    return Deployable(network, trained.mean, trained.std).eval()


def export(trained: TrainedModel, format: str, out: Path) -> Exported:
    """Write ``trained`` to ``out`` in ``format``, then check the file against PyTorch
    (:class:`CheckFailed` if it differs beyond the tolerance)."""
    if format not in FORMATS:
        raise ZooError(f"unknown export format {format!r}; known: {', '.join(FORMATS)}")
    if format == "safetensors" and out.suffix != ".safetensors":
        raise ZooError(f"-o {out}: a safetensors export must end in .safetensors")
    targets = [out, out.with_suffix(".json")] if format == "safetensors" else [out]
    for target in targets:
        check_target(target, out, trained.source)
    if format == "onnx":
        require_export_extra()
    model = deployable(trained)
    check_finite(model, trained)
    writer, runner = WRITERS[format]
    with staging(out) as folder:
        try:
            staged = writer(model, trained, folder / out.name)
        except OSError as exc:
            raise ZooError(f"-o {out}: cannot write it ({exc.strerror or exc})") from None
        difference, tolerance = compare(model, runner(folder / out.name), trained)
        if difference > tolerance:
            raise CheckFailed(
                f"export check failed: {out} differs from the PyTorch model by "
                f"{difference:.3g} (tolerance {tolerance:.3g}); nothing was written"
            )
        files = [publish(file, out.parent / file.name) for file in staged]
    return Exported(files, difference, tolerance)


def check_target(target: Path, out: Path, source: Path) -> None:
    """``target`` may be written: in an existing folder, not a directory, link, device or pipe,
    not read-only, and not the file being exported (nor the sidecar of an exported input)."""
    if not out.parent.is_dir():
        raise ZooError(f"-o {out}: no folder {out.parent}")
    if target.is_symlink():
        raise ZooError(f"-o {out}: {target} is a symbolic link; give the file itself")
    if not target.exists():
        return
    if target.is_dir():
        raise ZooError(f"-o {out}: {target} is a directory; give a file in it, such as "
                       f"{target / ('model' + out.suffix)}")  # fmt: skip
    if not target.is_file():
        raise ZooError(f"-o {out}: {target} is not a regular file (a device, pipe or socket)")
    inputs = [source, source.with_suffix(".json")] if source.suffix == ".safetensors" else [source]
    if any(path.exists() and os.path.samefile(target, path) for path in inputs):
        raise ZooError(f"-o {out}: {target} is the model being exported; choose another file")
    if not target.stat().st_mode & stat.S_IWUSR:
        raise ZooError(f"-o {out}: {target} is read-only")


@contextlib.contextmanager
def staging(out: Path) -> Iterator[Path]:
    """A hidden folder beside ``out`` for the files being written and checked; removed at the
    end, also on an error, Ctrl-C or SIGTERM (which raises here, so the cleanup runs)."""
    try:
        folder = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    except OSError as exc:
        raise ZooError(f"-o {out}: cannot write in {out.parent} ({exc.strerror or exc})") from None

    def terminated(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    previous = None
    with contextlib.suppress(ValueError):  # not the main thread: no handler of ours
        previous = signal.signal(signal.SIGTERM, terminated)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def publish(staged: Path, target: Path) -> Path:
    """Rename a checked file into place with the mode any new file gets (0666 less the umask),
    whatever mode its library gave it."""
    umask = os.umask(0)
    os.umask(umask)
    try:
        staged.chmod(0o666 & ~umask)
        os.replace(staged, target)
    except OSError as exc:
        raise ZooError(f"-o {target}: cannot write it ({exc.strerror or exc})") from None
    return target


def check_finite(model: nn.Module, trained: TrainedModel) -> None:
    """The model's own outputs on the check batch must be finite numbers: NaN never differs by
    more than a tolerance, so a check against NaN could not fail (checked before anything is
    written)."""
    with torch.no_grad():
        outputs = model(check_batch(trained, CHECK_BATCH))
    if not torch.isfinite(outputs).all():
        raise CheckFailed(
            f"export check failed: {trained.source} gives outputs that are not finite numbers "
            "(its weights hold NaN or overflow); nothing was written"
        )


def require_export_extra() -> None:
    """ONNX export and its check need the ``export`` extra; without it, one line says so."""
    for module in EXPORT_EXTRA:
        try:
            __import__(module)
        except ImportError:
            raise ZooError(
                f"zoo export --format onnx needs {module}, from the export extra: "
                "pip install 'zoo[export]'"
            ) from None


def check_batch(trained: TrainedModel, batch: int) -> Tensor:
    """A reproducible batch of random images in [0, 1] at the model's size."""
    generator = torch.Generator().manual_seed(CHECK_SEED + batch)
    return torch.rand(batch, trained.channels, *trained.image_size, generator=generator)


def compare(
    model: nn.Module, run: Callable[[Tensor], Tensor], trained: TrainedModel
) -> tuple[float, float]:
    """The largest difference between ``model`` and ``run`` on a check batch, and the
    tolerance for it."""
    images = check_batch(trained, CHECK_BATCH)
    with torch.no_grad():
        expected = model(images)
        actual = run(images)
    if not torch.isfinite(actual).all():
        return math.inf, ATOL + RTOL * expected.abs().max().item()  # fails the check
    difference = (expected - actual).abs().max().item()
    return difference, ATOL + RTOL * expected.abs().max().item()


def metadata(trained: TrainedModel) -> dict[str, str]:
    """String metadata of an exported model (ONNX's ``metadata_props``, pt2's ``zoo.json``)."""
    return {
        "classes": json.dumps(trained.classes),
        "image_size": json.dumps(list(trained.image_size)),
        "recipe": trained.recipe,
        "input": INPUT,
    }


def _dynamic_batch() -> dict[str, dict[int, Any]]:
    return {"images": {0: torch.export.Dim("batch", min=1)}}


def write_onnx(model: Deployable, trained: TrainedModel, out: Path) -> list[Path]:
    import onnx

    program = torch.onnx.export(
        model,
        (check_batch(trained, TRACE_BATCH),),
        input_names=["images"],
        output_names=["logits"],
        dynamic_shapes=_dynamic_batch(),
        external_data=False,  # one file a deployer can copy (ONNX's limit is 2 GB)
        dynamo=True,
        verbose=False,  # no progress lines of torch's exporter on stdout
    )
    proto = program.model_proto
    properties = {prop.key: prop.value for prop in proto.metadata_props} | metadata(trained)
    onnx.helper.set_model_props(proto, properties)
    out.write_bytes(proto.SerializeToString())
    return [out]


def run_onnx(out: Path) -> Callable[[Tensor], Tensor]:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda images: torch.from_numpy(session.run(None, {name: images.numpy()})[0])


def write_pt2(model: Deployable, trained: TrainedModel, out: Path) -> list[Path]:
    program = torch.export.export(
        model, (check_batch(trained, TRACE_BATCH),), dynamic_shapes=_dynamic_batch()
    )
    archive = io.BytesIO()
    torch.export.save(program, archive, extra_files={"zoo.json": json.dumps(metadata(trained))})
    out.write_bytes(archive.getvalue())
    return [out]


def run_pt2(out: Path) -> Callable[[Tensor], Tensor]:
    return torch.export.load(out).module()


def write_safetensors(model: Deployable, trained: TrainedModel, out: Path) -> list[Path]:
    from safetensors.torch import save

    state = {key: value.contiguous() for key, value in model.network.state_dict().items()}
    out.write_bytes(save(state, metadata={"format": "pt"}))
    sidecar = out.with_suffix(".json")
    sidecar.write_text(json.dumps(sidecar_data(model.network, trained), indent=2) + "\n")
    return [out, sidecar]


def sidecar_data(network: nn.Module, trained: TrainedModel) -> dict[str, Any]:
    """The sidecar of a safetensors export: what to build, and how to feed it."""
    spec = getattr(network, "spec", None)
    model_table = None
    if trained.recipe:
        model_table = tomllib.loads(trained.recipe).get("model")
        if isinstance(model_table, dict):
            model_table.pop("weights", None)  # the weights are the file next to this one
    return {
        "format": SIDECAR_FORMAT,
        "spec": spec.model_dump(mode="json") if spec is not None else None,
        "model": model_table,
        **trained.metadata(),
    }


def run_safetensors(out: Path) -> Callable[[Tensor], Tensor]:
    loaded = load_exported(out)
    return Deployable(loaded.network, loaded.mean, loaded.std).eval()


WRITERS: dict[str, tuple[Callable[..., list[Path]], Callable[[Path], Callable]]] = {
    "onnx": (write_onnx, run_onnx),
    "pt2": (write_pt2, run_pt2),
    "safetensors": (write_safetensors, run_safetensors),
}
"""Each format's writer and the loader the check runs."""
