"""Newton's method at a saddle: f(x, y) = x² − y², the 2-D landscape that can be drawn.

∇f = (2x, −2y) and ∇²f = diag(2, −2) everywhere: indefinite, with one direction of positive and
one of negative curvature. The Newton step solves the local quadratic model exactly, and here the
model *is* f, so from any point

    θ − (∇²f)⁻¹∇f = (x − 2x/2, y − (−2y)/(−2)) = (0, 0)

one full step (α = 1) lands exactly on the saddle, where the gradient is 0 and the Hessian has
eigenvalues of both signs: Newton's method looks for a stationary point, not for a minimum. The
lecture's damped step (α < 1) goes there too, only geometrically: θ ← (1 − α)θ. Damping the
Hessian instead (Levenberg, (∇²f + λI) d = ∇f with λ > abs(λ_min) = 2) makes the system positive
definite, so d is a descent direction: x ← x(1 − 2/(2 + λ)) shrinks, y ← y(1 + 2/(λ − 2))
grows — the iterate moves away from the saddle along y, the direction of negative curvature, as
gradient descent (x ← (1 − 2α)x, y ← (1 + 2α)y) does.

Every path is taken by the library's own optimizers (:class:`mlplab.optim.Newton`,
:class:`mlplab.optim.GD`) on an mlplab Tensor; gradients and Hessians at the end points come from
:func:`mlplab.grad` and :func:`mlplab.hessian`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..autodiff import grad, hessian
from ..optim import GD, Newton
from ..tensor import Tensor

__all__ = ["ToyConfig", "saddle", "saddle_derivatives", "toy_path", "toy_study"]


def saddle(theta: Tensor) -> Tensor:
    """Return f(θ) = x² − y² for θ = (x, y).

    Examples:
        >>> import mlplab
        >>> saddle(mlplab.tensor(np.array([2.0, 1.0]))).item()
        3.0
    """
    return theta[0] * theta[0] - theta[1] * theta[1]


def saddle_derivatives(point: Any) -> dict[str, Any]:
    """Return f, ∇f, ∇²f and the Hessian's eigenvalues at ``point`` (mlplab.grad, mlplab.hessian).

    Examples:
        >>> d = saddle_derivatives([0.0, 0.0])
        >>> d["gradient"], d["eigenvalues"]
        ([0.0, 0.0], [-2.0, 2.0])
    """
    theta = Tensor(np.asarray(point, dtype=np.float64), requires_grad=True)
    value = saddle(theta)
    (g,) = grad(value, [theta])
    assert g is not None
    h = hessian(saddle, theta.data).numpy()
    return {
        "point": [float(v) for v in theta.data],
        "value": float(value.item()),
        "gradient": [float(v) for v in g.data],
        "hessian": h.tolist(),
        "eigenvalues": [float(v) for v in np.linalg.eigvalsh(h)],
    }


def toy_path(
    method: str, start: Any, steps: int, lr: float = 1.0, damping: float = 0.0
) -> np.ndarray:
    """Run ``steps`` steps of ``method`` (``"newton"`` or ``"gd"``) on f = x² − y² from ``start``.

    Newton is :class:`mlplab.optim.Newton` (θ ← θ − α(∇²f + λI)⁻¹∇f with α = ``lr``,
    λ = ``damping``); GD is :class:`mlplab.optim.GD` (θ ← θ − α∇f).

    Returns:
        The iterates θ₀ … θ_steps, shape (steps + 1, 2).

    Raises:
        ValueError: for an unknown method.

    Examples:
        >>> toy_path("newton", [1.0, 0.5], 1)  # one full step: exactly on the saddle
        array([[1. , 0.5],
               [0. , 0. ]])
        >>> toy_path("newton", [1.0, 0.5], 2, damping=4.0)[-1]  # λ > 2: away along y
        array([0.44444444, 2.        ])
    """
    theta = Tensor(np.array(start, dtype=np.float64), requires_grad=True)
    closure = lambda: saddle(theta)  # noqa: E731
    if method == "newton":
        newton = Newton([theta], lr=lr, damping=damping)
        step = lambda: newton.step(closure)  # noqa: E731
    elif method == "gd":
        gd = GD([theta], lr=lr)

        def step() -> None:
            gd.zero_grad()
            closure().backward()
            gd.step()
    else:
        raise ValueError(f"toy_path: method must be 'newton' or 'gd', got {method!r}")
    points = [theta.data.copy()]
    for _ in range(steps):
        step()
        points.append(theta.data.copy())
    return np.stack(points)


@dataclass(frozen=True)
class ToyConfig:
    """The saddle study's knobs: the start, the steps, the damped α, the damping λ, GD's α.

    Examples:
        >>> ToyConfig().damping > 2.0  # λ > |λ_min| = 2
        True
    """

    start: tuple[float, float] = (1.0, 0.5)
    steps: int = 5
    alpha: float = 0.5
    damping: float = 4.0
    gd_lr: float = 0.1


def toy_study(config: ToyConfig | None = None) -> dict[str, Any]:
    """Run full Newton, the lecture's damped Newton (α), Levenberg-damped Newton (λ) and GD
    from one start on f = x² − y²; return the paths and the derivatives at their end points.

    Returns:
        ``{"config", "saddle": derivatives at (0, 0), "runs": {name: {"label", "path",
        "end": derivatives, "distance_from_saddle": [‖θ_t‖ per step]}}, "claims"}``.

    Examples:
        >>> res = toy_study()
        >>> res["claims"]["full_newton_one_step_on_saddle"]
        True
        >>> res["claims"]["levenberg_moves_away_along_y"], res["claims"]["gd_moves_away_along_y"]
        (True, True)
    """
    cfg = config or ToyConfig()
    if not cfg.damping > 2.0:
        raise ValueError(f"toy: damping must be > |λ_min| = 2 to escape, got {cfg.damping}")
    specs = {
        "full": ("full Newton, α = 1", "newton", 1.0, 0.0),
        "alpha": (f"damped Newton, α = {cfg.alpha:g}", "newton", cfg.alpha, 0.0),
        "levenberg": (f"Newton, (H + {cfg.damping:g}I)", "newton", 1.0, cfg.damping),
        "gd": (f"GD, α = {cfg.gd_lr:g}", "gd", cfg.gd_lr, 0.0),
    }
    runs: dict[str, Any] = {}
    for name, (label, method, lr, damping) in specs.items():
        path = toy_path(method, cfg.start, cfg.steps, lr=lr, damping=damping)
        runs[name] = {
            "label": label,
            "path": path.tolist(),
            "end": saddle_derivatives(path[-1]),
            "after_one_step": saddle_derivatives(path[1]),
            "distance_from_saddle": [float(v) for v in np.linalg.norm(path, axis=1)],
        }
    one = runs["full"]["after_one_step"]
    start_y = abs(cfg.start[1])

    def escapes(name: str) -> bool:
        ys = np.abs(np.asarray(runs[name]["path"])[:, 1])
        return bool(start_y > 0 and np.all(np.diff(ys) > 0))

    claims = {
        "full_newton_one_step_on_saddle": one["point"] == [0.0, 0.0]
        and one["gradient"] == [0.0, 0.0]
        and min(one["eigenvalues"]) < 0 < max(one["eigenvalues"]),
        "damped_alpha_error_ratio": runs["alpha"]["distance_from_saddle"][1]
        / runs["alpha"]["distance_from_saddle"][0],
        "levenberg_moves_away_along_y": escapes("levenberg"),
        "gd_moves_away_along_y": escapes("gd"),
        "levenberg_end_value": runs["levenberg"]["end"]["value"],
    }
    return {
        "config": asdict(cfg),
        "saddle": saddle_derivatives([0.0, 0.0]),
        "runs": runs,
        "claims": claims,
    }
