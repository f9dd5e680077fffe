"""Sweep views: rows over seeds, sorting, grouping, lr profiles, tables and figures."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from mlplab.commands import UsageError
from mlplab.sweep.views import format_profile, format_table, lr_profile, summarize, swept_axes


def _trial(status="finished", acc=None, loss=None, **flags):
    metrics = {}
    if acc is not None:
        metrics["test_accuracy"] = acc
    if loss is not None:
        metrics["test_loss"] = loss
    key = "-".join(f"{k}{v}" for k, v in flags.items()) + status
    return SimpleNamespace(key=key, config={"flags": flags}, status=status, metrics=metrics)


def _sweep():
    """2 optimizers × 3 lrs × 3 seeds; sgd diverges at lr 1 (every seed), adam at one seed."""
    trials = []
    table = {
        ("sgd", 0.01): [0.80, 0.82, 0.81],
        ("sgd", 0.1): [0.90, 0.91, 0.92],
        ("sgd", 1.0): [None, None, None],
        ("adam", 0.01): [0.95, 0.93, None],
        ("adam", 0.1): [0.60, 0.62, 0.61],
        ("adam", 1.0): [0.10, 0.10, 0.10],
    }
    for (opt, lr), accs in table.items():
        for seed, acc in enumerate(accs):
            status = "diverged" if acc is None else "finished"
            trials.append(
                _trial(
                    status, acc, None if acc is None else 1 - acc, optimizer=opt, lr=lr, seed=seed
                )
            )
    return trials


def test_rows_pool_seeds_mean_std_and_count_diverged():
    rows = summarize(_sweep())
    top = rows[0]
    assert top.values == {"optimizer": "adam", "lr": 0.01}
    assert top.n == 2 and top.diverged == 1
    assert top.mean == pytest.approx(0.94)
    assert top.std == pytest.approx(math.sqrt(((0.95 - 0.94) ** 2 + (0.93 - 0.94) ** 2) / 1))
    means = [r.mean for r in rows]
    assert means[:5] == sorted(means[:5], reverse=True)
    assert rows[-1].values == {"optimizer": "sgd", "lr": 1.0} and rows[-1].mean is None
    assert rows[-1].diverged == 3
    assert {len(r.keys) for r in rows} == {3}


def test_a_loss_sorts_lowest_first():
    rows = summarize(_sweep(), metric="test_loss")
    assert rows[0].values == {"optimizer": "adam", "lr": 0.01}
    assert rows[1].values == {"optimizer": "sgd", "lr": 0.1}
    assert rows[0].best_key.endswith("seed0finished")  # loss 0.05 is the smallest


def test_group_by_keeps_the_best_row_of_each_group():
    rows = summarize(_sweep(), group_by="optimizer")
    assert [(r.values["optimizer"], r.values["lr"]) for r in rows] == [("adam", 0.01), ("sgd", 0.1)]
    assert rows[1].best_key.endswith("seed2finished")


def test_swept_axes_without_a_stored_spec_are_the_varying_flags():
    assert swept_axes(_sweep()) == ["optimizer", "lr"]
    assert swept_axes(_sweep(), {"swept": ["lr", "seed"]}) == ["lr"]


def test_bad_metric_and_group_by_are_usage_errors():
    with pytest.raises(UsageError, match="--metric 'accuracy'.*test_accuracy, test_loss"):
        summarize(_sweep(), metric="accuracy")
    with pytest.raises(UsageError, match="--group-by 'optimzer'"):
        summarize(_sweep(), group_by="optimzer")


def test_failed_and_pending_trials_are_counted_not_averaged():
    trials = [
        _trial("finished", 0.5, lr=0.1, seed=0),
        _trial("failed", lr=0.1, seed=1),
        _trial("pending", lr=0.1, seed=2),
        _trial("finished", 0.7, lr=0.2, seed=0),
    ]
    rows = summarize(trials)
    assert [(r.values["lr"], r.n, r.failed, r.pending) for r in rows] == [
        (0.2, 1, 0, 0),
        (0.1, 1, 1, 1),
    ]
    text = format_table(rows)
    header = "lr test_accuracy (mean ± std) seeds diverged failed pending"
    assert text.splitlines()[0].split() == header.split()
    assert "0.5000 ± 0.0000" in text


def test_lr_profile_best_lr_width_and_divergence():
    profile = {p["line"]["optimizer"]: p for p in lr_profile(_sweep())}
    sgd, adam = profile["sgd"], profile["adam"]
    assert sgd["best_lr"] == 0.1 and sgd["best"] == pytest.approx(0.91)
    assert sgd["width_decades"] == 0.0  # 0.81 at lr 0.01 is more than 1 point below
    assert sgd["diverges_at"] == 1.0
    assert adam["best_lr"] == 0.01 and adam["diverges_at"] == 0.01  # one seed diverged there
    assert adam["fails_at"] == 1.0 and sgd["fails_at"] == 1.0  # accuracy 0.10: a dead net
    text = format_profile(lr_profile(_sweep()))
    assert "optimizer=adam" in text.splitlines()[1] and "none in grid" not in text


def test_lr_profile_width_counts_consecutive_lrs_within_one_point():
    points = [(1e-3, 0.90), (1e-2, 0.945), (1e-1, 0.95), (1.0, 0.941), (10.0, 0.46)]
    trials = [_trial("finished", acc, lr=lr, seed=0) for lr, acc in points]
    (p,) = lr_profile(trials)
    assert p["best_lr"] == 0.1 and p["width_decades"] == pytest.approx(2.0)
    assert p["diverges_at"] is None


def test_plot_writes_metric_curves_and_heatmap(tmp_path):
    pytest.importorskip("matplotlib")
    from mlplab.sweep.figures import plot_sweep

    def epochs_of(key):
        return [{"epoch": e, "train_loss": 1.0 / e, "train_accuracy": 0.5, "val_loss": 1.0,
                 "val_accuracy": 0.5 + e / 10, "lr": 0.1} for e in (1, 2, 3)]  # fmt: skip

    paths = plot_sweep(_sweep(), tmp_path / "fig", epochs_of, {"swept": ["optimizer", "lr", "seed"],
                                                               "log": ["lr"]})  # fmt: skip
    names = sorted(p.name for p in paths)
    assert names == ["curves.png", "heatmap.png", "test_accuracy_vs_lr.png"]
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000
    assert not list((tmp_path / "fig").glob("*.tmp*"))
    with pytest.raises(UsageError, match="--hue 'colour'"):
        plot_sweep(_sweep(), tmp_path / "fig", epochs_of, hue="colour")
    by_hue = plot_sweep(_sweep(), tmp_path / "hue", epochs_of, hue="optimizer")
    assert "test_accuracy_vs_lr.png" in {p.name for p in by_hue}
