"""Ctrl-C during ``mlplab sweep run``: SIGINT to the whole process group, as a terminal sends
it, once a trial has finished and another runs. Exit 130 with one line, no traceback; the
finished trials kept, the interrupted ones pending (not failed), no process of the sweep left;
the same command again finishes the rest."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

from mlplab.cli import main
from mlplab.sweep import Store

from .conftest import TINY


def _counts(path) -> dict[str, int]:
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            return dict(db.execute("SELECT status, COUNT(*) FROM trials GROUP BY status"))
        finally:
            db.close()
    except sqlite3.Error:
        return {}  # not created yet


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_ctrl_c_stops_cleanly_and_the_same_command_resumes(tmp_path):
    out = tmp_path / "sweep"
    fixed = [t if t != "epochs=1" else "epochs=3" for t in TINY[:-1]]  # about 0.3 s a trial
    argv = ["sweep", "run", "--out", str(out), "--workers", "1", "--grid", "seed=0,1,2,3",
            *(f"--set={f}" for f in fixed)]  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "mlplab", *argv], start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while _counts(out / "sweep.sqlite").get("finished", 0) < 1 and proc.poll() is None:
            assert time.monotonic() < deadline, "no trial finished"
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        _, err = proc.communicate(timeout=30)
        while _group_alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = _group_alive(proc.pid)
    finally:
        if _group_alive(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    lines = [line for line in err.splitlines() if not line.startswith("sweep: ")]  # progress
    assert len(lines) == 1 and "interrupted; finished trials are kept" in lines[0], err
    assert not left, "a process of the sweep outlived it"
    counts = _counts(out / "sweep.sqlite")
    assert counts.get("finished", 0) >= 1 and counts.get("pending", 0) >= 1, counts
    assert counts.get("finished", 0) + counts.get("pending", 0) == 4, counts  # none failed
    store = Store(out / "sweep.sqlite")
    kept = {t.key: t.ended for t in store.trials("finished")}
    store.close()
    assert main(argv) == 0
    store = Store(out / "sweep.sqlite")
    rows = store.trials()
    store.close()
    assert [t.status for t in rows] == ["finished"] * 4
    assert {t.key: t.ended for t in rows if t.key in kept} == kept  # not run again


def test_local_workers_ignore_sigint_so_that_ctrl_c_prints_no_worker_traceback():
    from mlplab.sweep.execute import LocalPool

    pool = LocalPool(1)
    try:
        handler = pool._pool.submit(signal.getsignal, signal.SIGINT).result(timeout=60)
    finally:
        pool.close()
    assert handler == signal.SIG_IGN
    assert signal.getsignal(signal.SIGINT) != signal.SIG_IGN  # the coordinator still hears it
