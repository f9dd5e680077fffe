"""Parameter: a Tensor that a Module owns and an optimizer updates.

A Parameter is nothing more than a leaf Tensor that requires a gradient. Its type is the signal:
assigning one to a :class:`~mlplab.nn.Module` attribute registers it, so ``parameters()`` finds
it without a list kept by hand.
"""

from __future__ import annotations

from typing import Any

from ..tensor import Tensor

__all__ = ["Parameter"]


class Parameter(Tensor):
    """A leaf tensor of learnable weights (``requires_grad=True`` by default).

    Args:
        data: an ndarray (wrapped without a copy, its dtype kept), a Tensor (its array is
            shared), or Python numbers and lists (float32 by the dtype rules of
            :mod:`mlplab.tensor`).
        requires_grad: whether gradients flow to it; set False to freeze it.

    Raises:
        TypeError: if the data is not floating point (integers cannot be differentiated).

    Examples:
        >>> import numpy as np
        >>> w = Parameter(np.zeros((2, 3)))
        >>> w.requires_grad, w.is_leaf, w.shape
        (True, True, (2, 3))
    """

    # Tensor has __slots__; an empty tuple keeps a Parameter as lean as a Tensor.
    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True) -> None:
        if isinstance(data, Tensor):
            data = data.data
        super().__init__(data)
        if self.data.dtype.kind != "f":
            raise TypeError(f"Parameter: expected floating-point data, got dtype {self.data.dtype}")
        self.requires_grad_(requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
