"""The generic registry: decorator registration, lookup, patterns, errors, entry points."""

from __future__ import annotations

import importlib.metadata

import pytest

from zoo.errors import DuplicateNameError, PluginError, UnknownNameError
from zoo.registry import BUILT_IN, Registry


def make_registry() -> Registry:
    registry: Registry = Registry("widget")

    @registry.register()
    def resnet20() -> str:
        return "20"

    @registry.register("resnet110")
    def anything() -> str:
        return "110"

    registry.add("plain20", lambda: "p", origin="some-plugin")
    return registry


def test_lookup_by_name_and_origin():
    registry = make_registry()
    assert registry.get("resnet20")() == "20"
    assert registry.get("resnet110")() == "110"
    assert registry.entry("resnet20").origin == BUILT_IN
    assert registry.entry("plain20").origin == "some-plugin"
    assert "resnet20" in registry and "resnet32" not in registry


def test_listing_with_wildcards_in_natural_order():
    registry = make_registry()
    assert registry.names() == ["plain20", "resnet20", "resnet110"]
    assert registry.names("resnet*") == ["resnet20", "resnet110"]
    assert registry.names("*20") == ["plain20", "resnet20"]
    assert registry.names("vgg*") == []


def test_unknown_name_names_the_kind_and_suggests_close_names():
    with pytest.raises(UnknownNameError, match=r"unknown widget 'resnet21'; did you mean resnet20"):
        make_registry().get("resnet21")


def test_unknown_name_without_close_matches_lists_the_known_names():
    with pytest.raises(UnknownNameError, match="known: plain20, resnet20, resnet110"):
        make_registry().get("zzz")


def test_registering_twice_names_both_origins():
    registry = make_registry()
    with pytest.raises(DuplicateNameError, match="by built-in and by other-plugin"):
        registry.add("resnet20", object(), origin="other-plugin")


class FakeDist:
    def __init__(self, name: str) -> None:
        self.name = name


class FakePoint:
    """An entry point whose load either returns an object or fails like a broken import."""

    def __init__(self, name: str, obj: object = None, error: Exception | None = None) -> None:
        self.name, self.value, self.dist = name, f"pkg:{name}", FakeDist("third-party")
        self.obj, self.error = obj, error
        self.loads = 0

    def load(self) -> object:
        self.loads += 1
        if self.error:
            raise self.error
        return self.obj


def test_entry_points_are_discovered_lazily_once(monkeypatch):
    good = FakePoint("se_block", obj="factory")
    calls = []

    def entry_points(group):
        calls.append(group)
        return [good]

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    registry: Registry = Registry("block", group="zoo.blocks")
    assert calls == []  # nothing is imported before the first lookup
    assert registry.get("se_block") == "factory"
    assert registry.entry("se_block").origin == "third-party"
    registry.names()
    assert calls == ["zoo.blocks"] and good.loads == 1


def test_a_plugin_cannot_take_a_built_in_name(monkeypatch):
    clash = FakePoint("bottleneck", obj="impostor")
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: [clash])
    registry: Registry = Registry("block", group="zoo.blocks")
    registry.add("bottleneck", "the real one")
    with pytest.warns(
        UserWarning,
        match="third-party registers the block 'bottleneck', which built-in already registered",
    ):
        assert registry.get("bottleneck") == "the real one"


def test_a_broken_plugin_is_reported_and_the_rest_keeps_working(monkeypatch):
    broken = FakePoint("bad_block", error=ImportError("No module named 'missing_dep'"))
    good = FakePoint("good_block", obj="factory")
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: [broken, good])
    registry: Registry = Registry("block", group="zoo.blocks")
    with pytest.warns(UserWarning, match="third-party failed to load its block 'bad_block'"):
        assert registry.get("good_block") == "factory"
    assert [b.name for b in registry.broken()] == ["bad_block"]
    with pytest.raises(PluginError, match=r"plugin third-party, which failed to load.*missing_dep"):
        registry.get("bad_block")
