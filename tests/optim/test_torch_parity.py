"""The PyTorch-form optimizers leave the same parameters as torch.optim (float64, 100 steps).

Both libraries train the same small tanh MLP on the same data (gradients from one hand-written
NumPy function, so only the optimizers differ; two cases use each library's own autodiff); after
every grid point's 100 steps the parameters agree to 1e-10. Maximizing a loss is chaotic (the
two implementations' rounding differences grow exponentially), so maximize runs 10 steps.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import mlplab
from mlplab import optim

torch = pytest.importorskip("torch")
torch.set_num_threads(1)  # tiny tensors: threads only add contention on a shared machine

SHAPES = [(5, 8), (8,), (8, 3), (3,)]


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 5))
    y = rng.integers(0, 3, size=16)
    init = [rng.normal(scale=0.5, size=s) for s in SHAPES]
    return x, y, init


def _mlplab_loss(params, x, y):
    w1, b1, w2, b2 = params
    h = (mlplab.Tensor(x) @ w1 + b1).tanh()
    return mlplab.cross_entropy(h @ w2 + b2, y)


def _torch_loss(params, x, y):
    w1, b1, w2, b2 = params
    h = torch.tanh(torch.from_numpy(x) @ w1 + b1)
    return torch.nn.functional.cross_entropy(h @ w2 + b2, torch.from_numpy(y))


def _numpy_grads(params, x, y):
    """The same MLP's cross-entropy gradient, by hand (fast: the grid runs thousands of steps)."""
    w1, b1, w2, b2 = params
    h = np.tanh(x @ w1 + b1)
    z = h @ w2 + b2
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(len(y)), y] -= 1
    dz = p / len(y)
    dh = (dz @ w2.T) * (1 - h * h)
    return [x.T @ dh, dh.sum(axis=0), h.T @ dz, dz.sum(axis=0)]


def run_both(name, kwargs, steps=100, groups=None, flat=True, autodiff=False):
    """Train with mlplab.optim.<name> and torch.optim.<name>; return both final parameters.

    By default both get the gradient of the hand-written NumPy MLP at their own parameters, so
    only the optimizers differ; with ``autodiff`` each library differentiates its own graph.
    """
    x, y, init = _data()
    mine = [mlplab.tensor(a.copy(), requires_grad=True) for a in init]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in init]

    def grouped(ps):
        if groups is None:
            return ps
        return [{"params": ps[:2], **groups[0]}, {"params": ps[2:], **groups[1]}]

    opt_m = getattr(optim, name)(grouped(mine), flat=flat, **kwargs)
    opt_t = getattr(torch.optim, name)(grouped(theirs), **kwargs)
    for _ in range(steps):
        opt_m.zero_grad()
        opt_t.zero_grad()
        if autodiff:
            _mlplab_loss(mine, x, y).backward()
            _torch_loss(theirs, x, y).backward()
        else:
            for p, g in zip(mine, _numpy_grads([p.data for p in mine], x, y), strict=True):
                p.grad = mlplab.Tensor(g)
            with torch.no_grad():
                grads = _numpy_grads([p.numpy() for p in theirs], x, y)
            for p, g in zip(theirs, grads, strict=True):
                p.grad = torch.from_numpy(g)
        opt_m.step()
        opt_t.step()
    return [p.data for p in mine], [p.detach().numpy() for p in theirs]


def assert_same(name, kwargs, **options):
    mine, theirs = run_both(name, kwargs, **options)
    moved = max(np.abs(t - a).max() for t, a in zip(theirs, _data()[2], strict=True))
    assert moved > 1e-3, "the parameters barely moved: the comparison would prove nothing"
    for a, b in zip(mine, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)


def _grid(**axes):
    keys = list(axes)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*axes.values())]


SGD_GRID = [
    kw
    for kw in _grid(
        momentum=[0.0, 0.9], dampening=[0.0, 0.3], nesterov=[False, True], weight_decay=[0, 0.01]
    )
    if not (kw["nesterov"] and (kw["momentum"] == 0 or kw["dampening"] != 0))
    and not (kw["momentum"] == 0 and kw["dampening"] != 0)
]


@pytest.mark.parametrize("kwargs", SGD_GRID, ids=str)
def test_sgd_matches_torch(kwargs):
    assert_same("SGD", {"lr": 0.1, **kwargs})


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
@pytest.mark.parametrize("kwargs", _grid(amsgrad=[False, True], weight_decay=[0.0, 0.05]), ids=str)
def test_adam_and_adamw_match_torch(name, kwargs):
    assert_same(name, {"lr": 0.01, "betas": (0.8, 0.95), **kwargs})


@pytest.mark.parametrize(
    "kwargs", _grid(centered=[False, True], momentum=[0.0, 0.5], weight_decay=[0.0, 0.01]), ids=str
)
def test_rmsprop_matches_torch(kwargs):
    # alpha = 0.99 (the default): with a short memory (alpha = 0.9) a coordinate whose gradient
    # passes near zero divides rounding noise by a tiny sqrt(s), and any two implementations
    # then drift apart by ~1e-9 in a few steps.
    assert_same("RMSprop", {"lr": 0.003, **kwargs})


@pytest.mark.parametrize(
    "kwargs",
    _grid(lr_decay=[0.0, 0.01], weight_decay=[0.0, 0.01], initial_accumulator_value=[0.0, 0.1]),
    ids=str,
)
def test_adagrad_matches_torch(kwargs):
    assert_same("Adagrad", {"lr": 0.1, **kwargs})


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
        ("Adam", {"lr": 0.01, "weight_decay": 0.01}),
        ("AdamW", {"lr": 0.01, "amsgrad": True}),
        ("RMSprop", {"lr": 0.003, "centered": True, "momentum": 0.5}),
        ("Adagrad", {"lr": 0.05, "weight_decay": 0.01}),
    ],
)
def test_maximize_matches_torch_over_ten_steps(name, kwargs):
    mine, theirs = run_both(name, {**kwargs, "maximize": True}, steps=10)
    for a, b in zip(mine, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop"])
def test_per_tensor_path_matches_torch_too(name):
    kwargs = {"SGD": {"lr": 0.1, "momentum": 0.9}, "Adam": {"lr": 0.01}, "RMSprop": {"lr": 0.003}}
    assert_same(name, kwargs[name], flat=False)


@pytest.mark.parametrize(
    "name, kwargs",
    [("SGD", {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.01}), ("Adam", {"lr": 0.01})],
)
def test_with_each_librarys_own_autodiff(name, kwargs):
    assert_same(name, kwargs, autodiff=True)


def test_param_groups_with_their_own_lr_and_weight_decay_match_torch():
    groups = [{"lr": 0.2, "weight_decay": 0.05}, {"momentum": 0.5}]
    assert_same("SGD", {"lr": 0.05, "momentum": 0.9}, groups=groups)
    assert_same("Adam", {"lr": 0.01}, groups=[{"lr": 0.03, "weight_decay": 0.1}, {}])
