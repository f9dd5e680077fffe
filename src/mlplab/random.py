"""The library's default random generator, and ``manual_seed`` to make it reproducible.

Every random draw mlplab makes without an explicit ``rng`` or ``seed`` — initializers called
without ``rng``, ``nn.Linear`` / ``nn.MLP`` without ``rng``, a ``DataLoader`` shuffling without
``seed``, dropout masks — comes from one ``numpy.random.Generator``, returned by
:func:`generator`. It starts from OS entropy (so two fresh processes differ, as with NumPy);
``manual_seed(n)`` replaces it with ``numpy.random.default_rng(n)``, after which the same program
draws the same numbers, as ``torch.manual_seed`` does. An explicit ``rng`` or ``seed`` argument
always wins and leaves the default generator untouched.

This is the one piece of global state besides the grad-mode switch; NumPy's legacy global
state (``np.random.seed``) is deliberately not used, so seeding NumPy does not seed mlplab.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["manual_seed", "generator"]

# Made on first use: numpy.random is imported lazily by NumPy 2, and `import mlplab` stays fast.
_default: np.random.Generator | None = None


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the library's default generator: it becomes ``numpy.random.default_rng(seed)``.

    Args:
        seed: a non-negative int.

    Returns:
        The new default generator (the one :func:`generator` now returns).

    Raises:
        TypeError: if ``seed`` is not an int.
        ValueError: if ``seed`` is negative.

    Examples:
        >>> import mlplab
        >>> a = mlplab.manual_seed(0).normal()
        >>> b = mlplab.manual_seed(0).normal()
        >>> a == b
        True
    """
    global _default
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"manual_seed: seed must be an int, got {type(seed).__name__} {seed!r}")
    if seed < 0:
        raise ValueError(f"manual_seed: seed must be >= 0, got {seed}")
    _default = np.random.default_rng(int(seed))
    return _default


def generator() -> np.random.Generator:
    """Return the library's default generator, used wherever no ``rng`` or ``seed`` is given.

    Examples:
        >>> import mlplab.random
        >>> _ = mlplab.random.manual_seed(3)
        >>> x = mlplab.random.generator().integers(100)
        >>> _ = mlplab.random.manual_seed(3)
        >>> bool(mlplab.random.generator().integers(100) == x)
        True
    """
    global _default
    if _default is None:
        _default = np.random.default_rng()
    return _default


def resolve(rng: Any, where: str) -> np.random.Generator:
    """Return ``rng`` as a Generator: itself, ``default_rng(rng)`` for an int seed, or the
    library's default generator for None.

    Raises:
        TypeError: naming ``where`` for anything else (a bool, a float, a legacy RandomState).

    Examples:
        >>> resolve(None, "Linear") is generator()
        True
        >>> int(resolve(5, "Linear").integers(100)) == int(resolve(5, "L").integers(100))
        True
    """
    if rng is None:
        return generator()
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, (bool, np.bool_)):
        if rng < 0:
            raise ValueError(f"{where}: an int seed must be >= 0, got {rng}")
        return np.random.default_rng(int(rng))
    raise TypeError(
        f"{where}: rng must be a numpy.random.Generator, an int seed or None, "
        f"got {type(rng).__name__}"
    )
