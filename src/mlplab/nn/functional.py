"""``mlplab.nn.functional``: PyTorch's spelling of :mod:`mlplab.functional` (``import
mlplab.nn.functional as F``).

Every name is mlplab.functional's own object, not a copy: ``F.cross_entropy is
mlplab.functional.cross_entropy``. A function added there later (``batch_norm``, ``dropout``,
...) appears here without an edit, through the module ``__getattr__``.

Examples:
    >>> import mlplab
    >>> import mlplab.nn.functional as F
    >>> F.relu(mlplab.tensor([-1.0, 2.0]))
    tensor([0., 2.])
    >>> F.softmax is mlplab.functional.softmax
    True
"""

from typing import Any

from .. import functional as _functional


def __getattr__(name: str) -> Any:
    # Looked up on every use, never copied: mlplab.functional may still be loading when this module
    # is (mlplab.functional imports nn's dropout and norm, and nn imports this), and names may
    # be added to it later. ``__all__`` (what ``import *`` takes) is looked up the same way.
    try:
        return getattr(_functional, name)
    except AttributeError:
        raise AttributeError(f"module 'mlplab.nn.functional' has no attribute {name!r}") from None


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(dir(_functional)))
