"""Residual connection: y = F(z) + z, the input added around a block of equal width.

The identity path carries the signal (and, backwards, the gradient ∂ℓ/∂z = ∂ℓ/∂y (I + ∂F/∂z))
past the block, so a deep stack need not pass everything through products of weight matrices.

References:
    He, Zhang, Ren & Sun, Deep Residual Learning for Image Recognition (2016).
"""

from __future__ import annotations

from typing import Any

from ..ops import add, as_tensor
from ..tensor import Tensor
from .module import Module

__all__ = ["Residual"]


class Residual(Module):
    """Wrap a module F as y = F(z) + z.

    Args:
        fn: the block F; its output must have the input's shape.

    Raises:
        TypeError: if ``fn`` is not a Module.
        ValueError: (in forward) if F(z) and z differ in shape.

    Examples:
        >>> import numpy as np, mlplab
        >>> from mlplab.nn import Linear
        >>> block = Residual(Linear(3, 3, weight_init="zeros", rng=0))
        >>> block(mlplab.tensor(np.ones((2, 3), np.float32))).numpy()
        array([[1., 1., 1.],
               [1., 1., 1.]], dtype=float32)
    """

    def __init__(self, fn: Module) -> None:
        super().__init__()
        if not isinstance(fn, Module):
            raise TypeError(f"Residual: fn must be a Module, got {type(fn).__name__}")
        self.fn = fn

    def forward(self, x: Any) -> Tensor:
        x = as_tensor(x)
        y = self.fn(x)
        if y.shape != x.shape:
            raise ValueError(
                f"Residual: {type(self.fn).__name__} changed the shape from {x.shape} to "
                f"{y.shape}; F(z) + z needs equal shapes (a block of equal width)"
            )
        return add(y, x)
