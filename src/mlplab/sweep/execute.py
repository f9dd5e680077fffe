"""Executors: where trials run. One small interface over a local process pool and Dask.

An executor has ``submit(config, key) -> future``, ``wait(futures, timeout) -> done futures``,
``is_worker_loss(err)`` (a worker died, the trial itself did not fail), ``lost_own_worker(future)``
(the worker that died was running this trial: charge the death to it) and ``close()``.
:class:`~mlplab.sweep.local.LocalPool` is a ``ProcessPoolExecutor`` (forkserver on Linux, spawn
elsewhere; one BLAS thread per worker) that is rebuilt when a worker dies. :class:`DaskPool`
sends trials to ``distributed.Client(address)`` for ``tcp://...``, to a ``LocalCluster`` for
``local:N`` or to a dask-jobqueue ``SLURMCluster`` (``--lifetime`` becomes the workers'
``--lifetime`` so a job ends between trials, not in one). Dask is imported only when asked for.

Examples:
    >>> parse_slurm("queue=cpu,cores=4,memory=8GB")
    {'queue': 'cpu', 'cores': '4', 'memory': '8GB'}
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import os
from typing import Any

from ..commands import UsageError
from .local import LocalPool
from .trial import init_worker, run_trial

__all__ = ["DaskPool", "LocalPool", "make_executor", "parse_slurm", "slurm_job_script"]

#: SLURMCluster options ``--slurm`` takes (``jobs`` is how many jobs to start).
SLURM_KEYS = ("account", "cores", "memory", "processes", "queue", "walltime", "job_cpu",
              "job_mem", "interface", "local_directory", "log_directory", "python", "name",
              "jobs")  # fmt: skip
_INT_KEYS = ("cores", "processes", "job_cpu", "jobs")
_CLUSTER_HINT = 'Dask is not installed: pip install "mlplab[cluster]"'


def parse_slurm(text: str) -> dict[str, str]:
    """Parse ``--slurm KEY=VALUE,...`` (SLURMCluster options), refusing unknown keys.

    Raises:
        UsageError: naming the bad item or key.
    """
    out: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        key, eq, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not eq or not value.strip():
            raise UsageError(f"--slurm {item!r}: expected KEY=VALUE")
        if key not in SLURM_KEYS:
            raise UsageError(f"--slurm {key}={value}: unknown key (one of {', '.join(SLURM_KEYS)})")
        if key in _INT_KEYS and not (value.strip().isdigit() and int(value) >= 1):
            raise UsageError(f"--slurm {key}={value}: expected a whole number >= 1")
        out[key] = value.strip()
    if not out:
        raise UsageError(f"--slurm {text!r}: expected KEY=VALUE,... (e.g. cores=4,memory=8GB)")
    return out


def _slurm_cluster(slurm: dict[str, str], lifetime: str | None) -> tuple[Any, int]:
    try:
        from dask_jobqueue import SLURMCluster
    except ImportError:
        raise UsageError('dask-jobqueue is not installed: pip install "mlplab[cluster]"') from None
    kwargs: dict[str, Any] = {k: int(v) if k in _INT_KEYS else v for k, v in slurm.items()}
    jobs = kwargs.pop("jobs", 1)
    kwargs.setdefault("cores", 1)
    kwargs.setdefault("memory", "4GB")
    if lifetime is not None:
        kwargs["worker_extra_args"] = ["--lifetime", lifetime, "--lifetime-stagger", "1m"]
    return SLURMCluster(**kwargs), jobs


def slurm_job_script(slurm: dict[str, str], lifetime: str | None) -> str:
    """The job script ``--slurm`` would submit (``cluster.job_script()``); submits nothing.

    Examples:
        >>> "#SBATCH" in slurm_job_script({"cores": "2", "memory": "2GB"}, "50m")
        True
    """
    cluster, _ = _slurm_cluster(slurm, lifetime)
    try:
        return str(cluster.job_script())
    finally:
        cluster.close()


def _trial_with_threads(config: dict[str, Any], threads: int) -> Any:
    """A Dask task: limit this worker's BLAS threads, then run the trial."""
    init_worker(threads)
    return run_trial(config)


class DaskPool:
    """Trials on Dask: a running scheduler (``tcp://``), a LocalCluster (``local:N``), SLURM."""

    def __init__(
        self,
        scheduler: str | None = None,
        slurm: dict[str, str] | None = None,
        lifetime: str | None = None,
    ) -> None:
        try:
            import distributed
        except ImportError:
            raise UsageError(_CLUSTER_HINT) from None
        self._distributed, self._cluster = distributed, None
        if slurm is not None:
            self._cluster, jobs = _slurm_cluster(slurm, lifetime)
            self._cluster.scale(jobs=jobs)
            self.threads = 1
            self.name = f"SLURM ({jobs} jobs)"
            address: Any = self._cluster
        elif scheduler is not None and scheduler.startswith("local:"):
            n = int(scheduler.partition(":")[2])
            self._cluster = distributed.LocalCluster(
                n_workers=n, processes=True, threads_per_worker=1, dashboard_address=None
            )
            self.threads, self.name, address = 1, f"Dask local:{n}", self._cluster
        elif scheduler is not None and scheduler.startswith("tcp://"):
            self.threads, self.name, address = 1, f"Dask {scheduler}", scheduler
        else:
            raise UsageError(f"--scheduler {scheduler!r}: expected tcp://HOST:PORT or local:N")
        try:
            self._client = distributed.Client(address, timeout="20s")
        except (OSError, TimeoutError) as err:
            if self._cluster is not None:
                self._cluster.close()
            raise UsageError(f"--scheduler {scheduler}: cannot connect ({err})") from None
        self._attempt = 0

    def submit(self, config: dict[str, Any], key: str) -> Any:
        """Send one trial to the cluster (a fresh task key per attempt)."""
        self._attempt += 1
        return self._client.submit(
            _trial_with_threads, config, self.threads, key=f"trial-{key}-{self._attempt}",
            pure=False, retries=0,
        )  # fmt: skip

    def wait(self, futures: list[Any], timeout: float) -> list[Any]:
        """The futures that are done, waiting up to ``timeout`` seconds for the first."""
        with contextlib.suppress(TimeoutError):
            self._distributed.wait(futures, timeout=timeout, return_when="FIRST_COMPLETED")
        return [f for f in futures if f.done()]

    def is_worker_loss(self, err: BaseException) -> bool:
        """True for a task whose workers died (KilledWorker) or a future the cluster lost."""
        from distributed.scheduler import KilledWorker

        return (
            isinstance(err, KilledWorker | cf.CancelledError)
            or "CancelledError" in type(err).__name__
        )

    def lost_own_worker(self, future: Any) -> bool:
        """Always True: Dask fails only the tasks of the worker that died."""
        return True

    def close(self, cancel: bool = False) -> None:
        """Close the client (and the cluster this pool started)."""
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_executor(
    workers: int | None = None,
    scheduler: str | None = None,
    slurm: dict[str, str] | None = None,
    lifetime: str | None = None,
) -> LocalPool | DaskPool:
    """The executor the options ask for: Dask for ``scheduler``/``slurm``, else a local pool
    of ``workers`` (default: the number of cores).

    Examples:
        >>> pool = make_executor(workers=1)
        >>> pool.name
        'local pool of 1'
        >>> pool.close()
    """
    if scheduler is not None or slurm is not None:
        return DaskPool(scheduler, slurm, lifetime)
    if workers is not None and (isinstance(workers, bool) or workers < 1):
        raise UsageError(f"--workers {workers}: expected a whole number >= 1")
    return LocalPool(workers or os.cpu_count() or 1)
