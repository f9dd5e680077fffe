"""run_sweep on the local pool: results, resume without reruns, grown grids, worker deaths."""

from __future__ import annotations

import pytest

from mlplab.commands import UsageError
from mlplab.sweep import SpecError, Store, run_sweep, spec_from_options
from mlplab.sweep.execute import LocalPool, parse_slurm

from .conftest import TINY, metrics_by_key


def test_sweep_resume_and_grow(tmp_path, tiny_spec):
    out = tmp_path / "sweep"
    first = run_sweep(tiny_spec, out, workers=2, progress=False)
    assert (first.total, first.finished, first.skipped) == (4, 4, 0)
    store = Store(out / "sweep.sqlite")
    before = store.trials()
    assert all(t.attempts == 1 and len(store.epochs(t.key)) == 1 for t in before)
    store.close()
    again = run_sweep(tiny_spec, out, workers=2, progress=False)
    assert (again.finished, again.skipped) == (0, 4)
    grown = spec_from_options(["lr=0.05,0.1,0.2", "seed=0,1"], TINY[:-1])
    more = run_sweep(grown, out, workers=1, progress=False)
    assert (more.total, more.finished, more.skipped) == (6, 2, 4)
    store = Store(out / "sweep.sqlite")
    rows = {t.key: t for t in store.trials()}
    assert len(rows) == 6 and all(t.attempts == 1 for t in rows.values())
    assert all(rows[t.key].ended == t.ended for t in before)  # not run again
    sequential = tmp_path / "one"
    run_sweep(tiny_spec, sequential, workers=1, progress=False)
    other = Store(sequential / "sweep.sqlite")
    assert metrics_by_key(other).items() <= metrics_by_key(store).items()
    store.close(), other.close()
    changed = spec_from_options(["seed=0,1"], [t for t in TINY[:-1] if t != "width=16"])
    with pytest.raises(SpecError, match="width"):
        run_sweep(changed, out, workers=1)


def test_worker_death_reruns_once_then_fails(tmp_path, monkeypatch, tiny_spec):
    """A pool whose first submission of one trial dies (BrokenProcessPool) reruns it."""
    import concurrent.futures as cf

    real_submit, dead = LocalPool.submit, {"n": 0}

    def submit(self, config, key):
        if config["seed"] == 1 and config["optimizer_args"]["lr"] == 0.1 and dead["n"] < 1:
            dead["n"] += 1
            future = cf.Future()
            future.set_exception(cf.process.BrokenProcessPool("a worker died"))
            return future
        return real_submit(self, config, key)

    monkeypatch.setattr(LocalPool, "submit", submit)
    outcome = run_sweep(tiny_spec, tmp_path / "a", workers=1, progress=False)
    assert (outcome.finished, outcome.failed) == (4, 0)
    dead["n"] = -5  # it dies every time: rerun once, then failed
    outcome = run_sweep(tiny_spec, tmp_path / "b", workers=1, progress=False)
    assert (outcome.finished, outcome.failed) == (3, 1)
    store = Store(tmp_path / "b" / "sweep.sqlite")
    (failed,) = store.trials("failed")
    assert failed.attempts == 2 and "died twice" in failed.error
    assert len(store.trials()) == 4
    store.close()


def test_bad_executor_options(tmp_path, tiny_spec):
    with pytest.raises(UsageError, match="--workers 0"):
        run_sweep(tiny_spec, tmp_path / "x", workers=0)
    assert not (tmp_path / "x").exists()
    with pytest.raises(UsageError, match="--slurm bogus=1: unknown key"):
        parse_slurm("cores=2,bogus=1")
    with pytest.raises(UsageError, match="cores=x"):
        parse_slurm("cores=x")


def test_a_cancelled_local_pool_stops_its_running_workers_and_a_fresh_one_closes_cleanly():
    import time

    from mlplab.sweep.execute import LocalPool

    LocalPool(1).close(cancel=True)  # never started a process: nothing to stop, no error
    pool = LocalPool(1)
    future = pool._pool.submit(time.sleep, 60)  # a trial that would outlive the sweep
    deadline = time.monotonic() + 30
    while not future.running() and time.monotonic() < deadline:
        time.sleep(0.05)
    workers = list(pool._pool._processes.values())
    assert workers and future.running()
    pool.close(cancel=True)
    for proc in workers:
        proc.join(timeout=10)
        assert not proc.is_alive()
