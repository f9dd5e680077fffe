"""`mlplab experiment optimizers`: the lecture's optimizer figures, measured.

On the ill-conditioned 2-D quadratic f(θ) = ½θᵀPθ + qᵀθ of :func:`quadratic.ill_conditioned`
(eigenvalues 1 and 20, so 2/λ_max = 0.1) every method of the lecture runs from the same θ₀:

- gradient descent at a learning rate that crawls, one that oscillates and one above 2/λ_max
  that diverges, and the threshold itself bracketed (0.95 and 1.05 × 2/λ_max);
- Newton's method, full step (α = 1: θ* in one step) and damped (α = ½: the error halves);
- momentum against GD, bias-corrected against plain momentum (the first steps), Nesterov against
  momentum, and Adam (bias-corrected and the lecture's uncorrected form);
- and minibatch SGD against full-batch GD on a least-squares problem, by examples processed.

Every path comes from a real :mod:`mlplab.optim` optimizer on an mlplab Tensor.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import optim
from ..tensor import Tensor
from . import plots
from .quadratic import Quadratic, ill_conditioned, run_trajectory, steps_to_tolerance

__all__ = ["OptimizersConfig", "run_optimizers", "least_squares_race"]


@dataclass
class OptimizersConfig:
    """The knobs of the optimizer experiment (defaults reproduce the report).

    Examples:
        >>> OptimizersConfig(steps=50).theta0
        (-2.0, 2.5)
    """

    steps: int = 300
    tol: float = 1e-6
    theta0: tuple[float, float] = (-2.0, 2.5)
    lambda_min: float = 1.0
    lambda_max: float = 20.0
    angle_deg: float = 30.0
    ls_examples: int = 2000
    ls_features: int = 20
    ls_batch: int = 10
    ls_epochs: int = 10
    ls_gd_lr: float | None = None
    ls_sgd_lr: float = 0.05
    seed: int = 0


def _methods(threshold: float) -> dict[str, tuple[str, Callable[[list[Tensor]], Any]]]:
    """key → (legend label, optimizer factory) for every path of the experiment."""
    a_osc = round(0.9 * threshold, 6)
    a_div = round(1.05 * threshold, 6)
    return {
        "gd_crawl": ("GD α=0.01 (crawls)", lambda p: optim.GD(p, lr=0.01)),
        "gd_oscillate": (f"GD α={a_osc} (oscillates)", lambda p: optim.GD(p, lr=a_osc)),
        "gd_diverge": (f"GD α={a_div} > 2/λ_max (diverges)", lambda p: optim.GD(p, lr=a_div)),
        "gd_below": ("GD α=0.95·2/λ_max", lambda p: optim.GD(p, lr=0.95 * threshold)),
        "gd_above": ("GD α=1.05·2/λ_max", lambda p: optim.GD(p, lr=1.05 * threshold)),
        "newton_full": ("Newton α=1 (full step)", lambda p: optim.Newton(p, lr=1.0)),
        "newton_damped": ("Newton α=0.5 (damped)", lambda p: optim.Newton(p, lr=0.5)),
        "gd_reference": (f"GD α={a_osc}", lambda p: optim.GD(p, lr=a_osc)),
        "momentum": ("momentum α=0.2 β=0.5", lambda p: optim.Momentum(p, lr=0.2, beta=0.5)),
        "momentum_heavy": (
            "momentum α=0.2 β=0.9",
            lambda p: optim.Momentum(p, lr=0.2, beta=0.9),
        ),
        "momentum_plain": ("momentum α=0.05 β=0.9", lambda p: optim.Momentum(p, 0.05, 0.9)),
        "momentum_unbiased": (
            "unbiased momentum α=0.05 β=0.9",
            lambda p: optim.Momentum(p, 0.05, 0.9, bias_correction=True),
        ),
        "momentum_cmp": ("momentum α=0.5 β=0.9", lambda p: optim.Momentum(p, lr=0.5, beta=0.9)),
        "nesterov": ("Nesterov α=0.5 β=0.9", lambda p: optim.Nesterov(p, lr=0.5, beta=0.9)),
        "adam": ("Adam α=0.1 (bias-corrected)", lambda p: optim.Adam(p, lr=0.1)),
        "adam_lecture": (
            "Adam α=0.1, no bias correction (lecture)",
            lambda p: optim.Adam(p, lr=0.1, bias_correction=False),
        ),
    }


#: figure file → (title, keys of the paths it draws, how many steps it shows).
FIGURES: dict[str, tuple[str, list[str], int]] = {
    "gd_learning_rates.png": (
        "Gradient descent: crawl, oscillate, diverge",
        ["gd_crawl", "gd_oscillate", "gd_diverge"],
        60,
    ),
    "newton.png": ("Newton's method: full and damped steps", ["newton_full", "newton_damped"], 10),
    "momentum_vs_gd.png": (
        "Momentum against gradient descent",
        ["gd_reference", "momentum", "momentum_heavy"],
        60,
    ),
    "unbiased_momentum.png": (
        "Unbiased (bias-corrected) against plain momentum: the first 15 steps",
        ["momentum_plain", "momentum_unbiased"],
        15,
    ),
    "nesterov.png": ("Nesterov against momentum", ["momentum_cmp", "nesterov"], 60),
    "adam.png": ("Adam against gradient descent", ["gd_reference", "adam", "adam_lecture"], 80),
}


def least_squares_race(config: OptimizersConfig) -> dict[str, Any]:
    """Minibatch SGD against full-batch GD on ½·mean((Xw − y)²), measured per example processed.

    X has ``ls_examples`` rows of ``ls_features`` Gaussian features scaled from 0.3 to 1 (a
    condition number near 11), y = Xw_true + noise. Both methods see the same number of
    examples (``ls_epochs`` passes); the curve is the excess loss f(w) − f(w*) over the whole
    data set after each step, against the examples processed so far. The excess loss is
    reported after epochs 1, 2 and ``ls_epochs`` — those that were run: one epoch is a whole
    race (GD takes one exact step, SGD m/batch noisy ones), zero epochs is none.

    Raises:
        ValueError: ``ls_epochs`` < 1, before any work.

    Examples:
        >>> race = least_squares_race(OptimizersConfig(ls_examples=1000, ls_epochs=2))
        >>> race["sgd"]["steps"], race["gd"]["steps"]  # the same 2,000 examples seen
        (200, 2)
        >>> race["sgd"]["final_excess_loss"] < race["gd"]["final_excess_loss"]
        True
    """
    if config.ls_epochs < 1:
        raise ValueError(f"least_squares_race: ls_epochs must be >= 1, got {config.ls_epochs}")
    rng = np.random.default_rng(config.seed)
    m, d = config.ls_examples, config.ls_features
    X = rng.normal(size=(m, d)) * np.linspace(0.3, 1.0, d)
    y = X @ rng.normal(size=d) + 0.5 * rng.normal(size=m)
    w_star = np.linalg.lstsq(X, y, rcond=None)[0]

    def full_loss(w: np.ndarray) -> float:
        return float(0.5 * np.mean((X @ w - y) ** 2))

    f_star = full_loss(w_star)

    def run(batch: int, make: Callable[[list[Tensor]], Any]) -> tuple[list[int], list[float]]:
        w = Tensor(np.zeros(d), requires_grad=True)
        opt = make([w])
        order_rng = np.random.default_rng(config.seed + 1)
        seen, excess = [0], [full_loss(w.data) - f_star]
        for _ in range(config.ls_epochs):
            order = order_rng.permutation(m)
            for start in range(0, m, batch):
                idx = order[start : start + batch]
                xb, yb = Tensor(X[idx]), Tensor(y[idx])
                opt.zero_grad()
                residual = xb @ w - yb
                ((residual * residual).mean() * 0.5).backward()
                opt.step()
                seen.append(seen[-1] + len(idx))
                excess.append(full_loss(w.data) - f_star)
        return seen, excess

    hessian_eigs = np.linalg.eigvalsh(X.T @ X / m)
    # The best constant step for GD on a quadratic: 2/(λ_min + λ_max).
    gd_lr = config.ls_gd_lr or 2.0 / (hessian_eigs[0] + hessian_eigs[-1])
    gd = run(m, lambda p: optim.GD(p, lr=gd_lr))
    sgd = run(config.ls_batch, lambda p: optim.SGD(p, lr=config.ls_sgd_lr))

    def summary(curve: tuple[list[int], list[float]], name: str) -> dict[str, Any]:
        seen, excess = np.array(curve[0]), np.array(curve[1])
        epochs = [e for e in (1, 2, config.ls_epochs) if e <= config.ls_epochs]
        at_epoch = {str(e): float(excess[np.searchsorted(seen, e * m)]) for e in epochs}
        reach = np.flatnonzero(excess <= 1e-2 * excess[0])
        return {
            "optimizer": name,
            "steps": len(seen) - 1,
            "excess_loss_after_epochs": at_epoch,
            "examples_to_1pct_of_initial_excess": int(seen[reach[0]]) if reach.size else None,
            "final_excess_loss": float(excess[-1]),
        }

    return {
        "problem": {
            "examples": m,
            "features": d,
            "optimal_loss": f_star,
            "hessian_eigenvalue_range": [float(hessian_eigs[0]), float(hessian_eigs[-1])],
        },
        "gd": summary(gd, f"GD lr={gd_lr:.3g}, batch = all {m}"),
        "sgd": summary(sgd, f"SGD lr={config.ls_sgd_lr}, batch {config.ls_batch}"),
        "curves": {"gd": gd, "sgd": sgd},
    }


def _describe(problem: Quadratic, path: np.ndarray, steps: int, tol: float) -> dict[str, Any]:
    star = problem.optimum
    errors = np.linalg.norm(path - star, axis=1)
    return {
        "steps_run": len(path) - 1,
        "diverged": bool(len(path) - 1 < steps or not np.isfinite(errors[-1])),
        "steps_to_tol": steps_to_tolerance(path, star, tol),
        "final_error": float(errors[-1]),
        "error_after_1_step": float(errors[1]) if len(errors) > 1 else None,
        "first_step_length": float(np.linalg.norm(path[1] - path[0])) if len(path) > 1 else None,
    }


def run_optimizers(
    out_dir: str | Path, config: OptimizersConfig | None = None, figures: bool = True
) -> dict[str, Any]:
    """Run every optimizer path, write ``results.json`` (and the PNGs) to ``out_dir``.

    Returns:
        The results: ``config``, ``problem`` (P, q, eigenvalues, 2/λ_max, θ*), ``runs`` (per path:
        steps to the tolerance ‖θ − θ*‖ ≤ tol, final error, divergence, first step length),
        ``claims`` (the lecture's statements as measured numbers), ``least_squares`` and
        ``figures``.

    Examples:
        >>> import tempfile
        >>> config = OptimizersConfig(steps=20, ls_examples=100, ls_epochs=2)
        >>> results = run_optimizers(tempfile.mkdtemp(), config, figures=False)
        >>> results["claims"]["threshold_lr_2_over_lambda_max"]
        0.1
    """
    config = config or OptimizersConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    problem = ill_conditioned(config.lambda_min, config.lambda_max, config.angle_deg)
    threshold = 2.0 / problem.lambda_max
    methods = _methods(threshold)
    paths = {
        key: run_trajectory(problem, make, config.theta0, config.steps)
        for key, (_, make) in methods.items()
    }
    runs = {
        key: {"label": methods[key][0], **_describe(problem, path, config.steps, config.tol)}
        for key, path in paths.items()
    }
    race = least_squares_race(config)
    e0 = float(np.linalg.norm(np.array(config.theta0) - problem.optimum))
    claims = {
        "threshold_lr_2_over_lambda_max": threshold,
        "gd_converges_below_threshold": not runs["gd_below"]["diverged"]
        and runs["gd_below"]["final_error"] < 1e-3 * e0,
        "gd_diverges_above_threshold": runs["gd_above"]["final_error"] > e0,
        "newton_full_step_error_after_1_step": runs["newton_full"]["error_after_1_step"],
        "newton_damped_error_ratio_per_step": runs["newton_damped"]["error_after_1_step"] / e0,
        "unbiased_over_plain_first_step_length": runs["momentum_unbiased"]["first_step_length"]
        / runs["momentum_plain"]["first_step_length"],
        "steps_to_tol": {key: run["steps_to_tol"] for key, run in runs.items()},
    }
    results: dict[str, Any] = {
        "config": asdict(config),
        "problem": {
            "P": problem.P.tolist(),
            "q": problem.q.tolist(),
            "eigenvalues": problem.eigenvalues.tolist(),
            "condition_number": problem.condition_number,
            "threshold_lr": threshold,
            "optimum": problem.optimum.tolist(),
            "initial_error": e0,
        },
        "runs": runs,
        "claims": claims,
        "least_squares": {k: v for k, v in race.items() if k != "curves"},
        "figures": [],
    }
    if figures:
        for name, (title, keys, shown) in FIGURES.items():
            if name == "gd_learning_rates.png":
                title += f" (2/λ_max = {threshold:g})"
            chosen = {methods[k][0]: paths[k] for k in keys}
            plots.contour_paths(
                problem, chosen, title, out / name, max_points=shown,
                panels=name == "gd_learning_rates.png",
            )  # fmt: skip
            results["figures"].append(name)
        errors = {
            methods[k][0]: (np.arange(len(p)), np.linalg.norm(p - problem.optimum, axis=1))
            for k, p in paths.items()
            if k in ("gd_oscillate", "gd_crawl", "momentum", "nesterov", "momentum_cmp", "adam")
        }
        plots.curves(errors, "Error ‖θ_t − θ*‖ per step", "step t", "‖θ_t − θ*‖",
                     out / "errors.png")  # fmt: skip
        results["figures"].append("errors.png")
        curves = {
            race["gd"]["optimizer"]: race["curves"]["gd"],
            race["sgd"]["optimizer"]: race["curves"]["sgd"],
        }
        plots.curves(
            curves,
            "Least squares: minibatch SGD against full-batch GD",
            "examples processed",
            "f(w) − f(w*)",
            out / "sgd_vs_gd.png",
        )
        results["figures"].append("sgd_vs_gd.png")
    results["seconds"] = time.perf_counter() - start
    (out / "results.json").write_text(json.dumps(results, indent=1))
    return results
