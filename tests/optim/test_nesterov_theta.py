"""The closure-free Nesterov holds φ = θ − αu; at_theta()/theta() give θ back, evaluate scores θ."""

from __future__ import annotations

import numpy as np

from mlplab import Tensor, optim
from mlplab.data import ArrayDataset, DataLoader
from mlplab.nn import CrossEntropyLoss, Linear
from mlplab.train import evaluate, fit

A = np.diag([1.0, 10.0])


def run(with_closure: bool, steps: int = 6):
    """Nesterov on f(θ) = ½θᵀAθ; return (the parameter tensor, the optimizer)."""
    w = Tensor(np.array([1.0, 1.0]))
    opt = optim.Nesterov([w], lr=0.05, beta=0.9)
    for _ in range(steps):
        if with_closure:

            def closure():
                w.grad = Tensor(A @ w.data)
                return 0.0

            opt.step(closure)
        else:
            w.grad = Tensor(A @ w.data)
            opt.step()
    return w, opt


def test_theta_of_the_closure_free_run_is_the_closure_runs_parameters():
    w_closure, _ = run(with_closure=True)
    w_free, opt = run(with_closure=False)
    assert np.abs(w_free.data - w_closure.data).max() > 1e-3  # φ differs from θ
    np.testing.assert_allclose(opt.theta()[0], w_closure.data, rtol=1e-12, atol=1e-15)
    phi = w_free.data.copy()
    with opt.at_theta():
        np.testing.assert_allclose(w_free.data, w_closure.data, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(w_free.data, phi)  # φ back, bit for bit


def test_at_theta_puts_phi_back_when_the_block_raises():
    w, opt = run(with_closure=False)
    phi = w.data.copy()
    try:
        with opt.at_theta():
            raise KeyError("boom")
    except KeyError:
        pass
    np.testing.assert_array_equal(w.data, phi)


def test_with_a_closure_theta_is_the_parameters_themselves():
    w, opt = run(with_closure=True)
    np.testing.assert_array_equal(opt.theta()[0], w.data)


def blobs(n=40):
    rng = np.random.default_rng(3)
    y = np.arange(n) % 2
    x = rng.normal(size=(n, 2)) + np.where(y[:, None] == 1, 1.0, -1.0)
    return ArrayDataset(x, y.astype(np.int64))


def loop_without_closure(steps=5):
    model = Linear(2, 2, rng=0, dtype=np.float64)
    opt = optim.Nesterov(model.parameters(), lr=0.5, beta=0.9)
    crit = CrossEntropyLoss()
    for x, y in DataLoader(blobs(), batch_size=8):
        opt.zero_grad()
        crit(model(x), y).backward()
        opt.step()
    return model, opt


def test_evaluate_given_the_optimizer_scores_theta():
    model, opt = loop_without_closure()
    loader = DataLoader(blobs(), batch_size=40)
    at_phi = evaluate(model, loader)
    phi = [p.data.copy() for p in model.parameters()]
    with opt.at_theta():
        expected = evaluate(model, loader)
    assert at_phi != expected
    assert evaluate(model, loader, optimizer=opt) == expected
    for p, saved in zip(model.parameters(), phi, strict=True):
        np.testing.assert_array_equal(p.data, saved)


class ClosureFree(optim.Nesterov):
    """A Nesterov that fit drives without a closure: the parameters hold φ during training."""

    closure_kind = "none"


def test_fit_validates_at_theta():
    model = Linear(2, 2, rng=0, dtype=np.float64)
    opt = ClosureFree(model.parameters(), lr=0.5, beta=0.9)
    val = DataLoader(blobs(), batch_size=40)
    history = fit(model, opt, DataLoader(blobs(), batch_size=8), epochs=2, val_loader=val)
    with opt.at_theta():
        loss, acc = evaluate(model, val)
    assert history.epochs[-1]["val_loss"] == loss
    assert evaluate(model, val) != (loss, acc)  # the parameters hold φ, not θ
