# ruff: noqa: E402
# %% [markdown]
# # Second order in practice: `grad(create_graph=True)`, `hvp`, `hessian`, Newton with CG
#
# The lecture's Newton step θ ← θ − α(∇²f(θ))⁻¹∇f(θ) needs second derivatives. mlplab gets them
# from the same reverse-mode engine: every primitive's vector-Jacobian product is written in
# mlplab ops, so with `create_graph=True` the backward pass is itself a graph that can be
# differentiated again. Every number below is checked against central finite differences in
# float64.

# %%
import matplotlib.pyplot as plt
import numpy as np

import mlplab
from mlplab import nn, optim
from mlplab.data import load_dataset

rng = np.random.default_rng(0)

# %% [markdown]
# ## `grad` with `create_graph=True`: derivatives of derivatives
#
# f(x) = Σᵢ xᵢ³ tanh(xᵢ). The first `grad` keeps its graph, so differentiating ∇f · v once more
# gives the Hessian-vector product H v = ∇(∇f · v), with a random v.


# %%
def f(x):
    return (x**3 * mlplab.tanh(x)).sum()


def grad_f(a):
    """∇f at a float64 array, as an array (first order only)."""
    t = mlplab.tensor(a, requires_grad=True)
    return mlplab.grad(f(t), [t])[0].numpy()


x = mlplab.tensor(rng.standard_normal(5), requires_grad=True)
v = rng.standard_normal(5)
(g,) = mlplab.grad(f(x), [x], create_graph=True)  # ∇f, as a graph
(Hv,) = mlplab.grad((g * mlplab.Tensor(v)).sum(), [x])  # ∇(∇f · v) = H v

h, a = 1e-6, x.numpy()
fd_grad = np.array(
    [
        (f(mlplab.Tensor(a + h * e)).item() - f(mlplab.Tensor(a - h * e)).item()) / (2 * h)
        for e in np.eye(5)
    ]
)
fd_Hv = (grad_f(a + h * v) - grad_f(a - h * v)) / (2 * h)
print("max |∇f − central differences of f|  ", np.abs(g.numpy() - fd_grad).max())
print("max |H v − central differences of ∇f|", np.abs(Hv.numpy() - fd_Hv).max())

# %% [markdown]
# ## `hvp` and `hessian`
#
# `mlplab.hvp(f, x, v)` is the two calls above in one; `mlplab.hessian(f, x)` builds the dense
# Hessian row by row (one Hessian-vector product per row). For log-sum-exp the Hessian is known
# in closed form: ∇² logsumexp(x) = diag(p) − ppᵀ with p = softmax(x); it is symmetric and
# singular (its rows sum to zero: adding a constant to x changes nothing).


# %%
def lse(x):
    return mlplab.logsumexp(x, axis=0)


x = rng.standard_normal(4)
H = mlplab.hessian(lse, x).numpy()
p = np.exp(x - x.max()) / np.exp(x - x.max()).sum()
print("max |hessian − (diag(p) − ppᵀ)|", np.abs(H - (np.diag(p) - np.outer(p, p))).max())
print("max |H − Hᵀ|                   ", np.abs(H - H.T).max())
print("max |H·1| (singular direction) ", np.abs(H.sum(axis=1)).max())
v = rng.standard_normal(4)
print("max |hvp − H v|                ", np.abs(mlplab.hvp(lse, x, v).numpy() - H @ v).max())

# %% [markdown]
# ## Newton with conjugate gradients on MNIST
#
# For a network the Hessian has n² entries (n = the number of parameters); Newton with
# `method="cg"` never forms it: conjugate gradient solves (∇²f + λI) d = ∇f using only
# Hessian-vector products, one double backward pass each. Newton's closure returns the loss
# **with its graph** and does not call `backward` — Newton differentiates it twice itself.
# Full batch: 500 digits, float64, 8 steps, at most 20 CG iterations per step.

# %%
digits = load_dataset("mnist-5k")
X, y = mlplab.Tensor(digits.x[:500].astype(np.float64)), mlplab.Tensor(digits.y[:500])
loss_fn = nn.CrossEntropyLoss()


def train(make, steps, depth, newton=False):
    """Losses of `steps` full-batch steps on a 784-(16-)10 tanh network; None if a step fails."""
    model = nn.MLP(784, 10, width=16, depth=depth, activation="tanh", rng=0, dtype=np.float64)
    opt = make(model.parameters())
    losses = [float(loss_fn(model(X), y).item())]
    for _ in range(steps):
        if newton:
            opt.step(lambda: loss_fn(model(X), y))
        else:
            opt.zero_grad()
            loss_fn(model(X), y).backward()
            opt.step()
        losses.append(float(loss_fn(model(X), y).item()))
    return losses


def newton_cg(damping):
    return lambda ps: optim.Newton(ps, lr=1.0, damping=damping, method="cg", cg_max_iter=20)


# %% [markdown]
# **A convex problem first**: one Linear layer + softmax cross-entropy (7,850 parameters). The
# Hessian is positive semi-definite, a small damping λ = 1 suffices, and each Newton step does
# the work of many gradient steps.

# %%
curves = {
    "Newton-CG λ = 1": train(newton_cg(1.0), 8, depth=1, newton=True),
    "GD α = 0.5": train(lambda ps: optim.GD(ps, lr=0.5), 8, depth=1),
}
for name, losses in curves.items():
    print(f"softmax regression, {name:<16} loss per step", np.round(losses, 4))

# %% [markdown]
# **Then a hidden layer**: 784-16-10 tanh (12,730 parameters; a dense Hessian would hold 1.6·10⁸
# numbers). The loss is no longer convex; at the initialization the Hessian has directions of
# strongly negative curvature, CG meets one, and Newton refuses the step rather than move
# uphill (the lecture's caveat: Newton needs a positive-definite Hessian). Damping by λ = 30
# makes H + λI positive definite — and turns the step into something close to a gradient step
# of size 1/λ.

# %%
try:
    train(newton_cg(1.0), 8, depth=2, newton=True)
except RuntimeError as err:
    print("λ = 1:", err)
mlp = {
    "Newton-CG λ = 30": train(newton_cg(30.0), 8, depth=2, newton=True),
    "GD α = 0.5": train(lambda ps: optim.GD(ps, lr=0.5), 8, depth=2),
}
for name, losses in mlp.items():
    print(f"784-16-10 tanh, {name:<16} loss per step", np.round(losses, 4))

fig, axes = plt.subplots(1, 2, figsize=(12, 4))
panels = [("softmax regression (convex)", curves), ("784-16-10 tanh MLP", mlp)]
for ax, (title, runs) in zip(axes, panels, strict=True):
    for name, losses in runs.items():
        ax.semilogy(losses, "o-", label=name)
    ax.set(xlabel="step", ylabel="training loss (500 digits)", title=title)
    ax.legend()
plt.show()

# %% [markdown]
# Each Newton-CG step costs up to 20 Hessian-vector products. That is the lecture's verdict on
# Newton's method for deep networks, measured: the step is excellent where the problem is convex,
# its price grows with n, and the Hessian of a non-convex loss needs so much damping to be usable
# that most of the advantage is gone.
