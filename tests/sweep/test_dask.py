"""A real Dask cluster on 127.0.0.1 (a `dask scheduler` and two `dask worker` processes):
the same metrics as the local pool; a worker killed mid-sweep loses and duplicates nothing."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("distributed")

from mlplab.sweep import Store, run_sweep, spec_from_options  # noqa: E402

from .conftest import TINY, metrics_by_key  # noqa: E402

DASK = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
WORKER = [sys.executable, "-m", "distributed.cli.dask_worker"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def cluster(tmp_path):
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = []

    def start(args):
        log = open(tmp_path / f"dask-{len(procs)}.log", "w")  # noqa: SIM115
        procs.append(subprocess.Popen(args, stdout=log, stderr=log, start_new_session=True))
        return procs[-1]

    try:
        start([*DASK, "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"])
        for _ in range(2):
            start([*WORKER, address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard",
                   "--host", "127.0.0.1"])  # fmt: skip
        from distributed import Client

        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        yield address, procs
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=30)


def test_dask_equals_local_pool_and_survives_a_killed_worker(tmp_path: Path, cluster):
    address, procs = cluster
    grid = ["lr=0.05,0.1,0.2", "seed=0,1"]
    spec = spec_from_options(grid, TINY[:-1])
    run_sweep(spec, tmp_path / "local", workers=2, progress=False)
    outcome = run_sweep(spec, tmp_path / "dask", scheduler=address, progress=False)
    assert (outcome.finished, outcome.failed) == (6, 0)
    local, dask = (
        Store(tmp_path / "local" / "sweep.sqlite"),
        Store(tmp_path / "dask" / "sweep.sqlite"),
    )
    try:
        assert metrics_by_key(dask) == metrics_by_key(local)
        assert all(t.host and t.train_seconds > 0 for t in dask.trials())
    finally:
        local.close(), dask.close()
    # a longer sweep; one worker is killed while trials run
    big = spec_from_options(["lr=0.01,0.02,0.05,0.1", "seed=0,1,2"], [*TINY[:-1], "epochs=2"][1:])
    import threading

    killed = []

    def kill_soon():  # once two results are in: mid-sweep
        from .test_kill import _finished

        deadline = time.monotonic() + 60
        while _finished(tmp_path / "killed" / "sweep.sqlite") < 2 < deadline - time.monotonic():
            time.sleep(0.01)
        killed.append(_finished(tmp_path / "killed" / "sweep.sqlite"))
        os.killpg(procs[1].pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_soon)
    killer.start()
    outcome = run_sweep(big, tmp_path / "killed", scheduler=address, progress=False)
    killer.join()
    assert 2 <= killed[0] < 12  # the worker died while trials were left
    store = Store(tmp_path / "killed" / "sweep.sqlite")
    try:
        rows = store.trials()
        assert len(rows) == 12 == len({t.key for t in rows})
        assert store.counts()["finished"] + store.counts()["failed"] == 12
        assert all(len(store.epochs(t.key)) == 2 for t in store.trials("finished"))
    finally:
        store.close()
