"""Unpickling CIFAR's official files without letting a crafted file run code.

CIFAR-10/100's "python version" files are Python pickles; a bare `pickle.load` calls whatever global a
file names (e.g. `os.system`). These files need only numpy's array reconstruction and, for pickles
re-written by Python 3 with protocol 2, `_codecs.encode` (how bytes are stored); `DataUnpickler`
resolves those and refuses every other global.
"""

from __future__ import annotations

import pickle
from typing import IO, Any

ALLOWED_GLOBALS = frozenset(
    {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        *((module, "_reconstruct") for module in ("numpy.core.multiarray", "numpy._core.multiarray")),  # protocol <= 4
        *((module, "scalar") for module in ("numpy.core.multiarray", "numpy._core.multiarray")),  # numpy scalars
        *((module, "_frombuffer") for module in ("numpy.core.numeric", "numpy._core.numeric")),  # protocol 5
        ("_codecs", "encode"),  # bytes in Python 3 protocol-2 pickles
    }
)


class DataUnpickler(pickle.Unpickler):
    """An Unpickler that builds plain Python data and numpy arrays only (`ALLOWED_GLOBALS`)."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"it names {module}.{name}, which a data file never needs (refused)")
        return super().find_class(module, name)


def load_data_pickle(fh: IO[bytes], encoding: str = "latin1") -> Any:
    """`pickle.load(fh, encoding=encoding)` restricted to data (`DataUnpickler`); latin1 reads Python 2 pickles."""
    return DataUnpickler(fh, encoding=encoding).load()
