"""The figures of ``mlplab experiment newton``, drawn from its results only (one per reason).

Without matplotlib (a plain ``pip install mlplab``) :func:`newton_figures` prints one line
saying how to get them and draws nothing; the results are written all the same.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["newton_figures"]

_METHODS = ("newton_full", "newton_alpha", "newton_damped", "gd", "adam")


def _values(xs: list[Any]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in xs], dtype=np.float64)


def _toy(plt: Any, toy: dict[str, Any], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6.4, 5.4))
    x, y = np.meshgrid(np.linspace(-1.5, 1.5, 121), np.linspace(-3, 3, 121))
    filled = ax.contourf(x, y, x**2 - y**2, levels=21, cmap="RdBu_r", alpha=0.55)
    ax.contour(x, y, x**2 - y**2, levels=[0], colors="0.4", linewidths=0.8)
    fig.colorbar(filled, ax=ax, label="f(x, y) = x² − y²")
    for i, run in enumerate(toy["runs"].values()):
        p = np.asarray(run["path"])
        ax.plot(p[:, 0], p[:, 1], "o-", ms=3.5, lw=1.3, color=f"C{i}", label=run["label"])
    ax.plot(0, 0, "k*", ms=13, label="saddle (0, 0): ∇f = 0, λ = ±2")
    ax.set(xlim=(-1.5, 1.5), ylim=(-3, 3), xlabel="x", ylabel="y")
    ax.set_title("Full Newton lands on the saddle in one step; (H + λI), GD escape along y",
                 fontsize=9)  # fmt: skip
    ax.legend(fontsize=7, loc="lower left")
    _save(plt, fig, path)


def _local_optima(plt: Any, r1: dict[str, Any], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6.8, 4.4))
    for i, key in enumerate(_METHODS):
        run = r1[key]
        losses = _values(run["losses"])
        steps = np.arange(1, len(losses) + 1)
        ax.plot(steps, losses, "o-" if len(losses) < 30 else "-", ms=3, color=f"C{i}",
                label=f"{run['label']}: end λ_min {_short(run['end']['lambda_min'])}")  # fmt: skip
    ax.set(xscale="log", yscale="log", xlabel="step + 1", ylabel="training loss f(θ)")
    ax.set_title("One initialization, five optimizers: where each one ends", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    _save(plt, fig, path)


def _short(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3g}"


def _indefinite(plt: Any, r2: dict[str, Any], path: Path) -> None:
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.4))
    for i, (key, label) in enumerate((("gd", "GD"), ("adam", "Adam"))):
        pts = r2["paths"][key]
        steps = np.array([p["step"] for p in pts])
        axes[0].plot(steps, [p["fraction_negative"] for p in pts], "o-", color=f"C{i + 2}",
                     label=label)  # fmt: skip
        axes[1].plot(steps, [p["lambda_max"] for p in pts], "o-", color=f"C{i + 2}",
                     label=f"{label}: λ_max")  # fmt: skip
        axes[1].plot(steps, [-p["lambda_min"] for p in pts], "s--", color=f"C{i + 2}",
                     label=f"{label}: −λ_min")  # fmt: skip
        before = _values([p["newton_step"]["loss"] for p in pts])
        after = _values([p["newton_step"]["loss_after"] for p in pts])
        axes[2].plot(steps, before, "o-", color=f"C{i + 2}", label=f"{label}: f(θ)")
        axes[2].plot(steps, after, "x", ms=9, color=f"C{i + 2}",
                     label=f"{label}: f after one full Newton step")  # fmt: skip
        refused = np.array([p["newton_step"]["failure"] is not None for p in pts])
        if refused.any():
            axes[2].plot(steps[refused], before[refused], "o", ms=11, mfc="none",
                         color=f"C{i + 2}", label=f"{label}: refused (singular H)")  # fmt: skip
    axes[0].set(xlabel="training step", ylabel="fraction of eigenvalues < 0")
    axes[1].set(xlabel="training step", ylabel="|eigenvalue|", yscale="log")
    axes[2].set(xlabel="training step", ylabel="loss", yscale="log")
    axes[0].set_title("∇²f is indefinite along training", fontsize=10)
    axes[1].set_title("the extreme eigenvalues", fontsize=10)
    axes[2].set_title("one full Newton step from each point (× above ●: loss up)", fontsize=10)
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    _save(plt, fig, path)


def _conditioning(plt: Any, r2: dict[str, Any], sweep: dict[str, Any], path: Path) -> None:
    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(16, 4.4))
    for i, (key, label) in enumerate((("gd", "GD"), ("adam", "Adam"))):
        pts = r2["paths"][key]
        left.plot([p["step"] for p in pts], _values([p["condition"] for p in pts]), "o-",
                  color=f"C{i + 2}", label=f"{label}: max|λ| / min|λ|")  # fmt: skip
    left.axhline(1 / np.finfo(np.float64).eps, ls=":", color="k", lw=0.8, label="1/ε (float64)")
    left.set(xlabel="training step", ylabel="condition number of ∇²f", yscale="log")
    left.set_title("Conditioning along training (∞ not drawn)", fontsize=10)
    names = {"init": "θ₀", "gd": "GD end", "adam": "Adam end"}
    for i, (key, ev) in enumerate(r2["eigenvalues"].items()):
        ev = _values(ev)
        order = np.argsort(np.abs(ev))[::-1]
        size = np.abs(ev[order]) / np.abs(ev).max()
        rank = np.arange(1, len(ev) + 1)
        middle.plot(rank, size, "-", color=f"C{i}", label=names.get(key, key))
        neg = ev[order] < 0
        middle.plot(rank[neg], size[neg], ".", ms=3, color=f"C{i}")
    middle.axhline(1e-8, ls="--", color="0.4", lw=0.8, label="zero threshold 1e-8")
    middle.set(yscale="log", xlabel="eigenvalue rank (largest |λ| first)",
               ylabel="|λ| / max|λ|  (dots: λ < 0)")  # fmt: skip
    middle.set_title("The whole spectrum: |λ| spans 20 and more decades", fontsize=10)
    lambdas = np.array(sweep["lambdas"])
    shown = np.where(lambdas > 0, lambdas, lambdas[lambdas > 0].min() / 10 if any(lambdas > 0)
                     else 1.0)  # fmt: skip
    final = np.array([ls[-1] if ls and ls[-1] is not None else np.nan for ls in sweep["losses"]])
    start = sweep["losses"][0][0]
    up = np.array(sweep["increases"])
    finite = np.where(np.isfinite(final), final, np.nan)
    right.plot(shown, finite, "-", color="0.5")
    right.plot(shown[up], np.where(np.isfinite(final[up]), final[up], start), "rx", ms=9,
               label="some step raised the loss (or failed)")  # fmt: skip
    right.plot(shown[~up], final[~up], "go", label="every step lowered the loss")
    right.axhline(start, ls="--", color="k", lw=0.8, label="f(θ₀)")
    right.set(xscale="log", yscale="log", xlabel="damping λ (λ = 0 drawn at the left edge)",
              ylabel=f"loss after up to {sweep['steps']} steps of (H + λI)")  # fmt: skip
    right.set_title(f"smallest safe λ: {_short(sweep['smallest_safe'])}", fontsize=10)
    for ax in (left, middle, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    _save(plt, fig, path)


def _starts(plt: Any, r5: dict[str, Any], path: Path) -> None:
    from .newton_spectrum import OUTCOMES

    fig, (left, mid, right) = plt.subplots(1, 3, figsize=(16, 4.6))
    names = {"newton_full": "full Newton"}
    for key, lam in r5.get("dampings", {}).items():
        names[key] = f"H + {lam:g}I"
    names.update(gd="GD", adam="Adam")
    bottom = np.zeros(len(names))
    colors = {"minimum": "C2", "saddle": "C1", "diverged": "C3", "not converged": "0.6"}
    for outcome in OUTCOMES:
        counts = np.array([r5["counts"][k][outcome] for k in names])
        left.bar(list(names.values()), counts, bottom=bottom, color=colors[outcome],
                 label=outcome)  # fmt: skip
        bottom += counts
    left.set(ylabel=f"of {len(r5['rows'])} seeded starts")
    left.set_title("Where each start ends", fontsize=10)
    left.tick_params(axis="x", labelsize=8)
    left.legend(fontsize=8)
    seeds = np.array([r["seed"] for r in r5["rows"]])
    start = _values([r["start_loss"] for r in r5["rows"]])
    top = 3 * float(np.nanmax(start))  # losses above: drawn as ▲ on the top edge
    for i, key in enumerate(names):
        losses = _values([r[key]["loss"] for r in r5["rows"]])
        shown = np.isfinite(losses) & (losses <= top)
        mid.plot(seeds[shown], losses[shown], "o", color=f"C{i}", label=names[key])
        mid.plot(seeds[~shown], np.full((~shown).sum(), top), "^", color=f"C{i}", ms=8)
    mid.plot(seeds, start, "k_", ms=12, label="f at the start")
    mid.set(yscale="log", xlabel="seed of the initialization", ylabel="final loss")
    mid.set_ylim(top=top * 1.3)
    mid.set_title("Final loss per start (▲: above 3× the start, or not finite)", fontsize=10)
    mid.grid(alpha=0.3)
    mid.legend(fontsize=7)
    for i, key in enumerate(names):
        ends = [r[key] for r in r5["rows"] if r[key].get("lambda_min") is not None]
        if ends:
            right.plot([e["grad_norm"] for e in ends], [e["lambda_min"] for e in ends], "o",
                       color=f"C{i}", label=names[key])  # fmt: skip
    right.axhline(0.0, color="k", lw=0.8)
    right.set(xscale="log", xlabel="‖∇f‖ at the end", ylabel="λ_min(∇²f) at the end")
    right.set_title("End points with a spectrum (damped Newton: all)", fontsize=10)
    right.grid(alpha=0.3)
    if right.get_legend_handles_labels()[0]:
        right.legend(fontsize=7)
    _save(plt, fig, path)


def _save(plt: Any, fig: Any, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def newton_figures(results: dict[str, Any], out: Path) -> list[str]:
    """Draw one PNG per reason (and the saddle) into ``out``; return their file names.

    Examples:
        >>> import tempfile
        >>> from mlplab.experiments.newton_toy import toy_study
        >>> newton_figures({"toy": toy_study()}, Path(tempfile.mkdtemp()))
        ['newton_toy.png']
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:
        missing = err.name or "matplotlib"
        print(f"mlplab: newton figures not drawn: they need matplotlib ({missing} is not "
              'installed; pip install "mlplab[lab]")', file=sys.stderr)  # fmt: skip
        return []
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    drawn = []
    jobs = (
        ("newton_toy.png", "toy", lambda p: _toy(plt, results["toy"], p)),
        ("newton_local_optima.png", "local_optima",
         lambda p: _local_optima(plt, results["local_optima"], p)),
        ("newton_indefinite.png", "indefinite",
         lambda p: _indefinite(plt, results["indefinite"], p)),
        ("newton_conditioning.png", "damping",
         lambda p: _conditioning(plt, results["indefinite"], results["damping"], p)),
        ("newton_starts.png", "starts", lambda p: _starts(plt, results["starts"], p)),
    )  # fmt: skip
    for name, key, draw in jobs:
        if results.get(key) is not None:
            draw(out / name)
            drawn.append(name)
    if results.get("cost") is not None:
        from .newton_cost_figures import plot_cost

        plot_cost(results["cost"], out / "newton_cost.png")
        drawn.append("newton_cost.png")
    return drawn
