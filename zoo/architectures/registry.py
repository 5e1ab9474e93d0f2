"""The architecture registry: family factories ``factory(**params) -> NetworkSpec``.

Fed by built-ins and by the ``zoo.architectures`` entry-point group.
"""

from collections.abc import Callable

from zoo.architectures.spec import NetworkSpec
from zoo.registry import Registry

ArchitectureFactory = Callable[..., NetworkSpec]

architectures: Registry[ArchitectureFactory] = Registry("architecture", group="zoo.architectures")
