"""PyTorch's SGD: momentum with a buffer that starts at the first gradient, dampening, Nesterov.

Also home of :func:`effective_grad`, the "gradient the kernel sees" shared by the PyTorch forms:
``±grad + weight_decay * param``, computed into scratch space so that ``.grad`` is never written.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable
from typing import Any

import numpy as np

from .flat import FlatGroup
from .optimizer import Optimizer, check_range

__all__ = ["SGD", "sgd_update", "effective_grad", "scratch"]

_DTYPE = operator.attrgetter("dtype")


def scratch(work: list[Any] | None, i: int, like: Any) -> Any:
    """Two scratch arrays shaped like ``like``: ``work[i]`` if given, else freshly allocated."""
    if work is not None:
        return work[i]
    return np.empty((2, *like.shape), dtype=like.dtype)


def effective_grad(param: Any, grad: Any, weight_decay: float, maximize: bool, out: Any) -> Any:
    """Return ``g = (-grad if maximize else grad) + weight_decay * param`` without writing ``grad``.

    Returns ``grad`` itself when there is nothing to add; otherwise writes into ``out``.

    Examples:
        >>> import numpy as np
        >>> effective_grad(np.ones(2), np.full(2, 3.0), 0.5, True, np.empty(2))
        array([-2.5, -2.5])
    """
    if weight_decay == 0 and not maximize:
        return grad
    if weight_decay == 0:
        return np.negative(grad, out=out)
    np.multiply(param, weight_decay, out=out)
    if maximize:
        return np.subtract(out, grad, out=out)
    return np.add(out, grad, out=out)


def sgd_update(
    params: list[Any],
    grads: list[Any],
    momentum_buffers: list[Any],
    steps: list[int],
    *,
    lr: float,
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
    maximize: bool = False,
    work: list[Any] | None = None,
) -> None:
    """Apply one PyTorch SGD step in place (``steps[i]`` is 1 at a tensor's first update).

    With ``g = ±grad + weight_decay·θ``:

        b ← g                           at the first step (t = 1)
        b ← momentum·b + (1 − dampening)·g   after
        d ← g + momentum·b  if nesterov, else b   (d = g when momentum = 0)
        θ ← θ − lr·d

    Examples:
        >>> import numpy as np
        >>> p, b = np.array([1.0]), np.zeros(1)
        >>> sgd_update([p], [np.array([2.0])], [b], [1], lr=0.1, momentum=0.9)
        >>> p, b
        (array([0.8]), array([2.]))
    """
    for i, (param, grad) in enumerate(zip(params, grads, strict=True)):
        w = scratch(work, i, param)
        g = effective_grad(param, grad, weight_decay, maximize, w[0])
        d = g
        if momentum != 0:
            buf = momentum_buffers[i]
            if steps[i] == 1:
                buf[...] = g
            else:
                np.multiply(buf, momentum, out=buf)
                if dampening == 0:  # b·μ + g: the same numbers, one pass fewer, no scratch
                    np.add(buf, g, out=buf)
                else:
                    np.multiply(g, 1 - dampening, out=w[1])
                    np.add(buf, w[1], out=buf)
            if nesterov:
                np.multiply(buf, momentum, out=w[1])
                d = np.add(g, w[1], out=w[1])
            else:
                d = buf
        np.multiply(d, lr, out=w[1])
        np.subtract(param, w[1], out=param)


class SGD(Optimizer):
    """Stochastic gradient descent with PyTorch's exact semantics and argument names.

    Update (t = 1 at the first step, g = ±∇f + weight_decay·θ)::

        b_1 = g_1;   b_t = momentum·b_{t−1} + (1 − dampening)·g_t
        θ ← θ − lr·(g_t + momentum·b_t)   if nesterov   else   θ ← θ − lr·b_t

    First step: θ ← θ − lr·g (nesterov: θ ← θ − lr·(1 + momentum)·g), whatever the dampening.

    Mapping to the lecture: :class:`~mlplab.optim.Momentum` ``(lr=α, beta=β)`` is exactly
    ``SGD(lr=α·(1−β), momentum=β, dampening=0)``: since b starts at g₁, b_t = u_t/(1−β) at every
    t, including the first (tested numerically). With ``momentum=0`` this is the lecture's
    gradient descent :class:`~mlplab.optim.GD`. PyTorch's ``nesterov=True`` evaluates the
    gradient at θ, not at the lecture's look-ahead point; it is not the lecture's Nesterov.

    Args:
        params: Tensors or param-group dicts.
        lr: learning rate (≥ 0).
        momentum: momentum factor (≥ 0).
        dampening: dampening for momentum (applied from the second step on).
        weight_decay: L2 penalty added to the gradient (≥ 0).
        nesterov: use PyTorch's Nesterov form; needs momentum > 0 and dampening = 0.
        maximize: maximize the objective instead of minimizing it.
        flat: use the flat fast path where possible.

    Raises:
        ValueError: on a bad hyperparameter, naming it and its value.

    Examples:
        >>> import numpy as np
        >>> from mlplab import Tensor
        >>> w = Tensor(np.array([1.0, -2.0]))
        >>> opt = SGD([w], lr=0.5, momentum=0.9)
        >>> w.grad = Tensor(np.array([1.0, 1.0]))
        >>> opt.step(); w
        tensor([ 0.5, -2.5], dtype=float64)
    """

    state_fill = {"momentum_buffer": 0.0}

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        flat: bool = True,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
        )
        super().__init__(params, defaults, flat=flat)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        check_range("SGD", "momentum", group["momentum"], 0.0)
        check_range("SGD", "weight_decay", group["weight_decay"], 0.0)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                f"SGD: nesterov requires momentum > 0 and dampening = 0, got "
                f"momentum={group['momentum']}, dampening={group['dampening']}"
            )

    def _state_fill(self, group: dict[str, Any]) -> dict[str, float]:
        return {"momentum_buffer": 0.0} if group["momentum"] != 0 else {}

    def _step_flat(self, group: dict[str, Any], fg: FlatGroup, grads: list[Any], t: int) -> None:
        """Plain momentum reads g once (b ← g, or b ← momentum·b + g): add it where it lies.

        The gathered path copies every small gradient into the flat buffer and then adds the
        buffer; here each gradient is added straight into its part of the momentum buffer, the
        same operations in the same order as :func:`sgd_update` (bit for bit), one pass over
        memory fewer. Then θ ← θ − lr·b runs on the flat vectors. Dampening (after the first
        step), Nesterov, weight decay and maximize read g again, a gradient of another dtype is
        rounded to the buffer's first, and gradients that already lie in the flat buffer
        (``zero_grad(set_to_none=False)``) need no gathering: those take the gathered path.
        """
        momentum, lr = group["momentum"], group["lr"]
        if (
            momentum == 0
            or group["nesterov"]
            or group["weight_decay"] != 0
            or group["maximize"]
            or (t > 1 and group["dampening"] != 0)
            or set(map(_DTYPE, grads)) != {fg.param.dtype}
            or all(map(operator.is_, grads, fg.grad_views))  # already flat: nothing to gather
        ):
            super()._step_flat(group, fg, grads, t)
            return
        params, buffers, work = fg.param_blocks, fg.state_blocks["momentum_buffer"], fg.work_blocks

        def decay(a: int, b: int) -> None:
            for i in range(a, b):
                buffers[i] *= momentum

        def descend(a: int, b: int) -> None:
            for i in range(a, b):
                np.multiply(buffers[i], lr, out=work[i])
                params[i] -= work[i]

        if t == 1:
            for buf, g in zip(fg.state_views["momentum_buffer"], grads, strict=True):
                buf[...] = g
        else:
            fg.share_out(decay, len(buffers))
            fg.add_grads("momentum_buffer", grads)
        fg.share_out(descend, len(buffers))

    def _update(
        self,
        group: dict[str, Any],
        params: list[Any],
        grads: list[Any],
        state: dict[str, list[Any]],
        steps: list[int],
        work: list[Any] | None,
    ) -> None:
        sgd_update(
            params,
            grads,
            state.get("momentum_buffer", [None] * len(params)),
            steps,
            lr=group["lr"],
            momentum=group["momentum"],
            dampening=group["dampening"],
            weight_decay=group["weight_decay"],
            nesterov=group["nesterov"],
            maximize=group["maximize"],
            work=work,
        )
