"""``--retry-failed``: failed trials run again on request, old errors kept; old stores open."""

from __future__ import annotations

import sqlite3

from mlplab.cli import main
from mlplab.sweep import Store, run_sweep, spec_from_options
from mlplab.sweep.trial import TrialResult

from .conftest import TINY

#: The ``trials``/``epochs`` tables as the first release wrote them (no past_errors, warnings).
OLD_SCHEMA = """
CREATE TABLE spec (id INTEGER PRIMARY KEY CHECK (id = 1), json TEXT NOT NULL);
CREATE TABLE trials (
    key TEXT PRIMARY KEY, position INTEGER NOT NULL, config TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending', metrics TEXT, error TEXT,
    wall_seconds REAL, train_seconds REAL, host TEXT, started TEXT, ended TEXT,
    attempts INTEGER NOT NULL DEFAULT 0);
CREATE TABLE epochs (
    key TEXT NOT NULL REFERENCES trials(key), epoch INTEGER NOT NULL, train_loss REAL,
    train_accuracy REAL, val_loss REAL, val_accuracy REAL, lr REAL, PRIMARY KEY (key, epoch));
INSERT INTO trials (key, position, config, status, error, ended, attempts)
    VALUES ('k1', 0, '{"flags": {"lr": 0.1}}', 'failed', 'OSError: disk full', 'then', 1);
"""


def test_a_store_of_the_first_release_opens_and_its_failed_trials_can_be_retried(tmp_path):
    path = tmp_path / "sweep.sqlite"
    db = sqlite3.connect(path)
    db.executescript(OLD_SCHEMA)
    db.close()
    store = Store(path)
    (row,) = store.trials()
    assert (row.status, row.error, row.past_errors, row.warnings) == (
        "failed", "OSError: disk full", [], [])  # fmt: skip
    assert store.retry_failed({"other"}) == 0  # not one of the keys asked for
    assert store.retry_failed({"k1"}) == 1 and store.retry_failed() == 0
    (row,) = store.trials()
    assert (row.status, row.error, row.attempts) == ("pending", None, 1)
    assert row.past_errors == [{"error": "OSError: disk full", "ended": "then"}]
    store.record("k1", TrialResult("failed", error="OSError: disk full again", ended="now"))
    store.retry_failed()
    assert [e["error"] for e in store.trials()[0].past_errors] == [
        "OSError: disk full", "OSError: disk full again"]  # fmt: skip
    store.close()
    Store(path).close()  # opened again: the columns are there, nothing added twice


def test_failed_trials_are_kept_on_resume_and_run_again_with_retry_failed(tmp_path, capsys):
    out = tmp_path / "sweep"
    grid, fixed = ["lr=0.05,0.1"], TINY[:-1]
    run_sweep(spec_from_options(grid, fixed), out, workers=1, progress=False)
    store = Store(out / "sweep.sqlite")
    first, second = store.trials()
    store.record(second.key, TrialResult("failed", error="MemoryError: out of memory", ended="t"))
    store.close()

    kept = run_sweep(spec_from_options(grid, fixed), out, workers=1, progress=False)
    assert (kept.skipped, kept.finished, kept.retried) == (2, 0, 0)
    argv = ["sweep", "run", "--out", str(out), "--workers", "1", "--retry-failed",
            *(f"--grid={g}" for g in grid), *(f"--set={f}" for f in fixed)]  # fmt: skip
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "1 finished, 0 diverged, 0 failed, 1 done before, 1 failed ones run again" in text
    store = Store(out / "sweep.sqlite")
    rows = {t.key: t for t in store.trials()}
    assert [t.status for t in rows.values()] == ["finished", "finished"]
    assert rows[second.key].past_errors == [{"error": "MemoryError: out of memory", "ended": "t"}]
    assert rows[second.key].attempts == 2 and rows[second.key].error is None
    assert len(store.epochs(second.key)) == 1 and rows[first.key].ended == first.ended
    store.close()


def test_the_help_names_retry_failed(capsys):
    assert main(["sweep", "run", "--help"]) == 0
    assert "--retry-failed" in capsys.readouterr().out
