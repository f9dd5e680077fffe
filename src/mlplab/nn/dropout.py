"""Dropout: zero each activation with probability p while training, scale the rest by 1/(1 − p).

Inverted dropout, as in PyTorch: with a mask m of independent Bernoulli(1 − p) draws,

    y = x ∘ m / (1 − p),   so E[y] = x,

in training mode only; in eval mode y = x and nothing is drawn. The mask is a constant of the
graph (multiplying by it is the only op), so first and second derivatives are those of a product.
Every mask comes from an explicit ``numpy.random.Generator``: the NumPy transcription of one mask
is ``keep = rng.random(x.shape) >= p`` (so p = 0 keeps all, p = 1 drops all), and a seeded run —
or a resumed one that restores the generator's state — draws the same masks.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import random
from ..ops import as_tensor, multiply
from ..tensor import Tensor
from .module import Module

__all__ = ["Dropout", "dropout"]


def _check_p(p: Any, where: str) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating)) or not 0 <= p <= 1:
        raise ValueError(f"{where}: p must be a probability in [0, 1], got {p!r}")
    return float(p)


def dropout(
    x: Any, p: float = 0.5, training: bool = True, rng: np.random.Generator | None = None
) -> Tensor:
    """Return x ∘ m/(1 − p) with m ~ Bernoulli(1 − p) elementwise in training, else x.

    Args:
        x: any shape.
        p: the probability of dropping an element, in [0, 1].
        training: apply dropout; False returns ``x`` itself.
        rng: the generator of the mask; None means the library's
            (:func:`mlplab.random.generator`, reproducible after ``mlplab.manual_seed``).

    Raises:
        ValueError: if p is not in [0, 1].

    Examples:
        >>> import numpy as np, mlplab
        >>> x = mlplab.tensor(np.ones(6))
        >>> dropout(x, 0.5, rng=np.random.default_rng(0)).numpy()
        array([2., 0., 0., 0., 2., 2.])
        >>> dropout(x, 0.5, training=False) is x
        True
    """
    p = _check_p(p, "dropout")
    x = as_tensor(x)
    if not training or p == 0.0:
        return x
    generator = random.resolve(rng, "dropout")
    keep = generator.random(x.shape) >= p
    scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    mask = keep.astype(x.dtype) * np.asarray(scale, x.dtype)
    return multiply(x, Tensor._make(mask))


class Dropout(Module):
    """Inverted dropout, active in training mode only: y = x ∘ m/(1 − p), m ~ Bernoulli(1 − p).

    Args:
        p: the probability of dropping an element, in [0, 1] (default 0.5).
        rng: the mask's generator (a ``numpy.random.Generator`` or an int seed); None draws from
            the library's generator at each call. The generator is kept as ``self.rng``, so a
            checkpoint can save and restore its state (``mlplab train`` does).

    Examples:
        >>> import numpy as np, mlplab
        >>> drop = Dropout(0.5, rng=0)
        >>> drop(mlplab.tensor(np.ones(4))).numpy()
        array([2., 0., 0., 0.])
        >>> drop.eval()(mlplab.tensor(np.ones(4))).numpy()
        array([1., 1., 1., 1.])
    """

    def __init__(self, p: float = 0.5, rng: Any = None) -> None:
        super().__init__()
        self.p = _check_p(p, "Dropout")
        self.rng = None if rng is None else random.resolve(rng, "Dropout")

    def forward(self, x: Any) -> Tensor:
        return dropout(x, self.p, self.training, self.rng)

    def extra_repr(self) -> str:
        return f"p={self.p}"
