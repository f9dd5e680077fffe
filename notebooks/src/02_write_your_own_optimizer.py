# ruff: noqa: E402
# %% [markdown]
# # Write your own optimizer
#
# Every mlplab optimizer is two pieces (the lecture's update rules read best that way):
#
# 1. a **kernel** — a pure function over lists of NumPy arrays that applies the update in place
#    and builds no graph (`mlplab.optim.gd_update`, `momentum_update`, `adam_update`, …);
# 2. a **thin class** on `mlplab.optim.Optimizer` that names its hyperparameters and state and
#    hands the arrays to the kernel; the base class brings param groups, `zero_grad`,
#    `state_dict`/`load_state_dict` and the flat fast path (all parameters as one vector).
#
# We add an update rule the library does not have, **Lion** (Chen et al., 2023, "Symbolic
# Discovery of Optimization Algorithms"), in the lecture's notation (u starts at 0):
#
#     c ← β₁u + (1−β₁)g            (the direction: an interpolation, like momentum's u)
#     θ ← θ − α (sign(c) + λθ)     (every coordinate moves by exactly α, as Adam at its first step)
#     u ← β₂u + (1−β₂)g            (the momentum itself, with a longer memory β₂ > β₁)
#
# then check it three ways: against a plain NumPy transcription of the formula, on Rosenbrock's
# function, and training an MLP on MNIST with `mlplab.train.fit`.

# %%
import matplotlib.pyplot as plt
import numpy as np

import mlplab
from mlplab import nn, optim
from mlplab.data import DataLoader, load_dataset
from mlplab.optim.optimizer import check_range
from mlplab.train import evaluate, fit

# %% [markdown]
# ## The kernel
#
# In place, on arrays, one line per line of the formula. `u` is updated *after* the step uses
# the interpolation c — that ordering is the rule.


# %%
def lion_update(params, grads, exp_avgs, *, lr, beta1, beta2, weight_decay=0.0):
    """Apply one Lion step in place to every (θ, g, u) triple."""
    for theta, g, u in zip(params, grads, exp_avgs, strict=True):
        c = beta1 * u + (1 - beta1) * g
        theta -= lr * (np.sign(c) + weight_decay * theta)
        u *= beta2
        u += (1 - beta2) * g


# %% [markdown]
# ## The thin class
#
# `state_fill` names the state arrays and their initial value; `_check_group` validates the
# hyperparameters (a clear message naming the bad value, before any work); `_update` calls the
# kernel. The base class allocates the state (flat when it can) and counts the steps.


# %%
class Lion(optim.Optimizer):
    """Lion: θ ← θ − α(sign(β₁u + (1−β₁)g) + λθ), then u ← β₂u + (1−β₂)g."""

    state_fill = {"exp_avg": 0.0}

    def __init__(self, params, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0, *, flat=True):
        super().__init__(
            params, dict(lr=lr, betas=tuple(betas), weight_decay=weight_decay), flat=flat
        )

    def _check_group(self, group):
        super()._check_group(group)
        for i, beta in enumerate(group["betas"], start=1):
            check_range("Lion", f"beta{i}", beta, 0.0, 1.0, open_high=True)
        check_range("Lion", "weight_decay", group["weight_decay"], 0.0)

    def _update(self, group, params, grads, state, steps, work):
        beta1, beta2 = group["betas"]
        lion_update(
            params,
            grads,
            state["exp_avg"],
            lr=group["lr"],
            beta1=beta1,
            beta2=beta2,
            weight_decay=group["weight_decay"],
        )


try:
    Lion([mlplab.tensor([1.0], requires_grad=True)], betas=(0.9, 1.0))
except ValueError as err:
    print("bad input is refused up front:", err)

# %% [markdown]
# ## Check 1: the class against a NumPy transcription of the formula
#
# Ten steps with random gradients on two parameter tensors, through the class (flat fast path
# and per-tensor path), and through a loop that is nothing but the three lines above on plain
# arrays. They must agree to the last bit, up to floating-point rounding.

# %%
rng = np.random.default_rng(0)
shapes = [(3, 4), (4,)]
start = [rng.standard_normal(s) for s in shapes]
grads = [[rng.standard_normal(s) for s in shapes] for _ in range(10)]
hyper = dict(lr=0.01, betas=(0.9, 0.99), weight_decay=0.1)


def by_class(flat):
    params = [mlplab.tensor(a.copy(), requires_grad=True) for a in start]
    opt = Lion(params, **hyper, flat=flat)
    for gs in grads:
        for p, g in zip(params, gs, strict=True):
            p.grad = mlplab.Tensor(g.copy())
        opt.step()
    return [p.numpy() for p in params]


def by_formula():
    theta = [a.copy() for a in start]
    u = [np.zeros(s) for s in shapes]
    (b1, b2), lr, wd = hyper["betas"], hyper["lr"], hyper["weight_decay"]
    for gs in grads:
        for i, g in enumerate(gs):
            c = b1 * u[i] + (1 - b1) * g
            theta[i] = theta[i] - lr * (np.sign(c) + wd * theta[i])
            u[i] = b2 * u[i] + (1 - b2) * g
    return theta


reference = by_formula()
for flat in (True, False):
    diff = max(np.abs(a - b).max() for a, b in zip(by_class(flat), reference, strict=True))
    print(f"flat={flat!s:<5}  max |class − formula| = {diff:.3g}")
    assert diff < 1e-12

# %% [markdown]
# ## Check 2: Rosenbrock's valley
#
# f(x, y) = (1 − x)² + 100 (y − x²)², minimum 0 at (1, 1), at the end of a long curved valley:
# the classic test that an optimizer makes progress where the gradient's scale changes by orders
# of magnitude. The gradient comes from mlplab's autodiff. Lion's sign step moves at a constant
# speed α, so a slowly decaying α (`ExponentialLR`) lets it settle.


# %%
def rosenbrock(p):
    x, y = p[0], p[1]
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def descend(make, steps, schedule=None):
    p = mlplab.tensor(np.array([-1.5, 2.0]), requires_grad=True)
    opt = make([p])
    sched = schedule(opt) if schedule else None
    path = [p.numpy().copy()]
    for _ in range(steps):
        opt.zero_grad()
        rosenbrock(p).backward()
        opt.step()
        if sched:
            sched.step()
        path.append(p.numpy().copy())
    return np.array(path)


runs = {
    "Lion α = 0.02, ×0.998 per step": descend(
        lambda p: Lion(p, lr=0.02), 3000, lambda o: optim.lr_scheduler.ExponentialLR(o, gamma=0.998)
    ),
    "Adam α = 0.01": descend(lambda p: optim.Adam(p, lr=0.01), 3000),
    "GD α = 0.001": descend(lambda p: optim.GD(p, lr=0.001), 3000),
}
for name, path in runs.items():
    end = path[-1]
    value = float(rosenbrock(mlplab.Tensor(end)).item())
    print(f"{name:<32} end {end}  f = {value:.2e}  ‖θ − (1, 1)‖ = {np.linalg.norm(end - 1):.2e}")
assert np.linalg.norm(runs["Lion α = 0.02, ×0.998 per step"][-1] - 1) < 1e-2

X, Y = np.meshgrid(np.linspace(-2, 2, 300), np.linspace(-1, 3, 300))
F = (1 - X) ** 2 + 100 * (Y - X**2) ** 2
fig, ax = plt.subplots(figsize=(6, 5))
ax.contour(X, Y, np.log10(F + 1e-3), levels=20, colors="0.8")
for name, path in runs.items():
    ax.plot(path[:, 0], path[:, 1], "-", lw=1.2, label=name)
ax.plot(1, 1, "k*", ms=12)
ax.set(title="Rosenbrock: 3000 steps from (−1.5, 2)", xlabel="x", ylabel="y")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## Check 3: training a network with `fit`
#
# The class plugs into the training loop unchanged: `fit` calls `zero_grad`, `backward` and
# `step`, and `state_dict` makes it checkpointable. A 784-128-10 ReLU MLP on the embedded
# MNIST digits, 2 epochs, against Adam at its usual α (Lion's authors advise a 3–10× smaller α
# than Adam's, since its steps are all ±α).

# %%
train = DataLoader(load_dataset("mnist-5k"), batch_size=64, shuffle=True, seed=0)
test = DataLoader(load_dataset("mnist-5k", split="test"), batch_size=1000)
results = {}
for name, make in {
    "Lion α = 2e-4": lambda ps: Lion(ps, lr=2e-4),
    "Adam α = 1e-3": lambda ps: optim.Adam(ps, lr=1e-3),
}.items():
    model = nn.MLP(784, 10, width=128, depth=2, rng=0)
    history = fit(model, make(model.parameters()), train, epochs=2, val_loader=test)
    results[name] = history
    print(
        f"{name}: test accuracy after each epoch",
        [round(e["val_accuracy"], 4) for e in history.epochs],
        " final",
        evaluate(model, test),
    )

fig, ax = plt.subplots(figsize=(6, 4))
for name, history in results.items():
    steps, losses = zip(*history.steps, strict=True)
    ax.plot(steps, losses, label=name)
ax.set(xlabel="step", ylabel="training loss", title="MNIST-5k, 784-128-10")
ax.legend()
plt.show()

# %% [markdown]
# To make the optimizer part of the library: put the kernel and the class in
# `src/mlplab/optim/lion.py`, export both from `mlplab.optim`, and test them the same three
# ways (a NumPy transcription, flat against per-tensor, convergence on a quadratic and on
# Rosenbrock) — the tests of `tests/optim/` show the pattern.
