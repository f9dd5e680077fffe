"""A local-pool worker killed twice under one trial: that trial fails, the bystander that ran
beside it both times is not charged and finishes (a real pool, a real os.kill)."""

from __future__ import annotations

import os
import signal
import threading
import time

from mlplab.sweep import Store, run_sweep, spec_from_options
from mlplab.sweep import execute as E

#: A 784-64-10 MLP: the victim trains 1 epoch (it is killed as it starts), the bystander 8
#: (about 2 s, so that it is still running when each break is seen).
FIXED = ["depth=2", "width=64", "batch_size=128", "optimizer=sgd", "lr=0.05"]


def _notes(folder) -> dict[str, int]:
    """trial key -> worker pid, from a pool generation's start notes."""
    if not folder.is_dir():
        return {}
    return {p.read_text(): int(p.name) for p in folder.iterdir() if p.name.isdigit()}


def test_the_death_is_charged_only_to_the_trial_whose_worker_died(tmp_path, monkeypatch):
    spec = spec_from_options(["epochs=1,8"], FIXED)
    victim, bystander = (t.key for t in spec.trials())
    pools, killed, stop = [], [], threading.Event()
    real = E.make_executor

    def make_executor(*args):
        pools.append(real(*args))
        return pools[-1]

    def kill_the_victims_worker_twice():
        deadline = time.monotonic() + 60
        while len(killed) < 2 and not stop.is_set() and time.monotonic() < deadline:
            notes = _notes(pools[0].starts / str(len(killed) + 1)) if pools else {}
            if victim in notes and bystander in notes:  # both running, each in its worker
                os.kill(notes[victim], signal.SIGKILL)
                killed.append(notes[victim])
            time.sleep(0.005)

    monkeypatch.setattr(E, "make_executor", make_executor)
    killer = threading.Thread(target=kill_the_victims_worker_twice, daemon=True)
    killer.start()
    try:
        outcome = run_sweep(spec, tmp_path / "s", workers=2, progress=False)
    finally:
        stop.set()
        killer.join(timeout=10)
    assert len(killed) == 2 and killed[0] != killed[1]
    assert (outcome.finished, outcome.failed) == (1, 1)
    store = Store(tmp_path / "s" / "sweep.sqlite")
    rows = {t.key: t for t in store.trials()}
    epochs = len(store.epochs(bystander))
    store.close()
    assert rows[victim].status == "failed" and "died twice" in rows[victim].error
    assert rows[victim].attempts == 2
    assert rows[bystander].status == "finished" and epochs == 8
    assert rows[bystander].attempts == 3  # started in all three pools, charged in none
    assert not pools[0].starts.exists()
    for pid in killed:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        raise AssertionError(f"worker {pid} still alive")


def _generation(tmp_path, codes, notes):
    """A broken pool generation: workers with exit ``codes``, start ``notes``, trials a and b."""
    import concurrent.futures as cf
    from types import SimpleNamespace

    from mlplab.sweep.local import _Generation

    manager = threading.Thread(target=lambda: None)
    manager.start()
    processes = {pid: SimpleNamespace(exitcode=code) for pid, code in codes.items()}
    gen = _Generation(pool=None, starts=tmp_path, processes=processes, manager=manager)
    for key in "ab":
        future = cf.Future()
        future.set_exception(cf.process.BrokenProcessPool("a worker died"))
        gen.futures[future] = key
    tmp_path.mkdir()
    for pid, key in notes.items():
        (tmp_path / str(pid)).write_text(key)
    return gen


def test_who_is_charged_when_a_pool_breaks(tmp_path):
    kill, term = -signal.SIGKILL, -signal.SIGTERM
    assert _generation(tmp_path / "1", {11: kill, 12: term}, {11: "a", 12: "b"}).dead_trials() == {
        "a"}  # fmt: skip
    # Unknown, so every lost trial is charged: all ended by SIGTERM; the dead worker ran none of
    # them (it died before its first trial, or after its trial "old" ended).
    assert _generation(tmp_path / "2", {11: term, 12: term}, {11: "a"}).dead_trials() is None
    assert _generation(tmp_path / "3", {11: 1, 12: term}, {12: "b"}).dead_trials() is None
    assert _generation(tmp_path / "4", {11: kill, 12: term}, {11: "old"}).dead_trials() is None
