# ruff: noqa: E402
# %% [markdown]
# # The lecture, section by section: fully connected networks, optimization, initialization
#
# This notebook walks the lecture 全连接神经网络 (in `reference/`, Chinese) in its order. Keep
# the lecture open beside it: every section names the lecture's heading, states its formula and
# then **measures** it with mlplab, printing the number next to the formula. Everything here
# uses mlplab's public API and the 5,000 MNIST digits embedded in the package, with reduced
# sizes where the lecture trains long, so the whole notebook runs in well under a minute.
#
# Notation (the lecture's): a batch Z ∈ R^{m×n} has one example per row; a weight W ∈ R^{n×k}
# is stored `(in_features, out_features)`; g_t = ∇f(θ_t), optimizer state starts at zero.

# %%
import tempfile

import matplotlib.pyplot as plt
import numpy as np

import mlplab
from mlplab import nn, optim
from mlplab.data import DataLoader, load_dataset
from mlplab.diagnostics import probe
from mlplab.experiments.init_study import InitConfig, run_init_study
from mlplab.experiments.optimizers import OptimizersConfig, least_squares_race
from mlplab.experiments.quadratic import ill_conditioned, run_trajectory, steps_to_tolerance
from mlplab.experiments.variance import depth_second_moments, dot_product_variance

np.set_printoptions(precision=4, suppress=True)


def claim(what, measured, lecture):
    """Print one claim: what is measured, the number, and the lecture's formula or value."""
    if isinstance(measured, float):
        measured = f"{measured:.4g}"
    print(f"{what:<50} {measured!s:>11}   lecture: {lecture}")


# %% [markdown]
# ## 1. The matrix form and broadcasting (矩阵形式写法中广播的奥秘)
#
# Over a batch the layer is **Zᵢ₊₁ = σᵢ(Zᵢ Wᵢ + 1 bᵢᵀ)**. `Linear` stores W as (in, out), so
# the forward pass is literally `Z @ W + b`. The lecture's `1 bᵢᵀ` is an m × n matrix; in
# practice it is never built: broadcasting *views* bᵢ as m rows (a stride of 0 bytes along the
# batch axis) and copies no data.

# %%
m, n_in, n_out = 4, 3, 2
layer = nn.Linear(n_in, n_out, rng=0, dtype=np.float64)
Z = mlplab.Tensor(np.random.default_rng(0).standard_normal((m, n_in)))
W, b = layer.weight, layer.bias
print("W:", W.shape, "(in, out)   b:", b.shape)

one_bT = mlplab.Tensor(np.ones((m, 1))) @ b.reshape(1, n_out)  # the lecture's 1 bᵀ, built
claim(
    "max |layer(Z) − (Z W + 1 bᵀ)|",
    float(np.abs(layer(Z).numpy() - (Z @ W + one_bT).numpy()).max()),
    "0",
)

B = mlplab.broadcast_to(b, (m, n_out))  # what the forward pass does instead
claim("strides of the broadcast b (bytes)", str(B.data.strides), "0 along the batch axis")
claim("the view shares b's memory", str(np.shares_memory(B.data, b.data)), "no copy")

# %% [markdown]
# The gradient of a broadcast is the sum back to the input's shape: with a random upstream
# gradient G, ∂(Σ G ∘ (ZW + 1bᵀ))/∂b = Gᵀ1, the column sums of G.

# %%
G = np.random.default_rng(1).standard_normal((m, n_out))
layer.zero_grad()
layer(Z).backward(mlplab.Tensor(G))
claim("max |∇b − Gᵀ1|", float(np.abs(b.grad.numpy() - G.sum(axis=0)).max()), "0")
claim("max |∇W − Zᵀ G|", float(np.abs(W.grad.numpy() - Z.numpy().T @ G).max()), "0")

# %% [markdown]
# ## 2. Gradient descent (梯度下降) on a quadratic
#
# θ_{t+1} = θ_t − α ∇f(θ_t) on f(θ) = ½θᵀPθ + qᵀθ. The error contracts by (I − αP), so GD
# converges iff |1 − αλ| < 1 for every eigenvalue λ of P, i.e. **iff α < 2/λ_max**. Here P has
# eigenvalues 1 and 20 (condition number 20), axes rotated by 30°.

# %%
f = ill_conditioned(lambda_min=1.0, lambda_max=20.0)
threshold = 2 / f.lambda_max
theta0 = [-2.0, 2.5]
print("eigenvalues of P:", f.eigenvalues, "  2/λ_max =", threshold)

gd_paths = {}
for scale in (0.25, 0.95, 1.05):
    lr = scale * threshold
    path = run_trajectory(f, lambda p, lr=lr: optim.GD(p, lr=lr), theta0, 60)
    gd_paths[f"α = {scale}·2/λ_max"] = path
    err = np.linalg.norm(path - f.optimum, axis=1)
    rho = np.abs(1 - lr * f.eigenvalues).max()
    claim(
        f"α = {scale}·2/λ_max: error ratio over the last step",
        float(err[-1] / err[-2]),
        f"max|1 − αλ| = {rho:.4g}",
    )


def contour(ax, paths, steps=None, title=""):
    X, Y, F = f.grid((-2.6, 2.6), (-1.6, 3.0))
    ax.contour(X, Y, F, levels=np.quantile(F, np.linspace(0, 1, 25) ** 2), colors="0.8")
    for label, path in paths.items():
        p = path[: steps + 1] if steps else path
        ax.plot(p[:, 0], p[:, 1], ".-", ms=3, lw=1, label=label)
    ax.plot(*f.optimum, "k*", ms=10)
    ax.set(xlim=(-2.6, 2.6), ylim=(-1.6, 3.0), title=title, aspect="equal")
    ax.legend(fontsize=7, loc="lower left")


fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
for ax, (label, path) in zip(axes, gd_paths.items(), strict=True):
    contour(ax, {label: path}, steps=30, title=f"GD {label}: 30 steps")
plt.show()

# %% [markdown]
# ## 3. Newton's method (牛顿法), full and damped
#
# θ ← θ − α (∇²f(θ))⁻¹ ∇f(θ). On a quadratic ∇²f = P, so the full step (α = 1) lands on
# θ* = −P⁻¹q **in one step**; a damped step α < 1 shrinks the error by exactly (1 − α) per step.
# mlplab's `Newton` gets the Hessian from the autodiff engine (second order) and solves, never
# inverts.

# %%
full = run_trajectory(f, lambda p: optim.Newton(p, lr=1.0), theta0, 3)
damped = run_trajectory(f, lambda p: optim.Newton(p, lr=0.5), theta0, 10)
err_full = np.linalg.norm(full - f.optimum, axis=1)
err_damped = np.linalg.norm(damped - f.optimum, axis=1)
claim("Newton α = 1: ‖θ₁ − θ*‖", float(err_full[1]), "0 (one step)")
claim("Newton α = 0.5: error ratio per step", float(err_damped[5] / err_damped[4]), "1 − α = 0.5")

# %% [markdown]
# ## 4. Momentum (动量), unbiased momentum (无偏动量), Nesterov, Adam
#
# | method | update (u, v start at 0) |
# |---|---|
# | momentum | u ← βu + (1−β)g;  θ ← θ − αu |
# | unbiased momentum | same u;  θ ← θ − α u/(1 − β^{t+1}) |
# | Nesterov | u ← βu + (1−β)∇f(θ − αu);  θ ← θ − αu |
# | Adam (lecture) | u ← β₁u + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  θ ← θ − αu/(√v + ε) |
#
# First the first step, where the forms differ most: plain momentum moves by α(1−β)g, the
# unbiased form by αg; the lecture's Adam moves each coordinate by α(1−β₁)/√(1−β₂) ≈ 3.16α,
# the bias-corrected Adam by α.

# %%
g0 = f.P @ np.array(theta0) + f.q
alpha, beta = 0.05, 0.9
first = {
    "momentum": run_trajectory(f, lambda p: optim.Momentum(p, lr=alpha, beta=beta), theta0, 1),
    "unbiased": run_trajectory(
        f, lambda p: optim.Momentum(p, lr=alpha, beta=beta, bias_correction=True), theta0, 1
    ),
    "adam_lecture": run_trajectory(
        f, lambda p: optim.Adam(p, lr=alpha, bias_correction=False), theta0, 1
    ),
    "adam": run_trajectory(f, lambda p: optim.Adam(p, lr=alpha), theta0, 1),
}
step = {k: np.linalg.norm(v[1] - v[0]) for k, v in first.items()}
claim(
    "momentum: ‖θ₁ − θ₀‖ / (α‖g₀‖)",
    float(step["momentum"] / (alpha * np.linalg.norm(g0))),
    "1 − β = 0.1",
)
claim(
    "unbiased momentum: ‖θ₁ − θ₀‖ / (α‖g₀‖)",
    float(step["unbiased"] / (alpha * np.linalg.norm(g0))),
    "1",
)
claim(
    "Adam, lecture form: |θ₁ − θ₀| per coordinate / α",
    str(np.abs(first["adam_lecture"][1] - theta0) / alpha),
    "(1−β₁)/√(1−β₂) = 3.162",
)
claim(
    "Adam, bias-corrected: |θ₁ − θ₀| per coordinate / α",
    str(np.abs(first["adam"][1] - theta0) / alpha),
    "1",
)

# %% [markdown]
# Then the trajectories, and how many steps each needs to reach ‖θ − θ*‖ ≤ 10⁻² and 10⁻⁶
# (of 300; None: not within 300). Momentum with β = 0.5 takes about a quarter of GD's steps:
# u averages away the oscillation across the narrow valley. With heavy momentum (β = 0.9) the
# path overshoots and circles; Nesterov's gradient at the look-ahead point θ − αu sees the
# overshoot coming and damps it. Adam moves every coordinate by about α at first, whatever the
# gradient's scale: with a constant α the bias-corrected form gets within a few hundredths of
# θ* and hovers there; the lecture's form (whose √v starts small and lags) creeps in.

# %%
methods = {
    "GD α = 0.09": lambda p: optim.GD(p, lr=0.09),
    "momentum α = 0.2, β = 0.5": lambda p: optim.Momentum(p, lr=0.2, beta=0.5),
    "unbiased momentum α = 0.2, β = 0.5": lambda p: optim.Momentum(
        p, lr=0.2, beta=0.5, bias_correction=True
    ),
    "momentum α = 0.5, β = 0.9": lambda p: optim.Momentum(p, lr=0.5, beta=0.9),
    "Nesterov α = 0.5, β = 0.9": lambda p: optim.Nesterov(p, lr=0.5, beta=0.9),
    "Adam α = 0.1 (bias-corrected)": lambda p: optim.Adam(p, lr=0.1),
    "Adam α = 0.1 (lecture, no correction)": lambda p: optim.Adam(p, lr=0.1, bias_correction=False),
}
paths = {name: run_trajectory(f, make, theta0, 300) for name, make in methods.items()}
for name, path in paths.items():
    hits = [steps_to_tolerance(path, f.optimum, tol) for tol in (1e-2, 1e-6)]
    final = np.linalg.norm(path[-1] - f.optimum)
    print(f"{name:<40} steps to 1e-2, 1e-6: {hits!s:<12} final error {final:.2g}")

names = list(paths)
fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
contour(axes[0], {k: paths[k] for k in names[:3]}, steps=40, title="momentum against GD")
contour(
    axes[1], {k: paths[k] for k in names[3:5]}, steps=60, title="Nesterov against heavy momentum"
)
contour(axes[2], {k: paths[k] for k in (names[0], *names[5:])}, steps=80, title="Adam against GD")
plt.show()

# %% [markdown]
# ## 5. Minibatch SGD (随机梯度下降) against full-batch GD
#
# θ ← θ − (α/|B|) Σ_{i∈B} ∇ℓ(h_θ(xᵢ), yᵢ): each step looks at a small random batch B, so it is
# cheap and noisy. On a least-squares problem with 1,000 examples, count the cost in examples
# processed: full-batch GD (at its best α = 2/(λ_min + λ_max)) takes one careful step per epoch,
# SGD with |B| = 10 takes 100 cheap ones.

# %%
race = least_squares_race(OptimizersConfig(ls_examples=1000, ls_epochs=5, seed=0))
for key in ("gd", "sgd"):
    r = race[key]
    claim(
        f"{r['optimizer']}: excess loss after 1 epoch",
        r["excess_loss_after_epochs"]["1"],
        "SGD ≪ GD per example",
    )
fig, ax = plt.subplots(figsize=(6, 4))
for key, (seen, excess) in race["curves"].items():
    ax.semilogy(seen, excess, ".-" if key == "gd" else "-", label=race[key]["optimizer"])
ax.set(xlabel="examples processed", ylabel="loss − optimal loss", title="SGD against GD")
ax.legend()
plt.show()

# %% [markdown]
# ## 6. Initialization (初始化): zeros
#
# With W = 0 (and b = 0) every hidden activation is relu(0) = 0, so every backward signal into
# an earlier layer is multiplied by a zero weight: **all gradients of the earlier layers are
# exactly 0**, and stay 0 — the network cannot learn. Only the last bias moves.

# %%
digits = load_dataset("mnist-5k")
x, y = digits.x[:256], digits.y[:256]
zero_net = nn.MLP(784, 10, width=64, depth=4, init="zeros", rng=0)
p = probe(zero_net, x, y)
claim("‖∇W‖ per layer at W = 0", str(p.gradient_norm), "0 for every layer")
sgd = optim.SGD(zero_net.parameters(), lr=0.1)
loader = DataLoader(digits, batch_size=64, shuffle=True, seed=0)
lossfn = nn.CrossEntropyLoss()
for _, (xb, yb) in zip(range(20), loader, strict=False):
    sgd.zero_grad()
    lossfn(zero_net(xb), yb).backward()
    sgd.step()
nonzero = [float(np.abs(layer.weight.data).max()) for layer in zero_net.layers]
claim("max |W| per layer after 20 SGD steps", str(nonzero), "0: nothing learned")
claim(
    "max |b| of the last layer after 20 steps",
    float(np.abs(zero_net.layers[-1].bias.data).max()),
    "> 0 (the only change)",
)

# %% [markdown]
# ## 7. Why the variance: Var(wᵀx) (是什么导致了这种影响)
#
# For x ~ N(0, I_n) and w ~ N(0, σ²I): Var(wᵀx) = σ² n E[x²]. With **σ² = 1/n** it is **1**;
# after a ReLU only half the inputs survive, E[relu(z)²] = ½, so it is **½** — which is why
# Kaiming uses σ² = 2/n. Through a stack of layers the second moment is multiplied by σ²n/2 per
# ReLU layer: flat for 2/n, vanishing for 1/n, exploding for 3/n.

# %%
rng = np.random.default_rng(0)
n = 100
claim(
    "Var(wᵀx), w ~ N(0, 1/n), x ~ N(0, I)",
    dot_product_variance(n, 1 / n, "linear", 20000, rng),
    "1",
)
claim(
    "Var(wᵀx), w ~ N(0, 1/n), x = relu(z)",
    dot_product_variance(n, 1 / n, "relu", 20000, rng),
    "1/2",
)
claim(
    "Var(wᵀx), w ~ N(0, 2/n), x = relu(z)", dot_product_variance(n, 2 / n, "relu", 20000, rng), "1"
)
fig, ax = plt.subplots(figsize=(6, 4))
for k in (1, 2, 3):
    moments = depth_second_moments(n, 50, k, "relu", 256, 0)
    claim(
        f"σ² = {k}/n: E[z²] growth per layer (geometric mean)",
        float(moments[-1] ** (1 / 50)),
        f"σ²n/2 = {k / 2}",
    )
    ax.semilogy(range(1, 51), moments, label=f"σ² = {k}/n")
ax.set(xlabel="layer", ylabel="E[z²]", title="second moment through 50 ReLU layers")
ax.legend()
plt.show()

# %% [markdown]
# ## 8. The effect of initialization on training (不同初始化对训练的影响)
#
# The lecture's network: **50 layers of 100 ReLU units**, W ~ N(0, σ²) with σ² ∈ {1/n, 2/n, 3/n},
# trained on MNIST. It plots (1) the norm of the forward activations Zᵢ per layer and (2) the
# norm of the weight gradients per layer, then notes that (3) the weights barely move from
# their initialization (权重更新的并不大). Here: the same network, trained on 1,000 digits for
# 2 epochs (the full study is `mlplab experiment init`). Theory: each layer multiplies the
# activations' second moment by c = σ²n/2, so ‖Z_L‖/‖Z₂‖ ≈ c^{(L−2)/2}, and the weight
# gradients are about equal across layers at a scale ∝ c^{(L−1)/2}.

# %%
config = InitConfig(epochs=2, train_examples=1000, unclipped_steps=5, probe_batch=128)
study = run_init_study(tempfile.mkdtemp(), config, figures=False, progress=False)
for label, row in study["theory"].items():
    claim(
        f"σ² = {label}: ‖Z_L‖/‖Z₂‖",
        row["activation_ratio_measured"],
        f"c^((L−2)/2) = {row['activation_ratio_theory']:.3g}",
    )
for label, row in study["theory"].items():
    claim(
        f"σ² = {label}: gradient scale / that of 2/n",
        row["gradient_scale_vs_2n_measured"],
        f"c^((L−1)/2) = {row['gradient_scale_vs_2n_theory']:.3g}",
    )
for run in study["runs"]:
    change = np.median(run["weight_change"])
    claim(
        f"σ² = {run['label']}: median ‖W − W₀‖/‖W₀‖ after training",
        float(change),
        "small: weights stay near W₀",
    )

fig, axes = plt.subplots(1, 3, figsize=(15, 4))
for run in study["runs"]:
    layers = range(1, len(run["activation_norm"]) + 1)
    axes[0].semilogy(layers, run["activation_norm"], label=f"σ² = {run['label']}")
    axes[1].semilogy(layers, run["gradient_norm"], label=f"σ² = {run['label']}")
    axes[2].plot(layers, run["weight_change"], label=f"σ² = {run['label']}")
axes[0].set(xlabel="layer i", title="forward: ‖Zᵢ₊₁‖ at initialization")
axes[1].set(xlabel="layer i", title="backward: ‖∇_{Wᵢ} ℓ‖ at initialization")
axes[2].set(xlabel="layer i", title="‖Wᵢ − Wᵢ,₀‖ / ‖Wᵢ,₀‖ after training")
for ax in axes:
    ax.legend()
plt.show()

# %% [markdown]
# The main lesson of the lecture (最终结论): initialization matters. At σ² = 1/n the signal
# vanishes (about 2^{-24} over 48 layers) and the gradients with it; at 3/n both explode by
# ~10⁴; only 2/n keeps both flat — and since training barely moves the weights, the network
# lives with the scale it started with. The next chapter's tools (normalization, residual
# connections) are how deep networks escape that dependence.
