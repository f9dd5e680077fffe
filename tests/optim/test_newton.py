"""Newton's method: one step on a quadratic, (1 − α) contraction, Rosenbrock, clean failures."""

from __future__ import annotations

import numpy as np
import pytest

import mlplab
from mlplab import Tensor
from mlplab.optim import Newton, conjugate_gradient

RNG = np.random.default_rng(7)
M = RNG.normal(size=(7, 7))
P = M @ M.T + 0.5 * np.eye(7)  # positive definite
Q = RNG.normal(size=7)
THETA_STAR = np.linalg.solve(P, Q)


def quadratic_problem():
    """f(θ) = ½θᵀPθ − qᵀθ with θ split over a (2, 2) and a (3,) tensor."""
    x1 = mlplab.tensor(np.ones((2, 2)), requires_grad=True)
    x2 = mlplab.tensor(np.array([1.0, -2.0, 0.5]), requires_grad=True)

    def closure():
        theta = mlplab.concatenate([x1.reshape(-1), x2])
        return 0.5 * (theta @ (Tensor(P) @ theta)) - (Tensor(Q) * theta).sum()

    def theta():
        return np.concatenate([x1.data.reshape(-1), x2.data])

    return [x1, x2], closure, theta


@pytest.mark.parametrize("method", ["full", "cg"])
def test_full_step_solves_a_positive_definite_quadratic_in_one_step(method):
    params, closure, theta = quadratic_problem()
    assert np.abs(theta() - THETA_STAR).max() > 0.1
    Newton(params, lr=1.0, method=method).step(closure)
    assert np.abs(theta() - THETA_STAR).max() <= 1e-10


@pytest.mark.parametrize("alpha", [0.3, 0.7])
def test_damped_step_shrinks_the_error_by_one_minus_alpha(alpha):
    params, closure, theta = quadratic_problem()
    opt = Newton(params, lr=alpha)
    error = theta() - THETA_STAR
    for _ in range(5):
        opt.step(closure)
        new_error = theta() - THETA_STAR
        np.testing.assert_allclose(new_error, (1 - alpha) * error, rtol=1e-8, atol=1e-12)
        error = new_error


def rosenbrock_problem(start=(-1.2, 1.0)):
    xy = mlplab.tensor(np.array(start), requires_grad=True)

    def closure():
        x, y = xy[0], xy[1]
        return (1 - x) ** 2 + 100 * (y - x * x) ** 2

    return xy, closure


@pytest.mark.parametrize(
    "kwargs",
    [{"lr": 0.5}, {"damping": 1.0}, {"damping": 1.0, "method": "cg"}, {"lr": 1.0}],
    ids=str,
)
def test_newton_converges_on_rosenbrock(kwargs):
    xy, closure = rosenbrock_problem()
    opt = Newton([xy], **kwargs)
    for _ in range(100):
        opt.step(closure)
    np.testing.assert_allclose(xy.data, [1.0, 1.0], atol=1e-8)


def test_singular_hessian_raises_and_leaves_parameters_unchanged():
    a = mlplab.tensor(np.array([1.0]), requires_grad=True)
    b = mlplab.tensor(np.array([2.0]), requires_grad=True)

    def closure():
        return ((a + b) ** 2).sum()  # H = [[2, 2], [2, 2]]

    with pytest.raises(RuntimeError, match="singular; increase damping"):
        Newton([a, b]).step(closure)
    assert a.data[0] == 1.0 and b.data[0] == 2.0
    Newton([a, b], damping=0.1).step(closure)  # damping makes it solvable
    assert abs((a.data + b.data)[0]) < 3.0


def test_cg_on_an_indefinite_hessian_raises_and_leaves_parameters_unchanged():
    xy = mlplab.tensor(np.array([1.0, 1.0]), requires_grad=True)

    def closure():
        return xy[0] ** 2 - xy[1] ** 2

    with pytest.raises(RuntimeError, match="not positive definite"):
        Newton([xy], method="cg").step(closure)
    np.testing.assert_array_equal(xy.data, [1.0, 1.0])


def test_non_finite_gradient_raises_and_leaves_parameters_unchanged():
    x = mlplab.tensor(np.array([0.0, 1.0]), requires_grad=True)
    with pytest.raises(RuntimeError, match="gradient is not finite"), np.errstate(all="ignore"):
        Newton([x]).step(lambda: x.sqrt().sum())
    np.testing.assert_array_equal(x.data, [0.0, 1.0])


def test_closure_contract_errors():
    x = mlplab.tensor(np.array([1.0]), requires_grad=True)
    opt = Newton([x])
    with pytest.raises(RuntimeError, match="needs a closure"):
        opt.step()
    with pytest.raises(RuntimeError, match="with its graph"):
        opt.step(lambda: 1.0)


def test_newton_never_touches_grad():
    params, closure, _ = quadratic_problem()
    sentinel = [Tensor(np.full(p.shape, 7.0)) for p in params]
    for p, s in zip(params, sentinel, strict=True):
        p.grad = s
    Newton(params).step(closure)
    for p, s in zip(params, sentinel, strict=True):
        assert p.grad is s and np.all(s.data == 7.0)


def test_levenberg_damped_newton_fits_a_tiny_mlp():
    # Undamped Newton wanders on this non-convex loss (the lecture's warning); λ = 1 descends.
    rng = np.random.default_rng(1)
    x = Tensor(rng.normal(size=(20, 2)))
    y = Tensor(np.sin(x.data[:, :1]) + 0.5 * x.data[:, 1:])
    w1 = mlplab.tensor(rng.normal(size=(2, 4)), requires_grad=True)
    b1 = mlplab.tensor(np.zeros(4), requires_grad=True)
    w2 = mlplab.tensor(rng.normal(size=(4, 1)) * 0.5, requires_grad=True)

    def closure():
        return mlplab.mse_loss((x @ w1 + b1).tanh() @ w2, y)

    first = closure().item()
    opt = Newton([w1, b1, w2], damping=1.0)
    losses = [first]
    for _ in range(15):
        opt.step(closure)
        losses.append(closure().item())
    assert all(b < a for a, b in zip(losses, losses[1:], strict=False))
    assert losses[-1] < 0.05 * first


def test_conjugate_gradient_matches_solve():
    x = conjugate_gradient(lambda v: P @ v, Q, tol=1e-12)
    np.testing.assert_allclose(x, THETA_STAR, rtol=1e-9)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"lr": 0.0}, "Newton: lr must be > 0, got 0"),
        ({"lr": -1.0}, "Newton: lr must be >= 0.0, got -1.0"),
        ({"damping": -0.1}, "Newton: damping must be >= 0.0, got -0.1"),
        ({"method": "lbfgs"}, "Newton: method must be"),
        ({"cg_max_iter": 0}, "Newton: cg_max_iter must be >= 1, got 0"),
    ],
)
def test_bad_newton_hyperparameters(kwargs, message):
    x = mlplab.tensor(np.array([1.0]), requires_grad=True)
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        Newton([x], **kwargs)
