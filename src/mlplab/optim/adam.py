"""Adam and AdamW: momentum on the gradient, scaled by a running estimate of its magnitude."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .optimizer import Optimizer, check_range
from .sgd import effective_grad, scratch

__all__ = ["Adam", "AdamW", "adam_update"]


def adam_update(
    params: list[Any],
    grads: list[Any],
    exp_avgs: list[Any],
    exp_avg_sqs: list[Any],
    max_exp_avg_sqs: list[Any] | None,
    steps: list[int],
    *,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float = 0.0,
    decoupled_weight_decay: bool = False,
    amsgrad: bool = False,
    bias_correction: bool = True,
    maximize: bool = False,
    work: list[Any] | None = None,
) -> None:
    """Apply one Adam step in place (``steps[i]`` = t is 1 at a tensor's first update).

    With g = ±∇f (+ weight_decay·θ unless decoupled, where θ ← θ·(1 − lr·weight_decay) first)::

        u ← β₁u + (1−β₁)g;   v ← β₂v + (1−β₂)g²;   (amsgrad: v_max ← max(v_max, v), used for v)
        bias_correction:  θ ← θ − (lr/(1−β₁ᵗ)) · u / (√v/√(1−β₂ᵗ) + ε)    (PyTorch's op order)
        otherwise:        θ ← θ − lr · u / (√v + ε)                        (the lecture, verbatim)

    Examples:
        >>> import numpy as np
        >>> p, m, v = np.array([1.0]), np.zeros(1), np.zeros(1)
        >>> adam_update([p], [np.array([3.0])], [m], [v], None, [1], lr=0.1,
        ...             beta1=0.9, beta2=0.999, eps=0.0)
        >>> p  # the first bias-corrected step moves every coordinate by lr
        array([0.9])
    """
    for i, (param, grad) in enumerate(zip(params, grads, strict=True)):
        w = scratch(work, i, param)
        if decoupled_weight_decay:
            if weight_decay != 0:
                np.multiply(param, 1 - lr * weight_decay, out=param)
            g = effective_grad(param, grad, 0.0, maximize, w[0])
        else:
            g = effective_grad(param, grad, weight_decay, maximize, w[0])
        u, v = exp_avgs[i], exp_avg_sqs[i]
        np.multiply(u, beta1, out=u)
        np.multiply(g, 1 - beta1, out=w[1])
        np.add(u, w[1], out=u)
        np.multiply(v, beta2, out=v)
        np.multiply(g, g, out=w[1])
        np.multiply(w[1], 1 - beta2, out=w[1])
        np.add(v, w[1], out=v)
        if amsgrad:
            assert max_exp_avg_sqs is not None
            v = np.maximum(max_exp_avg_sqs[i], v, out=max_exp_avg_sqs[i])
        denom = np.sqrt(v, out=w[0])  # g is no longer needed: reuse its space
        if bias_correction:
            t = steps[i]
            step_size = lr / (1 - beta1**t)
            np.divide(denom, (1 - beta2**t) ** 0.5, out=denom)
            np.add(denom, eps, out=denom)
            np.divide(u, denom, out=w[1])
            np.multiply(w[1], step_size, out=w[1])
        else:
            np.add(denom, eps, out=denom)
            np.multiply(u, lr, out=w[1])
            np.divide(w[1], denom, out=w[1])
        np.subtract(param, w[1], out=param)


class Adam(Optimizer):
    """Adam: the lecture's adaptive method; PyTorch's numbers when ``bias_correction=True``.

    Update (t = 1 at the first step; the lecture's t = 0 is our t = 1), g = ±∇f + weight_decay·θ::

        u ← β₁u + (1−β₁)g;   v ← β₂v + (1−β₂)g²
        θ ← θ − α û/(√v̂ + ε),   û = u/(1−β₁ᵗ),  v̂ = v/(1−β₂ᵗ)      (bias_correction=True)
        θ ← θ − α u/(√v + ε)                                        (bias_correction=False)

    ``bias_correction=True`` is evaluated in PyTorch's order, (α/(1−β₁ᵗ))·u/(√v/√(1−β₂ᵗ) + ε),
    and matches ``torch.optim.Adam`` (same arguments) to rounding; ``weight_decay`` is the L2
    form (added to the gradient), as in PyTorch. ``bias_correction=False`` is the lecture's
    formula verbatim.

    First step (ε → 0): with bias correction every coordinate moves by α·sign(g); without it
    by α·(1−β₁)/√(1−β₂) · sign(g) (≈ 3.16 α for the defaults).

    Args:
        params: Tensors or param-group dicts.
        lr: step size α (≥ 0).
        betas: (β₁, β₂), each in [0, 1).
        eps: ε added to the denominator (≥ 0).
        weight_decay: L2 penalty added to the gradient (≥ 0).
        amsgrad: use the running maximum of v (AMSGrad).
        bias_correction: divide the moments by (1 − βᵗ).
        maximize: maximize the objective.
        flat: use the flat fast path where possible.

    Raises:
        ValueError: on a bad hyperparameter, naming it and its value.

    Examples:
        >>> import numpy as np
        >>> from mlplab import Tensor
        >>> w = Tensor(np.array([1.0, 1.0]))
        >>> opt = Adam([w], lr=0.1, eps=0.0)
        >>> w.grad = Tensor(np.array([5.0, -0.01]))
        >>> opt.step(); w
        tensor([0.9, 1.1], dtype=float64)

    References:
        Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015.
        Reddi et al., "On the Convergence of Adam and Beyond", ICLR 2018 (AMSGrad).
    """

    decoupled_weight_decay = False

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        bias_correction: bool = True,
        maximize: bool = False,
        flat: bool = True,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            bias_correction=bias_correction,
            maximize=maximize,
        )
        super().__init__(params, defaults, flat=flat)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        name = self._name
        betas = group["betas"]
        if len(betas) != 2:
            raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}")
        group["betas"] = tuple(betas)
        check_range(name, "beta1", betas[0], 0.0, 1.0, open_high=True)
        check_range(name, "beta2", betas[1], 0.0, 1.0, open_high=True)
        check_range(name, "eps", group["eps"], 0.0)
        check_range(name, "weight_decay", group["weight_decay"], 0.0)

    def _state_fill(self, group: dict[str, Any]) -> dict[str, float]:
        fill = {"exp_avg": 0.0, "exp_avg_sq": 0.0}
        if group["amsgrad"]:
            fill["max_exp_avg_sq"] = 0.0
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
        beta1, beta2 = group["betas"]
        adam_update(
            params,
            grads,
            state["exp_avg"],
            state["exp_avg_sq"],
            state.get("max_exp_avg_sq"),
            steps,
            lr=group["lr"],
            beta1=beta1,
            beta2=beta2,
            eps=group["eps"],
            weight_decay=group["weight_decay"],
            decoupled_weight_decay=self.decoupled_weight_decay,
            amsgrad=group["amsgrad"],
            bias_correction=group["bias_correction"],
            maximize=group["maximize"],
            work=work,
        )


class AdamW(Adam):
    """Adam with decoupled weight decay, as ``torch.optim.AdamW``.

    Update: θ ← θ·(1 − lr·weight_decay) first, then the :class:`Adam` step with the plain
    gradient (no L2 term). With ``weight_decay=0`` it is exactly :class:`Adam`.

    Args:
        params: Tensors or param-group dicts.
        lr: step size (≥ 0).
        betas: (β₁, β₂), each in [0, 1).
        eps: ε added to the denominator (≥ 0).
        weight_decay: decoupled decay rate (≥ 0; PyTorch's default 1e-2).
        amsgrad: use the running maximum of v.
        bias_correction: divide the moments by (1 − βᵗ).
        maximize: maximize the objective.
        flat: use the flat fast path where possible.

    Examples:
        >>> import numpy as np
        >>> from mlplab import Tensor
        >>> w = Tensor(np.array([2.0]))
        >>> opt = AdamW([w], lr=0.1, weight_decay=0.5, eps=0.0)
        >>> w.grad = Tensor(np.array([1.0]))
        >>> opt.step(); w  # 2·(1 − 0.05) − 0.1
        tensor([1.8], dtype=float64)

    References:
        Loshchilov & Hutter, "Decoupled Weight Decay Regularization", ICLR 2019.
    """

    decoupled_weight_decay = True

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        bias_correction: bool = True,
        maximize: bool = False,
        flat: bool = True,
    ) -> None:
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            bias_correction=bias_correction,
            maximize=maximize,
            flat=flat,
        )
