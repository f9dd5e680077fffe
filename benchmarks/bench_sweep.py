"""Sweep overhead: a 60-trial sweep (small MLP, 2 epochs) sequential, --workers 2, Dask local:2.

Prints and writes (``--json``) per mode: wall seconds, the trials' mean training seconds, the
per-trial overhead ``wall × workers / trials − mean training seconds`` (what the pool, the
data lookup, the IPC and the store add to each trial), and trials per minute. Targets (issue 11,
on 2 cores): workers 2 ≤ 0.6× sequential, overhead ≤ 0.3 s local and ≤ 0.5 s Dask.

    python benchmarks/bench_sweep.py --json sweep_bench.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from mlplab.sweep import Store, run_sweep, spec_from_options

FIXED = ["epochs=2", "depth=2", "width=64", "batch_size=128", "optimizer=sgd"]
GRID = ["lr=log:1e-3:1:10", "seed=range:0:6"]  # 10 × 6 = 60 trials


def measure(name: str, parallel: int, **where: object) -> dict[str, float]:
    spec = spec_from_options(GRID, FIXED)
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        run_sweep(spec, Path(d) / "sweep", progress=False, **where)  # type: ignore[arg-type]
        wall = time.perf_counter() - t0
        store = Store(Path(d) / "sweep" / "sweep.sqlite")
        rows = store.trials()
        store.close()
    n = len(rows)
    train = sum(r.train_seconds or 0.0 for r in rows) / n
    overhead = wall * parallel / n - train
    return {"mode": name, "trials": n, "wall_seconds": wall, "mean_train_seconds": train,
            "overhead_seconds": overhead, "trials_per_minute": 60 * n / wall}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    results = [
        measure("sequential", 1, workers=1),
        measure("workers 2", 2, workers=2),
        measure("dask local:2", 2, scheduler="local:2"),
    ]
    for r in results:
        print(f"{r['mode']:>13}: {r['wall_seconds']:6.1f} s wall, {r['mean_train_seconds']:.3f} s "
              f"training/trial, overhead {r['overhead_seconds']:.3f} s/trial, "
              f"{r['trials_per_minute']:.0f} trials/min")  # fmt: skip
    ratio = results[1]["wall_seconds"] / results[0]["wall_seconds"]
    print(f"workers 2 / sequential = {ratio:.2f} (target <= 0.6)")
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "ratio": ratio}, indent=2))


if __name__ == "__main__":
    main()
