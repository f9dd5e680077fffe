"""The sweep's SQLite store: new trials only, requeue, one transaction per result, spec check."""

from __future__ import annotations

import sqlite3

import pytest

from mlplab.sweep import SpecError, Store, spec_from_options
from mlplab.sweep.trial import TrialResult


def _result(status="finished", acc=0.5):
    rows = [{"epoch": 1, "train_loss": 1.0, "train_accuracy": 0.4, "val_loss": 0.9,
             "val_accuracy": acc, "lr": 0.1}]  # fmt: skip
    metrics = {"test_accuracy": acc, "test_loss": float("nan")}
    times = {"wall_seconds": 1.5, "train_seconds": 1.0, "started": "s", "ended": "e"}
    return TrialResult(status, metrics, rows, host="h", **times)


def test_add_requeue_record(tmp_path, tiny_spec):
    store = Store(tmp_path / "sweep.sqlite")
    store.save_spec(tiny_spec)
    trials = tiny_spec.trials()
    assert store.add_trials(trials[:2]) == 2
    assert store.add_trials(trials) == 2  # only the new ones
    assert [t.key for t in store.trials()] == [t.key for t in trials]
    store.mark_running(trials[0].key, "host")
    store.mark_running(trials[1].key, "host")
    assert store.counts() == {"pending": 2, "running": 2, "finished": 0, "diverged": 0,
                              "failed": 0}  # fmt: skip
    assert store.requeue_running() == 2
    store.mark_running(trials[0].key, "host")
    store.record(trials[0].key, _result())
    row = store.trials("finished")[0]
    assert row.key == trials[0].key and row.attempts == 2 and row.wall_seconds == 1.5
    assert row.metrics == {"test_accuracy": 0.5, "test_loss": None}  # NaN is no JSON
    assert store.epochs(trials[0].key) == _result().epochs
    store.record(trials[0].key, _result(acc=0.7))  # recorded again: still one row per epoch
    assert len(store.epochs(trials[0].key)) == 1
    assert store.stored_spec() == tiny_spec.to_json()
    store.close()
    db = sqlite3.connect(tmp_path / "sweep.sqlite")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("SELECT COUNT(*) FROM trials").fetchone()[0] == 4
    db.close()


def test_check_spec_names_the_option(tmp_path, tiny_spec):
    store = Store(tmp_path / "sweep.sqlite")
    store.save_spec(tiny_spec)
    store.check_spec(tiny_spec)
    store.check_spec(spec_from_options(["lr=0.05,0.1,0.2", "seed=0,1"],
                                       ["epochs=1", "depth=1", "width=16", "batch_size=256",
                                        "optimizer=sgd"]))  # fmt: skip
    other = spec_from_options(["seed=0,1"], ["epochs=2", "depth=1", "width=16",
                                             "batch_size=256", "optimizer=sgd"])  # fmt: skip
    with pytest.raises(SpecError, match="epochs.*2.*1"):
        store.check_spec(other)
    with pytest.raises(ValueError, match="status 'done'"):
        store.trials("done")
    store.close()
