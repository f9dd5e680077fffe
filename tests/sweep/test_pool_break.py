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
