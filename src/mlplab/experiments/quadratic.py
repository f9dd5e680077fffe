"""The lecture's test bed for optimizers: 2-D quadratics and the paths optimizers take on them.

    f(θ) = ½ θᵀPθ + qᵀθ,   ∇f(θ) = Pθ + q,   ∇²f = P,   θ* = −P⁻¹q

with P symmetric positive definite. Gradient descent contracts the error θ − θ* by (I − αP), so
it converges iff ``|1 − αλ| < 1`` for every eigenvalue λ of P, i.e. iff 0 < α < 2/λ_max; Newton's
full step θ − P⁻¹(Pθ + q) = θ* lands on the optimum at once.

Every trajectory here is produced by a real :mod:`mlplab.optim` optimizer acting on an mlplab
Tensor θ whose gradient comes from the autodiff engine, so the figures exercise the library.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..tensor import Tensor

__all__ = ["Quadratic", "ill_conditioned", "run_trajectory", "steps_to_tolerance"]


@dataclass(frozen=True)
class Quadratic:
    """f(θ) = ½ θᵀPθ + qᵀθ for a symmetric positive-definite P (n × n) and q (n,).

    Raises:
        ValueError: if P is not square, not symmetric or not positive definite, or q's shape
            does not match.

    Examples:
        >>> f = Quadratic(np.diag([1.0, 4.0]), np.array([1.0, -4.0]))
        >>> f.optimum, f.lambda_max, f.value(f.optimum)
        (array([-1.,  1.]), 4.0, -2.5)
    """

    P: np.ndarray
    q: np.ndarray

    def __post_init__(self) -> None:
        P, q = np.asarray(self.P, np.float64), np.asarray(self.q, np.float64)
        if P.ndim != 2 or P.shape[0] != P.shape[1]:
            raise ValueError(f"Quadratic: P must be square, got shape {P.shape}")
        if q.shape != (P.shape[0],):
            raise ValueError(f"Quadratic: q must have shape ({P.shape[0]},), got {q.shape}")
        if not np.allclose(P, P.T):
            raise ValueError("Quadratic: P must be symmetric")
        if np.linalg.eigvalsh(P).min() <= 0:
            raise ValueError(
                f"Quadratic: P must be positive definite, got eigenvalues {np.linalg.eigvalsh(P)}"
            )
        object.__setattr__(self, "P", P)
        object.__setattr__(self, "q", q)

    @property
    def eigenvalues(self) -> np.ndarray:
        """The eigenvalues of P, ascending."""
        return np.linalg.eigvalsh(self.P)

    @property
    def lambda_max(self) -> float:
        """λ_max(P): gradient descent converges iff 0 < α < 2/λ_max."""
        return float(self.eigenvalues[-1])

    @property
    def condition_number(self) -> float:
        """κ = λ_max / λ_min."""
        ev = self.eigenvalues
        return float(ev[-1] / ev[0])

    @property
    def optimum(self) -> np.ndarray:
        """θ* = −P⁻¹q (solved, not inverted)."""
        return np.linalg.solve(self.P, -self.q)

    def value(self, theta: np.ndarray) -> float:
        """f(θ) on a plain array."""
        theta = np.asarray(theta, np.float64)
        return float(0.5 * theta @ self.P @ theta + self.q @ theta)

    def loss(self, theta: Tensor) -> Tensor:
        """f(θ) built from mlplab ops (differentiable, twice)."""
        P, q = Tensor(self.P), Tensor(self.q)
        return (theta * (P @ theta)).sum() * 0.5 + (q * theta).sum()

    def grid(self, xlim: tuple[float, float], ylim: tuple[float, float], n: int = 200):
        """Return (X, Y, F) on an n × n grid, for contour plots of a 2-D quadratic."""
        xs, ys = np.linspace(*xlim, n), np.linspace(*ylim, n)
        X, Y = np.meshgrid(xs, ys)
        pts = np.stack([X.ravel(), Y.ravel()], axis=1)
        F = 0.5 * np.einsum("ij,jk,ik->i", pts, self.P, pts) + pts @ self.q
        return X, Y, F.reshape(X.shape)


def ill_conditioned(
    lambda_min: float = 1.0, lambda_max: float = 20.0, angle_deg: float = 30.0
) -> Quadratic:
    """Return a 2-D quadratic with the given eigenvalues, axes rotated by ``angle_deg``,
    and its optimum at θ* = (1, 0.5) (away from the origin, so q ≠ 0).

    Examples:
        >>> f = ill_conditioned()
        >>> round(f.lambda_max, 6), round(f.condition_number, 6), f.optimum.round(6).tolist()
        (20.0, 20.0, [1.0, 0.5])
    """
    a = np.deg2rad(angle_deg)
    R = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    P = R @ np.diag([lambda_min, lambda_max]) @ R.T
    P = 0.5 * (P + P.T)
    theta_star = np.array([1.0, 0.5])
    return Quadratic(P, -P @ theta_star)


#: Builds an optimizer for the list of parameters [θ].
OptimizerFactory = Callable[[list[Tensor]], Any]


def run_trajectory(
    problem: Quadratic,
    make_optimizer: OptimizerFactory,
    theta0: Any,
    steps: int,
    blowup: float = 1e6,
) -> np.ndarray:
    """Run ``steps`` optimizer steps from θ₀ on f; return the path, shape (steps + 1, n).

    The optimizer is built by ``make_optimizer([theta])`` on a float64 Tensor θ. Optimizers
    that need the loss at other points are handed a closure in the form they document:
    Newton's returns the loss with its graph (it differentiates twice itself), Nesterov's zeroes
    the gradient, calls ``backward`` and returns the loss (PyTorch's convention). The run stops
    early (the path is shorter) once ‖θ − θ*‖ exceeds ``blowup`` — a divergence.

    Examples:
        >>> from mlplab.optim import GD
        >>> f = Quadratic(np.diag([1.0, 4.0]), np.zeros(2))
        >>> run_trajectory(f, lambda p: GD(p, lr=0.25), [1.0, 1.0], 2).tolist()
        [[1.0, 1.0], [0.75, 0.0], [0.5625, 0.0]]
    """
    theta = Tensor(np.array(theta0, dtype=np.float64), requires_grad=True)
    optimizer = make_optimizer([theta])
    name = type(optimizer).__name__
    path = [theta.data.copy()]
    star = problem.optimum

    def backward_closure() -> Tensor:
        optimizer.zero_grad()
        value = problem.loss(theta)
        value.backward()
        return value

    for _ in range(steps):
        if name == "Newton":
            optimizer.step(lambda: problem.loss(theta))
        elif name == "Nesterov":
            optimizer.step(backward_closure)
        else:
            backward_closure()
            optimizer.step()
        path.append(theta.data.copy())
        if not np.all(np.isfinite(theta.data)) or np.linalg.norm(theta.data - star) > blowup:
            break
    return np.array(path)


def steps_to_tolerance(path: np.ndarray, optimum: np.ndarray, tol: float) -> int | None:
    """Return the first t with ‖θ_t − θ*‖ ≤ tol, or None if the path never gets there.

    Examples:
        >>> steps_to_tolerance(np.array([[1.0], [0.1], [0.001]]), np.zeros(1), 0.01)
        2
    """
    errors = np.linalg.norm(path - optimum, axis=1)
    hits = np.flatnonzero(errors <= tol)
    return int(hits[0]) if hits.size else None
