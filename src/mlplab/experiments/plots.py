"""Figures of the experiments (matplotlib, Agg backend, imported only when a figure is drawn)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .quadratic import Quadratic

__all__ = ["contour_paths", "curves", "per_layer"]


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
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    title: str,
    xlabel: str,
    ylabel: str,
    path: Path,
    logy: bool = True,
) -> Path:
    """Plot label → (x, y) lines on one axis (log y by default); save a PNG."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for i, (label, (x, y)) in enumerate(series.items()):
        y = np.asarray(y, dtype=np.float64)
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
    """Plot one value per layer (1 … L) for each label, optionally with dashed theory lines."""
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
    ax.legend(fontsize=8)
    return _save(fig, path)
