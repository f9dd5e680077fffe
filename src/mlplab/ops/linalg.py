"""The matrix product with NumPy semantics (1-D operands, broadcast batch dimensions)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor
from .core import Op, apply, as_tensor
from .elementwise import _promote
from .shape import _TRANSPOSE_2D, reshape, sum_to, swap_last


class MatMul(Op):
    """a @ b with NumPy semantics: 1-D operands and broadcast batch dimensions.

    With ``A = a`` (…, n, k) and ``B = b`` (…, k, m):  ∂/∂A = G Bᵀ,  ∂/∂B = Aᵀ G, each summed
    over the batch dimensions its input was broadcast along. A 1-D ``a`` is a row (1, k) and a
    1-D ``b`` a column (k, 1) during the computation, as in NumPy.
    """

    __slots__ = ()

    def forward(self, a: Any, b: Any) -> Any:
        return a @ b

    def vjp(self, g: Tensor, out: Tensor, a: Tensor, b: Tensor) -> tuple[Tensor | None, ...]:
        if a.data.ndim == 2 and b.data.ndim == 2:
            # The MLP case: G Bᵀ and Aᵀ G; the shapes are known to agree, so the primitives are
            # applied directly, without the general path's reshapes, sum_to and validation.
            return (
                apply(_MATMUL, g, apply(_TRANSPOSE_2D, b)) if a.requires_grad else None,
                apply(_MATMUL, apply(_TRANSPOSE_2D, a), g) if b.requires_grad else None,
            )
        a2 = a if a.ndim > 1 else reshape(a, (1, a.shape[0]))
        b2 = b if b.ndim > 1 else reshape(b, (b.shape[0], 1))
        g_shape = out.shape
        if a.ndim == 1:
            g_shape = g_shape[:-1] + (1,) + g_shape[-1:] if b.ndim > 1 else g_shape + (1,)
        if b.ndim == 1:
            g_shape = g_shape + (1,)
        g2 = reshape(g, g_shape) if g_shape != g.shape else g
        ga = gb = None
        if a.requires_grad:
            ga = reshape(sum_to(matmul(g2, swap_last(b2)), a2.shape), a.shape)
        if b.requires_grad:
            gb = reshape(sum_to(matmul(swap_last(a2), g2), b2.shape), b.shape)
        return ga, gb


_MATMUL = MatMul()


def matmul(a: Tensor, b: Tensor) -> Tensor:
    """Return the matrix product a @ b (NumPy semantics).

    Raises:
        ValueError: when the inner dimensions differ, naming both shapes.

    Examples:
        >>> import mlplab
        >>> matmul(mlplab.tensor([[1.0, 2.0]]), mlplab.tensor([[3.0], [4.0]]))
        tensor([[11.]])
    """
    a, b = as_tensor(a), as_tensor(b)
    if a.data.ndim == 0 or b.data.ndim == 0:
        raise ValueError(f"matmul: operands must be at least 1-D, got {a.shape} @ {b.shape}")
    k_b = b.data.shape[0] if b.data.ndim == 1 else b.data.shape[-2]
    if a.data.shape[-1] != k_b:
        raise ValueError(f"matmul: inner dimensions differ: {a.shape} @ {b.shape}")
    if a.data.dtype != b.data.dtype:
        a, b = _promote(a, b)
    if a.data.ndim > 2 or b.data.ndim > 2:
        try:
            np.broadcast_shapes(a.data.shape[:-2], b.data.shape[:-2])
        except ValueError:
            raise ValueError(
                f"matmul: batch dimensions cannot be broadcast together: {a.shape} @ {b.shape}"
            ) from None
    return apply(_MATMUL, a, b)
