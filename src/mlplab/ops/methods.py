"""Attach the operators and array methods to :class:`~mlplab.tensor.Tensor`.

Tensor is defined knowing only NumPy; this module gives it ``+ - * / ** @``, comparisons,
indexing and the NumPy-named methods, all routed to the primitives; then the PyTorch spellings
users type (``view``, ``unsqueeze``, ``squeeze``, ``flatten``, ``clone``, ``float()``, ``to``),
each a short composition of the same primitives.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..device import parse_to
from ..tensor import Tensor
from .core import _normalize_axes, dim_aliases
from .elementwise import add, divide, exp, log, multiply, negative, power, subtract, tanh
from .linalg import matmul
from .reduce import argmax, argmin, max, min
from .shape import astype, broadcast_to, clone, getitem, reshape, sum, transpose


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


def _unsqueeze(self: Tensor, dim: int) -> Tensor:
    """Return ``self`` with a new axis of length 1 at ``dim`` (−ndim−1 <= dim <= ndim), a
    reshape (NumPy's ``expand_dims``)."""
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"unsqueeze: dim must be an int, got {dim!r}")
    if not -self.ndim - 1 <= dim <= self.ndim:
        raise IndexError(f"unsqueeze: dim {dim} is out of range [{-self.ndim - 1}, {self.ndim}]")
    at = int(dim) % (self.ndim + 1)
    return reshape(self, self.shape[:at] + (1,) + self.shape[at:])


@dim_aliases
def _squeeze(self: Tensor, axis: Any = None) -> Tensor:
    """Return ``self`` without its axes of length 1 (all of them, or those in ``axis``); as in
    NumPy, naming an axis whose length is not 1 is an error (PyTorch would skip it)."""
    axes = (
        tuple(i for i, n in enumerate(self.shape) if n == 1)
        if axis is None
        else _normalize_axes("squeeze", axis, self.ndim)
    )
    for i in axes:
        if self.shape[i] != 1:
            raise ValueError(
                f"squeeze: axis {i} has length {self.shape[i]}, not 1 (shape {self.shape})"
            )
    return reshape(self, tuple(n for i, n in enumerate(self.shape) if i not in axes))


def _flatten(self: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Return ``self`` with the axes ``start_dim`` … ``end_dim`` merged into one (PyTorch's
    ``flatten``; all of them by default, like NumPy's); a 0-d tensor becomes shape (1,)."""
    if self.ndim == 0:
        return reshape(self, (1,))
    (start,), (end,) = (_normalize_axes("flatten", d, self.ndim) for d in (start_dim, end_dim))
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    return reshape(self, self.shape[:start] + (-1,) + self.shape[end + 1 :])


def _to(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
    """PyTorch's ``to``: ``to(dtype)``, ``to("cpu")``, ``to("cpu", dtype)``, ``to(tensor)``;
    returns ``self`` when nothing changes (a differentiable cast otherwise, or a clone with
    ``copy=True``). Other devices are a ValueError: mlplab computes on NumPy."""
    dtype = parse_to("to", args, kwargs)
    out = self if dtype is None else astype(self, dtype)
    return clone(out) if kwargs.get("copy") and out is self else out


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
    "min": min,
    "argmax": argmax,
    "argmin": argmin,
    "clone": clone,
    "view": reshape,
    "unsqueeze": _unsqueeze,
    "squeeze": _squeeze,
    "flatten": _flatten,
    "float": lambda self: astype(self, np.float32),
    "double": lambda self: astype(self, np.float64),
    "long": lambda self: Tensor._make(self.data.astype(np.int64)),  # indices: no gradient
    "to": _to,
    "reshape": reshape,
    "transpose": _transpose_method,
    "permute": _transpose_method,
    "broadcast_to": broadcast_to,
    "astype": astype,
    "T": property(lambda self: transpose(self)),
}.items():
    setattr(Tensor, _name, _method)
