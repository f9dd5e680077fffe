"""``mlplab.nn.init``: PyTorch's spelling of :mod:`mlplab.init` (``nn.init.kaiming_normal_``).

Every name is mlplab.init's own object, and anything added there appears here too. Remember the
layout: mlplab stores a weight as (in, out), so fan_in is ``shape[0]`` (see
:func:`mlplab.init.fans`); the in-place initializers fill the tensor you pass as it is.

Examples:
    >>> import numpy as np, mlplab
    >>> from mlplab.nn import init
    >>> w = init.kaiming_normal_(mlplab.tensor(np.zeros((4, 3), np.float32)), rng=0)
    >>> init.kaiming_normal_ is mlplab.init.kaiming_normal_, w.shape
    (True, (4, 3))
"""

from typing import Any

from .. import init as _init


def __getattr__(name: str) -> Any:
    # Looked up on every use, never copied: mlplab.init may still be loading when this module
    # is (mlplab.functional imports nn's dropout and norm, and nn imports this), and names may
    # be added to it later. ``__all__`` (what ``import *`` takes) is looked up the same way.
    try:
        return getattr(_init, name)
    except AttributeError:
        raise AttributeError(f"module 'mlplab.nn.init' has no attribute {name!r}") from None


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(dir(_init)))
