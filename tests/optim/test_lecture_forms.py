"""The lecture's forms equal plain NumPy transcriptions of their formulas, step by step.

f(a, B) = Σ a⁴/4 + ½ aᵀPa + Σ sin B, so ∇_a = a³ + Pa and ∇_B = cos B: two tensors of different
shapes, a non-quadratic objective, gradients set by hand (``p.grad = Tensor(...)``).
"""

from __future__ import annotations

import numpy as np
import pytest

from mlplab import Tensor
from mlplab.optim import GD, SGD, Adam, Momentum, Nesterov, RMSprop

P = np.array([[2.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.0, 0.2, 3.0]])
START = [np.array([0.9, -0.7, 0.4]), np.array([[0.3, -1.2], [2.0, 0.1]])]
STEPS = 40


def grad_f(theta):
    a, b = theta
    return [a**3 + P @ a, np.cos(b)]


def fresh():
    return [Tensor(x.copy()) for x in START]


def set_grads(params):
    for p, g in zip(params, grad_f([p.data for p in params]), strict=True):
        p.grad = Tensor(g)


def run(opt, params, steps=STEPS):
    """Take ``steps`` steps with gradients at the current parameters; return every iterate."""
    trace = []
    for _ in range(steps):
        set_grads(params)
        opt.step()
        trace.append([p.data.copy() for p in params])
    return trace


def assert_traces(mine, reference, rtol=0.0):
    for t, (ours, theirs) in enumerate(zip(mine, reference, strict=True)):
        for a, b in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(a, b, rtol=rtol, atol=0, err_msg=f"step {t}")


@pytest.mark.parametrize("flat", [True, False])
def test_gd_is_theta_minus_alpha_g(flat):
    alpha = 0.1
    theta, ref = [x.copy() for x in START], []
    for _ in range(STEPS):
        theta = [th - alpha * g for th, g in zip(theta, grad_f(theta), strict=True)]
        ref.append(theta)
    params = fresh()
    assert_traces(run(GD(params, lr=alpha, flat=flat), params), ref)


@pytest.mark.parametrize("bias_correction", [False, True])
@pytest.mark.parametrize("flat", [True, False])
def test_momentum_is_the_ema_form_with_t_counting_from_zero(bias_correction, flat):
    alpha, beta = 0.05, 0.8
    theta = [x.copy() for x in START]
    u = [np.zeros_like(x) for x in START]
    ref = []
    for t in range(STEPS):  # the lecture's t = 0, 1, ...
        g = grad_f(theta)
        u = [beta * ui + (1 - beta) * gi for ui, gi in zip(u, g, strict=True)]
        if bias_correction:
            theta = [
                th - alpha * ui / (1 - beta ** (t + 1)) for th, ui in zip(theta, u, strict=True)
            ]
        else:
            theta = [th - alpha * ui for th, ui in zip(theta, u, strict=True)]
        ref.append(theta)
    params = fresh()
    opt = Momentum(params, lr=alpha, beta=beta, bias_correction=bias_correction, flat=flat)
    assert_traces(run(opt, params), ref)


def nesterov_reference(alpha, beta, steps=STEPS):
    theta = [x.copy() for x in START]
    u = [np.zeros_like(x) for x in START]
    thetas, lookaheads = [], []
    for _ in range(steps):
        look = [th - alpha * ui for th, ui in zip(theta, u, strict=True)]
        g = grad_f(look)  # the gradient at the look-ahead point θ − αu
        u = [beta * ui + (1 - beta) * gi for ui, gi in zip(u, g, strict=True)]
        theta = [th - alpha * ui for th, ui in zip(theta, u, strict=True)]
        lookaheads.append(look)
        thetas.append(theta)
    return thetas, lookaheads, u


@pytest.mark.parametrize("flat", [True, False])
def test_nesterov_with_closure_takes_the_gradient_at_the_look_ahead_point(flat):
    alpha, beta = 0.05, 0.9
    thetas, lookaheads, _ = nesterov_reference(alpha, beta)
    params = fresh()
    opt = Nesterov(params, lr=alpha, beta=beta, flat=flat)
    seen, trace = [], []

    def closure():
        seen.append([p.data.copy() for p in params])
        set_grads(params)
        return 0.0

    for _ in range(STEPS):
        opt.step(closure)
        trace.append([p.data.copy() for p in params])
    assert_traces(seen, lookaheads)
    assert_traces(trace, thetas)


def test_nesterov_without_closure_holds_the_look_ahead_point():
    alpha, beta = 0.05, 0.9
    thetas, _, u_final = nesterov_reference(alpha, beta)
    params = fresh()
    opt = Nesterov(params, lr=alpha, beta=beta)
    trace = run(opt, params)
    # φ_{t+1} = θ_{t+1} − αu_{t+1}: after the last step, θ = φ + αu
    for phi, th, u in zip(trace[-1], thetas[-1], u_final, strict=True):
        np.testing.assert_allclose(phi + alpha * u, th, rtol=1e-12)
    assert not np.allclose(trace[-1][0], thetas[-1][0], rtol=1e-6), "φ and θ should differ"


def test_nesterov_refuses_to_mix_modes():
    params = fresh()
    opt = Nesterov(params, lr=0.1)
    set_grads(params)
    opt.step()
    with pytest.raises(RuntimeError, match="Nesterov: every step must omit the closure"):
        opt.step(lambda: set_grads(params))


@pytest.mark.parametrize("flat", [True, False])
def test_adam_without_bias_correction_is_the_lecture_formula_verbatim(flat):
    alpha, b1, b2, eps = 0.02, 0.9, 0.99, 1e-8
    theta = [x.copy() for x in START]
    u = [np.zeros_like(x) for x in START]
    v = [np.zeros_like(x) for x in START]
    ref = []
    for _ in range(STEPS):
        g = grad_f(theta)
        u = [b1 * ui + (1 - b1) * gi for ui, gi in zip(u, g, strict=True)]
        v = [b2 * vi + (1 - b2) * gi**2 for vi, gi in zip(v, g, strict=True)]
        theta = [
            th - alpha * ui / (np.sqrt(vi) + eps) for th, ui, vi in zip(theta, u, v, strict=True)
        ]
        ref.append(theta)
    params = fresh()
    opt = Adam(params, lr=alpha, betas=(b1, b2), eps=eps, bias_correction=False, flat=flat)
    assert_traces(run(opt, params), ref)


def test_adam_with_bias_correction_divides_by_one_minus_beta_to_the_t_plus_one():
    alpha, b1, b2, eps = 0.02, 0.9, 0.99, 1e-8
    theta = [x.copy() for x in START]
    u = [np.zeros_like(x) for x in START]
    v = [np.zeros_like(x) for x in START]
    ref = []
    for t in range(STEPS):
        g = grad_f(theta)
        u = [b1 * ui + (1 - b1) * gi for ui, gi in zip(u, g, strict=True)]
        v = [b2 * vi + (1 - b2) * gi**2 for vi, gi in zip(v, g, strict=True)]
        u_hat = [ui / (1 - b1 ** (t + 1)) for ui in u]
        v_hat = [vi / (1 - b2 ** (t + 1)) for vi in v]
        theta = [
            th - alpha * uh / (np.sqrt(vh) + eps)
            for th, uh, vh in zip(theta, u_hat, v_hat, strict=True)
        ]
        ref.append(theta)
    params = fresh()
    opt = Adam(params, lr=alpha, betas=(b1, b2), eps=eps)
    assert_traces(run(opt, params), ref, rtol=1e-12)  # PyTorch's op order: equal to rounding


def test_first_adam_step_moves_each_coordinate_by_about_alpha():
    params = fresh()
    before = [p.data.copy() for p in params]
    run(Adam(params, lr=0.01), params, steps=1)
    for p, b in zip(params, before, strict=True):
        np.testing.assert_allclose(np.abs(p.data - b), 0.01, rtol=1e-6)


def test_lecture_momentum_equals_pytorch_sgd_with_lr_alpha_one_minus_beta():
    alpha, beta = 0.05, 0.8
    a, b = fresh(), fresh()
    mine = run(Momentum(a, lr=alpha, beta=beta), a)
    theirs = run(SGD(b, lr=alpha * (1 - beta), momentum=beta, dampening=0.0), b)
    assert_traces(mine, theirs, rtol=1e-12)


def test_gd_equals_sgd_without_momentum_exactly():
    a, b = fresh(), fresh()
    assert_traces(run(GD(a, lr=0.1), a), run(SGD(b, lr=0.1), b))


def test_rmsprop_equals_lecture_adam_with_beta1_zero_and_no_bias_correction():
    a, b = fresh(), fresh()
    mine = run(RMSprop(a, lr=0.01, alpha=0.95, eps=1e-8), a)
    theirs = run(Adam(b, lr=0.01, betas=(0.0, 0.95), eps=1e-8, bias_correction=False), b)
    assert_traces(mine, theirs, rtol=1e-12)
