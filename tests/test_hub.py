"""torch.hub against the local source: hubconf.py's entry points are zoo's presets."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

import zoo

REPO = Path(__file__).resolve().parents[1]


def test_hubconf_has_an_entry_point_for_every_preset():
    """What ``torch.hub.list`` shows: the public callables of hubconf (it reads only GitHub)."""
    spec = importlib.util.spec_from_file_location("hubconf", REPO / "hubconf.py")
    hubconf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hubconf)
    entries = {name for name in dir(hubconf) if callable(getattr(hubconf, name))}
    entries = {name for name in entries if not name.startswith("_")}
    assert entries == set(zoo.list_models())
    assert "num_classes" in hubconf.resnet110_v1.__doc__
    assert set(hubconf.dependencies) >= {"torch", "torchvision", "timm"}


def test_hub_loads_a_preset_with_keyword_arguments():
    network = torch.hub.load(str(REPO), "resnet20_v2", source="local", num_classes=100)
    assert network.spec.name == "resnet20_v2" and network.num_classes == 100
    assert network(torch.zeros(1, 3, 32, 32)).shape == (1, 100)


def test_hub_loads_torchvision_names_and_weights_from_a_file(tmp_path):
    resnet50 = torch.hub.load(str(REPO), "resnet50", source="local")
    assert sum(p.numel() for p in resnet50.parameters()) == 25_557_032  # torchvision's count
    trained = zoo.build_model("resnet20_v1", num_classes=4)
    torch.save(trained.state_dict(), tmp_path / "weights.pt")
    loaded = torch.hub.load(str(REPO), "resnet20_v1", source="local", num_classes=4,
                            weights=str(tmp_path / "weights.pt"))  # fmt: skip
    for key, value in trained.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)
