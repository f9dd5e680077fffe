"""Gradient clipping, as ``torch.nn.utils.clip_grad_norm_`` / ``clip_grad_value_``.

Unlike an optimizer step, clipping exists to change ``.grad``: both functions scale or clamp the
gradients in place (a read-only gradient array is replaced by a clipped copy).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _with_grads(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p for p in params if p.grad is not None]


def _writeable_grad(p: Tensor) -> Any:
    assert p.grad is not None
    if not p.grad.data.flags.writeable:
        p.grad = Tensor._make(np.array(p.grad.data, copy=True))
    return p.grad.data


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> Any:
    """Scale all gradients together so that their joint norm is at most ``max_norm``.

    total = ‖(‖g₁‖_p, …, ‖g_k‖_p)‖_p (the p-norm of all gradients as one vector; p = inf: the
    largest ``|g|``); each g ← g · min(1, max_norm / (total + 1e-6)), PyTorch's formula.

    Args:
        parameters: a Tensor or Tensors whose ``.grad`` to clip (None grads are skipped).
        max_norm: the largest allowed norm.
        norm_type: p of the p-norm (``float("inf")`` for the max norm).
        error_if_nonfinite: raise if the total norm is nan or inf.

    Returns:
        The total norm before clipping, a NumPy scalar of the gradients' dtype.

    Raises:
        RuntimeError: if ``error_if_nonfinite`` and the norm is not finite.

    Examples:
        >>> import numpy as np
        >>> w = Tensor(np.zeros(2)); w.grad = Tensor(np.array([3.0, 4.0]))
        >>> float(clip_grad_norm_([w], max_norm=1.0)), np.round(w.grad.data, 6)
        (5.0, array([0.6, 0.8]))
    """
    params = _with_grads(parameters)
    if not params:
        return np.float64(0.0)
    p_norm = float(norm_type)
    grads = [p.grad.data for p in params]  # type: ignore[union-attr]
    dtype = np.result_type(*grads)
    if p_norm == np.inf:
        norms = np.array([np.max(np.abs(g)) if g.size else 0 for g in grads], dtype=dtype)
        total = np.max(norms)
    else:
        norms = np.array([np.linalg.norm(g.reshape(-1), ord=p_norm) for g in grads], dtype=dtype)
        total = np.linalg.norm(norms, ord=p_norm)
    total = dtype.type(total)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is "
            f"{total}, so they cannot be clipped; pass error_if_nonfinite=False to go on"
        )
    coef = min(dtype.type(max_norm) / (total + dtype.type(1e-6)), dtype.type(1.0))
    for p in params:
        g = _writeable_grad(p)
        np.multiply(g, coef, out=g)
    return total


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clamp every gradient entry into [−clip_value, clip_value], in place.

    Raises:
        ValueError: on a negative clip_value.

    Examples:
        >>> import numpy as np
        >>> w = Tensor(np.zeros(3)); w.grad = Tensor(np.array([-5.0, 0.5, 2.0]))
        >>> clip_grad_value_(w, 1.0); w.grad.data
        array([-1. ,  0.5,  1. ])
    """
    if not clip_value >= 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value}")
    for p in _with_grads(parameters):
        g = _writeable_grad(p)
        np.clip(g, -clip_value, clip_value, out=g)
