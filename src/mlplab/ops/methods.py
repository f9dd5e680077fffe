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


for _name, _method in {
    "__add__": add,
    "__radd__": lambda self, other: add(other, self),
    "__sub__": subtract,
    "__rsub__": lambda self, other: subtract(other, self),
    "__mul__": multiply,
    "__rmul__": lambda self, other: multiply(other, self),
    "__truediv__": divide,
    "__rtruediv__": lambda self, other: divide(other, self),
    "__pow__": power,
    "__rpow__": lambda self, other: power(other, self),
    "__matmul__": matmul,
    "__rmatmul__": lambda self, other: matmul(other, self),
    "__neg__": negative,
    "__getitem__": _getitem_method,
    "__lt__": _compare(np.less),
    "__le__": _compare(np.less_equal),
    "__gt__": _compare(np.greater),
    "__ge__": _compare(np.greater_equal),
    "__eq__": _compare(np.equal),
    "__ne__": _compare(np.not_equal),
    "exp": exp,
    "log": log,
    "tanh": tanh,
    "sum": sum,
    "max": max,
    "reshape": reshape,
    "transpose": _transpose_method,
    "permute": _transpose_method,
    "broadcast_to": broadcast_to,
    "astype": astype,
    "T": property(lambda self: transpose(self)),
}.items():
    setattr(Tensor, _name, _method)
