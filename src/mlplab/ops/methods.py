"""Attach the operators and array methods to :class:`~mlplab.tensor.Tensor`.

Tensor is defined knowing only NumPy; this module gives it ``+ - * / ** @``, comparisons,
indexing and the NumPy-named methods, all routed to the primitives.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor
from .elementwise import add, divide, exp, log, multiply, negative, power, subtract, tanh
from .linalg import matmul
from .reduce import max
from .shape import astype, broadcast_to, getitem, reshape, sum, transpose


def _compare(fn: Any) -> Any:
    def method(self: Tensor, other: Any) -> Tensor:
        other_data = other.data if isinstance(other, Tensor) else other
        return Tensor._make(np.asarray(fn(self.data, other_data)))

    return method


def _getitem_method(self: Tensor, index: Any) -> Tensor:
    return getitem(self, index)


def _transpose_method(self: Tensor, *axes: Any) -> Tensor:
    if len(axes) == 1 and not isinstance(axes[0], (int, np.integer)):
        axes = tuple(axes[0]) if axes[0] is not None else ()
    return transpose(self, axes or None)


Tensor.__add__ = add  # type: ignore[assignment]

Tensor.__radd__ = lambda self, other: add(other, self)  # type: ignore[attr-defined]

Tensor.__sub__ = subtract  # type: ignore[attr-defined]

Tensor.__rsub__ = lambda self, other: subtract(other, self)  # type: ignore[attr-defined]

Tensor.__mul__ = multiply  # type: ignore[attr-defined]

Tensor.__rmul__ = lambda self, other: multiply(other, self)  # type: ignore[attr-defined]

Tensor.__truediv__ = divide  # type: ignore[attr-defined]

Tensor.__rtruediv__ = lambda self, other: divide(other, self)  # type: ignore[attr-defined]

Tensor.__pow__ = power  # type: ignore[attr-defined]

Tensor.__rpow__ = lambda self, other: power(other, self)  # type: ignore[attr-defined]

Tensor.__matmul__ = matmul  # type: ignore[attr-defined]

Tensor.__rmatmul__ = lambda self, other: matmul(other, self)  # type: ignore[attr-defined]

Tensor.__neg__ = negative  # type: ignore[attr-defined]

Tensor.__getitem__ = _getitem_method  # type: ignore[attr-defined]

Tensor.__lt__ = _compare(np.less)  # type: ignore[assignment]

Tensor.__le__ = _compare(np.less_equal)  # type: ignore[assignment]

Tensor.__gt__ = _compare(np.greater)  # type: ignore[assignment]

Tensor.__ge__ = _compare(np.greater_equal)  # type: ignore[assignment]

Tensor.__eq__ = _compare(np.equal)  # type: ignore[assignment]

Tensor.__ne__ = _compare(np.not_equal)  # type: ignore[assignment]

Tensor.exp = exp  # type: ignore[attr-defined]

Tensor.log = log  # type: ignore[attr-defined]

Tensor.tanh = tanh  # type: ignore[attr-defined]

Tensor.sum = sum  # type: ignore[attr-defined]

Tensor.max = max  # type: ignore[attr-defined]

Tensor.reshape = reshape  # type: ignore[attr-defined]

Tensor.transpose = _transpose_method  # type: ignore[attr-defined]

Tensor.permute = _transpose_method  # type: ignore[attr-defined]

Tensor.broadcast_to = broadcast_to  # type: ignore[attr-defined]

Tensor.astype = astype  # type: ignore[attr-defined]

Tensor.T = property(lambda self: transpose(self))  # type: ignore[attr-defined]
