"""The local process pool, and which trial a dead worker was running.

A ``ProcessPoolExecutor`` whose worker dies (killed, out of memory) breaks as a whole: every
trial then in flight gets ``BrokenProcessPool``, the one whose worker died and the bystanders
alike. To charge the death only to the trial that was running in the dead worker, each task
first notes its trial in ``starts/<generation>/<pid>`` (the worker's pid, holding the trial key),
and when a pool breaks :meth:`LocalPool.lost_own_worker` waits for the pool's manager thread to
terminate and join the other workers, then reads every worker's exit code: the workers the pool
terminated exit with ``-SIGTERM``, the one that died on its own with anything else (``-SIGKILL``
for a kill or the out-of-memory killer). The trials noted by those workers are charged; the
others run again for free. Where that cannot be told (every worker ended by SIGTERM, the manager
thread did not finish in time, a Python whose pool has other internals) every trial in flight is
charged, as before.

Examples:
    >>> pool = LocalPool(1)
    >>> future = pool.submit({"not": "a config"}, "k1")
    >>> future.result().status, pool.lost_own_worker(future)  # its worker did not die
    ('failed', False)
    >>> pool.close()
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing as mp
import os
import shutil
import signal
import sys
import tempfile
import time
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .trial import TrialResult, init_worker, run_trial

__all__ = ["LocalPool"]

#: How long to wait for a broken pool's manager thread to stop its workers (seconds).
JOIN_SECONDS = 10.0
#: How often :meth:`LocalPool.wait` wakes the pool's manager thread (seconds).
POKE_SECONDS = 0.2


def _init_local_worker(threads: int) -> None:
    """Pool initializer: ignore Ctrl-C (the coordinator stops the workers), limit the threads.

    A terminal sends SIGINT to the whole process group: a worker must not print a traceback
    for it nor drop its trial as a result; the coordinator marks the trial pending and
    terminates the worker.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    init_worker(threads)


def _trial_in_pool(config: dict[str, Any], key: str, starts: str) -> TrialResult:
    """A local-pool task: note ``key`` in ``starts/<pid>`` (atomically), then run the trial."""
    note = Path(starts) / str(os.getpid())
    partial = note.with_suffix(".part")
    partial.write_text(key)
    os.replace(partial, note)
    return run_trial(config)


@dataclass
class _Generation:
    """One ``ProcessPoolExecutor`` of the pool's life, its workers and its ``starts`` folder."""

    pool: cf.ProcessPoolExecutor
    starts: Path
    processes: dict[int, Any] = field(default_factory=dict)
    futures: dict[Any, str] = field(default_factory=dict)
    manager: Any = None
    culprits: set[str] | None = None
    told: bool = False

    def dead_trials(self) -> set[str] | None:
        """Keys of the trials whose own worker died, or None when that cannot be told.

        None also when no dead worker was running one of the trials this pool lost (it died
        before its first trial, or between two): then every lost trial is charged, so that a
        worker that cannot even start fails the sweep's trials instead of being rebuilt forever.
        """
        if not self.told:
            self.told, self.culprits = True, self._find_culprits()
        return self.culprits

    def _find_culprits(self) -> set[str] | None:
        if self.manager is None or not self.processes:
            return None
        self.manager.join(JOIN_SECONDS)  # it terminates and joins the other workers
        if self.manager.is_alive():
            return None
        codes = {pid: proc.exitcode for pid, proc in self.processes.items()}
        dead = [pid for pid, code in codes.items() if code not in (None, -signal.SIGTERM)]
        if not dead:
            return None
        notes = (self.starts / str(pid) for pid in dead)
        noted = {note.read_text() for note in notes if note.is_file()}
        lost = {
            k for f, k in self.futures.items()
            if f.done() and not f.cancelled() and isinstance(f.exception(), BrokenProcessPool)
        }  # fmt: skip
        return (noted & lost) or None


class LocalPool:
    """A process pool of ``workers`` processes, rebuilt when one of them dies.

    ``starts`` is the folder where each worker notes the trial it runs (see the module
    docstring); it is removed by :meth:`close`.

    Examples:
        >>> pool = LocalPool(1)
        >>> pool.name, pool.starts.is_dir()
        ('local pool of 1', True)
        >>> pool.close()
        >>> pool.starts.exists()
        False
    """

    def __init__(self, workers: int) -> None:
        # One BLAS thread per worker, whatever N: a matmul's bits depend on its thread count,
        # and a trial must give the same numbers on any pool (cores/N would not).
        self.workers, self.threads = workers, 1
        method = "forkserver" if sys.platform.startswith("linux") else "spawn"
        self._context = mp.get_context(method)
        self.name = f"local pool of {workers}"
        self.starts = Path(tempfile.mkdtemp(prefix="mlplab-sweep-"))
        self._generations = 0
        self._futures: dict[Any, _Generation] = {}
        self._gen = self._new_generation()
        self._pool = self._gen.pool

    def _new_generation(self) -> _Generation:
        self._generations += 1
        starts = self.starts / str(self._generations)
        starts.mkdir()
        pool = cf.ProcessPoolExecutor(
            self.workers,
            mp_context=self._context,
            initializer=_init_local_worker,
            initargs=(self.threads,),
        )
        return _Generation(pool, starts)

    def submit(self, config: dict[str, Any], key: str) -> Any:
        """Run ``run_trial(config)`` in a worker (a broken pool is replaced first)."""
        try:
            future = self._gen.pool.submit(_trial_in_pool, config, key, str(self._gen.starts))
        except BrokenProcessPool:
            self._gen.pool.shutdown(wait=False, cancel_futures=True)
            self._gen = self._new_generation()
            self._pool = self._gen.pool
            future = self._gen.pool.submit(_trial_in_pool, config, key, str(self._gen.starts))
        gen = self._gen  # the workers start on submit: note them and the manager thread
        gen.processes.update(getattr(gen.pool, "_processes", None) or {})
        gen.manager = gen.manager or getattr(gen.pool, "_executor_manager_thread", None)
        self._futures[future], gen.futures[future] = gen, key
        return future

    def wait(self, futures: list[Any], timeout: float) -> list[Any]:
        """The futures that are done, waiting up to ``timeout`` seconds for the first.

        It wakes the pool's manager thread every :data:`POKE_SECONDS`: the manager watches the
        workers it knew when it last woke, and a submit wakes it *before* starting a new
        worker, so without a poke the death of the newest worker goes unseen until some other
        trial ends (or forever, when none is running).
        """
        deadline = time.monotonic() + timeout
        while True:
            self._poke()
            left = deadline - time.monotonic()
            done, _ = cf.wait(futures, timeout=max(0.0, min(POKE_SECONDS, left)),
                              return_when=cf.FIRST_COMPLETED)  # fmt: skip
            if done or left <= POKE_SECONDS:
                break
        for future in done:  # kept only for lost_own_worker
            if not isinstance(future.exception(), BrokenProcessPool) and future in self._futures:
                del self._futures.pop(future).futures[future]
        return list(done)

    def _poke(self) -> None:
        """Wake the manager thread so that it watches every worker started so far."""
        pool = self._gen.pool
        wakeup = getattr(pool, "_executor_manager_thread_wakeup", None)
        lock = getattr(pool, "_shutdown_lock", None)
        if wakeup is None or lock is None:
            return
        with lock, contextlib.suppress(Exception):
            if not getattr(pool, "_shutdown_thread", True) and not getattr(pool, "_broken", True):
                wakeup.wakeup()

    def is_worker_loss(self, err: BaseException) -> bool:
        """True when a worker process of the pool died (killed, out of memory)."""
        return isinstance(err, BrokenProcessPool)

    def lost_own_worker(self, future: Any) -> bool:
        """Whether the worker that died was running this future's trial (True when unknown).

        A trial that was queued, or running in another worker, is a bystander: False.
        """
        gen = self._futures.pop(future, None)
        if gen is None:
            return True
        if not (future.done() and isinstance(future.exception(), BrokenProcessPool)):
            return False
        culprits = gen.dead_trials()
        return culprits is None or gen.futures[future] in culprits

    def close(self, cancel: bool = False) -> None:
        """Shut the pool down (``cancel``: drop queued trials and do not wait)."""
        # Read the workers before shutdown: it sets ``_processes`` to None, and a pool that never
        # started a process has None there from the start.
        workers = list((getattr(self._pool, "_processes", None) or {}).values())
        self._pool.shutdown(wait=not cancel, cancel_futures=cancel)
        if cancel:  # do not leave workers running a trial nobody will record
            for proc in workers:
                if proc.is_alive():
                    proc.terminate()
        shutil.rmtree(self.starts, ignore_errors=True)
