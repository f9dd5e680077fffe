"""GF/s of one library's float32 matmul on every product of the training steps; one JSON line.

Usage::

    python benchmarks/gemm_worker.py --lib numpy|torch --threads T [--configs small,wide] [--quick]

The shapes are those of :func:`configs.gemm_shapes` — forward ``Z W``, weight gradient ``Zᵀ G``
(a transposed view, as the step passes it) and input gradient ``G Wᵀ`` (also a view) — with
``out=`` a preallocated array, as the NumPy floor calls them. GF/s = 2·m·k·n / seconds (median
of the timed calls). The driver runs one process per library and thread count.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from configs import CONFIGS, gemm_shapes  # noqa: E402


def operands(role: str, m: int, k: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(m, k) and (k, n) float32 operands laid out as the training step has them."""
    rng = np.random.default_rng(0)
    if role.startswith("dW"):  # Zᵀ G: Z is (B, nᵢ) = (k, m), used transposed
        return rng.standard_normal((k, m), dtype=np.float32).T, rng.standard_normal(
            (k, n), dtype=np.float32
        )
    if role.startswith("dX"):  # G Wᵀ: W is (nᵢ, nᵢ₊₁) = (n, k), used transposed
        return rng.standard_normal((m, k), dtype=np.float32), rng.standard_normal(
            (n, k), dtype=np.float32
        ).T
    return rng.standard_normal((m, k), dtype=np.float32), rng.standard_normal(
        (k, n), dtype=np.float32
    )


def gflops(lib: str, role: str, m: int, k: int, n: int, quick: bool) -> float:
    a, b = operands(role, m, k, n)
    flops = 2.0 * m * k * n
    repeats = max(3, min(200, int(2e9 / flops))) if not quick else 3
    if lib == "torch":
        import torch

        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        out = torch.empty((m, n))

        def call() -> None:
            torch.matmul(ta, tb, out=out)
    else:
        out_np = np.empty((m, n), np.float32)

        def call() -> None:
            np.matmul(a, b, out=out_np)

    for _ in range(2):
        call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return flops / statistics.median(times) / 1e9


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lib", choices=["numpy", "torch"], required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    import threadpoolctl

    threadpoolctl.threadpool_limits(args.threads, user_api="blas")
    if args.lib == "torch":
        import torch

        torch.set_num_threads(args.threads)
    rows = []
    done: dict[tuple[int, int, int, str], float] = {}
    for name in args.configs.split(","):
        cfg = CONFIGS[name]
        if cfg.get("bn"):
            continue  # the same products as the net without batch norm
        for role, m, k, n in gemm_shapes(cfg["sizes"], cfg["batch"]):
            key = (m, k, n, role.split("×")[0])
            if key not in done:
                done[key] = gflops(args.lib, role, m, k, n, args.quick)
            rows.append({"config": name, "role": role, "m": m, "k": k, "n": n, "gflops": done[key]})
    print(json.dumps({"lib": args.lib, "threads": args.threads, "rows": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
