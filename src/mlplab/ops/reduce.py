"""The maximum and minimum over axes, and the positions where they are reached.

The sum lives beside broadcast_to in :mod:`.shape`, its transpose. ``min`` is ``−max(−x)``, so
it has no gradient rule of its own; ``argmax`` and ``argmin`` return integer indices and are not
differentiated (the index of a maximum is piecewise constant).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor
from .core import Op, _kept_shape, _normalize_axes, apply, as_tensor, dim_aliases
from .elementwise import multiply, negative
from .shape import broadcast_to, reshape


class Max(Op):
    """Maximum over ``axes``; the gradient is shared equally among tied maxima."""

    __slots__ = ("axes", "keepdims")

    def __init__(self, axes: tuple[int, ...], keepdims: bool) -> None:
        self.axes, self.keepdims = axes, keepdims

    def forward(self, a: Any) -> Any:
        return a.max(axis=self.axes, keepdims=self.keepdims)

    def vjp(self, g: Tensor, out: Tensor, a: Tensor) -> tuple[Tensor]:
        kept = _kept_shape(a.shape, self.axes)
        is_max = a.data == out.data.reshape(kept)
        share = is_max / is_max.sum(axis=self.axes, keepdims=True)
        share = Tensor._make(share.astype(a.data.dtype, copy=False))
        return (multiply(broadcast_to(reshape(g, kept), a.shape), share),)


@dim_aliases
def max(a: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Return the maximum over ``axis`` (all by default), NumPy's ``keepdims``.

    The gradient is shared equally among tied maxima. With ``dim=`` this is still NumPy's
    meaning, the values only (PyTorch's ``max(dim=...)`` also returns indices: use
    :func:`argmax`).

    Examples:
        >>> import mlplab
        >>> mlplab.tensor([[1.0, 5.0], [3.0, 2.0]]).max(axis=0)
        tensor([3., 5.])
    """
    a = as_tensor(a)
    if a.data.size == 0:
        raise ValueError(f"max: the tensor of shape {a.shape} is empty")
    axes = _normalize_axes("max", axis, a.data.ndim)
    return apply(Max(axes, bool(keepdims)), a)


@dim_aliases
def min(a: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Return the minimum over ``axis`` (all by default): min x = −max(−x).

    Examples:
        >>> import mlplab
        >>> mlplab.tensor([[1.0, 5.0], [3.0, 2.0]]).min(axis=1)
        tensor([1., 2.])
    """
    a = as_tensor(a)
    if a.data.size == 0:
        raise ValueError(f"min: the tensor of shape {a.shape} is empty")
    _normalize_axes("min", axis, a.data.ndim)
    return negative(max(negative(a), axis=axis, keepdims=keepdims))


def _arg(name: str, a: Tensor, axis: Any, keepdims: bool) -> Tensor:
    a = as_tensor(a)
    if a.data.size == 0:
        raise ValueError(f"{name}: the tensor of shape {a.shape} is empty")
    if axis is not None:
        if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
            raise TypeError(f"{name}: axis must be an int or None, got {axis!r}")
        _normalize_axes(name, axis, a.data.ndim)
        axis = int(axis) if a.data.ndim else None
    fn = a.data.argmax if name == "argmax" else a.data.argmin
    return Tensor._make(np.asarray(fn(axis=axis, keepdims=bool(keepdims)), dtype=np.int64))


@dim_aliases
def argmax(a: Tensor, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """Return the int64 indices of the maxima along ``axis`` (of the flattened tensor by
    default); the first one at a tie, as NumPy and PyTorch do. Not differentiable.

    Examples:
        >>> import mlplab
        >>> mlplab.tensor([[1.0, 5.0], [3.0, 2.0]]).argmax(axis=1)
        tensor([1, 0])
    """
    return _arg("argmax", a, axis, keepdims)


@dim_aliases
def argmin(a: Tensor, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """Return the int64 indices of the minima along ``axis`` (flattened by default).

    Examples:
        >>> import mlplab
        >>> mlplab.tensor([[1.0, 5.0], [3.0, 2.0]]).argmin()
        tensor(0)
    """
    return _arg("argmin", a, axis, keepdims)
