"""A sweep's figures (PNG, matplotlib imported only here, only when called).

- ``<metric>_vs_<axis>.png`` for each swept numeric option: the metric against it, one line per
  ``hue`` value (default: per combination of the other swept options), the median over seeds
  with a min–max band; where the plotted configuration diverged, an ✕ at the axis edge. A log
  axis for options given as ``log`` ranges or ``loguniform`` draws.
- ``curves.png``: the learning curves (train loss, test accuracy per epoch) of the best
  configuration of each line.
- ``heatmap.png`` when exactly two options are swept (besides the seed): the mean metric of each
  cell, diverged-only cells marked.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..commands import UsageError
from .views import DEFAULT_METRIC, ConfigRow, higher_is_better, summarize, swept_axes

__all__ = ["plot_sweep", "numeric_axes", "axis_values"]

#: More lines than this in one plot (or curves) is unreadable; the best ones are kept.
MAX_LINES = 12


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise UsageError('sweep plot needs matplotlib: pip install "mlplab[lab]"') from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def axis_values(rows: Sequence[ConfigRow], key: str, order: Sequence[Any] = ()) -> list[Any]:
    """The distinct values of ``key`` over the rows: numbers sorted, others as in ``order``
    (the spec's order of the values), then in order of appearance.

    Examples:
        >>> axis_values([ConfigRow({"d": 10}), ConfigRow({"d": 5}), ConfigRow({"d": 10})], "d")
        [5, 10]
        >>> axis_values([ConfigRow({"i": "b"}), ConfigRow({"i": "a"})], "i", order=["a", "b"])
        ['a', 'b']
    """
    seen = list({json.dumps(r.values.get(key)): r.values.get(key) for r in rows}.values())
    if all(_is_number(v) for v in seen):
        return sorted(seen)
    rank = {json.dumps(v): i for i, v in reversed(list(enumerate(order)))}
    return sorted(seen, key=lambda v: rank.get(json.dumps(v), len(rank)))


def numeric_axes(rows: Sequence[ConfigRow]) -> list[str]:
    """The options that take at least two numeric values (and nothing else but unset).

    Examples:
        >>> numeric_axes([ConfigRow({"lr": 0.1, "o": "sgd"}), ConfigRow({"lr": 1.0, "o": "sgd"})])
        ['lr']
    """
    keys = list(rows[0].values) if rows else []
    out = []
    for k in keys:
        vs = [v for v in axis_values(rows, k) if v is not None]
        if len(vs) >= 2 and all(_is_number(v) for v in vs):
            out.append(k)
    return out


def _label(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items() if v is not None) or "all"


def _lines(rows: Sequence[ConfigRow], x: str | None, hue: str | None) -> dict[str, list[ConfigRow]]:
    """Rows by line: the hue value, or the values of every option but ``x``; best lines first."""
    lines: dict[str, list[ConfigRow]] = {}
    for r in rows:  # rows come best first, so lines do too
        rest = {hue: r.values.get(hue)} if hue else {k: v for k, v in r.values.items() if k != x}
        lines.setdefault(_label(rest), []).append(r)
    return dict(list(lines.items())[:MAX_LINES])


def _best(rows: Sequence[ConfigRow]) -> ConfigRow:
    return rows[0]  # summarize sorts best first


def _metric_vs(plt: Any, rows: list[ConfigRow], x: str, hue: str | None, metric: str,
               log: bool, path: Path) -> Path:  # fmt: skip
    fig, ax = plt.subplots(figsize=(7, 4.5))
    edge = 0.02 if higher_is_better(metric) else 0.98
    for label, members in _lines(rows, x, hue).items():
        xs, med, lo, hi, bad = [], [], [], [], []
        for value in axis_values(members, x):
            if value is None:
                continue
            best = _best([r for r in members if r.values.get(x) == value])
            if best.n:
                xs.append(value)
                med.append(statistics.median(best.values_of_seeds))
                lo.append(min(best.values_of_seeds))
                hi.append(max(best.values_of_seeds))
            if best.diverged:
                bad.append(value)
        (line,) = ax.plot(xs, med, marker="o", ms=3, label=label)
        ax.fill_between(xs, lo, hi, color=line.get_color(), alpha=0.2, lw=0)
        if bad:
            ax.scatter(bad, [edge] * len(bad), marker="x", color=line.get_color(), clip_on=False,
                       transform=ax.get_xaxis_transform(), zorder=5)  # fmt: skip
    if log:
        ax.set_xscale("log")
    ax.set_xlabel(x)
    ax.set_ylabel(f"{metric} (median over seeds, min–max band)")
    ax.set_title(f"{metric} against {x}; ✕ = diverged")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    return _save(plt, fig, path)


def _save(plt: Any, fig: Any, path: Path) -> Path:
    fig.tight_layout()
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)
    return path


def _curves(plt: Any, groups: dict[str, ConfigRow], epochs_of: Callable[[str], list[dict]],
            path: Path) -> Path | None:  # fmt: skip
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(11, 4))
    drawn = 0
    for label, row in groups.items():
        history = epochs_of(row.best_key) if row.best_key else []
        if not history:
            continue
        epochs = [e["epoch"] for e in history]
        (line,) = loss_ax.plot(epochs, [e["train_loss"] for e in history], marker="o", ms=3,
                               label=label)  # fmt: skip
        acc_ax.plot(epochs, [e["val_accuracy"] for e in history], marker="o", ms=3,
                    color=line.get_color())  # fmt: skip
        drawn += 1
    if not drawn:
        plt.close(fig)
        return None
    loss_ax.set(xlabel="epoch", ylabel="train loss", title="best configuration of each line")
    acc_ax.set(xlabel="epoch", ylabel="test accuracy", title="its best seed")
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
    loss_ax.legend(fontsize=7)
    return _save(plt, fig, path)


def _heatmap(plt: Any, rows: list[ConfigRow], keys: list[str], metric: str,
             orders: dict[str, list[Any]], path: Path) -> Path:  # fmt: skip
    ykey, xkey = keys
    ys, xs = axis_values(rows, ykey, orders[ykey]), axis_values(rows, xkey, orders[xkey])
    finite = [r.mean for r in rows if r.mean is not None]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    cell = {(json.dumps(r.values[ykey]), json.dumps(r.values[xkey])): r for r in rows}
    grid = [[math.nan] * len(xs) for _ in ys]
    fig, ax = plt.subplots(figsize=(1.2 * len(xs) + 3, 0.6 * len(ys) + 2))
    for i, y in enumerate(ys):
        for j, x in enumerate(xs):
            r = cell.get((json.dumps(y), json.dumps(x)))
            if r is None:
                continue
            if r.mean is not None:
                grid[i][j] = r.mean
            text = f"{r.mean:.3f}" if r.mean is not None else "div" if r.diverged else ""
            if r.mean is not None and r.diverged:
                text += f"\n{r.diverged} div"
            dark = r.mean is None or (r.mean - lo) < 0.5 * (hi - lo)
            if not higher_is_better(metric):
                dark = not dark
            ax.text(j, i, text, ha="center", va="center", fontsize=8,
                    color="white" if dark else "black")  # fmt: skip
    image = ax.imshow(grid, cmap="viridis" if higher_is_better(metric) else "viridis_r",
                      aspect="auto")  # fmt: skip
    ax.set_xticks(range(len(xs)), [str(x) for x in xs])
    ax.set_yticks(range(len(ys)), [str(y) for y in ys])
    ax.set(xlabel=xkey, ylabel=ykey, title=f"{metric}, mean over seeds")
    fig.colorbar(image, ax=ax)
    return _save(plt, fig, path)


def plot_sweep(
    trials: Sequence[Any],
    out: str | Path,
    epochs_of: Callable[[str], list[dict]],
    stored_spec: dict[str, Any] | None = None,
    metric: str = DEFAULT_METRIC,
    hue: str | None = None,
) -> list[Path]:
    """Write the sweep's figures into ``out``; return their paths (none for an empty sweep).

    Args:
        trials: the Store's trial rows.
        out: the folder for the PNGs (made if missing).
        epochs_of: trial key → its per-epoch rows (:meth:`mlplab.sweep.store.Store.epochs`).
        stored_spec: the spec's JSON (its ``swept`` and ``log`` keys choose axes and scales).
        metric: the ``summary.json`` name to plot.
        hue: one line per value of this swept option.

    Raises:
        UsageError: without matplotlib, for an unknown metric, or a hue that was not swept.

    Examples:
        >>> plot_sweep([], "/tmp/none", lambda key: [])
        []
    """
    keys = swept_axes(trials, stored_spec)
    if hue is not None and hue not in keys:
        raise UsageError(f"--hue {hue!r}: not a swept option; choose one of "
                         f"{', '.join(keys) or '(none swept)'}")  # fmt: skip
    rows = summarize(trials, metric, keys)
    if not rows:
        return []
    plt = _pyplot()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    log_keys = set((stored_spec or {}).get("log", []))
    varying = [k for k in keys if len(axis_values(rows, k)) > 1]
    paths = []
    for x in numeric_axes(rows):
        vs = [v for v in axis_values(rows, x) if v is not None]
        log = x in log_keys or (min(vs) > 0 and max(vs) / min(vs) >= 100)
        paths.append(_metric_vs(plt, rows, x, hue, metric, log, out / f"{metric}_vs_{x}.png"))
    axes = numeric_axes(rows)
    groups = {label: _best(m) for label, m in _lines(rows, axes[0] if axes else None, hue).items()}
    curves = _curves(plt, groups, epochs_of, out / "curves.png")
    paths += [curves] if curves else []
    if len(varying) == 2:
        orders = {k: [t.config.get("flags", {}).get(k) for t in trials] for k in varying}
        paths.append(_heatmap(plt, rows, varying, metric, orders, out / "heatmap.png"))
    return paths
