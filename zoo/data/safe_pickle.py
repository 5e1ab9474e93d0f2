"""Load CIFAR's pickled batches without letting a pickle run code.

``pickle.load`` calls whatever callable a file names, so a doctored ``data_batch_1`` could run
``os.system``. :class:`RestrictedUnpickler` resolves only the few globals a pickled numpy array
needs and refuses every other one with a :class:`ZooError`.

The official files were written by Python 2's cPickle (protocol 2): keys and the pixel buffer are
Python 2 ``str``, so they are read with ``encoding="bytes"`` (keys come back as ``b"data"``,
``b"labels"``, ...) and numpy arrays are rebuilt through ``numpy.core.multiarray._reconstruct``,
``numpy.ndarray`` and ``numpy.dtype``.
"""

from __future__ import annotations

import codecs
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from zoo.errors import ZooError

try:  # numpy >= 2 moved the implementation module; old pickles still name numpy.core
    from numpy._core.multiarray import _reconstruct
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]

ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    # Python 3 writes bytes this way at protocol 2, so a re-pickled CIFAR batch still loads.
    ("_codecs", "encode"): codecs.encode,
}
"""Every ``(module, name)`` a CIFAR pickle may refer to, and the object it stands for."""


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only :data:`ALLOWED_GLOBALS`; ``source`` names the file."""

    def __init__(self, file: Any, source: Path) -> None:
        super().__init__(file, encoding="bytes")
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        """Look ``module.name`` up in the allow-list; never import anything."""
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise ZooError(
                f"refusing to unpickle {module}.{name} from {self.source}: a CIFAR batch holds "
                "only numpy arrays, lists and bytes; replace the file with the official download"
            ) from None


def load_pickle(path: Path) -> Any:
    """The object pickled in ``path``; a corrupt, truncated or unsafe file is a ZooError."""
    try:
        file = path.open("rb")
    except OSError as exc:
        raise ZooError(f"cannot open {path}: {exc.strerror}") from exc
    try:
        with file:
            return RestrictedUnpickler(file, path).load()
    except ZooError:
        raise
    except Exception as exc:  # a damaged pickle can fail in many ways; all mean "bad file"
        raise ZooError(
            f"cannot read {path}: the file is truncated or corrupt ({type(exc).__name__}: {exc}); "
            "delete it and download the data set again"
        ) from exc
