"""The array-library seam: every op reaches array functions through here.

mlplab computes on NumPy arrays. A GPU library with NumPy's interface (CuPy) can be slotted in
later by teaching :func:`namespace` to recognise its arrays; the ops never name NumPy directly
for anything but dtype rules.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import numpy as np

__all__ = ["namespace", "is_array", "asarray"]


def namespace(array: Any) -> ModuleType:
    """Return the array module (``numpy``, later ``cupy``) that owns ``array``.

    Examples:
        >>> import numpy as np
        >>> namespace(np.zeros(2)).__name__
        'numpy'
    """
    if isinstance(array, (np.ndarray, np.generic)):
        return np
    module = type(array).__module__.partition(".")[0]
    return importlib.import_module(module)


def is_array(value: Any) -> bool:
    """Tell whether ``value`` is an array of a supported array library."""
    return isinstance(value, np.ndarray) or hasattr(value, "__array_namespace__")


def asarray(value: Any, dtype: Any = None) -> Any:
    """Convert ``value`` to an ndarray of the default library (NumPy)."""
    return np.asarray(value, dtype=dtype)
