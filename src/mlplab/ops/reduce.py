"""The maximum over axes (the sum lives beside broadcast_to in :mod:`.shape`, its transpose)."""

from __future__ import annotations

from typing import Any

from ..tensor import Tensor
from .core import Op, _kept_shape, _normalize_axes, apply, as_tensor
from .elementwise import multiply
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


def max(a: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Return the maximum over ``axis`` (all by default), NumPy's ``keepdims``."""
    a = as_tensor(a)
    if a.data.size == 0:
        raise ValueError(f"max: the tensor of shape {a.shape} is empty")
    axes = _normalize_axes("max", axis, a.data.ndim)
    return apply(Max(axes, bool(keepdims)), a)
