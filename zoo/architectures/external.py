"""timm's and torchvision's own models as zoo architectures: ``timm/NAME`` and ``torchvision/NAME``.

They are built by their own libraries (``timm.create_model``, ``torchvision.models.get_model``),
with keyword arguments such as ``num_classes`` passed through, and their pretrained weights come
through those libraries' own mechanisms: ``weights="timm"`` asks timm for its pretrained weights,
``weights="torchvision"`` or a torchvision weights name asks torchvision. A weights file is loaded
like any other (:mod:`zoo.architectures.weights`). zoo summarises, trains and evaluates them like
its own networks; they have no :class:`~zoo.architectures.NetworkSpec`.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import socket
import threading
import urllib.error
import urllib.parse
from collections.abc import Iterator
from typing import Any

from torch import nn

from zoo.errors import UnknownNameError, ZooError

PREFIXES = ("timm/", "torchvision/")

IMAGENET_INPUT = (3, 224, 224)
"""torchvision's classification models' input size."""

SUGGESTIONS = 3

HUB_PROBE_SECONDS = 3.0
"""How long a TCP connect to Hugging Face (or the HTTPS proxy) may take before zoo takes the
network for absent, instead of letting huggingface_hub spend half a minute in retries."""


def is_external(name: str) -> bool:
    """Whether ``name`` is a ``timm/`` or ``torchvision/`` model."""
    return name.startswith(PREFIXES)


def external_names(library: str) -> list[str]:
    """Every model name ``library`` (``timm`` or ``torchvision``) knows."""
    if library == "timm":
        import timm

        return list(timm.list_models())
    import torchvision.models

    return list(torchvision.models.list_models())


def check_name(name: str) -> tuple[str, str]:
    """(library, model) of ``timm/NAME`` or ``torchvision/NAME``; an unknown model is one line
    with the closest names."""
    library, _, model = name.partition("/")
    known = external_names(library)
    if model not in known:
        close = difflib.get_close_matches(model, known, n=SUGGESTIONS, cutoff=0.6)
        hint = f"did you mean {', '.join(f'{library}/{c}' for c in close)}?" if close else ""
        raise UnknownNameError(
            f"unknown {library} model {model!r}; {hint or f'see {library} list_models()'}"
        )
    return library, model


def build_external(
    name: str, weights: str | None = None, features_only: bool = False, **kwargs: Any
) -> nn.Module:
    """The model ``name`` from its library, with its pretrained ``weights`` if asked for."""
    library, model = check_name(name)
    library_weights = None if weights is None or _is_path(weights) else weights
    try:
        if library == "timm":
            network = _timm_model(model, library_weights, features_only, kwargs)
        else:
            network = _torchvision_model(model, library_weights, features_only, kwargs)
    except (TypeError, ValueError) as exc:
        raise ZooError(f"{name}: {exc}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise ZooError(
            f"{name}: cannot download its weights ({exc}); put the weights file in "
            "torch.hub's or Hugging Face's cache, or pass its path as the weights"
        ) from exc
    if weights is not None and library_weights is None:
        from zoo.architectures.weights import load_weights

        load_weights(network, weights, name)
    return network


def _is_path(text: str) -> bool:
    return "/" in text or "." in text


def _timm_model(
    model: str, weights: str | None, features_only: bool, kwargs: dict[str, Any]
) -> nn.Module:
    import timm

    if weights == "torchvision":
        raise ZooError(f"timm/{model}: use weights = 'timm' for timm's pretrained weights")
    with _offline_unless_hub_answers(weights == "timm"):
        return timm.create_model(
            model, pretrained=weights == "timm", features_only=features_only, **kwargs
        )


@contextlib.contextmanager
def _offline_unless_hub_answers(downloading: bool) -> Iterator[None]:
    """Puts huggingface_hub in its offline mode while timm fetches weights, unless its endpoint
    answers: cached weights still load, and missing ones fail at once rather than after
    huggingface_hub's retries. ``HF_HUB_OFFLINE=1`` needs no probe: the hub honours it."""
    if not downloading or os.environ.get("HF_HUB_OFFLINE", "").upper() in {
        "1",
        "ON",
        "YES",
        "TRUE",
    }:
        yield
        return
    from huggingface_hub import constants

    if hub_answers(constants.ENDPOINT):
        yield
        return
    was = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = was


def hub_answers(endpoint: str, timeout: float = HUB_PROBE_SECONDS) -> bool:
    """Whether a TCP connection to ``endpoint``'s host (or to the HTTPS proxy, when one is set)
    opens within ``timeout`` seconds, name lookup included."""
    proxy = os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy")
    url = urllib.parse.urlsplit(proxy or endpoint)
    if url.hostname is None:
        return False
    address = (url.hostname, url.port or (443 if url.scheme == "https" else 80))
    answered = threading.Event()

    def connect() -> None:
        with contextlib.suppress(OSError):
            socket.create_connection(address, timeout=timeout).close()
            answered.set()

    probe = threading.Thread(target=connect, daemon=True)  # a hung name lookup has no timeout
    probe.start()
    probe.join(timeout)
    return answered.is_set()


def _torchvision_model(
    model: str, weights: str | None, features_only: bool, kwargs: dict[str, Any]
) -> nn.Module:
    import torchvision.models

    if features_only:
        raise ZooError(
            f"torchvision/{model}: features_only needs stages; use zoo's own {model} or a timm "
            "model"
        )
    if weights == "timm":
        raise ZooError(f"torchvision/{model}: use weights = 'torchvision' or a weights name")
    chosen = "DEFAULT" if weights == "torchvision" else weights
    return torchvision.models.get_model(model, weights=chosen, **kwargs)


def default_input_size(network: nn.Module) -> tuple[int, int, int]:
    """The (C, H, W) a model is made for: a zoo spec's, timm's pretrained config, else
    torchvision's 224×224."""
    spec = getattr(network, "spec", None)
    if spec is not None:
        return (spec.in_channels, *spec.input_size)
    config = getattr(network, "pretrained_cfg", None) or {}
    size = config.get("input_size")
    return tuple(size) if size else IMAGENET_INPUT
