"""What the exact Hessian says at a point, and what Newton's method does there — the measurements.

- :func:`spectrum`: λ_min, λ_max, the fractions of negative and (numerically) zero eigenvalues
  and the condition numbers of ∇²f, from ``numpy.linalg.eigvalsh`` of the dense Hessian;
- :func:`flat_directions`: why ∇²f is exactly singular — the directions along which f is flat;
- :func:`classify`: an end point as ``minimum``, ``saddle``, ``diverged`` or ``not converged``;
- :func:`damping_search`: (∇²f + λI) steps for each λ of a grid, and the smallest λ for which
  they stop increasing the loss.

Thresholds (documented once, used everywhere). An eigenvalue counts as zero when
abs(λ) ≤ rel_tol·max|λ| (default 1e-8: ReLU units that are off on every example give exactly
zero rows, and rounding leaves ~1e-16·max|λ| on them). A point is *stationary* when
‖∇f‖ ≤ ``grad_tol``; then it is a *minimum* when λ_min ≥ −curvature_tol·max|λ| and a
*saddle* otherwise. A run has *diverged* when its loss is not finite, exceeds blowup × the
starting loss, or its Newton system cannot be solved (singular, non-finite direction).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["OUTCOMES", "classify", "damping_search", "flat_directions", "spectrum"]

OUTCOMES = ("minimum", "saddle", "diverged", "not converged")


def _ratio(top: float, bottom: float) -> float:
    return math.inf if bottom == 0 else float(top / bottom)


def spectrum(hess: np.ndarray, rel_tol: float = 1e-8) -> dict[str, Any]:
    """Summarize the eigenvalues λ₁ ≤ … ≤ λ_n of a symmetric Hessian.

    With τ = rel_tol·max|λ|: ``fraction_negative`` counts λ < −τ, ``fraction_zero`` abs(λ) ≤ τ;
    ``condition`` = max|λ| / min|λ| (∞ for a singular H), ``condition_nonzero`` the same over
    abs(λ) > τ, ``condition_positive`` = λ_max / (the smallest λ > τ).

    Args:
        hess: (n, n) symmetric matrix (only its lower triangle is read, as by eigvalsh).
        rel_tol: τ relative to max|λ|.

    Returns:
        ``{"n", "lambda_min", "lambda_max", "fraction_negative", "fraction_zero",
        "condition", "condition_nonzero", "condition_positive", "eigenvalues"}``.

    Examples:
        >>> s = spectrum(np.diag([-1.0, 0.0, 2.0, 4.0]))
        >>> s["lambda_min"], s["fraction_negative"], s["fraction_zero"], s["condition"]
        (-1.0, 0.25, 0.25, inf)
        >>> s["condition_nonzero"], s["condition_positive"]
        (4.0, 2.0)
    """
    ev = np.linalg.eigvalsh(np.asarray(hess, dtype=np.float64))
    size = np.abs(ev)
    tau = rel_tol * float(size.max()) if ev.size else 0.0
    nonzero, positive = size[size > tau], ev[ev > tau]
    return {
        "n": int(ev.size),
        "lambda_min": float(ev[0]),
        "lambda_max": float(ev[-1]),
        "fraction_negative": float(np.mean(ev < -tau)),
        "fraction_zero": float(np.mean(size <= tau)),
        "condition": _ratio(float(size.max()), float(size.min())),
        "condition_nonzero": _ratio(float(nonzero.max()), float(nonzero.min()))
        if nonzero.size
        else math.inf,
        "condition_positive": _ratio(float(ev[-1]), float(positive.min()))
        if positive.size
        else math.inf,
        "eigenvalues": ev,
    }


def classify(
    start_loss: float,
    loss: float,
    grad_norm: float,
    lambda_min: float | None = None,
    lambda_scale: float | None = None,
    *,
    failed: bool = False,
    grad_tol: float = 1e-3,
    curvature_tol: float = 1e-3,
    blowup: float = 10.0,
) -> str:
    """Name an end point: ``"diverged"``, ``"minimum"``, ``"saddle"`` or ``"not converged"``.

    diverged: ``failed`` (the Newton system could not be solved), a non-finite loss or
    gradient, or loss > blowup·start_loss. Else stationary when ‖∇f‖ ≤ grad_tol: a minimum when
    λ_min ≥ −curvature_tol·lambda_scale (lambda_scale = max|λ|), a saddle otherwise. Else not
    converged.

    Raises:
        ValueError: for a stationary point without lambda_min (its curvature decides).

    Examples:
        >>> classify(2.3, 0.1, 1e-5, lambda_min=-1e-6, lambda_scale=5.0)
        'minimum'
        >>> classify(2.3, 0.9, 1e-5, lambda_min=-0.2, lambda_scale=5.0)
        'saddle'
        >>> classify(2.3, 1e77, 1e60), classify(2.3, 1.5, 0.3), classify(2.3, 2.3, 1.0, failed=True)
        ('diverged', 'not converged', 'diverged')
    """
    finite = math.isfinite(loss) and math.isfinite(grad_norm)
    if failed or not finite or loss > blowup * start_loss:
        return "diverged"
    if grad_norm > grad_tol:
        return "not converged"
    if lambda_min is None or lambda_scale is None:
        raise ValueError("classify: a stationary point needs lambda_min and lambda_scale")
    return "minimum" if lambda_min >= -curvature_tol * lambda_scale else "saddle"


def damping_search(
    run: Callable[[float], Sequence[float]], lambdas: Sequence[float]
) -> dict[str, Any]:
    """Run (H + λI) Newton steps for every λ and find the smallest λ that never raises the loss.

    Args:
        run: λ ↦ the losses f(θ₀), f(θ₁), … of the steps taken (a run that stops early, e.g.
            on a singular system or a blow-up, returns what it has, and ``inf`` for a failed
            step; such a run, or one with a non-finite loss, counts as increasing).
        lambdas: the grid, in any order.

    Returns:
        ``{"lambdas" (sorted), "losses": [per λ], "increases": [per λ: some step raised the
        loss], "smallest_safe": the smallest λ whose steps all decreased the loss (None if
        none)}``.

    Examples:
        On f = −½θ² (H = −1) one step gives θ' = λθ/(λ − 1): the loss falls iff λ > ½.

        >>> def run(lam):
        ...     theta, losses = 1.0, [-0.5]
        ...     for _ in range(3):
        ...         theta = lam * theta / (lam - 1) if lam != 1 else math.inf
        ...         losses.append(-0.5 * theta * theta)
        ...     return losses
        >>> damping_search(run, [0.0, 0.1, 0.4, 0.6, 2.0])["smallest_safe"]
        0.6
    """
    grid = sorted(float(v) for v in lambdas)
    losses = [[float(v) for v in run(lam)] for lam in grid]
    increases = [
        bool(
            len(ls) < 2
            or not all(math.isfinite(v) for v in ls)
            or not all(b < a for a, b in zip(ls[:-1], ls[1:], strict=False))
        )
        for ls in losses
    ]
    safe = [lam for lam, up in zip(grid, increases, strict=True) if not up]
    return {
        "lambdas": grid,
        "losses": losses,
        "increases": increases,
        "smallest_safe": safe[0] if safe else None,
    }


def flat_directions(
    problem: Any, theta: np.ndarray, eigenvalues: np.ndarray, hess: np.ndarray | None = None
) -> dict[str, Any]:
    """Predict how many eigenvalues of ∇²f are exactly 0 (one hidden layer), and count them.

    Two reasons make f exactly flat along a direction of θ (zero gradient and curvature there,
    at every order, for this batch):

    - softmax is unchanged when one number is added to every logit: moving the output bias
      along (1, …, 1), or one row of the output weights along (1, …, 1) — h + 1 directions;
    - hidden unit j only sees the examples on which it is active (relu′ = 1): its n_in + 1
      incoming parameters act through A_j = [x, 1] over those rows, so n_in + 1 − rank(A_j) of
      them are invisible (a constant input feature such as an always-empty border tile, or a
      unit active on fewer examples than it has inputs).

    Returns:
        ``{"softmax_shift": h + 1, "unseen_inputs": Σⱼ (n_in + 1 − rank A_j), "predicted",
        "measured": #(|λ| ≤ 1e-12·max|λ|), "softmax_shift_curvature": ‖Hv‖/max|λ| along the
        output-bias shift v (when ``hess`` is given)}``; the prediction is None for deeper nets.

    Both are lower bounds (a tiny batch, m·(classes − 1) < n, leaves more); on the 7×7-MNIST
    networks the prediction is exact.

    Examples:
        >>> from mlplab.experiments.newton_problem import make_problem
        >>> p = make_problem(hidden=(2,), n_train=128)
        >>> theta = p.init(0)
        >>> h = p.hessian(theta)
        >>> d = flat_directions(p, theta, np.linalg.eigvalsh(h), h)
        >>> d["softmax_shift"], d["unseen_inputs"], d["measured"]
        (3, 11, 14)
        >>> d["softmax_shift_curvature"] < 1e-15
        True
    """
    sizes = problem.sizes
    scale = float(np.abs(eigenvalues).max()) or 1.0
    out: dict[str, Any] = {"measured": int(np.sum(np.abs(eigenvalues) <= 1e-12 * scale))}
    if hess is not None:
        v = np.zeros(problem.n)
        v[-sizes[-1] :] = 1 / np.sqrt(sizes[-1])  # θ ends with the output bias
        out["softmax_shift_curvature"] = float(np.linalg.norm(hess @ v)) / scale
    if len(sizes) != 3:
        return {**out, "softmax_shift": None, "unseen_inputs": None, "predicted": None}
    n_in, h = sizes[0], sizes[1]
    w, b = theta[: n_in * h].reshape(n_in, h), theta[n_in * h : n_in * h + h]
    active = problem.x @ w + b > 0
    a = np.c_[problem.x, np.ones(len(problem.x))]
    unseen = sum(n_in + 1 - np.linalg.matrix_rank(a[active[:, j]]) if active[:, j].any()
                 else n_in + 1 for j in range(h))  # fmt: skip
    return {**out, "softmax_shift": h + 1, "unseen_inputs": int(unseen),
            "predicted": h + 1 + int(unseen)}  # fmt: skip
