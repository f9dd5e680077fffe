"""Figures of the experiments (matplotlib, Agg backend, imported only when a figure is drawn)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .quadratic import Quadratic

Curve = tuple[Any, Any]  # (x values, y values): sequences or 1-D arrays of numbers

__all__ = ["contour_paths", "curves", "per_layer", "per_layer_panels", "training"]


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    _pyplot().close(fig)
    return path


def contour_paths(
    problem: Quadratic,
    paths: Mapping[str, np.ndarray],
    title: str,
    path: Path,
    xlim: tuple[float, float] = (-3.0, 4.0),
    ylim: tuple[float, float] = (-3.0, 3.5),
    max_points: int | None = None,
    panels: bool = False,
) -> Path:
    """Draw each trajectory (label → (T, 2) array) over the contours of f; save a PNG.

    With ``panels`` every trajectory gets its own axis (side by side), else all share one.
    Points outside the view (a diverging run) are clipped by the frame.

    Examples:
        >>> import tempfile
        >>> from mlplab.experiments.quadratic import ill_conditioned
        >>> steps = np.array([[-2.0, 2.5], [0.0, 1.0], [1.0, 0.5]])
        >>> out = Path(tempfile.mkdtemp()) / "paths.png"
        >>> contour_paths(ill_conditioned(), {"three steps": steps}, "a path", out).exists()
        True
    """
    plt = _pyplot()
    n = len(paths) if panels else 1
    fig, axes = plt.subplots(1, n, figsize=(5.0 * n if panels else 6.4, 4.6 if panels else 5.0))
    axes = list(np.atleast_1d(axes))
    X, Y, F = problem.grid(xlim, ylim)
    f_star = problem.value(problem.optimum)
    levels = f_star + np.geomspace(1e-2, F.max() - f_star, 14)
    for i, (label, points) in enumerate(paths.items()):
        ax = axes[i if panels else 0]
        pts = points if max_points is None else points[: max_points + 1]
        ax.plot(pts[:, 0], pts[:, 1], "o-", ms=2.5, lw=1.1, color=f"C{i}", label=label)
    for ax in axes:
        ax.contour(X, Y, F, levels=levels, colors="0.7", linewidths=0.8, linestyles="solid")
        ax.plot(*problem.optimum, "k*", ms=12, label="θ*")
        ax.set_xlim(*xlim)
        ax.set_ylim(*ylim)
        ax.set_xlabel("θ₁")
        ax.set_ylabel("θ₂")
        ax.legend(fontsize=8, loc="upper right")
    if panels:
        fig.suptitle(title, fontsize=11)
    else:
        axes[0].set_title(title, fontsize=10)
    return _save(fig, path)


def curves(
    series: Mapping[str, Curve],
    title: str,
    xlabel: str,
    ylabel: str,
    path: Path,
    logy: bool = True,
) -> Path:
    """Plot label → (x, y) lines on one axis (log y by default); save a PNG.

    Examples:
        >>> import tempfile
        >>> out = Path(tempfile.mkdtemp()) / "loss.png"
        >>> curves({"GD": ([0, 1, 2], [1.0, 0.5, 0.25])}, "loss", "step", "f", out).exists()
        True
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for i, (label, (x, values)) in enumerate(series.items()):
        y = np.asarray(values, dtype=np.float64)
        marker = "o" if len(y) < 5 else None  # a run stopped after a few steps stays visible
        ax.plot(x, y, lw=1.3, color=f"C{i}", marker=marker, label=label)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def per_layer(
    series: Mapping[str, Sequence[float]],
    title: str,
    ylabel: str,
    path: Path,
    theory: Mapping[str, Sequence[float]] | None = None,
    logy: bool = True,
) -> Path:
    """Plot one value per layer (1 … L) for each label, optionally with dashed theory lines.

    Examples:
        >>> import tempfile
        >>> out = Path(tempfile.mkdtemp()) / "norms.png"
        >>> per_layer({"2/n": [1.0, 1.1, 0.9]}, "‖Zᵢ‖", "norm", out, theory={"2/n": [1, 1, 1]}).name
        'norms.png'
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for i, (label, values) in enumerate(series.items()):
        v = np.asarray(values, dtype=np.float64)
        layers = np.arange(1, len(v) + 1)
        ax.plot(layers, v, "o-", ms=2.5, lw=1.2, color=f"C{i}", label=f"σ² = {label}")
        if theory and label in theory:
            t = np.asarray(theory[label], dtype=np.float64)
            ax.plot(np.arange(1, len(t) + 1), t, "--", lw=1, color=f"C{i}", alpha=0.7)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("layer i")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    if series:
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "nothing to draw", ha="center", transform=ax.transAxes)
    return _save(fig, path)


def _colors(labels: Sequence[str]) -> dict[str, str]:
    return {label: f"C{i}" for i, label in enumerate(dict.fromkeys(labels))}


def per_layer_panels(
    panels: Mapping[str, Mapping[str, Sequence[float]]],
    title: str,
    ylabel: str,
    path: Path,
    theory: Mapping[str, Sequence[float]] | None = None,
) -> Path:
    """Plot per-layer values side by side (panel title → label → values), one y scale (log).

    A label keeps its colour in every panel; ``theory`` (label → values) is drawn dashed in
    the first panel.

    Examples:
        >>> import tempfile
        >>> panels = {"at init": {"2/n": [1.0, 1.0]}, "trained": {"2/n": [1.2, 0.8]}}
        >>> out = Path(tempfile.mkdtemp()) / "panels.png"
        >>> per_layer_panels(panels, "‖∇Wᵢ‖", "norm", out).exists()
        True
    """
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.2), sharey=True)
    axes = list(np.atleast_1d(axes))
    color = _colors([label for series in panels.values() for label in series])
    for j, (ax, (name, series)) in enumerate(zip(axes, panels.items(), strict=True)):
        for label, values in series.items():
            v = np.asarray(values, dtype=np.float64)
            ax.plot(np.arange(1, len(v) + 1), v, "o-", ms=2.5, lw=1.2, color=color[label],
                    label=f"σ² = {label}")  # fmt: skip
            if j == 0 and theory and label in theory:
                t = np.asarray(theory[label], dtype=np.float64)
                ax.plot(np.arange(1, len(t) + 1), t, "--", lw=1, color=color[label], alpha=0.7)
        ax.set_yscale("log")
        ax.set_xlabel("layer i")
        ax.set_title(name, fontsize=10)
        ax.grid(alpha=0.3)
        if series:
            ax.legend(fontsize=8)
        else:
            ax.text(0.5, 0.5, "no run to show", ha="center", transform=ax.transAxes)
    axes[0].set_ylabel(ylabel)
    fig.suptitle(title, fontsize=11)
    return _save(fig, path)


def _smooth(y: np.ndarray, window: int) -> np.ndarray:
    if len(y) < 2 * window:
        return y
    kernel = np.ones(window) / window
    head = np.cumsum(y[: window - 1]) / np.arange(1, window)
    return np.concatenate([head, np.convolve(y, kernel, mode="valid")])


def training(
    loss: Mapping[str, Curve],
    accuracy: Mapping[str, Curve],
    path: Path,
    title: str,
    dashed: Mapping[str, Curve] | None = None,
    markers: Mapping[str, tuple[float, float, str]] | None = None,
    chance: float | None = None,
    smooth: int = 20,
    dashed_title: str = "first steps (dashed: a variant of the run)",
) -> Path:
    """Draw training curves: loss per step (log y), accuracy per epoch, and a zoom on variants.

    Args:
        loss: label → (steps, minibatch losses); drawn faint, with a ``smooth``-step running
            mean on top.
        accuracy: label → (epochs, validation accuracy).
        dashed: label → (steps, losses) of a variant of the run (e.g. without clipping): drawn
            dashed in its colour on a middle panel, beside the run's own first steps.
        markers: label → (step, loss, text): a divergence marked by a cross and a note.
        chance: a horizontal line on the accuracy panel (e.g. 1 / classes).
        dashed_title: the middle panel's title.

    Examples:
        >>> import tempfile
        >>> loss = {"2/n": (list(range(10)), [2.3 * 0.9**s for s in range(10)])}
        >>> accuracy = {"2/n": ([1, 2], [0.8, 0.9])}
        >>> out = Path(tempfile.mkdtemp()) / "training.png"
        >>> training(loss, accuracy, out, "training", chance=0.1).exists()
        True
    """
    plt = _pyplot()
    widths = [1.5, 1.0, 1.0] if dashed else [1.5, 1.0]
    fig, axes = plt.subplots(1, len(widths), figsize=(4.6 * sum(widths), 4.4), width_ratios=widths)
    ax, acc = axes[0], axes[-1]
    color = _colors([*loss, *accuracy, *(dashed or {}), *(markers or {})])
    for label, (x, values) in loss.items():
        y = np.asarray(values, dtype=np.float64)
        if len(y) >= 5:
            ax.plot(x, y, lw=0.6, color=color[label], alpha=0.25)
            ax.plot(x, _smooth(y, smooth), lw=1.6, color=color[label], label=label)
        else:  # a run stopped after a few steps stays visible
            ax.plot(x, y, "o-", lw=1.3, color=color[label], label=label)
    zoomed = [ax]
    if dashed:
        zoom = axes[1]
        zoomed.append(zoom)
        last = max((max(x, default=0) for x, _ in dashed.values()), default=0) + 1
        for label, (x, y) in loss.items():
            keep = np.asarray(x) <= last
            zoom.plot(np.asarray(x)[keep], np.asarray(y)[keep], "o-", ms=2.5, lw=1.2,
                      color=color[label])  # fmt: skip
        for label, (x, y) in dashed.items():
            zoom.plot(x, y, "s--", ms=3, lw=1.2, color=color[label], mfc="none")
        zoom.plot([], [], "k-", label="as trained (solid)")
        zoom.plot([], [], "k--", label="variant (dashed)")
        zoom.set_title(dashed_title, fontsize=9)
    for label, (at, value, text) in (markers or {}).items():  # on the zoom when there is one
        zoomed[-1].plot([at], [value], "X", ms=11, color=color[label], mec="k", label=text)
    for a in zoomed:
        a.set_yscale("log")
        a.set_xlabel("step")
        a.grid(alpha=0.3)
        a.legend(fontsize=7)
    ax.set_ylabel("training loss (minibatch)")
    for label, (x, y) in accuracy.items():
        acc.plot(x, y, "o-", ms=3.5, lw=1.4, color=color[label], label=label)
    if chance is not None:
        acc.axhline(chance, color="0.5", lw=1, ls=":", label="chance")
    acc.set_ylim(0, 1)
    acc.set_xlabel("epoch")
    acc.set_ylabel("validation accuracy")
    acc.grid(alpha=0.3)
    acc.legend(fontsize=7.5)
    fig.suptitle(title, fontsize=11)
    return _save(fig, path)
