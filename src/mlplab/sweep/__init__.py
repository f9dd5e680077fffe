"""Sweeps: run, keep, resume and compare many ``mlplab train`` runs.

A sweep reads one way: spec (:mod:`.spec`, pure: TOML or ``--grid`` text → trials, each one full
``mlplab train`` configuration) → executor (:mod:`.execute`, a local process pool or a Dask
cluster) → store (:mod:`.store`, one SQLite file written only by the coordinating process) →
views (:mod:`.views` tables, :mod:`.figures` PNGs). ``mlplab sweep run|show|plot`` is its command.

Examples:
    >>> from mlplab.sweep import spec_from_options
    >>> len(spec_from_options(["lr=0.1,0.01", "seed=range:0:3"], []).trials())
    6
"""

from __future__ import annotations

from typing import Any

from .spec import Spec, SpecError, Trial, load_spec, load_study, spec_from_options, trial_key

__all__ = [
    "Spec",
    "SpecError",
    "Trial",
    "Store",
    "load_spec",
    "load_study",
    "run_sweep",
    "spec_from_options",
    "trial_key",
]


def __getattr__(name: str) -> Any:
    # The store and the runner import sqlite3 and the executors: only when asked for.
    if name == "Store":
        from .store import Store

        return Store
    if name == "run_sweep":
        from .runner import run_sweep

        return run_sweep
    raise AttributeError(f"module 'mlplab.sweep' has no attribute {name!r}")
