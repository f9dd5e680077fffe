"""Views of a sweep's results: one row per configuration (seeds pooled), tables, lr profiles.

Everything here reads trial rows (:class:`mlplab.sweep.store.TrialRow`: ``key``, ``config``,
``status``, ``metrics``); nothing writes. A *configuration* is a trial's flags without its
seed. Over its finished seeds a row holds the mean and the sample standard deviation of the
metric,

    mean = (1/n) Σₛ mₛ,   std = √( Σₛ (mₛ − mean)² / (n − 1) )   (0 for n = 1),

and the count of its diverged (loss NaN/inf) and failed seeds; diverged seeds are results, shown
as such, never averaged in. Rows sort best first: highest for accuracies, lowest for losses.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..commands import UsageError

__all__ = ["ConfigRow", "summarize", "format_table", "trials_json", "swept_axes", "lr_profile",
           "format_profile", "higher_is_better"]  # fmt: skip

DEFAULT_METRIC = "test_accuracy"


def higher_is_better(metric: str) -> bool:
    """Whether a larger value of ``metric`` is better (not for losses).

    Examples:
        >>> higher_is_better("test_accuracy"), higher_is_better("train_loss")
        (True, False)
    """
    return "loss" not in metric


@dataclass
class ConfigRow:
    """One configuration: its swept values and its metric pooled over seeds.

    Examples:
        >>> row = ConfigRow({"lr": 0.1}, [0.90, 0.94], diverged=1)
        >>> row.n, round(row.mean, 2), round(row.std, 4), row.diverged
        (2, 0.92, 0.0283, 1)
    """

    values: dict[str, Any]
    values_of_seeds: list[float] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    diverged: int = 0
    failed: int = 0
    pending: int = 0
    best_key: str | None = None

    @property
    def n(self) -> int:
        """Seeds with a finished, finite metric."""
        return len(self.values_of_seeds)

    @property
    def mean(self) -> float | None:
        return sum(self.values_of_seeds) / self.n if self.n else None

    @property
    def std(self) -> float | None:
        if not self.n:
            return None
        m = self.mean or 0.0
        return math.sqrt(sum((v - m) ** 2 for v in self.values_of_seeds) / max(1, self.n - 1))


def _flags(row: Any) -> dict[str, Any]:
    return dict(row.config.get("flags", {}))


def swept_axes(trials: Sequence[Any], stored_spec: dict[str, Any] | None = None) -> list[str]:
    """The swept options other than the seed: the stored spec's, else those that vary.

    Examples:
        >>> from types import SimpleNamespace as R
        >>> rows = [R(config={"flags": {"lr": lr, "seed": s, "epochs": 1}})
        ...         for lr in (1, 2) for s in (0, 1)]
        >>> swept_axes(rows)
        ['lr']
    """
    if stored_spec and stored_spec.get("swept") is not None:
        keys = list(stored_spec["swept"])
    else:
        flags = [_flags(t) for t in trials]
        names = list(dict.fromkeys(k for f in flags for k in f))
        keys = [k for k in names if len({json.dumps(f.get(k)) for f in flags}) > 1]
    return [k for k in keys if k != "seed"]


def metric_names(trials: Iterable[Any]) -> list[str]:
    """The numeric metrics the finished trials hold."""
    names: dict[str, None] = {}
    for t in trials:
        for k, v in (t.metrics or {}).items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                names[k] = None
    return list(names)


def _check_metric(trials: Sequence[Any], metric: str) -> None:
    names = metric_names(trials)
    if names and metric not in names:
        raise UsageError(f"--metric {metric!r}: the sweep has no such metric; choose one of "
                         f"{', '.join(names)}")  # fmt: skip


def summarize(
    trials: Sequence[Any],
    metric: str = DEFAULT_METRIC,
    keys: Sequence[str] | None = None,
    group_by: str | None = None,
) -> list[ConfigRow]:
    """Pool the trials over seeds into one :class:`ConfigRow` per configuration, best first.

    Args:
        trials: trial rows (``key``, ``config``, ``status``, ``metrics``).
        metric: a ``summary.json`` name (``test_accuracy``, ``test_loss``, ``train_loss``, ...).
        keys: the swept options to show (default :func:`swept_axes`).
        group_by: keep only the best row of each value of this option.

    Raises:
        UsageError: for a metric no trial has, or a ``group_by`` that is not a swept option.

    Examples:
        >>> from types import SimpleNamespace as R
        >>> rows = [R(key=f"{lr}{s}", config={"flags": {"lr": lr, "seed": s}}, status="finished",
        ...           metrics={"test_accuracy": lr / 10 + s / 100})
        ...         for lr in (1, 2) for s in (0, 2)]
        >>> [(r.values, round(r.mean, 3), r.n) for r in summarize(rows)]
        [({'lr': 2}, 0.21, 2), ({'lr': 1}, 0.11, 2)]
    """
    _check_metric(trials, metric)
    keys = list(keys) if keys is not None else swept_axes(trials)
    if group_by is not None and group_by not in keys:
        raise UsageError(f"--group-by {group_by!r}: not a swept option; choose one of "
                         f"{', '.join(keys) or '(none swept)'}")  # fmt: skip
    better = higher_is_better(metric)
    rows: dict[str, ConfigRow] = {}
    best: dict[str, float] = {}
    for t in trials:
        flags = _flags(t)
        flags.pop("seed", None)
        ident = json.dumps(flags, sort_keys=True)
        row = rows.setdefault(ident, ConfigRow({k: flags.get(k) for k in keys}))
        row.keys.append(t.key)
        value = (t.metrics or {}).get(metric)
        if t.status == "finished" and isinstance(value, (int, float)) and math.isfinite(value):
            row.values_of_seeds.append(float(value))
            if ident not in best or _better(value, best[ident], better):
                best[ident], row.best_key = float(value), t.key
        elif t.status in ("diverged", "finished"):
            row.diverged += 1
        elif t.status == "failed":
            row.failed += 1
        else:
            row.pending += 1
    sign = -1.0 if better else 1.0
    ordered = sorted(rows.values(), key=lambda r: (r.mean is None, sign * (r.mean or 0.0)))
    if group_by is None:
        return ordered
    groups: dict[str, ConfigRow] = {}
    for row in ordered:
        groups.setdefault(json.dumps(row.values.get(group_by)), row)
    return list(groups.values())


def _better(a: float, b: float, higher: bool) -> bool:
    return a > b if higher else a < b


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return ",".join(_cell(v) for v in value)
    return str(value)


def format_table(rows: Sequence[ConfigRow], metric: str = DEFAULT_METRIC) -> str:
    """Format rows as a plain-text table: the swept values, mean ± std, seeds, diverged.

    Examples:
        >>> print(format_table([ConfigRow({"lr": 0.1}, [0.9, 0.92], diverged=1)]))
        lr   test_accuracy (mean ± std)  seeds  diverged
        0.1  0.9100 ± 0.0141             2      1
    """
    keys = list(rows[0].values) if rows else []
    extra = [("failed", "failed")] if any(r.failed for r in rows) else []
    extra += [("pending", "pending")] if any(r.pending for r in rows) else []
    header = [*keys, f"{metric} (mean ± std)", "seeds", "diverged", *(h for h, _ in extra)]
    body = []
    for r in rows:
        stat = "-" if r.mean is None else f"{r.mean:.4f} ± {r.std:.4f}"
        body.append([*(_cell(r.values[k]) for k in keys), stat, str(r.n), str(r.diverged),
                     *(str(getattr(r, a)) for _, a in extra)])  # fmt: skip
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
             for line in [header, *body]]  # fmt: skip
    return "\n".join(lines)


def _is_instance(t: Any) -> bool:
    return dataclasses.is_dataclass(t) and not isinstance(t, type)


def trials_json(trials: Iterable[Any]) -> list[dict[str, Any]]:
    """Every trial as a JSON-able dict (its key, status, config, metrics, times, host, error).

    Examples:
        >>> from types import SimpleNamespace as R
        >>> trials_json([R(key="k", status="finished", config={}, metrics={"test_accuracy": 0.9})])
        [{'key': 'k', 'status': 'finished', 'config': {}, 'metrics': {'test_accuracy': 0.9}}]
    """
    out = []
    for t in trials:
        item = dataclasses.asdict(t) if _is_instance(t) else dict(vars(t))
        out.append(item)
    return out


def lr_profile(
    trials: Sequence[Any],
    axis: str = "lr",
    metric: str = DEFAULT_METRIC,
    within: float = 0.01,
    keys: Sequence[str] | None = None,
    collapse: float = 0.2,
) -> list[dict[str, Any]]:
    """For each line (the other swept options), the metric against ``axis``, summarised.

    For each combination of the swept options other than ``axis`` and the seed, over the
    ``axis`` grid: the best value (``best_lr``) and the mean metric there, the width in decades
    ``log10(hi/lo)`` of the run of consecutive grid values around the best whose mean is within
    ``within`` of the best (1 point of accuracy by default), and the smallest value where a seed
    diverged (None if none did). A ReLU net driven by a too-large lr often dies (its accuracy
    drops to chance) with a finite loss; ``fails_at`` is the smallest value above the best where
    a seed diverged or the mean accuracy fell below ``collapse`` (twice chance for 10 classes).

    Examples:
        >>> rows = [ConfigRow({"lr": lr}, [acc]) for lr, acc in [(0.01, 0.9), (0.1, 0.95),
        ...         (1.0, 0.945)]] + [ConfigRow({"lr": 10.0}, [], diverged=3)]
        >>> p, = lr_profile(rows)
        >>> p["best_lr"], p["best"], p["width_decades"], p["diverges_at"], p["fails_at"]
        (0.1, 0.95, 1.0, 10.0, 10.0)
    """
    rows = (
        trials if trials and isinstance(trials[0], ConfigRow) else summarize(trials, metric, keys)
    )
    better = higher_is_better(metric)
    lines: dict[str, list[ConfigRow]] = {}
    for r in rows:
        rest = {k: v for k, v in r.values.items() if k != axis and v is not None}
        lines.setdefault(json.dumps(rest, sort_keys=True), []).append(r)
    out = []
    for ident, members in lines.items():
        members = sorted(members, key=lambda r: r.values[axis])
        scored = [r for r in members if r.mean is not None]
        diverged = [r.values[axis] for r in members if r.diverged]
        item: dict[str, Any] = {"line": json.loads(ident), "best_lr": None, "best": None,
                                "width_decades": None, "fails_at": None,
                                "diverges_at": min(diverged) if diverged else None}  # fmt: skip
        if scored:
            top = (max if better else min)(scored, key=lambda r: r.mean or 0.0)
            i = members.index(top)
            limit = (top.mean or 0.0) + (-within if better else within)
            ok = [r.mean is not None and not _better(limit, r.mean, better) for r in members]
            lo = hi = i
            while lo > 0 and ok[lo - 1]:
                lo -= 1
            while hi < len(members) - 1 and ok[hi + 1]:
                hi += 1
            span = members[hi].values[axis] / members[lo].values[axis]
            item |= {"best_lr": top.values[axis], "best": top.mean, "best_std": top.std,
                     "width_decades": round(math.log10(span), 3)}  # fmt: skip
            failing = [r.values[axis] for r in members[i + 1 :] if r.diverged or
                       (better and r.mean is not None and r.mean < collapse)]  # fmt: skip
            item["fails_at"] = min(failing) if failing else None
        out.append(item)
    sign = -1.0 if better else 1.0
    return sorted(out, key=lambda d: (d["best"] is None, sign * (d["best"] or 0.0)))


def format_profile(profile: Sequence[dict[str, Any]], axis: str = "lr") -> str:
    """Format :func:`lr_profile` as a table, one line per optimizer (or other line).

    Examples:
        >>> rows = [ConfigRow({"optimizer": "sgd", "lr": lr}, [a])
        ...         for lr, a in [(0.1, 0.9), (1.0, 0.5)]]
        >>> print(format_profile(lr_profile(rows)))  # doctest: +NORMALIZE_WHITESPACE
        configuration  best lr  mean ± std there  decades within 1 pt  NaN/inf from
          fails from (NaN or acc < 0.2)
        optimizer=sgd  0.1      0.9000 ± 0.0000   0.00                 none in grid  none in grid
    """
    header = ["configuration", f"best {axis}", "mean ± std there", "decades within 1 pt",
              "NaN/inf from", "fails from (NaN or acc < 0.2)"]  # fmt: skip
    body = []
    for p in profile:
        name = " ".join(f"{k}={_cell(v)}" for k, v in p["line"].items()) or "(all)"
        stat = "-" if p["best"] is None else f"{p['best']:.4f} ± {p['best_std']:.4f}"
        width = "-" if p["width_decades"] is None else f"{p['width_decades']:.2f}"
        diverges = "none in grid" if p["diverges_at"] is None else _cell(p["diverges_at"])
        fails = "none in grid" if p.get("fails_at") is None else _cell(p["fails_at"])
        body.append([name, _cell(p["best_lr"]), stat, width, diverges, fails])
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
                     for line in [header, *body])  # fmt: skip
