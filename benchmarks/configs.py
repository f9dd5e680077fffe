"""What the benchmark measures: the configurations, their weights and batch, the goals.

Every worker process rebuilds the same weights from the same seed (Kaiming normal, σ² = 2/fan_in,
float32, biases uniform in ±0.01), so all three libraries start from identical numbers without
a file to pass around.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: name -> sizes, batch, (warm-up, timed steps), (quick warm-up, quick steps), batch norm
CONFIGS: dict[str, dict[str, Any]] = {
    "small": dict(sizes=[784, 100, 10], batch=128, steps=(10, 80), quick=(3, 15)),
    "deep50": dict(sizes=[784] + [100] * 49 + [10], batch=128, steps=(5, 25), quick=(2, 5)),
    "deep50-bn": dict(
        sizes=[784] + [100] * 49 + [10], batch=128, steps=(3, 20), quick=(2, 4), bn=True
    ),
    "wide": dict(sizes=[784, 1024, 1024, 10], batch=128, steps=(3, 20), quick=(1, 4)),
    "big": dict(sizes=[4096] * 4 + [10], batch=512, steps=(1, 2), quick=(1, 1)),
}
LABEL = {
    "small": "784-100-10 B128",
    "deep50": "784-100×49-10 B128",
    "deep50-bn": "784-(100 BN)×49-10 B128",
    "wide": "784-1024-1024-10 B128",
    "big": "4096×3-10 B512",
}
LR = {"sgd": 0.01, "adam": 1e-3}
MOMENTUM = 0.9

#: mlplab/PyTorch at 1 thread (issue 14); at all cores ≤ 1.0 on small and deep nets and
#: ≤ floor/PyTorch + 0.05 on wide and big; mlplab/floor ≤ 1.15 everywhere
GOAL_VS_TORCH_1 = {"small": 0.8, "deep50": 0.8, "deep50-bn": 0.8, "wide": 1.0, "big": 1.0}
GOAL_VS_TORCH_N = {"small": 1.0, "deep50": 1.0, "deep50-bn": 1.0}
GOAL_VS_FLOOR = 1.15


def make_weights(sizes: list[int], seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Kaiming-normal weights (in, out) and small uniform biases, float32, from ``seed``."""
    rng = np.random.default_rng(seed)
    weights, biases = [], []
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        w = rng.standard_normal((n_in, n_out), dtype=np.float32)
        w *= np.float32(np.sqrt(2 / n_in))
        weights.append(w)
        biases.append(rng.uniform(-0.01, 0.01, n_out).astype(np.float32))
    return weights, biases


def make_batch(n_in: int, batch: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """A fixed standard-normal batch (float32) and labels in 0..9."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((batch, n_in), dtype=np.float32), rng.integers(0, 10, batch)


def gemm_shapes(sizes: list[int], batch: int) -> list[tuple[str, int, int, int]]:
    """The matrix products of one training step as (role, m, k, n): an (m, k) @ (k, n).

    Forward ``Z W`` (B, nᵢ) @ (nᵢ, nᵢ₊₁); weight gradient ``Zᵀ G`` (nᵢ, B) @ (B, nᵢ₊₁);
    input gradient ``G Wᵀ`` (B, nᵢ₊₁) @ (nᵢ₊₁, nᵢ) (not for the first layer). Repeated shapes
    are listed once with their count in the role (``fwd×49``).
    """
    seen: dict[tuple[str, int, int, int], int] = {}
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        keys = [("fwd", batch, a, b), ("dW", a, batch, b)]
        if i > 0:
            keys.append(("dX", batch, b, a))
        for key in keys:
            seen[key] = seen.get(key, 0) + 1
    return [(role if n == 1 else f"{role}×{n}", m, k, nn) for (role, m, k, nn), n in seen.items()]
