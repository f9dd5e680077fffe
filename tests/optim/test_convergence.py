"""Every optimizer converges on a quadratic and on Rosenbrock with reasonable settings.

Gradients are written by hand so that these thousands of steps cost little; the minimizers are
known (A⁻¹b for the quadratic, (1, 1) for Rosenbrock from the classic start (−1.2, 1)).
"""

from __future__ import annotations

import numpy as np
import pytest

from mlplab import Tensor
from mlplab import optim as O

ROT = np.array([[np.cos(0.5), -np.sin(0.5)], [np.sin(0.5), np.cos(0.5)]])
A = ROT @ np.diag([1.0, 10.0]) @ ROT.T
B = np.array([1.0, -2.0])
QUADRATIC_MIN = np.linalg.solve(A, B)


def quadratic_grad(theta):
    return A @ theta - B


def rosenbrock_grad(theta):
    x, y = theta
    return np.array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])


# name -> (factory, step limit on Rosenbrock), settings tuned once by hand
OPTIMIZERS = {
    "GD": (lambda ps, s: O.GD(ps, lr=1.9e-3 * s), 12000),
    "Momentum": (lambda ps, s: O.Momentum(ps, lr=2e-2 * s, beta=0.9), 2000),
    "Momentum(bias_correction)": (
        lambda ps, s: O.Momentum(ps, lr=5e-3 * s, beta=0.9, bias_correction=True),
        5000,
    ),
    "Nesterov": (lambda ps, s: O.Nesterov(ps, lr=1e-2 * s, beta=0.9), 3000),
    "Adam": (lambda ps, s: O.Adam(ps, lr=5e-2, betas=(0.9, 0.99)), 2000),
    "Adam(bias_correction=False)": (
        lambda ps, s: O.Adam(ps, lr=2e-2, betas=(0.9, 0.99), bias_correction=False),
        2000,
    ),
    "Adam(amsgrad)": (lambda ps, s: O.Adam(ps, lr=0.1, betas=(0.9, 0.99), amsgrad=True), 5000),
    "AdamW": (lambda ps, s: O.AdamW(ps, lr=5e-2, betas=(0.9, 0.99), weight_decay=0.0), 2000),
    "SGD(momentum)": (lambda ps, s: O.SGD(ps, lr=2e-3 * s, momentum=0.9), 2000),
    "SGD(nesterov)": (lambda ps, s: O.SGD(ps, lr=1e-3 * s, momentum=0.9, nesterov=True), 3000),
    "RMSprop": (lambda ps, s: O.RMSprop(ps, lr=1e-3, momentum=0.9), 2000),
    "RMSprop(centered)": (
        lambda ps, s: O.RMSprop(ps, lr=1e-3, momentum=0.9, centered=True),
        2000,
    ),
    "Adagrad": (lambda ps, s: O.Adagrad(ps, lr=1.0), 12000),
}


def minimize(name, grad_fn, start, limit, scale, target, closure_mode=False):
    factory, _ = OPTIMIZERS[name]
    p = Tensor(np.array(start, dtype=float))
    opt = factory([p], scale)

    def set_grad():
        p.grad = Tensor(grad_fn(p.data))

    for _ in range(limit):
        if closure_mode:
            opt.step(set_grad)
        else:
            set_grad()
            opt.step()
        if np.abs(p.data - target).max() < 1e-3:
            return p.data
    return p.data


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_converges_on_a_quadratic(name):
    # lr scale 10 for the plain-gradient methods: curvature 10 at most here, 1002 on Rosenbrock
    final = minimize(name, quadratic_grad, [3.0, 3.0], 3000, 10.0, QUADRATIC_MIN)
    np.testing.assert_allclose(final, QUADRATIC_MIN, atol=1e-3)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_converges_on_rosenbrock(name):
    _, limit = OPTIMIZERS[name]
    final = minimize(name, rosenbrock_grad, [-1.2, 1.0], limit, 1.0, np.ones(2))
    np.testing.assert_allclose(final, [1.0, 1.0], atol=1e-3)


def test_nesterov_with_closure_converges_on_rosenbrock():
    final = minimize("Nesterov", rosenbrock_grad, [-1.2, 1.0], 3000, 1.0, np.ones(2), True)
    np.testing.assert_allclose(final, [1.0, 1.0], atol=1e-3)


def test_gd_diverges_on_a_quadratic_above_two_over_lambda_max():
    p = Tensor(np.array([3.0, 3.0]))
    opt = O.GD([p], lr=2.05 / 10.0)  # λ_max = 10
    for _ in range(200):
        p.grad = Tensor(quadratic_grad(p.data))
        opt.step()
    assert np.abs(p.data - QUADRATIC_MIN).max() > 10.0
