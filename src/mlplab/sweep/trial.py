"""One trial: exactly what ``mlplab train`` runs for a configuration, without a run folder.

:func:`run_trial` calls :func:`mlplab.commands.train.train_config`, the training path of the
``train`` command itself, so a trial's final metrics are bit-identical to a plain ``mlplab train``
with the same flags. It runs in a worker process and returns a :class:`TrialResult` (plain data,
picklable); it never touches the sweep's database. A loss that becomes NaN/inf is a result
(``diverged``, with the step and lr), an exception is ``failed`` with a one-line error. Data sets
are loaded once per worker process (:func:`load_split` caches them by name, root, split, dtype).
Warnings raised while a trial trains (``SubnormalWarning`` on a deep net with too small weights,
NumPy's overflow warnings on a diverging one) are not printed by the worker: the first of each
kind and call site is kept, one line, in ``TrialResult.warnings`` and the store.

Examples:
    >>> from mlplab.commands.train import make_config
    >>> r = run_trial(make_config({"epochs": 1, "depth": 1, "width": 8, "data": "mnist-5k"}))
    >>> r.status, len(r.epochs), 0.0 < r.metrics["test_accuracy"] <= 1.0
    ('finished', 1, True)
"""

from __future__ import annotations

import copy
import os
import re
import socket
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "TrialResult",
    "distinct_warnings",
    "init_worker",
    "load_split",
    "run_trial",
    "worker_threads",
]

_DATA: dict[tuple[Any, ...], Any] = {}


@dataclass
class TrialResult:
    """What a worker returns for one trial.

    ``status`` is ``finished``, ``diverged`` or ``failed``; ``metrics`` uses the names of a run
    folder's ``summary.json`` (a diverged trial's: ``diverged_step``, ``diverged_lr``,
    ``epochs``); ``epochs`` holds one row per finished epoch; ``train_seconds`` is the time
    inside training, ``wall_seconds`` the whole trial in the worker (data lookup included);
    ``warnings`` the distinct warnings it raised, ``"Category: message"`` (see :func:`run_trial`).

    Examples:
        >>> TrialResult("failed", error="ValueError: bad").error
        'ValueError: bad'
    """

    status: str
    metrics: dict[str, Any] = field(default_factory=dict)
    epochs: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    wall_seconds: float = 0.0
    train_seconds: float = 0.0
    host: str = ""
    started: str = ""
    ended: str = ""
    warnings: list[str] = field(default_factory=list)


def worker_threads(workers: int, cores: int | None = None) -> int:
    """BLAS threads per worker: ``max(1, cores // workers)``.

    Examples:
        >>> worker_threads(2, cores=8), worker_threads(16, cores=8)
        (4, 1)
    """
    cores = cores or os.cpu_count() or 1
    return max(1, cores // max(1, workers))


def init_worker(threads: int) -> None:
    """Process-pool initializer: limit mlplab and the BLAS to ``threads`` threads.

    Examples:
        >>> init_worker(1)
    """
    from ..parallel import set_num_threads

    set_num_threads(threads)


def load_split(config: dict[str, Any], split: str) -> Any:
    """The config's ``split`` of its data set, loaded once per process and then reused.

    Examples:
        >>> from mlplab.commands.train import make_config
        >>> c = make_config({})
        >>> load_split(c, "test") is load_split(c, "test")
        True
    """
    from ..commands import build as B

    key = (str(config["data"]), config.get("root"), split, config["dtype"])
    if key not in _DATA:
        _DATA[key] = B.load_data(config, split)
    return _DATA[key]


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _divergence(message: str) -> dict[str, Any]:
    """Step and lr out of fit's DivergenceError message ('... at step S ... with lr L; ...')."""
    step = re.search(r"at step (\d+)", message)
    lr = re.search(r"with lr ([^;\s]+)", message)
    out: dict[str, Any] = {"diverged_step": int(step.group(1)) if step else None}
    try:
        out["diverged_lr"] = float(lr.group(1)) if lr else None
    except ValueError:
        out["diverged_lr"] = None
    return out


def distinct_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    """One line per kind of warning: the first message of each category and call site.

    A warning raised every epoch with other numbers in its text (``fit: 43% of grad
    subnormal``, then ``47% ...``) is one kind.

    Examples:
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     for share in (43, 47):
        ...         warnings.warn(f"fit: {share}% of grad  subnormal", RuntimeWarning)
        >>> distinct_warnings(caught)
        ['RuntimeWarning: fit: 43% of grad subnormal']
    """
    seen: dict[tuple[str, str, int], str] = {}
    for w in caught:
        where = (w.category.__name__, w.filename, w.lineno)
        seen.setdefault(where, f"{w.category.__name__}: {' '.join(str(w.message).split())}")
    return list(seen.values())


def run_trial(config: dict[str, Any]) -> TrialResult:
    """Train one full ``mlplab train`` configuration and return its result (never raises
    for a trial's own errors: they become ``failed``). Its warnings are recorded, not printed
    (:func:`distinct_warnings`).

    Args:
        config: a resolved config, as ``mlplab.commands.train.make_config`` returns it.

    Examples:
        >>> from mlplab.commands.train import make_config
        >>> bad = make_config({"epochs": 1, "width": 8, "optimizer": "sgd", "lr": 1e8})
        >>> run_trial(bad).status, run_trial(bad).metrics["diverged_step"]
        ('diverged', 10)
    """
    from ..train import Callback

    t0, started = time.perf_counter(), _now()
    host = f"{socket.gethostname()}:{os.getpid()}"
    rows: list[dict[str, Any]] = []

    class Rows(Callback):
        def on_epoch_end(self, state: Any) -> None:
            rows.append(dict(state.logs))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        status, metrics, error, train_seconds = _train(config, rows, Rows)
    return TrialResult(
        status=status,
        metrics=metrics,
        epochs=rows,
        error=error,
        wall_seconds=time.perf_counter() - t0,
        train_seconds=train_seconds,
        host=host,
        started=started,
        ended=_now(),
        warnings=distinct_warnings(caught),
    )


def _train(
    config: dict[str, Any], rows: list[dict[str, Any]], rows_callback: Any
) -> tuple[str, dict[str, Any], str | None, float]:
    """Train ``config``: (status, metrics, error, training seconds) for :func:`run_trial`."""
    from ..commands.train import train_config
    from ..train import DivergenceError

    train_seconds = 0.0
    try:
        config = copy.deepcopy(config)
        train_set, test_set = load_split(config, "train"), load_split(config, "test")
        t1 = time.perf_counter()
        try:
            _, summary = train_config(config, train_set, test_set, callbacks=[rows_callback()])
        finally:
            train_seconds = time.perf_counter() - t1
        status, metrics, error = "finished", summary, None
    except DivergenceError as err:
        status, error = "diverged", " ".join(str(err).split())
        metrics = _divergence(error) | {"epochs": len(rows)}
    except Exception as err:  # a trial's failure is a result; the sweep goes on
        status, metrics, error = "failed", {}, _one_line(err)
    return status, metrics, error, train_seconds
