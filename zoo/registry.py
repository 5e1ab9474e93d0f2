"""One generic name → factory registry, with lazy entry-point discovery for plugins.

zoo chooses everything by name (design.md, "The registry"): block types, architecture families,
data sets. Each kind has one :class:`Registry` instance. Built-ins register with a decorator;
third-party packages add entries through the entry-point group named for the kind
(``zoo.blocks``, ``zoo.architectures``, ...), where the entry's name is the registry name and its
object is the factory. Discovery runs once, on the first lookup or listing, so importing zoo
never imports a plugin.

The shape follows torchvision's ``models/_api.py`` (register/get/list with fnmatch patterns) and
timm's ``_registry.py``.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib.metadata
import re
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from zoo.errors import DuplicateNameError, PluginError, UnknownNameError

T = TypeVar("T")

BUILT_IN = "built-in"
"""The origin recorded for entries registered by zoo itself."""

CLOSE_MATCHES = 3
"""How many near names an unknown-name error suggests."""


@dataclass(frozen=True)
class Entry(Generic[T]):
    """A registered object and where it came from (``built-in`` or a distribution name)."""

    name: str
    obj: T
    origin: str


@dataclass(frozen=True)
class BrokenEntry:
    """A plugin entry point whose import failed: kept so that using it gives a clear error."""

    name: str
    origin: str
    error: str


def natural_order(name: str) -> list[str | int]:
    """Sort key that puts resnet20 before resnet110."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


class Registry(Generic[T]):
    """Name → object for one kind of thing (``kind`` is used in messages: "block", ...)."""

    def __init__(self, kind: str, group: str | None = None) -> None:
        self.kind = kind
        self.group = group
        self._entries: dict[str, Entry[T]] = {}
        self._broken: dict[str, BrokenEntry] = {}
        self._discovered = group is None

    def register(self, name: str | None = None) -> Callable[[T], T]:
        """Decorator for built-ins: ``@blocks.register("bottleneck")``; default: the object name."""

        def decorate(obj: T) -> T:
            self.add(name or obj.__name__, obj)
            return obj

        return decorate

    def add(self, name: str, obj: T, origin: str = BUILT_IN) -> None:
        """Register ``obj`` under ``name``; a second registration of a name is an error."""
        previous = self._entries.get(name) or self._broken.get(name)
        if previous is not None:
            raise DuplicateNameError(
                f"{self.kind} {name!r} is registered twice: by {previous.origin} and by {origin}"
            )
        self._entries[name] = Entry(name, obj, origin)

    def get(self, name: str) -> T:
        """The object registered as ``name``; unknown names get the closest registered names."""
        return self.entry(name).obj

    def entry(self, name: str) -> Entry[T]:
        """The entry registered as ``name``, with its origin."""
        self._discover()
        if name in self._entries:
            return self._entries[name]
        if name in self._broken:
            broken = self._broken[name]
            raise PluginError(
                f"{self.kind} {name!r} comes from the plugin {broken.origin}, which failed to "
                f"load: {broken.error}"
            )
        raise UnknownNameError(self.unknown_name_message(name))

    def unknown_name_message(self, name: str, extra_names: tuple[str, ...] = ()) -> str:
        """ "unknown block 'x'; did you mean ...?" — shared with lookups that span registries."""
        names = [*self.names(), *extra_names]
        close = difflib.get_close_matches(name, names, n=CLOSE_MATCHES, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}?" if close else f"known: {', '.join(names)}"
        return f"unknown {self.kind} {name!r}; {hint}"

    def __contains__(self, name: object) -> bool:
        self._discover()
        return name in self._entries

    def names(self, pattern: str = "*") -> list[str]:
        """Registered names matching a wildcard ``pattern`` (fnmatch), in natural order."""
        self._discover()
        found = (name for name in self._entries if fnmatch.fnmatchcase(name, pattern))
        return sorted(found, key=natural_order)

    def entries(self, pattern: str = "*") -> Iterator[Entry[T]]:
        """Entries matching ``pattern``, sorted by name."""
        for name in self.names(pattern):
            yield self._entries[name]

    def broken(self) -> list[BrokenEntry]:
        """Plugin entries that failed to load, for ``zoo list`` to report."""
        self._discover()
        return sorted(self._broken.values(), key=lambda b: b.name)

    def _discover(self) -> None:
        """Load this kind's entry points once. A failing plugin is recorded, not fatal."""
        if self._discovered:
            return
        self._discovered = True
        for point in importlib.metadata.entry_points(group=self.group):
            origin = point.dist.name if point.dist is not None else point.value
            try:
                obj = point.load()
            except (Exception, SystemExit) as exc:  # third-party code must not stop zoo
                message = f"{type(exc).__name__}: {exc}"
                self._broken[point.name] = BrokenEntry(point.name, origin, message)
                warnings.warn(
                    f"the plugin {origin} failed to load its {self.kind} {point.name!r}: {message}",
                    stacklevel=2,
                )
                continue
            if point.name in self._entries:
                first = self._entries[point.name].origin
                warnings.warn(
                    f"the plugin {origin} registers the {self.kind} {point.name!r}, which "
                    f"{first} already registered; zoo keeps the one from {first}",
                    stacklevel=2,
                )
                continue
            self.add(point.name, obj, origin)
