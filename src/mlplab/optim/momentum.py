"""The lecture's momentum methods: EMA momentum, bias-corrected ("unbiased") momentum, Nesterov."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from ..grad_mode import enable_grad
from .optimizer import Optimizer, check_range
from .sgd import effective_grad, scratch

__all__ = ["Momentum", "Nesterov", "momentum_update", "nesterov_lookahead_update"]


def momentum_update(
    params: list[Any],
    grads: list[Any],
    momentum_buffers: list[Any],
    steps: list[int],
    *,
    lr: float,
    beta: float,
    bias_correction: bool = False,
    weight_decay: float = 0.0,
    work: list[Any] | None = None,
) -> None:
    """Apply one EMA-momentum step in place (``steps[i]`` = t + 1, i.e. 1 at the first step).

        u ← βu + (1−β)g;   θ ← θ − αu,   or θ ← θ − αu/(1 − β^{t+1}) with bias correction

    Examples:
        >>> import numpy as np
        >>> p, u = np.array([1.0]), np.zeros(1)
        >>> momentum_update([p], [np.array([1.0])], [u], [1], lr=1.0, beta=0.75)
        >>> p, u
        (array([0.75]), array([0.25]))
    """
    for i, (param, grad) in enumerate(zip(params, grads, strict=True)):
        w = scratch(work, i, param)
        g = effective_grad(param, grad, weight_decay, False, w[0])
        u = momentum_buffers[i]
        np.multiply(u, beta, out=u)
        np.multiply(g, 1 - beta, out=w[1])
        np.add(u, w[1], out=u)
        np.multiply(u, lr, out=w[1])
        if bias_correction:
            np.divide(w[1], 1 - beta ** steps[i], out=w[1])
        np.subtract(param, w[1], out=param)


def nesterov_lookahead_update(
    params: list[Any],
    grads: list[Any],
    momentum_buffers: list[Any],
    *,
    lr: float,
    beta: float,
    work: list[Any] | None = None,
) -> None:
    """Nesterov in look-ahead coordinates φ = θ − αu, gradient g = ∇f(φ) taken at the params.

        u' = βu + (1−β)g;   φ ← φ − α(2u' − u);   u ← u'

    This is the lecture's Nesterov rewritten: φ_{t+1} = θ_{t+1} − αu_{t+1} = φ_t + αu_t − 2αu_{t+1}.

    Examples:
        >>> import numpy as np
        >>> p, u = np.array([1.0]), np.zeros(1)
        >>> nesterov_lookahead_update([p], [np.array([1.0])], [u], lr=1.0, beta=0.5)
        >>> p, u  # θ₁ = 1 − 0.5 = 0.5 and φ₁ = θ₁ − αu₁ = 0
        (array([0.]), array([0.5]))
    """
    for i, (param, g) in enumerate(zip(params, grads, strict=True)):
        w = scratch(work, i, param)
        u = momentum_buffers[i]
        np.copyto(w[1], u)
        np.multiply(u, beta, out=u)
        np.multiply(g, 1 - beta, out=w[0])
        np.add(u, w[0], out=u)
        np.multiply(u, 2, out=w[0])
        np.subtract(w[0], w[1], out=w[0])
        np.multiply(w[0], lr, out=w[0])
        np.subtract(param, w[0], out=param)


class Momentum(Optimizer):
    """Momentum in the lecture's EMA form, optionally bias-corrected ("unbiased momentum")::

        u_{t+1} = β u_t + (1−β) ∇f(θ_t),   u_0 = 0
        θ_{t+1} = θ_t − α u_{t+1}                         (bias_correction=False)
        θ_{t+1} = θ_t − α u_{t+1} / (1 − β^{t+1})        (bias_correction=True)

    t counts from 0 at the first step, so the first corrected step divides by (1 − β) and moves
    by exactly α∇f(θ_0), like gradient descent; the uncorrected first step moves by α(1−β)∇f(θ_0).

    Mapping to PyTorch: ``Momentum(lr=α, beta=β)`` equals
    :class:`~mlplab.optim.SGD` ``(lr=α·(1−β), momentum=β, dampening=0)`` at every step: PyTorch's
    buffer b_t = Σ β^{t−k} g_k starts at g_0 and is exactly u_t/(1−β) (tested numerically).

    Args:
        params: Tensors or param-group dicts.
        lr: the learning rate α (≥ 0).
        beta: the momentum β in [0, 1).
        bias_correction: divide u by (1 − β^{t+1}).
        weight_decay: optional L2 penalty added to the gradient (≥ 0; the lecture has none).
        flat: use the flat fast path where possible.

    Raises:
        ValueError: on a bad hyperparameter, naming it and its value.

    Examples:
        >>> import numpy as np
        >>> from mlplab import Tensor
        >>> w = Tensor(np.array([1.0]))
        >>> opt = Momentum([w], lr=1.0, beta=0.5, bias_correction=True)
        >>> w.grad = Tensor(np.array([0.5]))
        >>> opt.step(); w
        tensor([0.5], dtype=float64)
    """

    state_fill = {"momentum_buffer": 0.0}

    def __init__(
        self,
        params: Iterable[Any],
        lr: float,
        beta: float = 0.9,
        bias_correction: bool = False,
        weight_decay: float = 0.0,
        *,
        flat: bool = True,
    ) -> None:
        defaults = dict(
            lr=lr, beta=beta, bias_correction=bias_correction, weight_decay=weight_decay
        )
        super().__init__(params, defaults, flat=flat)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        check_range(self._name, "beta", group["beta"], 0.0, 1.0, open_high=True)
        check_range(self._name, "weight_decay", group.get("weight_decay", 0.0), 0.0)

    def _update(
        self,
        group: dict[str, Any],
        params: list[Any],
        grads: list[Any],
        state: dict[str, list[Any]],
        steps: list[int],
        work: list[Any] | None,
    ) -> None:
        momentum_update(
            params,
            grads,
            state["momentum_buffer"],
            steps,
            lr=group["lr"],
            beta=group["beta"],
            bias_correction=group["bias_correction"],
            weight_decay=group["weight_decay"],
            work=work,
        )


class Nesterov(Optimizer):
    """Nesterov momentum, the lecture's form, gradient taken at the look-ahead point::

        u_{t+1} = β u_t + (1−β) ∇f(θ_t − α u_t);   θ_{t+1} = θ_t − α u_{t+1}

    Two ways to call :meth:`step` (pick one for the whole run; mixing them raises):

    - ``step(closure)``: the parameters hold θ. The step moves them to θ − αu, calls the closure
      (PyTorch's convention: zero the grads, compute the loss, backward, return the loss), puts θ
      back bit for bit, and updates with the gradient the closure left in ``.grad``. It returns
      the closure's loss, which is f at the look-ahead point.
    - ``step()`` without a closure: the parameters hold the look-ahead point φ_t = θ_t − αu_t, so
      the gradient of an ordinary training loop is already taken there. The update is the same
      method rewritten for φ: u' = βu + (1−β)∇f(φ); φ ← φ − α(2u' − u). θ_t = φ_t + αu_t. At
      the start u_0 = 0, so φ_0 = θ_0; both ways visit the same θ (tested). To read or score θ,
      work inside ``with opt.at_theta():`` (the parameters hold θ there, φ again after, bit for
      bit), or take :meth:`theta`; :func:`~mlplab.train.evaluate` given the optimizer does it.

    There is no exact PyTorch counterpart: PyTorch's ``SGD(nesterov=True)`` takes the gradient at
    θ and looks ahead by the momentum part only.

    Args:
        params: Tensors or param-group dicts.
        lr: the learning rate α (≥ 0).
        beta: the momentum β in [0, 1).
        flat: use the flat fast path where possible.

    Raises:
        ValueError: on a bad hyperparameter, naming it and its value.
        RuntimeError: when steps with and without a closure are mixed.

    Examples:
        >>> import numpy as np
        >>> from mlplab import Tensor
        >>> w = Tensor(np.array([2.0]))
        >>> opt = Nesterov([w], lr=0.5, beta=0.5)
        >>> def closure():  # f(w) = w², gradient 2w at the look-ahead point
        ...     w.grad = Tensor(2 * w.data)
        ...     return float(w.data[0] ** 2)
        >>> opt.step(closure), w
        (4.0, tensor([1.], dtype=float64))
    """

    state_fill = {"momentum_buffer": 0.0}
    closure_kind = "backward"

    def __init__(
        self, params: Iterable[Any], lr: float, beta: float = 0.9, *, flat: bool = True
    ) -> None:
        super().__init__(params, dict(lr=lr, beta=beta), flat=flat)
        self._mode: str | None = None

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        check_range("Nesterov", "beta", group["beta"], 0.0, 1.0, open_high=True)

    def theta(self) -> list[Any]:
        """θ = φ + αu for every parameter, as new arrays (the parameters themselves if they hold
        θ: with a closure, or before the first step).

        Examples:
            >>> import numpy as np
            >>> from mlplab import Tensor
            >>> w = Tensor(np.array([1.0]))
            >>> opt = Nesterov([w], lr=1.0, beta=0.5)
            >>> w.grad = Tensor(np.array([1.0]))
            >>> opt.step()  # without a closure: w holds φ₁ = θ₁ − αu₁
            >>> w.data, opt.theta()[0]
            (array([0.]), array([0.5]))
        """
        result = []
        for group in self.param_groups:
            for p in group["params"]:
                entry = self.state.get(p)
                if self._mode != "lookahead" or entry is None:
                    result.append(p.data)
                else:
                    result.append(p.data + group["lr"] * entry["momentum_buffer"])
        return result

    @contextlib.contextmanager
    def at_theta(self) -> Iterator[None]:
        """Inside the block the parameters hold θ = φ + αu; on leaving, φ again, bit for bit.

        Examples:
            >>> import numpy as np
            >>> from mlplab import Tensor
            >>> w = Tensor(np.array([1.0]))
            >>> opt = Nesterov([w], lr=1.0, beta=0.5)
            >>> w.grad = Tensor(np.array([1.0]))
            >>> opt.step()
            >>> with opt.at_theta():
            ...     print(w.data)
            [0.5]
            >>> w.data
            array([0.])
        """
        params = [p for group in self.param_groups for p in group["params"]]
        saved = [(p, p.data.copy()) for p in params]
        for p, value in zip(params, self.theta(), strict=True):
            if value is not p.data:
                p.data[...] = value
        try:
            yield
        finally:
            for p, data in saved:
                p.data[...] = data

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Take one Nesterov step (see the class docstring for the two modes).

        Raises:
            RuntimeError: when this step passes a closure and the first did not, or the reverse.

        Examples:
            Both modes visit the same θ on f(w) = w² (gradient 2w):

            >>> import numpy as np
            >>> from mlplab import Tensor
            >>> a, b = Tensor(np.array([2.0])), Tensor(np.array([2.0]))
            >>> with_closure, lookahead = Nesterov([a], 0.25, 0.5), Nesterov([b], 0.25, 0.5)
            >>> def closure():
            ...     a.grad = Tensor(2 * a.data)
            ...     return float(a.data[0] ** 2)
            >>> for _ in range(3):
            ...     _ = with_closure.step(closure)
            ...     b.grad = Tensor(2 * b.data); lookahead.step()
            >>> bool(np.allclose(a.data, lookahead.theta()[0]))
            True
            >>> lookahead.step(closure)
            Traceback (most recent call last):
            ...
            RuntimeError: Nesterov: every step must omit the closure (the parameters hold θ − αu), \
got a step that passes it
        """
        mode = "closure" if closure is not None else "lookahead"
        if self._mode is None:
            self._mode = mode
        elif self._mode != mode:
            raise RuntimeError(
                f"Nesterov: every step must {'pass' if self._mode == 'closure' else 'omit'} the "
                f"closure (the parameters hold {'θ' if self._mode == 'closure' else 'θ − αu'}), "
                f"got a step that {'omits' if closure is None else 'passes'} it"
            )
        if closure is None:
            return super().step()
        saved = []
        for index, group in enumerate(self.param_groups):
            self._ensure_state(index, group)
            for p in group["params"]:
                saved.append((p, p.data.copy()))
                p.data -= group["lr"] * self.state[p]["momentum_buffer"]
        try:
            with enable_grad():
                loss = closure()
        finally:
            for p, data in saved:
                p.data[...] = data
        super().step()
        return loss

    def _update(
        self,
        group: dict[str, Any],
        params: list[Any],
        grads: list[Any],
        state: dict[str, list[Any]],
        steps: list[int],
        work: list[Any] | None,
    ) -> None:
        buffers = state["momentum_buffer"]
        if self._mode == "lookahead":
            nesterov_lookahead_update(
                params, grads, buffers, lr=group["lr"], beta=group["beta"], work=work
            )
        else:
            momentum_update(
                params, grads, buffers, steps, lr=group["lr"], beta=group["beta"], work=work
            )

    def state_dict(self) -> dict[str, Any]:
        """The base state plus the mode (``"closure"``, ``"lookahead"`` or None).

        Examples:
            >>> import numpy as np
            >>> from mlplab import Tensor
            >>> w = Tensor(np.array([1.0]))
            >>> opt = Nesterov([w], lr=1.0, beta=0.5)
            >>> opt.state_dict()["mode"]  # no step yet
            >>> w.grad = Tensor(np.array([1.0])); opt.step()
            >>> opt.state_dict()["mode"], opt.state_dict()["state"][0]["momentum_buffer"]
            ('lookahead', array([0.5]))
        """
        return super().state_dict() | {"mode": self._mode}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a :meth:`state_dict`, the mode included (a resumed run keeps its mode).

        Examples:
            >>> import numpy as np
            >>> from mlplab import Tensor
            >>> w = Tensor(np.array([1.0]))
            >>> opt = Nesterov([w], lr=1.0, beta=0.5)
            >>> w.grad = Tensor(np.array([1.0])); opt.step()
            >>> again = Nesterov([Tensor(w.data.copy())], lr=1.0, beta=0.5)
            >>> again.load_state_dict(opt.state_dict())
            >>> again.theta()[0], opt.theta()[0]  # φ + αu: the momentum came along
            (array([0.5]), array([0.5]))
        """
        super().load_state_dict(state_dict)
        self._mode = state_dict.get("mode")
