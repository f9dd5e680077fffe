"""Optimizer paths on a flat-θ problem: Newton (full, damped) and GD/Adam, and where they end.

Every path is the library's own optimizer on one Tensor θ: :class:`mlplab.optim.Newton`
(θ ← θ − α(∇²f + λI)⁻¹∇f, the Hessian built inside the step from the loss's graph),
:class:`mlplab.optim.GD` and :class:`mlplab.optim.Adam`. ``problem`` is anything with
``loss(Tensor) -> Tensor``, ``loss_grad(ndarray) -> (float, ndarray)`` and
``hessian(ndarray) -> ndarray`` (e.g. :class:`~mlplab.experiments.newton_problem.MLPProblem`).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from ..optim import GD, Adam, Newton
from ..tensor import Tensor
from .newton_spectrum import classify, spectrum

__all__ = ["end_point", "first_order_run", "newton_run"]


def _safe_loss_grad(problem: Any, theta: np.ndarray) -> tuple[float, float]:
    with np.errstate(all="ignore"):
        loss, g = problem.loss_grad(theta)
        return float(loss), float(np.linalg.norm(g))


def newton_run(
    problem: Any,
    theta0: np.ndarray,
    steps: int,
    *,
    lr: float = 1.0,
    damping: float = 0.0,
    blowup: float = 10.0,
    stop_on_increase: bool = False,
) -> dict[str, Any]:
    """Take up to ``steps`` Newton steps with :class:`mlplab.optim.Newton` from ``theta0``.

    Stops early when the optimizer refuses a step (singular or non-finite system: ``failure``
    holds its message and θ stays where it was), when the loss is not finite or above
    ``blowup``·f(θ₀), when ‖∇f‖ = 0, or (``stop_on_increase``) at the first step that raises
    the loss.

    Returns:
        ``{"theta", "losses" (f(θ₀), f(θ₁), …), "grad_norms", "failure", "seconds"}``.

    Examples:
        >>> import mlplab
        >>> class Bowl:  # f = ½‖θ‖²: one full step reaches the minimum
        ...     loss = staticmethod(lambda t: 0.5 * (t * t).sum())
        ...     loss_grad = staticmethod(lambda t: (0.5 * float(t @ t), t.copy()))
        >>> r = newton_run(Bowl(), np.array([3.0, -4.0]), 5)
        >>> r["losses"], r["theta"].tolist(), r["failure"]
        ([12.5, 0.0], [0.0, 0.0], None)
    """
    start = time.perf_counter()
    theta = Tensor(np.array(theta0, dtype=np.float64), requires_grad=True)
    opt = Newton([theta], lr=lr, damping=damping)
    loss0, g0 = _safe_loss_grad(problem, theta.data)
    losses, grad_norms, failure = [loss0], [g0], None
    for _ in range(steps):
        try:
            with np.errstate(all="ignore"):
                opt.step(lambda: problem.loss(theta))
        except RuntimeError as err:
            failure = str(err).split(";")[0]
            break
        loss, gn = _safe_loss_grad(problem, theta.data)
        losses.append(loss)
        grad_norms.append(gn)
        if not (math.isfinite(loss) and math.isfinite(gn)) or loss > blowup * loss0 or gn == 0:
            break
        if stop_on_increase and loss >= losses[-2]:
            break
    return {
        "theta": theta.data.copy(),
        "losses": losses,
        "grad_norms": grad_norms,
        "failure": failure,
        "seconds": time.perf_counter() - start,
    }


def first_order_run(
    problem: Any, theta0: np.ndarray, method: str, lr: float, steps: int, every: int = 0
) -> dict[str, Any]:
    """Run ``steps`` full-batch steps of GD (θ ← θ − α∇f) or Adam from ``theta0``.

    Args:
        method: ``"gd"`` or ``"adam"`` (:class:`mlplab.optim.Adam`, bias-corrected).
        every: keep θ every ``every`` steps (and θ₀) in ``snapshots``; 0 keeps none.

    Returns:
        ``{"theta", "losses" (f before each step, then the final f), "snapshots": [(t, θ_t)],
        "seconds"}``.

    Raises:
        ValueError: for an unknown method.

    Examples:
        >>> class Bowl:
        ...     loss = staticmethod(lambda t: 0.5 * (t * t).sum())
        ...     loss_grad = staticmethod(lambda t: (0.5 * float(t @ t), t.copy()))
        >>> r = first_order_run(Bowl(), np.array([1.0]), "gd", 0.5, 2, every=1)
        >>> r["losses"], [t for t, _ in r["snapshots"]]
        ([0.5, 0.125, 0.03125], [0, 1, 2])
    """
    start = time.perf_counter()
    theta = Tensor(np.array(theta0, dtype=np.float64), requires_grad=True)
    if method == "gd":
        opt: Any = GD([theta], lr=lr)
    elif method == "adam":
        opt = Adam([theta], lr=lr)
    else:
        raise ValueError(f"first_order_run: method must be 'gd' or 'adam', got {method!r}")
    losses: list[float] = []
    snapshots = [(0, theta.data.copy())] if every else []
    with np.errstate(all="ignore"):
        for t in range(steps):
            opt.zero_grad()
            loss = problem.loss(theta)
            loss.backward()
            opt.step()
            losses.append(float(loss.item()))
            if every and (t + 1) % every == 0:
                snapshots.append((t + 1, theta.data.copy()))
    losses.append(_safe_loss_grad(problem, theta.data)[0])
    return {
        "theta": theta.data.copy(),
        "losses": losses,
        "snapshots": snapshots,
        "seconds": time.perf_counter() - start,
    }


def end_point(
    problem: Any,
    theta: np.ndarray,
    start_loss: float,
    *,
    failure: str | None = None,
    always_spectrum: bool = True,
    grad_tol: float = 1e-3,
    curvature_tol: float = 1e-3,
    blowup: float = 10.0,
    rel_tol: float = 1e-8,
) -> dict[str, Any]:
    """Describe where a run ended: loss, ‖∇f‖, the Hessian's spectrum, accuracy, the outcome.

    The spectrum (``np.linalg.eigvalsh`` of ``problem.hessian``) is computed when the point is
    finite and either ``always_spectrum`` or ‖∇f‖ ≤ ``grad_tol`` (a stationary point, whose
    curvature decides minimum or saddle); the outcome is :func:`classify`'s.

    Examples:
        >>> class Saddle:  # f = 1 + x² − y² at its saddle
        ...     loss_grad = staticmethod(lambda t: (1 + t[0] ** 2 - t[1] ** 2, 2 * t * [1, -1]))
        ...     hessian = staticmethod(lambda t: np.diag([2.0, -2.0]))
        >>> e = end_point(Saddle(), np.zeros(2), 1.0)
        >>> e["outcome"], e["lambda_min"], e["fraction_negative"]
        ('saddle', -2.0, 0.5)
    """
    loss, gn = _safe_loss_grad(problem, theta)
    finite = math.isfinite(loss) and math.isfinite(gn) and bool(np.all(np.isfinite(theta)))
    spec = None
    if finite and failure is None and (always_spectrum or gn <= grad_tol):
        with np.errstate(all="ignore"):
            hess = problem.hessian(theta)
        if np.all(np.isfinite(hess)):
            spec = spectrum(hess, rel_tol)
    stationary_unknown = gn <= grad_tol and spec is None  # non-finite Hessian at a finite point
    outcome = classify(
        start_loss, loss, gn,
        None if spec is None else spec["lambda_min"],
        None if spec is None else max(abs(spec["lambda_min"]), abs(spec["lambda_max"])),
        failed=failure is not None or stationary_unknown,
        grad_tol=grad_tol, curvature_tol=curvature_tol, blowup=blowup,
    )  # fmt: skip
    accuracy = None
    if finite and getattr(problem, "x_test", None) is not None:
        accuracy = problem.accuracy(theta, problem.x_test, problem.y_test)
    keys = ("lambda_min", "lambda_max", "fraction_negative", "fraction_zero", "condition_nonzero")
    return {
        "loss": loss,
        "grad_norm": gn,
        **{k: None if spec is None else spec[k] for k in keys},
        "test_accuracy": accuracy,
        "outcome": outcome,
        "failure": failure,
    }
