"""A coordinator SIGKILLed before its first result, midway and during its last trial, then
restarted: every trial exactly once, the same metrics as an uninterrupted sweep."""

from __future__ import annotations

import os
import signal
import sqlite3
import time

import pytest

from mlplab.sweep import Store, run_sweep, spec_from_options

from .conftest import TINY, coordinator, metrics_by_key

GRID = ["lr=0.05,0.1,0.2", "seed=0,1"]


def _finished(path) -> int:
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            return db.execute("SELECT COUNT(*) FROM trials WHERE status = 'finished'").fetchone()[0]
        finally:
            db.close()
    except sqlite3.Error:
        return -1  # not created yet


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("reference")
    run_sweep(spec_from_options(GRID, TINY[:-1]), out, workers=1, progress=False)
    store = Store(out / "sweep.sqlite")
    yield metrics_by_key(store)
    store.close()


@pytest.mark.parametrize("after", [0, 3, 5])
def test_sigkill_then_resume(tmp_path, reference, after):
    out = tmp_path / "sweep"
    proc = coordinator(out, GRID)
    try:
        deadline = time.monotonic() + 60
        while _finished(out / "sweep.sqlite") < after and proc.poll() is None:
            assert time.monotonic() < deadline, "the coordinator made no progress"
            time.sleep(0.01)
        if after == 0:  # before the first result: as soon as the store exists
            while _finished(out / "sweep.sqlite") < 0 and time.monotonic() < deadline:
                time.sleep(0.005)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the coordinator and its workers
        proc.wait(timeout=30)
    assert 0 <= _finished(out / "sweep.sqlite") < 6
    outcome = run_sweep(spec_from_options(GRID, TINY[:-1]), out, workers=1, progress=False)
    assert outcome.total == 6 and outcome.finished + outcome.skipped == 6
    store = Store(out / "sweep.sqlite")
    try:
        assert store.counts()["finished"] == 6 and len(store.trials()) == 6
        assert metrics_by_key(store) == reference
        assert all(len(store.epochs(t.key)) == 1 for t in store.trials())
    finally:
        store.close()
