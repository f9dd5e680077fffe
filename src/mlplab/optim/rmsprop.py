"""RMSprop: divide the gradient by a running root mean square of its recent values."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .optimizer import Optimizer, check_range
from .sgd import effective_grad, scratch

__all__ = ["RMSprop", "rmsprop_update"]


def rmsprop_update(
    params: list[Any],
    grads: list[Any],
    square_avgs: list[Any],
    grad_avgs: list[Any] | None,
    momentum_buffers: list[Any] | None,
    *,
    lr: float,
    alpha: float,
    eps: float,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    centered: bool = False,
    maximize: bool = False,
    work: list[Any] | None = None,
) -> None:
    """Apply one RMSprop step in place, in PyTorch's op order.

    With g = ±∇f + weight_decay·θ::

        s ← αs + (1−α)g²
        centered: m ← m + (1−α)(g − m);  r = √(s − m²) + ε      otherwise  r = √s + ε
        momentum > 0: b ← momentum·b + g/r;  θ ← θ − lr·b       otherwise  θ ← θ − lr·g/r

    Examples:
        >>> import numpy as np
        >>> p, s = np.array([1.0]), np.zeros(1)
        >>> rmsprop_update([p], [np.array([2.0])], [s], None, None, lr=0.1, alpha=0.75, eps=0.0)
        >>> p, s  # first step: g/√((1−α)g²) = 1/√0.25
        (array([0.8]), array([1.]))
    """
    for i, (param, grad) in enumerate(zip(params, grads, strict=True)):
        w = scratch(work, i, param)
        g = effective_grad(param, grad, weight_decay, maximize, w[0])
        s = square_avgs[i]
        np.multiply(s, alpha, out=s)
        np.multiply(g, g, out=w[1])
        np.multiply(w[1], 1 - alpha, out=w[1])
        np.add(s, w[1], out=s)
        if centered:
            assert grad_avgs is not None
            m = grad_avgs[i]
            np.subtract(g, m, out=w[1])
            np.multiply(w[1], 1 - alpha, out=w[1])
            np.add(m, w[1], out=m)
            np.multiply(m, m, out=w[1])
            np.subtract(s, w[1], out=w[1])
            np.sqrt(w[1], out=w[1])
        else:
            np.sqrt(s, out=w[1])
        np.add(w[1], eps, out=w[1])
        np.divide(g, w[1], out=w[1])
        if momentum > 0:
            assert momentum_buffers is not None
            b = momentum_buffers[i]
            np.multiply(b, momentum, out=b)
            np.add(b, w[1], out=b)
            np.multiply(b, lr, out=w[1])
        else:
            np.multiply(w[1], lr, out=w[1])
        np.subtract(param, w[1], out=param)


class RMSprop(Optimizer):
    """RMSprop with PyTorch's exact semantics and argument names (``torch.optim.RMSprop``).

    Update (g = ±∇f + weight_decay·θ; s, m, b start at 0)::

        s ← αs + (1−α)g²;   r = √s + ε   (centered: m ← αm + (1−α)g, r = √(s − m²) + ε)
        θ ← θ − lr·g/r      (momentum μ > 0: b ← μb + g/r,  θ ← θ − lr·b)

    First step: θ ← θ − lr·g/(√(1−α)|g| + ε) ≈ θ − lr·sign(g)/√(1−α) (10·lr for α = 0.99);
    centered: s − m² = (1−α)αg², a step of lr/√((1−α)α).

    Mapping: with α = β₂ and no momentum it is the lecture's Adam without bias correction and with
    β₁ = 0 (θ ← θ − α g/(√v + ε)), to rounding.

    Args:
        params: Tensors or param-group dicts.
        lr: learning rate (≥ 0).
        alpha: smoothing constant of the square average (≥ 0).
        eps: added to the denominator (≥ 0).
        weight_decay: L2 penalty added to the gradient (≥ 0).
        momentum: momentum factor (≥ 0).
        centered: normalize by the estimated variance instead of the second moment.
        maximize: maximize the objective.
        flat: use the flat fast path where possible.

    Raises:
        ValueError: on a bad hyperparameter, naming it and its value.

    Examples:
        >>> import numpy as np
        >>> from mlplab import Tensor
        >>> w = Tensor(np.array([1.0]))
        >>> opt = RMSprop([w], lr=0.1, alpha=0.75, eps=0.0)
        >>> w.grad = Tensor(np.array([-3.0]))
        >>> opt.step(); w
        tensor([1.2], dtype=float64)

    References:
        Tieleman & Hinton, Lecture 6.5 of "Neural Networks for Machine Learning", 2012.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        *,
        maximize: bool = False,
        flat: bool = True,
    ) -> None:
        defaults = dict(
            lr=lr,
            alpha=alpha,
            eps=eps,
            weight_decay=weight_decay,
            momentum=momentum,
            centered=centered,
            maximize=maximize,
        )
        super().__init__(params, defaults, flat=flat)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        check_range("RMSprop", "alpha", group["alpha"], 0.0)
        check_range("RMSprop", "eps", group["eps"], 0.0)
        check_range("RMSprop", "weight_decay", group["weight_decay"], 0.0)
        check_range("RMSprop", "momentum", group["momentum"], 0.0)

    def _state_fill(self, group: dict[str, Any]) -> dict[str, float]:
        fill = {"square_avg": 0.0}
        if group["centered"]:
            fill["grad_avg"] = 0.0
        if group["momentum"] > 0:
            fill["momentum_buffer"] = 0.0
        return fill

    def _update(
        self,
        group: dict[str, Any],
        params: list[Any],
        grads: list[Any],
        state: dict[str, list[Any]],
        steps: list[int],
        work: list[Any] | None,
    ) -> None:
        rmsprop_update(
            params,
            grads,
            state["square_avg"],
            state.get("grad_avg"),
            state.get("momentum_buffer"),
            lr=group["lr"],
            alpha=group["alpha"],
            eps=group["eps"],
            weight_decay=group["weight_decay"],
            momentum=group["momentum"],
            centered=group["centered"],
            maximize=group["maximize"],
            work=work,
        )
