"""A sweep folder as one section of ``mlplab report``'s self-contained HTML page.

The section holds the spec's description, the trial counts, the table of configurations (mean
± std over seeds, best first), the lr profile when ``lr`` was swept, and every figure of the
folder's ``figures/`` (drawn first if there are none), embedded as base64 PNG.
"""

from __future__ import annotations

import html
from pathlib import Path

from ..html_table import png, table
from .views import ConfigRow, lr_profile, summarize, swept_axes

__all__ = ["sweep_section"]

#: Rows of the configuration table shown in the report (the best ones).
MAX_ROWS = 30


def _stat(row: ConfigRow) -> str:
    return "–" if row.mean is None else f"{row.mean:.4f} ± {row.std:.4f}"


def sweep_section(folder: str | Path, metric: str = "test_accuracy") -> str:
    """Return the HTML section for the sweep in ``folder`` (which holds ``sweep.sqlite``).

    Raises:
        UsageError: if ``folder`` holds no sweep.

    Examples:
        >>> sweep_section("/nonexistent")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        mlplab.commands.UsageError: /nonexistent: not a sweep folder ...
    """
    from ..commands.sweep import open_store

    folder = Path(folder)
    store = open_store(folder)
    try:
        trials, spec, counts = store.trials(), store.stored_spec() or {}, store.counts()
        figures = folder / "figures"
        if not list(figures.glob("*.png")):
            from .figures import plot_sweep

            plot_sweep(trials, figures, store.epochs, spec, metric)
    finally:
        store.close()
    keys = swept_axes(trials, spec)
    rows = summarize(trials, metric, keys)
    parts = [f"<h2>Sweep: {html.escape(folder.name)}</h2>"]
    if spec.get("description"):
        parts.append(f"<p>{html.escape(spec['description'])}</p>")
    count_text = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "no trials"
    parts.append(f"<p>{html.escape(count_text)}; swept: {html.escape(', '.join(keys))}. Mean ± "
                 f"std of {html.escape(metric)} over seeds, best first (diverged seeds are "
                 "counted, not averaged).</p>")  # fmt: skip
    if "lr" in keys:
        profile = lr_profile(rows, metric=metric)
        parts.append(
            "<h3>Per configuration: best lr, the lr range within 1 point, where it diverges</h3>"
            + table(
                [
                    "configuration",
                    "best lr",
                    f"{metric} there",
                    "decades within 1 pt",
                    "smallest lr with NaN/inf",
                    "fails from (NaN or accuracy < 0.2)",
                ],
                [
                    [
                        " ".join(f"{k}={v}" for k, v in p["line"].items()),
                        p["best_lr"],
                        "–" if p["best"] is None else f"{p['best']:.4f} ± {p['best_std']:.4f}",
                        p["width_decades"],
                        "none in grid" if p["diverges_at"] is None else p["diverges_at"],
                        "none in grid" if p["fails_at"] is None else p["fails_at"],
                    ]
                    for p in profile
                ],
            )  # fmt: skip
        )
    shown = rows[:MAX_ROWS]
    more = f" (best {MAX_ROWS} of {len(rows)})" if len(rows) > MAX_ROWS else ""
    parts.append(
        f"<h3>Configurations{more}</h3>"
        + table(
            [*keys, f"{metric} (mean ± std)", "seeds", "diverged", "failed"],
            [[*(r.values[k] for k in keys), _stat(r), r.n, r.diverged, r.failed] for r in shown],
        )  # fmt: skip
    )
    for path in sorted(figures.glob("*.png")):
        parts.append(f"<p>{png(path, style='max-width:100%')}</p>")
    return "\n".join(parts)
