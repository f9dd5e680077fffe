"""Shared pieces of the sweep execution tests: tiny specs and a coordinator subprocess."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mlplab.sweep import spec_from_options

#: A trial of about 0.1 s: a 784-10 softmax regression, one epoch of mnist-5k.
TINY = ["epochs=1", "depth=1", "width=16", "batch_size=256", "optimizer=sgd", "lr=0.1"]


@pytest.fixture
def tiny_spec():
    """Four tiny trials: two lrs × two seeds."""
    return spec_from_options(["lr=0.05,0.1", "seed=0,1"], TINY[:-1])


def metrics_by_key(store) -> dict[str, dict]:
    """Every trial's final metrics without its timings (they differ run to run)."""
    return {t.key: {k: v for k, v in t.metrics.items() if k != "seconds"} for t in store.trials()}


def coordinator(out: Path, grid: list[str], workers: int = 1) -> subprocess.Popen:
    """A coordinator process running run_sweep (killed by the caller at will)."""
    code = textwrap.dedent(f"""
        from mlplab.sweep import run_sweep, spec_from_options
        spec = spec_from_options({grid!r}, {TINY[:-1]!r})
        run_sweep(spec, {str(out)!r}, workers={workers}, progress=False)
    """)
    return subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
