# ruff: noqa: E402
# %% [markdown]
# # Sweeps, and what normalization does to a deep network
#
# Two tools of the laboratory, each with the question it answers:
#
# 1. **A sweep** — many `mlplab train` runs, kept, resumable and compared. The lecture's last
#    lesson on optimizers is that intuition from quadratics only goes so far: *you have to try
#    the methods on real networks*. A sweep is how trying stays honest — every configuration is
#    stored with its numbers, repeated over seeds, and compared as mean ± std.
# 2. **BatchNorm, LayerNorm, Dropout and residual connections** on a deep, narrow ReLU MLP. The
#    lecture's 50-layer study showed that the variance σ² of W ~ N(0, σ²) decides whether the
#    activations and the gradients survive the depth. Here we ask the follow-up question: *can
#    the architecture make the network indifferent to a wrong σ²?*
#
# Everything runs on the embedded mnist-5k digits, at toy sizes (seconds on two cores).

# %%
import sqlite3
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import mlplab
from mlplab import nn, optim
from mlplab.data import DataLoader, load_dataset
from mlplab.diagnostics import probe
from mlplab.sweep import Store, load_spec, run_sweep
from mlplab.sweep.views import format_table, summarize, swept_axes
from mlplab.train import DivergenceError, evaluate, fit

# Matrices this small run fastest on one thread (the BLAS's threads would only wait on each
# other); `mlplab train` makes the same choice for a small layer.
mlplab.set_num_threads(1)
workdir = Path(tempfile.mkdtemp(prefix="mlplab-notebook-04-"))

# %% [markdown]
# ## Part 1 — A sweep
#
# A **trial** is exactly one `mlplab train` configuration. A **spec** fixes some options and
# sweeps others; a list of `[[grid]]` tables is the union of its grids, so each optimizer gets
# the learning rates that make sense for it (a *conditional* grid). Every option is a
# `mlplab train` flag with `-` written as `_`. The spec is plain TOML and is validated before
# anything runs: a misspelt option is refused in one line that names it.

# %%
spec_file = workdir / "spec.toml"
spec_file.write_text(
    """
description = "plain minibatch SGD at three learning rates against Adam, two seeds each"

[fixed]
depth = 2
width = 64
epochs = 3
batch_size = 100

[[grid]]
optimizer = ["sgd"]
lr = [0.03, 0.3, 30.0]
seed = [0, 1]

[[grid]]
optimizer = ["adam"]
lr = [0.001]
seed = [0, 1]
"""
)
spec = load_spec(spec_file)
for trial in spec.trials():
    print(trial.label(spec.swept_keys()))

# %% [markdown]
# ### Run it, then run it again
#
# `run_sweep` hands the trials to worker processes (here two); only the coordinating process
# writes the results, one SQLite transaction per finished trial, so a sweep killed at any moment
# loses at most the trials that were running. Running the same spec on the same folder again
# *continues* it: every trial whose result is stored is skipped. (On a cluster the same call
# takes `scheduler="tcp://HOST:PORT"`, a Dask scheduler; the results are the same.)

# %%
sweep_dir = workdir / "sweep"
first = run_sweep(spec, sweep_dir, workers=2, progress=False)
again = run_sweep(spec, sweep_dir, workers=2, progress=False)
print("first run: ", first)
print("second run:", again)

# %% [markdown]
# ### Read the store
#
# The folder holds one file, `sweep.sqlite`, with three tables: `spec` (the spec as canonical
# JSON), `trials` (one row per trial: its full configuration, status, final metrics, times) and
# `epochs` (one row per trial and epoch). `mlplab.sweep.Store` reads it as Python objects; since
# it is plain SQLite, any tool can read it too — below, the standard library's `sqlite3` with a
# query that joins the two tables. A trial whose loss becomes NaN or infinite is stored as
# `diverged`, with the step where it happened — a result, not a failure of the sweep. The
# trials at lr = 30 show the other way a too-large step fails: the first steps throw the
# weights so far that the training loss of the first epoch averages about 10⁹, yet it stays
# finite, and the trials finish — at chance accuracy (0.100).

# %%
store = Store(sweep_dir / "sweep.sqlite")
trials = store.trials()
store.close()
for t in trials:
    m = t.metrics
    result = f"test accuracy {m['test_accuracy']:.3f}" if t.status == "finished" else m
    print(f"{t.key}  {t.config['optimizer']:<5} lr={t.config['flags']['lr']:<6} "
          f"seed={t.config['seed']}  {t.status:<9} {result}")  # fmt: skip

db = sqlite3.connect(f"file:{sweep_dir / 'sweep.sqlite'}?mode=ro", uri=True)
print([name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")])
curves = {}
query = """
    SELECT json_extract(t.config, '$.optimizer'), json_extract(t.config, '$.flags.lr'),
           json_extract(t.config, '$.seed'), e.epoch, e.val_accuracy
    FROM trials AS t JOIN epochs AS e USING (key)
    WHERE t.status = 'finished' ORDER BY t.position, e.epoch
"""
for optimizer, lr, seed, epoch, accuracy in db.execute(query):
    curves.setdefault((optimizer, lr, seed), []).append((epoch, accuracy))
db.close()

# %% [markdown]
# ### Compare the configurations
#
# `summarize` pools the trials of one configuration over their seeds: mean ± std of a metric,
# best first, with the diverged seeds *counted*, not averaged (a learning rate that diverges
# for one seed in two is not "good on average"). The figure draws the per-epoch validation
# accuracy of every finished trial from the `epochs` table.
#
# One caution that matters in real studies: mnist-5k has a train and a test split only, so the
# "validation" numbers here are test-set numbers. Choosing the best configuration by them is
# choosing on the test set; a real comparison holds out a validation split and keeps the test
# set for the one configuration finally chosen.

# %%
keys = swept_axes(trials)
print(format_table(summarize(trials, "test_accuracy", keys)))

fig, ax = plt.subplots(figsize=(7, 4))
for (optimizer, lr, seed), points in curves.items():
    epochs, accuracy = zip(*points, strict=True)
    ax.plot(epochs, accuracy, "o-", label=f"{optimizer} lr={lr} seed={seed}")
ax.set(xlabel="epoch", ylabel="validation accuracy", title="Every finished trial of the sweep")
ax.set_xticks([1, 2, 3])
ax.legend(fontsize=7)
plt.show()

# %% [markdown]
# The same sweep from the shell is `mlplab sweep run spec.toml --out DIR --workers 2`, then
# `mlplab sweep show DIR` for the table and `mlplab sweep plot DIR` for the figures;
# `mlplab report --sweep DIR` puts it on the report page.
#
# ## Part 2 — Normalization, residual connections and dropout in a deep network
#
# ### The question, from the 50-layer study
#
# The lecture's variance argument: for independent xᵢ with E[xᵢ²] = q and wᵢ ~ N(0, σ²),
# Var[wᵀx] = n σ² q. A ReLU zeroes half of a symmetric pre-activation, so it keeps half of
# its second moment: E[σ(h)²] = ½ Var[h]. With W ~ N(0, k/n) every layer therefore multiplies
# the mean square of the activations by n · (k/n) · ½ = k/2, and after the L − 2 hidden layers
# between Z₂ and Z_L
#
#     ‖Z_L‖ / ‖Z₂‖ ≈ (k/2)^((L−2)/2).
#
# Only k = 2 (Kaiming) keeps the scale; k = 1 shrinks it geometrically, k = 3 grows it. The
# backward pass multiplies by the same Wᵢᵀ and the same ReLU masks, so the gradients follow.
#
# Three architectural changes attack this from different sides:
#
# - **BatchNorm**: after each hidden Linear layer, subtract the mean and divide by the standard
#   deviation of each unit *over the minibatch*, then scale and shift by learned γ, β:
#   BN(h) = γ (h − μ_B)/√(σ²_B + ε) + β. In evaluation mode μ_B, σ²_B are replaced by running
#   averages collected during training.
# - **LayerNorm**: the same, but over the units of *each example* (no batch statistics, the
#   same computation in training and evaluation).
# - **Residual connections**: Z_{i+1} = σ(Zᵢ Wᵢ + bᵢ) + Zᵢ. The Jacobian of a block is
#   I + (the layer's Jacobian), so the gradient always has an identity path back to the input.
#
# The prediction for normalization is pure algebra: μ and σ of a·h are a·μ and a·σ, so
# **BN(a·h) = BN(h)** for every a > 0 (up to ε), and likewise for LayerNorm. A normalized layer
# does not see the scale of its weights at all, so σ² should not matter. Let us check the
# algebra first.

# %%
rng = np.random.default_rng(0)
h = rng.normal(size=(32, 64)).astype(np.float32)
for norm, axis, over in ((nn.BatchNorm1d(64), 0, "the batch"), (nn.LayerNorm(64), 1, "the units")):
    out, scaled = norm(mlplab.tensor(h)).numpy(), norm(mlplab.tensor(1000.0 * h)).numpy()
    print(f"{type(norm).__name__:<12} max |N(1000·h) − N(h)| = {np.abs(scaled - out).max():.1e};"
          f" over {over}: |mean| ≤ {np.abs(out.mean(axis)).max():.1e}, "
          f"std {out.std(axis).mean():.4f}")  # fmt: skip

# %% [markdown]
# ### The forward and the backward signal at initialization
#
# A network of L = 16 Linear layers, 64 hidden units, W ~ N(0, k/n) for k = 1, 2, 3, in five
# forms: plain, BatchNorm, LayerNorm (each after every hidden Linear, before the ReLU), plain
# residual, and BatchNorm *with* residual connections — the form of a ResNet. Every form starts
# from the same weights for a given k (same seed). On one batch of 256 digits, `probe` measures
# the activation norm after every layer and the weight-gradient norm of every layer (one
# backward pass of the cross-entropy), in training mode.

# %%
train = load_dataset("mnist-5k")
test = load_dataset("mnist-5k", split="test")
L, WIDTH = 16, 64
FORMS = {
    "plain": {},
    "batch": {"norm": "batch"},
    "layer": {"norm": "layer"},
    "residual": {"residual": True},
    "batch+residual": {"norm": "batch", "residual": True},
}


def network(k, form):
    return nn.MLP(784, 10, width=WIDTH, depth=L, init=f"normal:{k}/n", rng=0, **FORMS[form])


x, y = mlplab.tensor(train.x[:256]), mlplab.tensor(train.y[:256])
probes = {}
print(f"{'σ²':<5}{'form':<16}{'‖Z_L‖/‖Z₂‖':>12}{'theory (plain)':>16}{'‖∇W‖ max/min':>14}")
for k in (1, 2, 3):
    for form in FORMS:
        with np.errstate(over="ignore", invalid="ignore"):
            p = probe(network(k, form), x, y)
        probes[k, form] = p
        a, g = p.activation_norm, p.gradient_norm[:-1]  # hidden layers (the output layer aside)
        theory = f"{(k / 2) ** ((L - 2) / 2):.3g}" if form == "plain" else ""
        print(f"{k}/n  {form:<16}{a[-2] / a[0]:>12.3g}{theory:>16}{max(g) / min(g):>14.3g}")

fig, axes = plt.subplots(1, 3, figsize=(15, 4), sharey=True)
for ax, k in zip(axes, (1, 2, 3), strict=True):
    for form in FORMS:
        ax.semilogy(range(1, L + 1), probes[k, form].activation_norm, ".-", label=form)
    ax.set(title=f"σ² = {k}/n: activation norm per layer", xlabel="layer i", ylabel="‖Zᵢ₊₁‖")
axes[0].legend(fontsize=8)
plt.show()

# %% [markdown]
# What the numbers say:
#
# - **Plain**: the measured ratio follows (k/2)^((L−2)/2) — a few thousandths at 1/n, about 1
#   at 2/n, over ten at 3/n — within a factor of about 1.5 (the argument assumes infinitely
#   wide layers; these have 64 units): the 50-layer study in miniature.
# - **BatchNorm and LayerNorm**: the ratio is ≈ 1 and *identical for every k* — the scale
#   invariance BN(a·h) = BN(h) at work: the three networks differ only by a factor √k in
#   every weight, which the normalization divides out. The forward signal is fixed.
# - **But the backward signal of BatchNorm is not**: the weight-gradient norms spread by a
#   factor of ~50 over 15 hidden layers, growing towards the input. Dividing by a *batch*
#   statistic couples the examples of the batch, and at initialization a deep BN network's
#   gradients grow geometrically with depth (Yang et al., *A Mean Field Theory of Batch
#   Normalization*, 2019). LayerNorm normalizes each example alone and its gradients stay
#   within a small factor.
# - **Plain residual**: each block *adds* a non-negative ReLU output to its input, so
#   E‖Zᵢ₊₁‖² ≈ (1 + k/2)·E‖Zᵢ‖² plus a positive cross term — the signal *grows* at every k,
#   by orders of magnitude. The identity path keeps the gradient from vanishing; it does not
#   keep the scale in check.
# - **BatchNorm + residual**: each block adds a term of fixed scale (the normalized branch), so
#   the norm grows about linearly with depth instead of geometrically, and again the same for
#   every k. That is why ResNets put the normalization *inside* the residual branch.

# %%
k = 2
fig, ax = plt.subplots(figsize=(7, 4))
for form in FORMS:
    ax.semilogy(range(1, L + 1), probes[k, form].gradient_norm, ".-", label=form)
ax.set(title=f"σ² = {k}/n: weight-gradient norm per layer at initialization", xlabel="layer i",
       ylabel="‖∇Wᵢ ℓ‖")  # fmt: skip
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ### Does it train?
#
# One budget for every network: SGD with momentum 0.9 and lr 0.02, one epoch over 1,500
# digits in batches of 50 (30 steps), at the two *wrong* variances σ² = 1/n and 3/n. `fit`
# stops a run whose loss becomes NaN or infinite (`DivergenceError`, naming the step).

# %%
subset = type(train)(train.x[:1500], train.y[:1500])
print(f"{'σ²':<5}{'form':<16}{'test accuracy':>14}")
for k in (1, 3):
    for form in FORMS:
        model = network(k, form)
        sgd = optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                fit(model, sgd, DataLoader(subset, batch_size=50, shuffle=True, seed=0), epochs=1)
            _, accuracy = evaluate(model, DataLoader(test, batch_size=1000))
            result = f"{accuracy:.3f}"
        except DivergenceError as err:
            result = f"diverged ({str(err).split(';')[0].removeprefix('fit: the ')})"
        print(f"{k}/n  {form:<16}{result:>14}")

# %% [markdown]
# With a wrong σ² the plain network either learns nothing in the budget (1/n: gradients too
# small to move it) or diverges at once (3/n: an exploding forward pass); the plain residual
# network diverges at both. The normalized networks learn at *both* variances (well above the
# chance level 0.1 after 30 steps), and the normalized residual network learns fastest:
# normalization fixes the scale of the signal, the identity path carries the gradient. (More
# steps raise every finished number, and at this early point a run is sensitive to the
# smallest change — even the BLAS's summation order — so read the table for its order, not
# its third digit. `mlplab experiment normalization` runs the full 50-layer version with
# gradient clipping and the init study's schedule.)
#
# ### Dropout: noise with the right mean
#
# Dropout is not a cure for depth or scale; it is a regularizer. In training mode it keeps
# each activation with probability 1 − p and scales the kept ones by 1/(1 − p) ("inverted"
# dropout): y = x ∘ m/(1 − p), m ~ Bernoulli(1 − p). So E[y] = x — the expected activation is
# the activation itself, with variance x²·p/(1 − p) around it — and in evaluation mode dropout
# is the identity, with no rescaling needed. Each step trains a random thinned sub-network;
# evaluation uses the full one as an average of them. Where only linear maps follow the last
# dropout (one hidden layer) the average of the training-mode outputs over many masks *is*
# the evaluation output, and the gap of a finite average shrinks like 1/√samples; deeper, the
# masks pass through more ReLUs and the evaluation output is only an approximation of the
# average (the "weight scaling inference rule").

# %%
drop = nn.Dropout(0.5, rng=0)
samples = np.stack([drop(mlplab.tensor(np.ones(10_000))).numpy() for _ in range(4)])
print(f"p = 0.5: values {sorted(set(samples.ravel().tolist()))}, mean {samples.mean():.3f}, "
      f"variance {samples.var():.3f} (theory 1 and p/(1−p) = 1)")  # fmt: skip
print("evaluation mode:", drop.eval()(mlplab.tensor(np.ones(4))).numpy())

batch = mlplab.tensor(test.x[:64])
for depth in (2, 4):
    model = nn.MLP(784, 10, width=128, depth=depth, dropout=0.5, rng=0)
    with mlplab.no_grad():
        outputs = np.stack([model(batch).numpy() for _ in range(1600)])
        model.eval()
        at_eval = model(batch).numpy()
    for samples in (100, 1600):
        gap = np.abs(outputs[:samples].mean(0) - at_eval).max() / np.abs(at_eval).max()
        print(f"depth {depth}: the mean of {samples:>4} training-mode outputs against the "
              f"evaluation output: relative gap {gap:.3f}")  # fmt: skip

# %% [markdown]
# ## What to take away
#
# - A sweep is a set of `mlplab train` runs kept in one SQLite file: rerun to continue, read it
#   with `Store` or any SQLite client, compare over seeds with diverged runs counted.
# - The variance argument says why depth is fragile: each ReLU layer multiplies the signal's
#   mean square by n σ²/2. Normalization removes the dependence on σ² from the forward pass
#   (BN(a·h) = BN(h)); a residual path protects the gradient but not the scale; together they
#   make the deep network trainable at a σ² that breaks the plain one.
# - BatchNorm's batch statistics have a cost the forward pass does not show: gradients that
#   grow towards the input at initialization, and a different computation in evaluation mode.
# - Dropout keeps the expected activation unchanged and only adds noise during training; it
#   regularizes, it does not repair a badly scaled network.

# %%
import shutil

shutil.rmtree(workdir, ignore_errors=True)
