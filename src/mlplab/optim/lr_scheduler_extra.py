"""More learning-rate schedules with PyTorch's names and numbers: milestones, plateau, and a
sequence of schedules (the 1cycle policy is :mod:`mlplab.optim.lr_one_cycle`).

Each follows ``torch.optim.lr_scheduler``'s formulas step for step, so its sequence equals
PyTorch's to rounding (tested to 1e-12), and its :meth:`state_dict` holds plain values only
(JSON and :func:`mlplab.save` take it; milestones are a sorted list, not a Counter).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from typing import Any

from .lr_scheduler import (
    CosineAnnealingLR,
    ExponentialLR,
    LinearLR,
    LRScheduler,
    StepLR,
)
from .optimizer import Optimizer

__all__ = ["MultiStepLR", "ReduceLROnPlateau", "SequentialLR"]


class MultiStepLR(LRScheduler):
    """Multiply the learning rate by γ at each milestone: lr₀·γ^(number of milestones ≤ epoch).

    A milestone listed twice multiplies by γ² there, as in PyTorch.

    Examples:
        >>> import numpy as np
        >>> from mlplab import Tensor
        >>> from mlplab.optim import SGD
        >>> sched = MultiStepLR(SGD([Tensor(np.zeros(1))], lr=1.0), milestones=[1, 3], gamma=0.5)
        >>> lrs = []
        >>> for _ in range(4):
        ...     lrs.append(sched.get_last_lr()[0]); sched.step()
        >>> lrs
        [1.0, 0.5, 0.5, 0.25]
    """

    def __init__(
        self, optimizer: Optimizer, milestones: list[int], gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        self.milestones = sorted(int(m) for m in milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """The current lr times γ^(times this epoch is a milestone) (chainable).

        Examples:
            >>> import numpy as np
            >>> from mlplab import Tensor
            >>> from mlplab.optim import SGD
            >>> opt = SGD([Tensor(np.zeros(1))], lr=1.0)
            >>> sched = MultiStepLR(opt, milestones=[2, 2], gamma=0.5)  # listed twice: γ²
            >>> sched.step(); sched.step(); sched.get_last_lr()
            [0.25]
        """
        hits = self.milestones.count(self.last_epoch)
        if not hits:
            return self._current()
        return [lr * self.gamma**hits for lr in self._current()]

    def lr_at(self, epoch: int) -> list[float]:
        """The closed form lr₀·γ^(number of milestones ≤ epoch).

        Examples:
            >>> import numpy as np
            >>> from mlplab import Tensor
            >>> from mlplab.optim import SGD
            >>> opt = SGD([Tensor(np.zeros(1))], lr=1.0)
            >>> sched = MultiStepLR(opt, milestones=[1, 3], gamma=0.1)
            >>> [round(sched.lr_at(e)[0], 12) for e in range(5)]
            [1.0, 0.1, 0.1, 0.01, 0.01]
        """
        k = bisect_right(self.milestones, epoch)
        return [base * self.gamma**k for base in self.base_lrs]


class ReduceLROnPlateau(LRScheduler):
    """Multiply the lr by ``factor`` when a metric has stopped improving for ``patience`` epochs.

    ``step(metric)`` takes the metric (a validation loss for ``mode="min"``); "improving" means
    better than the best so far by ``threshold`` (relative: best·(1 ∓ threshold), or absolute);
    after a cut, ``cooldown`` epochs pass before bad epochs count again; the lr never goes below
    ``min_lr``, and changes smaller than ``eps`` are skipped. :func:`~mlplab.train.fit` passes
    the epoch's validation loss (the training loss without validation).

    Examples:
        >>> import numpy as np
        >>> from mlplab import Tensor
        >>> from mlplab.optim import SGD
        >>> opt = SGD([Tensor(np.zeros(1))], lr=1.0)
        >>> sched = ReduceLROnPlateau(opt, patience=1, factor=0.5)
        >>> for loss in [1.0, 0.9, 0.9, 0.9, 0.9]:
        ...     sched.step(loss)  # the 4th epoch is the 2nd without progress: halve
        >>> sched.get_last_lr()
        [0.5]
    """

    needs_metric = True

    def __init__(
        self,
        optimizer: Optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float | list[float] = 0.0,
        eps: float = 1e-8,
    ) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"ReduceLROnPlateau: expected an Optimizer, got {type(optimizer).__name__}"
            )
        if not factor < 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor must be < 1, got {factor}")
        if mode not in ("min", "max"):
            raise ValueError(f'ReduceLROnPlateau: mode must be "min" or "max", got {mode!r}')
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(
                f'ReduceLROnPlateau: threshold_mode must be "rel" or "abs", got {threshold_mode!r}'
            )
        self.optimizer = optimizer
        groups = optimizer.param_groups
        if isinstance(min_lr, list | tuple):
            if len(min_lr) != len(groups):
                raise ValueError(
                    f"ReduceLROnPlateau: expected {len(groups)} min_lrs, got {len(min_lr)}"
                )
            self.min_lrs = list(min_lr)
        else:
            self.min_lrs = [min_lr] * len(groups)
        self.factor, self.patience, self.cooldown, self.eps = factor, patience, cooldown, eps
        self.mode, self.threshold, self.threshold_mode = mode, threshold, threshold_mode
        self.last_epoch = 0
        self._last_lr = self._current()
        self.best = math.inf if mode == "min" else -math.inf
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def _is_better(self, a: float, best: float) -> bool:
        if self.mode == "min":
            if self.threshold_mode == "rel":
                return a < best * (1.0 - self.threshold)
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def step(self, metrics: Any = None) -> None:  # type: ignore[override]
        """Record one epoch's metric; cut the lr after ``patience`` epochs without progress.

        Raises:
            TypeError: when called without the metric.

        Examples:
            >>> import numpy as np
            >>> from mlplab import Tensor
            >>> from mlplab.optim import SGD
            >>> opt = SGD([Tensor(np.zeros(1))], lr=1.0)
            >>> sched = ReduceLROnPlateau(opt, mode="max", patience=0, factor=0.5, cooldown=1)
            >>> lrs = []
            >>> for accuracy in [0.5, 0.6, 0.6, 0.6, 0.6]:
            ...     sched.step(accuracy); lrs.append(sched.get_last_lr()[0])
            >>> lrs  # no progress at epoch 3: cut; epoch 4 is the cooldown; epoch 5: cut
            [1.0, 1.0, 0.5, 0.5, 0.25]
            >>> sched.step()
            Traceback (most recent call last):
            ...
            TypeError: ReduceLROnPlateau.step: pass the metric, e.g. step(val_loss)
        """
        if metrics is None:
            raise TypeError("ReduceLROnPlateau.step: pass the metric, e.g. step(val_loss)")
        current = float(metrics)
        self.last_epoch += 1
        if self._is_better(current, self.best):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for group, low in zip(self.optimizer.param_groups, self.min_lrs, strict=True):
                old = float(group["lr"])
                new = max(old * self.factor, low)
                if old - new > self.eps:
                    group["lr"] = new
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = self._current()


def _lr_at_zero(scheduler: LRScheduler) -> list[float]:
    """A scheduler's lr at its epoch 0 (PyTorch's closed forms where it has them)."""
    bases = scheduler.base_lrs
    if isinstance(scheduler, StepLR | ExponentialLR | CosineAnnealingLR):
        return list(bases)
    if isinstance(scheduler, LinearLR):
        return [base * scheduler.start_factor for base in bases]
    if isinstance(scheduler, MultiStepLR):
        return scheduler.lr_at(0)
    return scheduler.get_lr()


class SequentialLR(LRScheduler):
    """Run ``schedulers[0]`` until ``milestones[0]``, then ``schedulers[1]`` from its epoch 0,
    and so on (warm-up then decay, say), exactly as ``torch``'s SequentialLR.

    Raises:
        ValueError: for no schedulers, a ReduceLROnPlateau among them, one of another optimizer,
            or a milestone count that is not one less than the schedulers'.

    Examples:
        >>> import numpy as np
        >>> from mlplab import Tensor
        >>> from mlplab.optim import SGD, LinearLR, ExponentialLR
        >>> opt = SGD([Tensor(np.zeros(1))], lr=1.0)
        >>> warm = LinearLR(opt, start_factor=0.5, total_iters=2)
        >>> sched = SequentialLR(opt, [warm, ExponentialLR(opt, gamma=0.5)], milestones=[2])
        >>> lrs = []
        >>> for _ in range(5):
        ...     lrs.append(sched.get_last_lr()[0]); sched.step()
        >>> lrs
        [0.5, 0.75, 1.0, 0.5, 0.25]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        schedulers: list[LRScheduler],
        milestones: list[int],
        last_epoch: int = -1,
    ) -> None:
        if not schedulers:
            raise ValueError("SequentialLR: expects at least one scheduler, got none")
        for i, s in enumerate(schedulers):
            if isinstance(s, ReduceLROnPlateau):
                raise ValueError(
                    f"SequentialLR: schedulers[{i}] is a ReduceLROnPlateau, whose step needs a "
                    "metric; it cannot be sequenced"
                )
            if getattr(s, "optimizer", None) is not optimizer:
                raise ValueError(f"SequentialLR: schedulers[{i}] drives another optimizer")
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                f"SequentialLR: {len(schedulers)} schedulers need {len(schedulers) - 1} "
                f"milestones, got {len(milestones)}"
            )
        self._schedulers = list(schedulers)
        self._milestones = [int(m) for m in milestones]
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        for s in self._schedulers:  # undo the step each one took when it was built
            s.last_epoch -= 1
        first = self._schedulers[bisect_right(self._milestones, 0)]
        first._step_count, first._is_initial = 0, True
        first.step()
        first._is_initial = False
        self._last_lr = first.get_last_lr()

    def step(self) -> None:
        """Advance one epoch: step the scheduler in charge, or start the next one at its epoch 0.

        Examples:
            >>> import numpy as np
            >>> from mlplab import Tensor
            >>> from mlplab.optim import SGD
            >>> opt = SGD([Tensor(np.zeros(1))], lr=1.0)
            >>> from mlplab.optim import StepLR
            >>> halve, tenth = StepLR(opt, 1, gamma=0.5), StepLR(opt, 1, gamma=0.1)
            >>> sched = SequentialLR(opt, [halve, tenth], milestones=[2])
            >>> lrs = [sched.get_last_lr()[0]]
            >>> for _ in range(4):
            ...     sched.step(); lrs.append(round(sched.get_last_lr()[0], 12))
            >>> lrs  # the second schedule starts at epoch 2 from lr₀, then takes over
            [1.0, 0.5, 1.0, 0.1, 0.01]
        """
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler.last_epoch = 0
            for group, lr in zip(self.optimizer.param_groups, _lr_at_zero(scheduler), strict=True):
                group["lr"] = lr
            scheduler._last_lr = scheduler._current()
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self) -> dict[str, Any]:
        """The sequence's own state plus each scheduler's, in order.

        Examples:
            >>> import numpy as np
            >>> from mlplab import Tensor
            >>> from mlplab.optim import SGD
            >>> opt = SGD([Tensor(np.zeros(1))], lr=1.0)
            >>> from mlplab.optim import ExponentialLR, LinearLR
            >>> warm = LinearLR(opt, start_factor=0.5, total_iters=2)
            >>> sched = SequentialLR(opt, [warm, ExponentialLR(opt, gamma=0.5)], milestones=[2])
            >>> state = sched.state_dict()
            >>> state["last_epoch"], [s["last_epoch"] for s in state["_schedulers"]]
            (0, [0, -1])
        """
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "_schedulers")}
        return state | {"_schedulers": [s.state_dict() for s in self._schedulers]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a :meth:`state_dict` (the schedulers' states into the schedulers).

        Raises:
            ValueError: if the state holds another number of schedulers.

        Examples:
            >>> import numpy as np
            >>> from mlplab import Tensor
            >>> from mlplab.optim import SGD
            >>> opt = SGD([Tensor(np.zeros(1))], lr=1.0)
            >>> from mlplab.optim import ExponentialLR, LinearLR
            >>> def build(opt):
            ...     warm = LinearLR(opt, start_factor=0.5, total_iters=2)
            ...     return SequentialLR(opt, [warm, ExponentialLR(opt, gamma=0.5)], milestones=[2])
            >>> sched = build(opt)
            >>> for _ in range(3):
            ...     sched.step()
            >>> opt2 = SGD([Tensor(np.zeros(1))], lr=1.0)
            >>> opt2.load_state_dict(opt.state_dict())
            >>> resumed = build(opt2)
            >>> resumed.load_state_dict(sched.state_dict())
            >>> resumed.step(); sched.step()
            >>> resumed.get_last_lr() == sched.get_last_lr() == [0.25]
            True
        """
        inner = state_dict["_schedulers"]
        if len(inner) != len(self._schedulers):
            raise ValueError(
                f"SequentialLR.load_state_dict: expected {len(self._schedulers)} scheduler "
                f"states, got {len(inner)}"
            )
        self.__dict__.update({k: v for k, v in state_dict.items() if k != "_schedulers"})
        for s, state in zip(self._schedulers, inner, strict=True):
            s.load_state_dict(state)
