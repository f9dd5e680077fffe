"""Adagrad: per-coordinate step sizes from the sum of all past squared gradients."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .optimizer import Optimizer, check_range
from .sgd import effective_grad, scratch

__all__ = ["Adagrad", "adagrad_update"]


def adagrad_update(
    params: list[Any],
    grads: list[Any],
    state_sums: list[Any],
    steps: list[int],
    *,
    lr: float,
    lr_decay: float = 0.0,
    weight_decay: float = 0.0,
    eps: float = 1e-10,
    maximize: bool = False,
    work: list[Any] | None = None,
) -> None:
    """Apply one Adagrad step in place (``steps[i]`` = t is 1 at the first update).

    With g = ±∇f + weight_decay·θ::

        lr_t = lr / (1 + (t − 1)·lr_decay);   G ← G + g²;   θ ← θ − lr_t · g/(√G + ε)

    Examples:
        >>> import numpy as np
        >>> p, s = np.array([1.0]), np.zeros(1)
        >>> adagrad_update([p], [np.array([4.0])], [s], [1], lr=0.5, eps=0.0)
        >>> p, s
        (array([0.5]), array([16.]))
    """
    for i, (param, grad) in enumerate(zip(params, grads, strict=True)):
        w = scratch(work, i, param)
        g = effective_grad(param, grad, weight_decay, maximize, w[0])
        clr = lr / (1 + (steps[i] - 1) * lr_decay)
        total = state_sums[i]
        np.multiply(g, g, out=w[1])
        np.add(total, w[1], out=total)
        np.sqrt(total, out=w[1])
        np.add(w[1], eps, out=w[1])
        np.divide(g, w[1], out=w[1])
        np.multiply(w[1], clr, out=w[1])
        np.subtract(param, w[1], out=param)


class Adagrad(Optimizer):
    """Adagrad with PyTorch's exact semantics and argument names (``torch.optim.Adagrad``).

    Update (t = 1 at the first step, g = ±∇f + weight_decay·θ, G₀ = initial_accumulator_value)::

        G ← G + g²;   θ ← θ − lr/(1 + (t−1)·lr_decay) · g/(√G + ε)

    First step (G₀ = 0, ε → 0): θ ← θ − lr·sign(g). Mapping: Adagrad is the lecture's Adam
    without bias correction with β₁ = 0 and a *sum* in place of the average (β₂ → 1, unscaled).

    Args:
        params: Tensors or param-group dicts.
        lr: learning rate (≥ 0).
        lr_decay: learning-rate decay (≥ 0).
        weight_decay: L2 penalty added to the gradient (≥ 0).
        initial_accumulator_value: initial value of G (≥ 0).
        eps: added to the denominator (≥ 0).
        maximize: maximize the objective.
        flat: use the flat fast path where possible.

    Raises:
        ValueError: on a bad hyperparameter, naming it and its value.

    Examples:
        >>> import numpy as np
        >>> from mlplab import Tensor
        >>> w = Tensor(np.array([1.0, 1.0]))
        >>> opt = Adagrad([w], lr=0.5, eps=0.0)
        >>> w.grad = Tensor(np.array([4.0, -0.25]))
        >>> opt.step(); w
        tensor([0.5, 1.5], dtype=float64)

    References:
        Duchi, Hazan & Singer, "Adaptive Subgradient Methods for Online Learning and Stochastic
        Optimization", JMLR 2011.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
        flat: bool = True,
    ) -> None:
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            eps=eps,
            maximize=maximize,
        )
        super().__init__(params, defaults, flat=flat)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        check_range("Adagrad", "lr_decay", group["lr_decay"], 0.0)
        check_range("Adagrad", "weight_decay", group["weight_decay"], 0.0)
        check_range("Adagrad", "initial_accumulator_value", group["initial_accumulator_value"], 0.0)
        check_range("Adagrad", "eps", group["eps"], 0.0)

    def _state_fill(self, group: dict[str, Any]) -> dict[str, float]:
        return {"sum": float(group["initial_accumulator_value"])}

    def _update(
        self,
        group: dict[str, Any],
        params: list[Any],
        grads: list[Any],
        state: dict[str, list[Any]],
        steps: list[int],
        work: list[Any] | None,
    ) -> None:
        adagrad_update(
            params,
            grads,
            state["sum"],
            steps,
            lr=group["lr"],
            lr_decay=group["lr_decay"],
            weight_decay=group["weight_decay"],
            eps=group["eps"],
            maximize=group["maximize"],
            work=work,
        )
