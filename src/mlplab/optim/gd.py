"""Gradient descent, the lecture's first optimizer: θ ← θ − α∇f(θ)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .optimizer import Optimizer, check_range
from .sgd import effective_grad, scratch

__all__ = ["GD", "gd_update"]


def gd_update(
    params: list[Any],
    grads: list[Any],
    *,
    lr: float,
    weight_decay: float = 0.0,
    work: list[Any] | None = None,
) -> None:
    """Apply θ ← θ − α·g in place, g = ∇f + weight_decay·θ.

    Examples:
        >>> import numpy as np
        >>> p = np.array([1.0, 2.0])
        >>> gd_update([p], [np.array([1.0, -1.0])], lr=0.5)
        >>> p
        array([0.5, 2.5])
    """
    for i, (param, grad) in enumerate(zip(params, grads, strict=True)):
        w = scratch(work, i, param)
        g = effective_grad(param, grad, weight_decay, False, w[0])
        np.multiply(g, lr, out=w[1])
        np.subtract(param, w[1], out=param)


class GD(Optimizer):
    """Gradient descent (fed minibatch gradients it is minibatch SGD)::

        θ_{t+1} = θ_t − α ∇f(θ_t)

    On a quadratic ½θᵀPθ + qᵀθ it converges iff 0 < α < 2/λ_max(P). Equals
    :class:`~mlplab.optim.SGD` ``(lr=α)`` with no momentum, number for number.

    Args:
        params: Tensors or param-group dicts.
        lr: the learning rate α (≥ 0).
        weight_decay: optional L2 penalty added to the gradient (≥ 0; the lecture has none).
        flat: use the flat fast path where possible.

    Raises:
        ValueError: on a negative lr or weight_decay.

    Examples:
        >>> import numpy as np
        >>> from mlplab import Tensor
        >>> w = Tensor(np.array([1.0]))
        >>> opt = GD([w], lr=0.25)
        >>> w.grad = Tensor(np.array([2.0]))
        >>> opt.step(); w
        tensor([0.5], dtype=float64)
    """

    def __init__(
        self, params: Iterable[Any], lr: float, weight_decay: float = 0.0, *, flat: bool = True
    ) -> None:
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay), flat=flat)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        check_range("GD", "weight_decay", group["weight_decay"], 0.0)

    def _update(
        self,
        group: dict[str, Any],
        params: list[Any],
        grads: list[Any],
        state: dict[str, list[Any]],
        steps: list[int],
        work: list[Any] | None,
    ) -> None:
        gd_update(params, grads, lr=group["lr"], weight_decay=group["weight_decay"], work=work)
