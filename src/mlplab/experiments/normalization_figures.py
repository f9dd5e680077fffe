"""The figures of ``mlplab experiment normalization``, drawn from its results only.

One panel per method (none, BatchNorm, LayerNorm, residual), one line per σ², on one log scale:
the forward signal ‖Zᵢ₊₁‖ and the weight gradients ‖∇Wᵢ‖ per layer at initialization and after
training, and the validation accuracy per epoch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import plots

__all__ = ["normalization_figures"]

TITLES = {"none": "no normalization", "batch": "BatchNorm", "layer": "LayerNorm",
          "residual": "residual, no normalization"}  # fmt: skip


def _panels(runs: list[dict[str, Any]], value: Any) -> dict[str, dict[str, list[float]]]:
    panels: dict[str, dict[str, list[float]]] = {}
    for r in runs:
        values = value(r)
        panel = panels.setdefault(TITLES.get(r["method"], r["method"]), {})
        if values is not None:
            panel[r["label"]] = values
    return panels


def normalization_figures(results: dict[str, Any], out: Path) -> list[str]:
    """Draw the per-layer norms at init and after training and the accuracy curves; return
    the file names (in ``out``).

    Examples:
        >>> import tempfile
        >>> run = {"label": "2/n", "method": "batch", "activation_norm": [1.0, 1.1],
        ...        "gradient_norm": [0.1, 0.2], "after_training": None,
        ...        "train": {"epochs": [{"epoch": 1, "val_accuracy": 0.5}]}}
        >>> normalization_figures({"runs": [run]}, Path(tempfile.mkdtemp()))[0]
        'normalization_activation_norm.png'
    """
    runs = results["runs"]

    def trained(key: str) -> Any:
        return lambda r: None if r["after_training"] is None else r["after_training"][key]

    figures = {
        "normalization_activation_norm.png": (
            _panels(runs, lambda r: r["activation_norm"]),
            "At initialization: ‖Zᵢ₊₁‖ per layer on one batch (L = depth)", "activation norm",
        ),
        "normalization_gradient_norm.png": (
            _panels(runs, lambda r: r["gradient_norm"]),
            "At initialization: ‖∇Wᵢ‖ per layer", "weight-gradient norm",
        ),
        "normalization_activation_norm_trained.png": (
            _panels(runs, trained("activation_norm")),
            "After training: ‖Zᵢ₊₁‖ per layer", "activation norm",
        ),
        "normalization_gradient_norm_trained.png": (
            _panels(runs, trained("gradient_norm")),
            "After training: ‖∇Wᵢ‖ per layer", "weight-gradient norm",
        ),
        "normalization_weight_change.png": (
            _panels(runs, lambda r: r.get("weight_change")),
            "How far training moved each layer: ‖Wᵢ − Wᵢ,₀‖/‖Wᵢ,₀‖", "relative change",
        ),
    }  # fmt: skip
    names = []
    for name, (panels, title, ylabel) in figures.items():
        if any(panels.values()):
            plots.per_layer_panels(panels, title, ylabel, out / name)
            names.append(name)
    accuracy = {
        f"{r['method']} {r['label']}": (
            [e["epoch"] for e in r["train"]["epochs"]],
            [max(e.get("val_accuracy") or 0.0, 1e-3) for e in r["train"]["epochs"]],
        )
        for r in runs
        if r["train"]["epochs"]
    }
    if accuracy:
        plots.curves(accuracy, "Validation accuracy per epoch", "epoch", "accuracy",
                     out / "normalization_accuracy.png", logy=False)  # fmt: skip
        names.append("normalization_accuracy.png")
    return names
