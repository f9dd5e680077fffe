"""Learning-rate schedules with ``torch.optim.lr_scheduler``'s names and semantics.

A scheduler rewrites ``group["lr"]`` of its optimizer's param groups. Construct it after the
optimizer (it records ``group["initial_lr"]`` and applies the value for epoch 0), then call
``scheduler.step()`` after each ``optimizer.step()`` (per epoch or per iteration, your choice).
The values follow PyTorch's recursive ("chainable") formulas, so the sequences agree with
PyTorch's to rounding; :meth:`LRScheduler.get_last_lr` returns the values now in use.
To resume, as in PyTorch: build the optimizer and the scheduler, then load the optimizer's state,
then the scheduler's (building a scheduler writes the lr of epoch 0 into the groups).

Examples:
    >>> import numpy as np
    >>> from mlplab import Tensor
    >>> from mlplab.optim import SGD
    >>> opt = SGD([Tensor(np.zeros(1))], lr=1.0)
    >>> sched = StepLR(opt, step_size=2, gamma=0.5)
    >>> lrs = []
    >>> for _ in range(5):
    ...     lrs.append(sched.get_last_lr()[0]); opt.step(); sched.step()
    >>> lrs
    [1.0, 1.0, 0.5, 0.5, 0.25]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .optimizer import Optimizer

__all__ = [
    "LRScheduler",
    "StepLR",
    "ExponentialLR",
    "CosineAnnealingLR",
    "LinearLR",
    "LambdaLR",
]


def _positive_int(owner: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive integer, got {value!r}")
    return value


class LRScheduler:
    """Base class: keeps ``last_epoch`` and ``base_lrs``, writes ``get_lr()`` into the groups.

    Args:
        optimizer: the optimizer whose learning rates to drive.
        last_epoch: index of the last epoch; -1 starts fresh. Any other value resumes, and needs
            ``"initial_lr"`` in every param group (as a loaded optimizer state has).

    Raises:
        TypeError: if ``optimizer`` is not an mlplab Optimizer.
        KeyError: when resuming without ``"initial_lr"``.

    Examples:
        A schedule is its ``get_lr``: here α halves every epoch.

        >>> import numpy as np
        >>> from mlplab import Tensor
        >>> from mlplab.optim import GD
        >>> class Halving(LRScheduler):
        ...     def get_lr(self):
        ...         return [base * 0.5**self.last_epoch for base in self.base_lrs]
        >>> opt = GD([Tensor(np.zeros(1))], lr=1.0)
        >>> sched = Halving(opt)
        >>> sched.step(); sched.step()
        >>> opt.param_groups[0]["lr"]
        0.25
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"{type(self).__name__}: expected an Optimizer, got {type(optimizer).__name__}"
            )
        self.optimizer = optimizer
        for i, group in enumerate(optimizer.param_groups):
            if last_epoch == -1:
                group.setdefault("initial_lr", group["lr"])
            elif "initial_lr" not in group:
                raise KeyError(
                    f"{type(self).__name__}: param_groups[{i}] has no 'initial_lr'; resuming with "
                    f"last_epoch={last_epoch} needs a loaded optimizer state"
                )
        self.base_lrs: list[float] = [g["initial_lr"] for g in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        self._is_initial = True
        self.step()
        self._is_initial = False

    def get_lr(self) -> list[float]:
        """Return the learning rates for the current ``last_epoch`` (subclasses).

        :meth:`step` calls it after advancing ``last_epoch`` and writes the values into the
        param groups; the base class has no schedule of its own.

        Examples:
            >>> import numpy as np
            >>> from mlplab import Tensor
            >>> from mlplab.optim import SGD
            >>> opt = SGD([Tensor(np.zeros(1))], lr=1.0)
            >>> LRScheduler(opt)
            Traceback (most recent call last):
            ...
            NotImplementedError
        """
        raise NotImplementedError

    def _current(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def step(self) -> None:
        """Advance one epoch and write the new learning rates into the param groups.

        Examples:
            >>> import numpy as np
            >>> from mlplab import Tensor
            >>> from mlplab.optim import SGD
            >>> opt = SGD([Tensor(np.zeros(1))], lr=1.0)
            >>> sched = StepLR(opt, step_size=1, gamma=0.1)
            >>> sched.step()
            >>> sched.last_epoch, opt.param_groups[0]["lr"]
            (1, 0.1)
        """
        self._step_count += 1
        self.last_epoch += 1
        values = self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values, strict=True):
            group["lr"] = lr
        self._last_lr = self._current()

    def get_last_lr(self) -> list[float]:
        """Return the learning rates the last :meth:`step` set, one per param group.

        Examples:
            >>> import numpy as np
            >>> from mlplab import Tensor
            >>> from mlplab.optim import SGD
            >>> opt = SGD([{"params": [Tensor(np.zeros(1))], "lr": 1.0},
            ...            {"params": [Tensor(np.zeros(1))], "lr": 0.1}], lr=1.0)
            >>> sched = ExponentialLR(opt, gamma=0.5)
            >>> sched.step(); sched.get_last_lr()
            [0.5, 0.05]
        """
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        """Return the scheduler's plain-valued state (no optimizer, no functions).

        Examples:
            >>> import numpy as np
            >>> from mlplab import Tensor
            >>> from mlplab.optim import SGD
            >>> opt = SGD([Tensor(np.zeros(1))], lr=1.0)
            >>> import json
            >>> sched = StepLR(opt, step_size=2, gamma=0.5)
            >>> sched.step()
            >>> state = sched.state_dict()
            >>> state["last_epoch"], state["base_lrs"], "optimizer" in state
            (1, [1.0], False)
            >>> json.loads(json.dumps(state)) == state  # plain values only
            True
        """
        return {
            k: (list(v) if isinstance(v, list) else v)
            for k, v in self.__dict__.items()
            if k not in ("optimizer", "lr_lambdas")
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a :meth:`state_dict` (after the optimizer's own state, as in PyTorch).

        Examples:
            Resume a schedule in a fresh optimizer and scheduler:

            >>> import numpy as np
            >>> from mlplab import Tensor
            >>> from mlplab.optim import SGD
            >>> opt = SGD([Tensor(np.zeros(1))], lr=1.0)
            >>> sched = StepLR(opt, step_size=2, gamma=0.5)
            >>> sched.step(); sched.step(); sched.step()
            >>> opt2 = SGD([Tensor(np.zeros(1))], lr=1.0)
            >>> opt2.load_state_dict(opt.state_dict())
            >>> resumed = StepLR(opt2, step_size=2, gamma=0.5)
            >>> resumed.load_state_dict(sched.state_dict())
            >>> resumed.step(); sched.step()
            >>> resumed.get_last_lr() == sched.get_last_lr() == [0.25]
            True
        """
        self.__dict__.update({k: v for k, v in state_dict.items() if k != "lr_lambdas"})


class StepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs: lr₀·γ^⌊epoch/step_size⌋.

    Examples:
        >>> import numpy as np
        >>> from mlplab import Tensor
        >>> from mlplab.optim import SGD
        >>> sched = StepLR(SGD([Tensor(np.zeros(1))], lr=1.0), step_size=1, gamma=0.5)
        >>> sched.step(); sched.get_last_lr()
        [0.5]
    """

    def __init__(
        self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        self.step_size = _positive_int("StepLR", "step_size", step_size)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """The current lr, times γ at every multiple of ``step_size`` (PyTorch's chainable form).

        Examples:
            >>> import numpy as np
            >>> from mlplab import Tensor
            >>> from mlplab.optim import SGD
            >>> opt = SGD([Tensor(np.zeros(1))], lr=1.0)
            >>> sched = StepLR(opt, step_size=3, gamma=0.1)
            >>> lrs = []
            >>> for _ in range(7):
            ...     lrs.append(round(sched.get_last_lr()[0], 12)); sched.step()
            >>> lrs
            [1.0, 1.0, 1.0, 0.1, 0.1, 0.1, 0.01]
        """
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current()
        return [lr * self.gamma for lr in self._current()]


class ExponentialLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every epoch: lr₀·γ^epoch.

    Examples:
        >>> import numpy as np
        >>> from mlplab import Tensor
        >>> from mlplab.optim import SGD
        >>> sched = ExponentialLR(SGD([Tensor(np.zeros(1))], lr=1.0), gamma=0.5)
        >>> sched.step(); sched.step(); sched.get_last_lr()
        [0.25]
    """

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """The current lr times γ (chainable: an lr set by hand decays from there on).

        Examples:
            >>> import numpy as np
            >>> from mlplab import Tensor
            >>> from mlplab.optim import SGD
            >>> opt = SGD([Tensor(np.zeros(1))], lr=1.0)
            >>> sched = ExponentialLR(opt, gamma=0.5)
            >>> opt.param_groups[0]["lr"] = 10.0  # changed by hand between two steps
            >>> sched.step(); sched.get_last_lr()
            [5.0]
        """
        if self._is_initial:
            return self._current()
        return [lr * self.gamma for lr in self._current()]


class CosineAnnealingLR(LRScheduler):
    """Cosine annealing from lr₀ down to ``eta_min`` over ``T_max`` epochs (then back up)::

        lr_e = η_min + (lr₀ − η_min)(1 + cos(π e / T_max))/2

    computed with PyTorch's recursive update, so the numbers match ``torch``'s sequence.

    Examples:
        >>> import numpy as np
        >>> from mlplab import Tensor
        >>> from mlplab.optim import SGD
        >>> sched = CosineAnnealingLR(SGD([Tensor(np.zeros(1))], lr=1.0), T_max=2)
        >>> sched.step(); round(sched.get_last_lr()[0], 12)
        0.5
    """

    def __init__(
        self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1
    ) -> None:
        self.T_max = _positive_int("CosineAnnealingLR", "T_max", T_max)
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """The cosine value of the next epoch, by PyTorch's recursion (equal to the closed form).

        Examples:
            >>> import numpy as np
            >>> from mlplab import Tensor
            >>> from mlplab.optim import SGD
            >>> opt = SGD([Tensor(np.zeros(1))], lr=1.0)
            >>> import math
            >>> sched = CosineAnnealingLR(opt, T_max=4, eta_min=0.1)
            >>> lrs = [sched.get_last_lr()[0]]
            >>> for _ in range(4):
            ...     sched.step(); lrs.append(sched.get_last_lr()[0])
            >>> closed = [0.1 + 0.9 * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(5)]
            >>> max(abs(a - b) for a, b in zip(lrs, closed)) < 1e-12, round(lrs[-1], 12)
            (True, 0.1)
        """
        e, t_max, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._current()
        if self._step_count == 1 and e > 0:
            return [
                eta_min + (base - eta_min) * (1 + math.cos(e * math.pi / t_max)) / 2
                for base in self.base_lrs
            ]
        if (e - 1 - t_max) % (2 * t_max) == 0:
            return [
                lr + (base - eta_min) * (1 - math.cos(math.pi / t_max)) / 2
                for base, lr in zip(self.base_lrs, self._current(), strict=True)
            ]
        return [
            (1 + math.cos(math.pi * e / t_max))
            / (1 + math.cos(math.pi * (e - 1) / t_max))
            * (lr - eta_min)
            + eta_min
            for lr in self._current()
        ]


class LinearLR(LRScheduler):
    """Scale the learning rate linearly from ``start_factor`` to ``end_factor`` (warm-up)::

        lr_e = lr₀ · (start + (end − start) · min(e, total_iters) / total_iters)

    Examples:
        >>> import numpy as np
        >>> from mlplab import Tensor
        >>> from mlplab.optim import SGD
        >>> sched = LinearLR(SGD([Tensor(np.zeros(1))], lr=1.0), start_factor=0.5, total_iters=2)
        >>> out = [sched.get_last_lr()[0]]
        >>> for _ in range(3):
        ...     sched.step(); out.append(sched.get_last_lr()[0])
        >>> out
        [0.5, 0.75, 1.0, 1.0]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        if not 0 < start_factor <= 1:
            raise ValueError(f"LinearLR: start_factor must be in (0, 1], got {start_factor}")
        if not 0 <= end_factor <= 1:
            raise ValueError(f"LinearLR: end_factor must be in [0, 1], got {end_factor}")
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = _positive_int("LinearLR", "total_iters", total_iters)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """The current lr times the ratio of this epoch's factor to the last one's.

        Examples:
            >>> import numpy as np
            >>> from mlplab import Tensor
            >>> from mlplab.optim import SGD
            >>> opt = SGD([Tensor(np.zeros(1))], lr=1.0)
            >>> sched = LinearLR(opt, start_factor=0.25, total_iters=3)
            >>> lrs = [sched.get_last_lr()[0]]
            >>> for _ in range(4):
            ...     sched.step(); lrs.append(round(sched.get_last_lr()[0], 12))
            >>> lrs  # lr₀ · (¼ + ¾ · min(e, 3)/3)
            [0.25, 0.5, 0.75, 1.0, 1.0]
        """
        if self.last_epoch == 0:
            return [lr * self.start_factor for lr in self._current()]
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._current()
        change = self.end_factor - self.start_factor
        factor = 1.0 + change / (
            self.total_iters * self.start_factor + (self.last_epoch - 1) * change
        )
        return [lr * factor for lr in self._current()]


class LambdaLR(LRScheduler):
    """Set lr = lr₀ · λ(epoch) for a function λ (or one function per param group).

    The functions are code, so :meth:`state_dict` leaves them out: pass them again on resume.

    Examples:
        >>> import numpy as np
        >>> from mlplab import Tensor
        >>> from mlplab.optim import SGD
        >>> sched = LambdaLR(SGD([Tensor(np.zeros(1))], lr=2.0), lambda e: 1 / (e + 1))
        >>> sched.step(); sched.get_last_lr()
        [1.0]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        lr_lambda: Callable[[int], float] | list[Callable[[int], float]],
        last_epoch: int = -1,
    ) -> None:
        n = len(optimizer.param_groups)
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != n:
                raise ValueError(f"LambdaLR: expected {n} lr_lambdas, got {len(lr_lambda)}")
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * n
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """lr₀ · λ(epoch) for each param group, with that group's function.

        Examples:
            >>> import numpy as np
            >>> from mlplab import Tensor
            >>> from mlplab.optim import SGD
            >>> groups = [{"params": [Tensor(np.zeros(1))]} for _ in range(2)]
            >>> opt = SGD(groups, lr=1.0)
            >>> sched = LambdaLR(opt, [lambda e: 0.5**e, lambda e: 1.0 / (1 + e)])
            >>> sched.step(); sched.step(); sched.get_last_lr()
            [0.25, 0.3333333333333333]
        """
        return [
            base * fn(self.last_epoch)
            for fn, base in zip(self.lr_lambdas, self.base_lrs, strict=True)
        ]
