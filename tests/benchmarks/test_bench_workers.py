"""The benchmark's pieces: the GEMM shapes of a step, the shared weights, a worker's JSON line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))

from configs import CONFIGS, gemm_shapes, make_weights  # noqa: E402


def test_gemm_shapes_of_a_three_layer_step() -> None:
    shapes = gemm_shapes([784, 100, 100, 10], 128)
    assert shapes == [
        ("fwd", 128, 784, 100),
        ("dW", 784, 128, 100),
        ("fwd", 128, 100, 100),
        ("dW", 100, 128, 100),
        ("dX", 128, 100, 100),
        ("fwd", 128, 100, 10),
        ("dW", 100, 128, 10),
        ("dX", 128, 10, 100),
    ]


def test_repeated_layers_are_counted_once() -> None:
    shapes = gemm_shapes(CONFIGS["deep50"]["sizes"], 128)
    assert ("fwd×48", 128, 100, 100) in shapes
    assert ("dX×48", 128, 100, 100) in shapes
    assert len(shapes) == 8


def test_weights_are_kaiming_and_reproducible() -> None:
    w1, b1 = make_weights([400, 300, 10])
    w2, _ = make_weights([400, 300, 10])
    assert all(np.array_equal(a, b) for a, b in zip(w1, w2, strict=True))
    assert w1[0].dtype == np.float32 and w1[0].shape == (400, 300)
    assert abs(w1[0].var() * 400 / 2 - 1) < 0.02  # σ² = 2 / fan_in
    assert all(np.abs(b).max() <= 0.01 for b in b1)


def step_worker(*args: str) -> dict:
    """Run ``step_worker.py`` at 1 thread in a fresh interpreter; return its JSON line."""
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    cmd = [sys.executable, str(BENCH / "step_worker.py"), *args, "--threads", "1", "--quick"]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_step_worker_prints_one_json_line() -> None:
    result = step_worker("--lib", "floor", "--config", "small", "--opt", "adam")
    assert result["lib"] == "floor" and result["steps"] == CONFIGS["small"]["quick"][1]
    assert 0 < result["min_ms"] <= result["median_ms"]
    assert 2.0 < result["first"] < 3.5  # cross-entropy near log 10 at the start


def test_alternated_blocks_time_each_function_and_their_ratio() -> None:
    from step_worker import alternated

    calls = {"grad": 0, "hvp": 0}

    def count(name: str):
        def fn() -> None:
            calls[name] += 1
            sum(range(2000 if name == "hvp" else 200))

        return fn

    out = alternated({"hvp": count("hvp"), "grad": count("grad")}, blocks=3, steps=4)
    assert calls == {"grad": 1 + 3 * 5, "hvp": 1 + 3 * 5}  # one warm-up, then 3 × (1 + 4)
    assert len(out["hvp"]["blocks_ms"]) == 3
    assert out["hvp"]["median_ms"] == min(out["hvp"]["blocks_ms"])
    assert out["hvp/grad"] == out["hvp"]["median_ms"] / out["grad"]["median_ms"] > 1


def test_paired_worker_times_mlplab_and_the_floor_in_one_process() -> None:
    result = step_worker("--lib", "mlplab", "--what", "paired", "--config", "small")
    assert len(result["mlplab"]["blocks_ms"]) == len(result["floor"]["blocks_ms"]) == 2
    ratio = result["mlplab"]["median_ms"] / result["floor"]["median_ms"]
    assert result["mlplab/floor"] == ratio > 0
