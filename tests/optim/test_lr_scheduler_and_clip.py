"""Schedules give torch's learning-rate sequences; clipping matches torch.nn.utils."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlplab import Tensor
from mlplab import optim as O

torch = pytest.importorskip("torch")

SCHEDULES = [
    ("StepLR", {"step_size": 3, "gamma": 0.5}),
    ("ExponentialLR", {"gamma": 0.9}),
    ("CosineAnnealingLR", {"T_max": 7}),
    ("CosineAnnealingLR", {"T_max": 5, "eta_min": 0.01}),
    ("LinearLR", {}),
    ("LinearLR", {"start_factor": 0.1, "end_factor": 0.5, "total_iters": 6}),
    ("LambdaLR", {"lr_lambda": lambda e: 1.0 / (1 + e) ** 0.5}),
]


def _lrs(module, opt_cls, name, kwargs, params, steps=25):
    opt = opt_cls([{"params": params[:1]}, {"params": params[1:], "lr": 0.3}], lr=0.1)
    sched = getattr(module, name)(opt, **kwargs)
    out = []
    for _ in range(steps):
        out.append(sched.get_last_lr())
        opt.step()
        sched.step()
    return np.array(out)


@pytest.mark.parametrize("name, kwargs", SCHEDULES, ids=lambda v: str(v)[:30])
def test_schedules_give_torchs_learning_rates(name, kwargs):
    mine = _lrs(O.lr_scheduler, O.SGD, name, kwargs, [Tensor(np.zeros(1)), Tensor(np.zeros(1))])
    theirs = _lrs(
        torch.optim.lr_scheduler,
        torch.optim.SGD,
        name,
        kwargs,
        [torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)],
    )
    np.testing.assert_allclose(mine, theirs, rtol=1e-13, atol=1e-15)
    assert np.ptp(mine[:, 0]) > 0.01  # the schedule did something


def test_cosine_annealing_follows_the_closed_form():
    opt = O.SGD([Tensor(np.zeros(1))], lr=1.0)
    sched = O.CosineAnnealingLR(opt, T_max=10, eta_min=0.1)
    for epoch in range(1, 11):
        sched.step()
        expected = 0.1 + 0.9 * (1 + math.cos(math.pi * epoch / 10)) / 2
        assert abs(opt.param_groups[0]["lr"] - expected) < 1e-12


def test_scheduler_state_dict_resumes_the_sequence():
    opt = O.SGD([Tensor(np.zeros(1))], lr=1.0)
    sched = O.StepLR(opt, step_size=2, gamma=0.5)
    for _ in range(5):
        sched.step()
    state, opt_state = sched.state_dict(), opt.state_dict()
    expected = []
    for _ in range(4):
        sched.step()
        expected.append(sched.get_last_lr()[0])
    # PyTorch's order: build the scheduler first, then load the optimizer, then the scheduler
    opt2 = O.SGD([Tensor(np.zeros(1))], lr=1.0)
    sched2 = O.StepLR(opt2, step_size=2, gamma=0.5)
    opt2.load_state_dict(opt_state)
    sched2.load_state_dict(state)
    got = []
    for _ in range(4):
        sched2.step()
        got.append(sched2.get_last_lr()[0])
    assert got == expected


def test_scheduler_errors():
    opt = O.SGD([Tensor(np.zeros(1))], lr=1.0)
    with pytest.raises(ValueError, match="StepLR: step_size must be a positive integer, got 0"):
        O.StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match=r"LinearLR: start_factor must be in \(0, 1\], got 0"):
        O.LinearLR(opt, start_factor=0)
    with pytest.raises(TypeError, match="StepLR: expected an Optimizer, got list"):
        O.StepLR([], step_size=1)
    fresh = O.SGD([Tensor(np.zeros(1))], lr=1.0)
    with pytest.raises(KeyError, match="initial_lr"):
        O.ExponentialLR(fresh, gamma=0.9, last_epoch=3)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    rng = np.random.default_rng(0)
    grads = [rng.normal(size=(3, 4)), rng.normal(size=5)]
    mine = [Tensor(np.zeros_like(g)) for g in grads]
    theirs = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, t, g in zip(mine, theirs, grads, strict=True):
        p.grad, t.grad = Tensor(g.copy()), torch.from_numpy(g.copy())
    total = O.clip_grad_norm_(mine, max_norm, norm_type)
    total_t = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert abs(float(total) - total_t.item()) < 1e-12
    for p, t in zip(mine, theirs, strict=True):
        np.testing.assert_allclose(p.grad.data, t.grad.numpy(), rtol=1e-13)


def test_clip_grad_value_matches_torch_and_errors():
    g = np.linspace(-3, 3, 7)
    p, t = Tensor(np.zeros(7)), torch.zeros(7, dtype=torch.float64, requires_grad=True)
    p.grad, t.grad = Tensor(g.copy()), torch.from_numpy(g.copy())
    O.clip_grad_value_([p], 1.5)
    torch.nn.utils.clip_grad_value_([t], 1.5)
    np.testing.assert_array_equal(p.grad.data, t.grad.numpy())
    with pytest.raises(ValueError, match="clip_grad_value_: clip_value must be >= 0, got -1"):
        O.clip_grad_value_([p], -1)
    p.grad = Tensor(np.array([np.inf]))
    with pytest.raises(RuntimeError, match="total norm of order 2.0 of the gradients is inf"):
        O.clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
