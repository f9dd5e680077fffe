"""The coordinator: run a spec's trials on an executor and record each result as it arrives.

:func:`run_sweep` saves (or checks) the spec, adds only the new trials, sends trials a killed
coordinator left ``running`` back to ``pending``, keeps a bounded number of trials in flight and
commits each result in its own transaction, so rerunning the same command continues the sweep
and never runs a finished trial twice; ``failed`` trials stay failed unless ``retry_failed``
puts them back in the queue (their old errors kept in the store). A trial whose worker process
dies is run once more, then ``failed`` (one row per trial, always); the trials that merely shared
a broken local pool with it run again without being charged. Ctrl-C stops submitting,
cancels what is queued, closes the pool and raises KeyboardInterrupt; finished results stay.

Examples:
    >>> import tempfile
    >>> from mlplab.sweep import spec_from_options
    >>> spec = spec_from_options(["seed=0,1"], ["epochs=1", "depth=1", "width=8"])
    >>> out = tempfile.mkdtemp()
    >>> run_sweep(spec, out, workers=1, progress=False).finished
    2
    >>> run_sweep(spec, out, workers=1, progress=False).skipped
    2
"""

from __future__ import annotations

import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .store import Store
from .trial import TrialResult

if TYPE_CHECKING:
    from .spec import Spec

__all__ = ["SweepOutcome", "run_sweep"]

STORE_NAME = "sweep.sqlite"
_DONE = ("finished", "diverged", "failed")


@dataclass
class SweepOutcome:
    """Counts of one ``run_sweep`` call: this run's finished/diverged/failed trials,
    ``skipped``, those already done before it started, ``retried``, the failed ones it put back
    in the queue, and ``warned``: for each warning category, how many of this run's trials
    raised it.

    Examples:
        >>> SweepOutcome(total=3, finished=2, failed=1).diverged
        0
    """

    total: int = 0
    finished: int = 0
    diverged: int = 0
    failed: int = 0
    skipped: int = 0
    retried: int = 0
    warned: dict[str, int] = field(default_factory=dict)


class _Progress:
    """A tqdm bar over trials on a terminal, plain lines every ``every`` seconds otherwise.

    Its counts are the sweep's: ``before`` holds the diverged and failed trials among those
    done before this run, so a resumed sweep does not say ``diverged=0`` over diverged trials.
    """

    def __init__(
        self,
        total: int,
        done: int,
        mode: bool | None,
        every: float = 10.0,
        before: dict[str, int] | None = None,
    ) -> None:
        self.total, self.done, self.every = total, done, every
        self.before = before or {}
        self.enabled = mode is not False
        self.bar = None
        self.last = time.monotonic()
        if self.enabled and (mode is True or sys.stderr.isatty()):
            try:
                from tqdm import tqdm

                self.bar = tqdm(total=total, initial=done, unit="trial", file=sys.stderr)
            except ImportError:
                pass

    def update(self, outcome: SweepOutcome, running: int, final: bool = False) -> None:
        if not self.enabled:
            return
        done = outcome.skipped + outcome.finished + outcome.diverged + outcome.failed
        diverged = self.before.get("diverged", 0) + outcome.diverged
        failed = self.before.get("failed", 0) + outcome.failed
        text = f"running={running} diverged={diverged} failed={failed}"
        if self.bar is not None:
            self.bar.update(done - self.bar.n)
            self.bar.set_postfix_str(text)
            if final:
                self.bar.close()
        elif final or time.monotonic() - self.last >= self.every:
            self.last = time.monotonic()
            print(f"sweep: {done}/{self.total} trials done, {text}", file=sys.stderr)


def run_sweep(
    spec: Spec,
    out: str | Path,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    slurm: dict[str, str] | None = None,
    lifetime: str | None = None,
    progress: bool | None = None,
    retry_failed: bool = False,
) -> SweepOutcome:
    """Run (or continue) the sweep of ``spec`` in folder ``out``.

    Args:
        spec: the trials to run.
        out: the sweep folder (``out/sweep.sqlite``).
        workers: local worker processes (default: the number of cores).
        scheduler: ``tcp://HOST:PORT`` (a running Dask scheduler) or ``local:N``.
        slurm: SLURMCluster options (see :func:`mlplab.sweep.execute.parse_slurm`).
        lifetime: the Dask workers' lifetime on SLURM, shorter than the walltime.
        progress: True for the bar, False for silence, None: a bar on a terminal, lines else.
        retry_failed: run this spec's ``failed`` trials again (kept as failed otherwise); their
            old errors stay in the store's ``past_errors``.

    Raises:
        SpecError: when the stored sweep's fixed options differ from ``spec``'s.
        UsageError: for a bad executor option.
        KeyboardInterrupt: after a clean stop on Ctrl-C.

    Examples:
        >>> import tempfile
        >>> from mlplab.sweep import spec_from_options
        >>> spec = spec_from_options(["lr=0.01,0.1"], ["depth=1", "epochs=1", "batch_size=500"])
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     outcome = run_sweep(spec, folder, workers=1, progress=False)
        ...     again = run_sweep(spec, folder, workers=1, progress=False)  # nothing left to run
        >>> (outcome.total, outcome.finished, again.skipped)
        (2, 2, 2)
    """
    from .execute import make_executor

    out = Path(out)
    trials = spec.trials()
    existed = (out / STORE_NAME).is_file()
    if existed:
        store = Store(out / STORE_NAME)
        try:
            store.check_spec(spec)
        except BaseException:
            store.close()
            raise
    executor = make_executor(workers, scheduler, slurm, lifetime)
    try:
        if not existed:
            out.mkdir(parents=True, exist_ok=True)
            store = Store(out / STORE_NAME)
        try:
            outcome = _coordinate(store, spec, trials, executor, progress, retry_failed)
        finally:
            store.close()
    except BaseException:
        executor.close(cancel=True)
        raise
    executor.close()
    return outcome


def _coordinate(
    store: Store,
    spec: Spec,
    trials: list[Any],
    executor: Any,
    progress: bool | None,
    retry_failed: bool = False,
) -> SweepOutcome:
    store.save_spec(spec)
    store.add_trials(trials)
    store.requeue_running()
    wanted = {t.key for t in trials}
    retried = store.retry_failed(wanted) if retry_failed else 0
    rows = [r for r in store.trials() if r.key in wanted]
    outcome = SweepOutcome(
        total=len(rows), skipped=sum(r.status in _DONE for r in rows), retried=retried
    )
    queue = deque((r.key, r.config) for r in rows if r.status == "pending")
    limit = 2 * getattr(executor, "workers", 4)
    inflight: dict[Any, tuple[str, dict[str, Any]]] = {}
    deaths: dict[str, int] = {}
    before = {s: sum(r.status == s for r in rows) for s in ("diverged", "failed")}
    bar = _Progress(outcome.total, outcome.skipped, progress, before=before)
    try:
        while queue or inflight:
            while queue and len(inflight) < limit:
                key, config = queue.popleft()
                store.mark_running(key, executor.name)
                inflight[executor.submit(config, key)] = (key, config)
            for future in executor.wait(list(inflight), timeout=1.0):
                key, config = inflight.pop(future)
                try:
                    result = future.result()
                except Exception as err:
                    if not executor.is_worker_loss(err):
                        raise
                    if executor.lost_own_worker(future):  # not a bystander of another's death
                        deaths[key] = deaths.get(key, 0) + 1
                    if deaths.get(key, 0) < 2:  # once more, on a fresh worker
                        store.mark_pending(key)
                        queue.appendleft((key, config))
                        continue
                    text = " ".join(str(err).split()) or type(err).__name__
                    result = TrialResult("failed", error=f"the worker died twice: {text}")
                store.record(key, result)
                setattr(outcome, result.status, getattr(outcome, result.status) + 1)
                for category in {w.partition(":")[0] for w in result.warnings}:
                    outcome.warned[category] = outcome.warned.get(category, 0) + 1
            bar.update(outcome, len(inflight))
    except BaseException:
        for future in inflight:
            future.cancel()
        for key, _ in inflight.values():  # unfinished: they run on the next call
            store.mark_pending(key)
        raise
    finally:
        bar.update(outcome, len(inflight), final=True)
    return outcome
