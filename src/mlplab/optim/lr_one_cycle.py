"""The 1cycle learning-rate policy (Smith & Topin) with ``torch``'s OneCycleLR numbers.

Stepped once per batch: the lr rises from max_lr/div_factor to max_lr, then anneals far below
the start, while the momentum moves the other way. The formulas are PyTorch's, step for step,
so the sequence equals torch's to rounding (tested to 1e-12).
"""

from __future__ import annotations

import math
from typing import Any

from .lr_scheduler import LRScheduler, _positive_int
from .optimizer import Optimizer

__all__ = ["OneCycleLR"]


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin), stepped once per batch, as ``torch``'s OneCycleLR.

    The lr rises from max_lr/div_factor to max_lr over the first ``pct_start`` of the steps,
    then anneals to max_lr/(div_factor·final_div_factor) (cosine or linear); with
    ``three_phase`` it comes back down to the start before the final anneal. With
    ``cycle_momentum`` the momentum (``momentum``, β₁ of ``betas``, or the lecture's ``beta``)
    moves the other way between ``max_momentum`` and ``base_momentum``.

    Raises:
        ValueError: for a bad total, pct_start, anneal_strategy, or ``cycle_momentum`` with an
            optimizer that has no momentum; stepping past ``total_steps``.

    Examples:
        >>> import numpy as np
        >>> from mlplab import Tensor
        >>> from mlplab.optim import SGD
        >>> opt = SGD([Tensor(np.zeros(1))], lr=0.1, momentum=0.9)
        >>> sched = OneCycleLR(opt, max_lr=1.0, total_steps=4, anneal_strategy="linear")
        >>> lrs = []
        >>> for _ in range(4):
        ...     lrs.append(round(sched.get_last_lr()[0], 6)); sched.step()
        >>> lrs
        [0.04, 0.714287, 0.357145, 4e-06]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float | list[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum: float | list[float] = 0.85,
        max_momentum: float | list[float] = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"OneCycleLR: expected an Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        if total_steps is not None:
            self.total_steps = _positive_int("OneCycleLR", "total_steps", total_steps)
        elif epochs is not None and steps_per_epoch is not None:
            epochs = _positive_int("OneCycleLR", "epochs", epochs)
            self.total_steps = epochs * _positive_int("OneCycleLR", "steps_per_epoch",
                                                      steps_per_epoch)  # fmt: skip
        else:
            raise ValueError("OneCycleLR: give total_steps, or epochs and steps_per_epoch")
        if (
            isinstance(pct_start, bool)
            or not isinstance(pct_start, float)
            or not (0 <= pct_start <= 1)
        ):
            raise ValueError(f"OneCycleLR: pct_start must be a float in [0, 1], got {pct_start!r}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(
                f'OneCycleLR: anneal_strategy must be "cos" or "linear", got {anneal_strategy!r}'
            )
        self.anneal_strategy = anneal_strategy
        up = float(pct_start * self.total_steps) - 1
        self.phases: list[tuple[float, str, str, str, str]]
        if three_phase:
            self.phases = [
                (up, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                (float(2 * pct_start * self.total_steps) - 2, "max_lr", "initial_lr",
                 "base_momentum", "max_momentum"),
                (self.total_steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"),
            ]  # fmt: skip
        else:
            self.phases = [
                (up, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                (self.total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum"),
            ]
        groups = optimizer.param_groups
        max_lrs = _per_group("max_lr", groups, max_lr)
        if last_epoch == -1:
            for group, top in zip(groups, max_lrs, strict=True):
                group["initial_lr"] = top / div_factor
                group["max_lr"] = top
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = bool(cycle_momentum)
        self.momentum_key: str | None = None
        if self.cycle_momentum:
            defaults = optimizer.defaults
            key = next((k for k in ("momentum", "betas", "beta") if k in defaults), None)
            if key is None:
                raise ValueError(
                    f"OneCycleLR: cycle_momentum needs an optimizer with momentum, betas or beta; "
                    f"{type(optimizer).__name__} has none (pass cycle_momentum=False)"
                )
            self.momentum_key = key
            tops = _per_group("max_momentum", groups, max_momentum)
            bases = _per_group("base_momentum", groups, base_momentum)
            if last_epoch == -1:
                for group, top, base in zip(groups, tops, bases, strict=True):
                    self._set_momentum(group, top)
                    group["max_momentum"], group["base_momentum"] = top, base
        super().__init__(optimizer, last_epoch)

    def _set_momentum(self, group: dict[str, Any], value: float) -> None:
        if self.momentum_key == "betas":
            group["betas"] = (value, *group["betas"][1:])
        else:
            group[self.momentum_key] = value  # type: ignore[index]

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self) -> list[float]:
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(
                f"OneCycleLR: stepped {step} times, past total_steps = {self.total_steps}"
            )
        lrs = []
        for group in self.optimizer.param_groups:
            start_step = 0.0
            for i, (end_step, lr0, lr1, m0, m1) in enumerate(self.phases):
                if step <= end_step or i == len(self.phases) - 1:
                    pct = (step - start_step) / (end_step - start_step)
                    lrs.append(self._anneal(group[lr0], group[lr1], pct))
                    if self.cycle_momentum:
                        self._set_momentum(group, self._anneal(group[m0], group[m1], pct))
                    break
                start_step = end_step
        return lrs


def _per_group(name: str, groups: list[dict[str, Any]], value: Any) -> list[float]:
    if isinstance(value, list | tuple):
        if len(value) != len(groups):
            raise ValueError(
                f"OneCycleLR: expected {len(groups)} values of {name}, got {len(value)}"
            )
        return list(value)
    return [value] * len(groups)
