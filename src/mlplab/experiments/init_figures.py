"""The figures of the initialization study (``mlplab experiment init``), drawn from its results.

Kept apart from the study itself so that running the experiment and reading its code does not
mean reading the plotting; every number drawn comes from ``results.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import plots

__all__ = ["study_figures", "variance_figure"]


def study_figures(results: dict[str, Any], out: Path) -> list[str]:
    """Draw the per-layer norms (at init and after training), the training curves and the
    weight change of :func:`~mlplab.experiments.init_study.run_init_study`'s results."""
    runs, depth = results["runs"], results["config"]["depth"]
    live = [r for r in runs if r["k"] > 0]  # zeros: every norm 0, nothing to draw on a log axis
    trained = [r for r in live if r["after_training"] is not None]
    act_theory = {
        r["label"]: [r["activation_norm"][0] * (r["k"] / 2) ** (i / 2) for i in range(depth - 1)]
        for r in live
    }
    plots.per_layer_panels(
        {"at initialization (dashed: ‖Z₂‖·(σ²n/2)^((i−1)/2))":
             {r["label"]: r["activation_norm"] for r in live},
         "after training": {r["label"]: r["after_training"]["activation_norm"] for r in trained}},
        "Forward: ‖Zᵢ₊₁‖ per layer on one batch", "activation norm",
        out / "activation_norm.png", act_theory,
    )  # fmt: skip
    ref = next((r for r in runs if r["k"] == 2.0), None)
    grad_theory = {}
    if ref is not None:
        for r in live:
            level = ref["gradient_scale"] * (r["k"] / 2) ** ((depth - 1) / 2)
            grad_theory[r["label"]] = [level] * depth
    plots.per_layer_panels(
        {"at initialization (dashed: 2/n level·(k/2)^((L−1)/2))":
             {r["label"]: r["gradient_norm"] for r in live},
         "after training": {r["label"]: r["after_training"]["gradient_norm"] for r in trained}},
        "Backward: ‖∇Wᵢ ℓ‖ per layer on one batch", "weight-gradient norm",
        out / "gradient_norm.png", grad_theory,
    )  # fmt: skip
    name = {r["label"]: f"σ² = {r['label']}" for r in runs}
    loss: dict[str, Any] = {}
    dashed: dict[str, Any] = {}
    markers: dict[str, Any] = {}
    for r in runs:
        steps, unclipped = r["train"]["steps"], r["unclipped"]
        loss[name[r["label"]]] = ([s for s, _ in steps], [v for _, v in steps])
        if unclipped is not None:
            dashed[name[r["label"]]] = tuple(zip(*unclipped["steps"], strict=True)) or ([], [])
        failed = unclipped if unclipped is not None else r["train"]
        if failed.get("diverged_at_step") is not None:
            at, before = failed["diverged_at_step"], failed["steps"] or [[0, r["initial_loss"]]]
            markers[name[r["label"]]] = (
                at, before[-1][1], f"σ² = {r['label']}{' without clipping' if unclipped else ''}:\n"
                f"loss {before[-1][1]:.3g} at step {before[-1][0]}, not finite at step {at}",
            )  # fmt: skip
    accuracy = {
        name[r["label"]]: ([e["epoch"] for e in r["train"]["epochs"]],
                           [e["val_accuracy"] for e in r["train"]["epochs"]])
        for r in runs
    }  # fmt: skip
    cfg = results["config"]
    clip = "" if cfg["clip_grad_norm"] is None else f", ‖g‖ clipped to {cfg['clip_grad_norm']:g}"
    plots.training(
        loss, accuracy, out / "training.png",
        f"{cfg['optimizer']} lr {cfg['lr']:g} ({cfg['schedule']}), batch {cfg['batch_size']}"
        f"{clip} — the same for every σ²",
        dashed=dashed, markers=markers, chance=0.1,
        dashed_title=f"first {cfg['unclipped_steps']} steps; dashed: the same run without clipping",
    )  # fmt: skip
    change = {r["label"]: r["weight_change"] for r in trained}
    plots.per_layer(change, "After training: ‖Wᵢ − Wᵢ,₀‖ / ‖Wᵢ,₀‖ per layer",
                    "relative weight change", out / "weight_change.png")  # fmt: skip
    return ["activation_norm.png", "gradient_norm.png", "training.png", "weight_change.png"]


def variance_figure(variance: dict[str, Any], out: Path) -> str:
    """Draw E[z²] per layer for the variance argument (linear and ReLU units)."""
    series = {
        f"{d['activation']}, {d['sigma2']} (factor {d['factor_measured']:.3f}, theory "
        f"{d['factor_theory']:g})": d["second_moment"]
        for d in variance["depth"]
    }
    plots.per_layer(series, "E[z²] of each layer's output, x ~ N(0, I), W ~ N(0, σ²)",
                    "second moment", out / "variance.png")  # fmt: skip
    return "variance.png"
