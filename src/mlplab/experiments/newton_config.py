"""The knobs of ``mlplab experiment newton``: :class:`NewtonConfig`, its quick settings, its checks.

The defaults are the measured run (the 49-8-10 MLP, 20 seeded starts, the damping grid of
reason 4); :meth:`NewtonConfig.quick` is the tests' 70-parameter version;
:meth:`NewtonConfig.check` refuses a bad setting by name and value before any work.
:func:`~mlplab.experiments.newton_study.run_newton` runs a config.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Any

from .newton_toy import ToyConfig

__all__ = ["FIELDS", "NewtonConfig"]


@dataclass(frozen=True)
class NewtonConfig:
    """The knobs of ``mlplab experiment newton`` (the defaults run in a few minutes on 2 cores).

    Examples:
        >>> NewtonConfig().starts, NewtonConfig.quick().hidden
        (20, (1,))
        >>> NewtonConfig(starts=0).check()
        Traceback (most recent call last):
        ...
        ValueError: newton: starts must be an integer >= 1, got 0
    """

    hidden: tuple[int, ...] = (8,)
    n_train: int = 512
    seed: int = 0
    newton_steps: int = 10
    alpha: float = 0.5
    damping: float = 3.0
    first_order_steps: int = 2000
    gd_lr: float = 0.1
    adam_lr: float = 0.01
    spectrum_points: int = 5
    lambdas: tuple[float, ...] = (0.0, 1e-3, 1e-2, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
    sweep_steps: int = 5
    starts: int = 20
    start_newton_steps: int = 10
    start_damped_steps: int = 3  # 5 (reason 4's sweep) ran past ~3.5 min with 20 starts
    start_damping_factor: float = 10.0
    start_first_order_steps: int = 500
    grad_tol: float = 1e-3
    curvature_tol: float = 1e-3
    blowup: float = 10.0
    rel_tol: float = 1e-8
    cost: bool = True
    cost_hidden: tuple[int, ...] = (2, 4, 8, 16, 32, 50)
    cost_n_train: int = 256
    cost_repeats: int = 3
    cost_min_total_s: float = 0.2  # a short timed call repeats this long (measure_cost)
    toy: ToyConfig = field(default_factory=ToyConfig)

    @classmethod
    def quick(cls, **changes: Any) -> NewtonConfig:
        """Settings that run in seconds (the tests'): a 70-parameter net, few steps and starts.

        Examples:
            >>> cfg = NewtonConfig.quick(starts=2)
            >>> cfg.hidden, cfg.starts, cfg.start_damped_steps
            ((1,), 2, 2)
        """
        small = cls(
            hidden=(1,), n_train=32, newton_steps=3, first_order_steps=60, spectrum_points=2,
            lambdas=(0.0, 0.1, 1.0, 10.0), sweep_steps=2, starts=3, start_newton_steps=3,
            start_damped_steps=2, start_first_order_steps=30, cost_hidden=(1, 2), cost_n_train=16,
            cost_repeats=1, cost_min_total_s=0.0,
            toy=ToyConfig(steps=3),
        )  # fmt: skip
        return replace(small, **changes)

    def check(self) -> None:
        """Refuse a bad setting by name and value, before any work.

        Raises:
            ValueError: naming the key and the value.

        Examples:
            >>> NewtonConfig.quick().check()  # fine: nothing happens
            >>> NewtonConfig.quick(start_damping_factor=0.5).check()
            Traceback (most recent call last):
            ...
            ValueError: newton: start_damping_factor must be a number > 1, got 0.5
        """
        positive = ("n_train", "newton_steps", "first_order_steps", "spectrum_points",
                    "sweep_steps", "starts", "start_newton_steps", "start_damped_steps",
                    "start_first_order_steps",
                    "cost_n_train", "cost_repeats")  # fmt: skip
        for name in positive:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"newton: {name} must be an integer >= 1, got {value!r}")
        for name in ("hidden", "cost_hidden"):
            value = getattr(self, name)
            if not value or any(not isinstance(h, int) or h < 1 for h in value):
                raise ValueError(f"newton: {name} must be positive integers, got {value!r}")
        for name in (
            "alpha",
            "damping",
            "gd_lr",
            "adam_lr",
            "grad_tol",
            "curvature_tol",
            "rel_tol",
        ):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"newton: {name} must be a number > 0, got {value!r}")
        if not (math.isfinite(self.start_damping_factor) and self.start_damping_factor > 1):
            raise ValueError(
                f"newton: start_damping_factor must be a number > 1, got "
                f"{self.start_damping_factor!r}"
            )
        if not (math.isfinite(self.cost_min_total_s) and self.cost_min_total_s >= 0):
            raise ValueError(
                f"newton: cost_min_total_s must be >= 0, got {self.cost_min_total_s!r}"
            )
        if not self.blowup > 1:
            raise ValueError(f"newton: blowup must be > 1, got {self.blowup!r}")
        if not self.lambdas or any(not (math.isfinite(v) and v >= 0) for v in self.lambdas):
            raise ValueError(f"newton: lambdas must be numbers >= 0, got {self.lambdas!r}")
        if self.spectrum_points > self.first_order_steps:
            raise ValueError(
                f"newton: spectrum_points ({self.spectrum_points}) must not exceed "
                f"first_order_steps ({self.first_order_steps})"
            )


#: the NewtonConfig fields (the CLI maps its flags onto these)
FIELDS = tuple(f.name for f in fields(NewtonConfig))
