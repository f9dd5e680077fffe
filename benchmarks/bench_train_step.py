"""Time mlplab's training step against PyTorch (CPU) and a hand-written NumPy floor.

Usage::

    python benchmarks/bench_train_step.py [--quick] [--json out.json] [--configs small,deep]
                                          [--threads N] [--no-extras]

All libraries are timed in one process and one run, interleaved step by step (the order rotates
every round), so machine noise hits them alike; the numbers reported are medians over many steps
after a warm-up, and the ratios come from the same run. Configurations (ReLU MLPs, softmax
cross-entropy, float32, one fixed random batch):

    small  784-100-10            batch 128
    wide   784-1024-1024-10      batch 128
    deep   784-100×49-10         batch 128   (50 Linear layers: the lecture's deep net)
    big    4096-4096-4096-4096-10 batch 512

each with SGD (momentum 0.9) and with Adam. Also measured: the overhead of a chain of 1000 tiny
adds (forward + backward), a Hessian-vector product against a gradient on the small MLP, and the
time of ``import mlplab`` in a fresh interpreter.

PyTorch runs with ``torch.set_num_threads`` equal to NumPy's BLAS thread count (``--threads``
sets both); without torch its columns are skipped with a note. Nothing here patches mlplab:
the benchmark measures the library as it is.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import threadpoolctl

sys.path.insert(0, str(Path(__file__).resolve().parent))

from numpy_floor import FloorMLP  # noqa: E402

import mlplab  # noqa: E402
from mlplab import nn  # noqa: E402

try:
    from mlplab.optim import SGD, Adam
except ImportError:  # the package's __init__ may not exist yet while optim is being written
    from mlplab.optim.adam import Adam
    from mlplab.optim.sgd import SGD

try:
    import torch
except ImportError:
    torch = None

CONFIGS: dict[str, dict[str, Any]] = {
    # sizes, batch, (warm-up, timed steps), (quick warm-up, quick steps)
    "small": dict(sizes=[784, 100, 10], batch=128, steps=(10, 200), quick=(3, 20)),
    "wide": dict(sizes=[784, 1024, 1024, 10], batch=128, steps=(3, 30), quick=(1, 4)),
    "deep": dict(sizes=[784] + [100] * 49 + [10], batch=128, steps=(5, 60), quick=(2, 6)),
    "big": dict(sizes=[4096] * 4 + [10], batch=512, steps=(1, 5), quick=(1, 2)),
}
GOALS_VS_TORCH = {"small": 0.8, "deep": 0.8, "wide": 1.0, "big": 1.0}
GOAL_VS_FLOOR = 1.3
LR = {"sgd": 0.01, "adam": 1e-3}
MOMENTUM = 0.9


# ------------------------------------------------------------------------------------- helpers


def make_weights(sizes: list[int], seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Kaiming-normal weights (in, out) and small uniform biases, float32."""
    rng = np.random.default_rng(seed)
    weights, biases = [], []
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        w = rng.standard_normal((n_in, n_out), dtype=np.float32) * np.float32(np.sqrt(2 / n_in))
        weights.append(w)
        biases.append(rng.uniform(-0.01, 0.01, n_out).astype(np.float32))
    return weights, biases


def make_batch(n_in: int, batch: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((batch, n_in), dtype=np.float32), rng.integers(0, 10, batch)


def make_mlplab_step(
    weights: list[np.ndarray], biases: list[np.ndarray], x: np.ndarray, y: np.ndarray, opt: str
) -> Callable[[], float]:
    """The training step as an mlplab user writes it (PyTorch habits, library defaults)."""
    sizes = [weights[0].shape[0]] + [w.shape[1] for w in weights]
    model = nn.MLP(sizes[0], sizes[-1], width=sizes[1:-1], depth=len(weights), rng=0)
    for layer, w, b in zip(model.layers, weights, biases, strict=True):
        layer.weight.data[...] = w
        layer.bias.data[...] = b
    if opt == "sgd":
        optimizer = SGD(model.parameters(), lr=LR["sgd"], momentum=MOMENTUM)
    else:
        optimizer = Adam(model.parameters(), lr=LR["adam"])
    loss_fn = nn.CrossEntropyLoss()
    tx = mlplab.Tensor(x)

    def step() -> float:
        optimizer.zero_grad()
        loss = loss_fn(model(tx), y)
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def make_floor_step(
    weights: list[np.ndarray], biases: list[np.ndarray], x: np.ndarray, y: np.ndarray, opt: str
) -> Callable[[], float]:
    floor = FloorMLP(weights, biases, x.shape[0], opt, lr=LR[opt], momentum=MOMENTUM)
    return lambda: floor.step(x, y)


def make_torch_step(
    weights: list[np.ndarray], biases: list[np.ndarray], x: np.ndarray, y: np.ndarray, opt: str
) -> Callable[[], float]:
    from torch_baseline import make_torch_step as make

    step, _ = make(weights, biases, x, y, opt, lr=LR[opt], momentum=MOMENTUM)
    return step


def interleaved(
    fns: dict[str, Callable[[], Any]], warmup: int, steps: int, best: dict[str, float] | None = None
) -> tuple[dict[str, float], dict[str, list[Any]]]:
    """Warm every function up, then time them one call each per round, rotating the order.

    Returns the median seconds per call and the first values each returned (for a sanity check);
    fills ``best`` with the fastest call of each (robust when other processes preempt ours).
    """
    names = list(fns)
    first: dict[str, list[Any]] = {name: [] for name in names}
    for name in names:
        for _ in range(warmup):
            first[name].append(fns[name]())
    times: dict[str, list[float]] = {name: [] for name in names}
    gc_was_enabled = gc.isenabled()
    gc.disable()  # a collection in the middle of one library's step would bill it to that one
    try:
        for r in range(steps):
            for k in range(len(names)):
                name = names[(r + k) % len(names)]
                start = time.perf_counter()
                fns[name]()
                times[name].append(time.perf_counter() - start)
            if r % 10 == 9:
                gc.collect()
    finally:
        if gc_was_enabled:
            gc.enable()
    if best is not None:
        best.update({name: min(t) for name, t in times.items()})
    return {name: statistics.median(t) for name, t in times.items()}, first


# ---------------------------------------------------------------------------- the measurements


def bench_train_steps(configs: list[str], quick: bool) -> list[dict[str, Any]]:
    rows = []
    for name in configs:
        cfg = CONFIGS[name]
        warmup, steps = cfg["quick"] if quick else cfg["steps"]
        weights, biases = make_weights(cfg["sizes"])
        x, y = make_batch(cfg["sizes"][0], cfg["batch"])
        for opt in ("sgd", "adam"):
            fns = {
                "mlplab": make_mlplab_step(weights, biases, x, y, opt),
                "floor": make_floor_step(weights, biases, x, y, opt),
            }
            if torch is not None:
                fns["torch"] = make_torch_step(weights, biases, x, y, opt)
            fastest: dict[str, float] = {}
            med, first = interleaved(fns, max(warmup, 1), steps, fastest)
            # The first step starts from identical weights: the losses must agree.
            losses = {k: v[0] for k, v in first.items()}
            spread = max(losses.values()) - min(losses.values())
            row: dict[str, Any] = {
                "config": name,
                "optimizer": opt,
                "sizes": cfg["sizes"] if name != "deep" else "784-100x49-10",
                "batch": cfg["batch"],
                "steps": steps,
                "ms": {k: v * 1e3 for k, v in med.items()},
                "ms_min": {k: v * 1e3 for k, v in fastest.items()},
                "first_loss": losses,
                "first_loss_spread": spread,
                "mlplab/floor": med["mlplab"] / med["floor"],
            }
            row["min mlplab/floor"] = fastest["mlplab"] / fastest["floor"]
            if torch is not None:
                row["mlplab/torch"] = med["mlplab"] / med["torch"]
                row["floor/torch"] = med["floor"] / med["torch"]
                row["min mlplab/torch"] = fastest["mlplab"] / fastest["torch"]
            rows.append(row)
            print(format_row(row), flush=True)
            del fns
            gc.collect()
    return rows


def tiny_op_chain(n: int = 1000, repeats: int = 30) -> dict[str, Any]:
    """n adds on a 1-element tensor, then backward: the per-op cost of the framework."""
    c = mlplab.Tensor(np.ones(1, np.float32))

    def run_mlplab() -> None:
        x = mlplab.tensor(np.ones(1, np.float32), requires_grad=True)
        z = x
        for _ in range(n):
            z = z + c
        z.backward()

    fns: dict[str, Callable[[], Any]] = {"mlplab": run_mlplab}
    if torch is not None:
        tc = torch.ones(1)

        def run_torch() -> None:
            x = torch.ones(1, requires_grad=True)
            z = x
            for _ in range(n):
                z = z + tc
            z.backward()

        fns["torch"] = run_torch
    med, _ = interleaved(fns, 3, repeats)
    out: dict[str, Any] = {"n_ops": n, "ms": {k: v * 1e3 for k, v in med.items()}}
    out["us_per_op"] = {k: v * 1e6 / n for k, v in med.items()}
    if torch is not None:
        out["mlplab/torch"] = med["mlplab"] / med["torch"]
    return out


def hvp_vs_grad(repeats: int = 40) -> dict[str, Any]:
    """Time ∇L and (∇²L)v on the small MLP (784-100-10, batch 128), each with its forward."""
    weights, biases = make_weights([784, 100, 10])
    x, y = make_batch(784, 128)
    model = nn.MLP(784, 10, width=100, depth=2, rng=0)
    for layer, w, b in zip(model.layers, weights, biases, strict=True):
        layer.weight.data[...] = w
        layer.bias.data[...] = b
    params = list(model.parameters())
    rng = np.random.default_rng(2)
    vs = [mlplab.Tensor(rng.standard_normal(p.shape).astype(np.float32)) for p in params]
    loss_fn = nn.CrossEntropyLoss()
    tx = mlplab.Tensor(x)

    def gradient() -> Any:
        return mlplab.grad(loss_fn(model(tx), y), params)

    def hvp() -> Any:
        grads = mlplab.grad(loss_fn(model(tx), y), params, create_graph=True)
        dot = sum((g * v).sum() for g, v in zip(grads, vs, strict=True))
        return mlplab.grad(dot, params)

    fns: dict[str, Callable[[], Any]] = {"grad": gradient, "hvp": hvp}
    if torch is not None:
        from torch_baseline import torch_mlp

        tm = torch_mlp(weights, biases)
        tparams = list(tm.parameters())
        tvs = [torch.from_numpy(v.data.T.copy() if v.ndim == 2 else v.data) for v in vs]
        txx, tyy = torch.from_numpy(x), torch.from_numpy(y)
        ce = torch.nn.functional.cross_entropy

        def torch_grad() -> Any:
            return torch.autograd.grad(ce(tm(txx), tyy), tparams)

        def torch_hvp() -> Any:
            grads = torch.autograd.grad(ce(tm(txx), tyy), tparams, create_graph=True)
            dot = sum((g * v).sum() for g, v in zip(grads, tvs, strict=True))
            return torch.autograd.grad(dot, tparams)

        fns |= {"torch_grad": torch_grad, "torch_hvp": torch_hvp}
    med, _ = interleaved(fns, 3, repeats)
    out: dict[str, Any] = {"ms": {k: v * 1e3 for k, v in med.items()}}
    out["hvp/grad"] = med["hvp"] / med["grad"]
    if torch is not None:
        out["torch hvp/grad"] = med["torch_hvp"] / med["torch_grad"]
    return out


def import_time(repeats: int = 7) -> dict[str, Any]:
    """Median wall time of ``import mlplab`` (and of ``import numpy`` alone) in a fresh process."""
    code = "import time; t = time.perf_counter(); import {m}; print(time.perf_counter() - t)"
    env = dict(os.environ)
    src = str(Path(mlplab.__file__).resolve().parents[1])
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    result: dict[str, Any] = {}
    for module in ("numpy", "mlplab"):
        times = []
        for _ in range(repeats):
            done = subprocess.run(
                [sys.executable, "-c", code.format(m=module)],
                capture_output=True,
                text=True,
                env=env,
                check=True,
            )
            times.append(float(done.stdout.strip()))
        result[f"import {module} s"] = statistics.median(times)
    heavy = subprocess.run(
        [sys.executable, "-c", "import sys, mlplab; print(' '.join(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout.split()
    result["heavy modules loaded"] = [
        m
        for m in ("scipy", "matplotlib", "torch", "numba", "numexpr", "pandas", "tqdm")
        if m in heavy
    ]
    return result


# ------------------------------------------------------------------------------------- report


def format_row(row: dict[str, Any]) -> str:
    ms = row["ms"]
    torch_ms = f"{ms['torch']:9.2f}" if "torch" in ms else "        -"
    vs_torch = f"{row['mlplab/torch']:6.2f}" if "mlplab/torch" in row else "     -"
    goal_t = GOALS_VS_TORCH[row["config"]]
    ok_t = "" if "mlplab/torch" not in row else ("ok" if row["mlplab/torch"] <= goal_t else "MISS")
    ok_f = "ok" if row["mlplab/floor"] <= GOAL_VS_FLOOR else "MISS"
    floor_t = f"{row['floor/torch']:6.2f}" if "floor/torch" in row else "     -"
    return (
        f"{row['config']:6} {row['optimizer']:5} {ms['mlplab']:9.2f} {torch_ms} "
        f"{ms['floor']:9.2f}  {vs_torch} (≤{goal_t:.1f} {ok_t:4}) "
        f"{row['mlplab/floor']:6.2f} (≤{GOAL_VS_FLOOR} {ok_f:4})  {floor_t}  | min-based: "
        f"{row.get('min mlplab/torch', float('nan')):5.2f} {row['min mlplab/floor']:5.2f}"
    )


HEADER = (
    "config opt   mlplab ms  torch ms  floor ms  mlplab/torch     mlplab/floor      floor/torch"
    "  | min-based: mlplab/torch mlplab/floor\n" + "-" * 132
)


def environment(threads: int) -> dict[str, Any]:
    blas = [i for i in threadpoolctl.threadpool_info() if i.get("user_api") == "blas"]
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": None if torch is None else torch.__version__,
        "mlplab": mlplab.__version__,
        "threads": threads,
        "blas": [
            {k: b.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
            for b in blas
        ],
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE"),
        "cpus": os.cpu_count(),
        "loadavg_start": os.getloadavg(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few steps: a fast smoke run")
    parser.add_argument("--json", type=Path, help="write the results to this JSON file")
    parser.add_argument(
        "--configs",
        default="small,wide,deep,big",
        help="comma-separated subset of " + ",".join(CONFIGS),
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="BLAS and torch threads (default: NumPy's BLAS count)",
    )
    parser.add_argument("--no-extras", action="store_true", help="skip tiny ops, HVP and import")
    args = parser.parse_args(argv)
    configs = [c for c in args.configs.split(",") if c]
    unknown = [c for c in configs if c not in CONFIGS]
    if unknown:
        parser.error(f"unknown config(s) {unknown}; choose from {list(CONFIGS)}")

    if args.threads is not None:
        threadpoolctl.threadpool_limits(args.threads, user_api="blas")
    blas = [i for i in threadpoolctl.threadpool_info() if i.get("user_api") == "blas"]
    threads = args.threads or (blas[0]["num_threads"] if blas else 1)
    if torch is not None:
        torch.set_num_threads(threads)
    env = environment(threads)
    print(
        f"numpy {env['numpy']} ({env['blas']}), torch {env['torch']}, threads {threads}, "
        f"OPENBLAS_CORETYPE={env['OPENBLAS_CORETYPE']}, load {env['loadavg_start']}"
    )
    if torch is None:
        print("note: torch is not installed: the PyTorch columns are skipped")
    print(HEADER)
    results: dict[str, Any] = {"environment": env, "quick": args.quick}
    results["train_step"] = bench_train_steps(configs, args.quick)
    if not args.no_extras:
        chain = tiny_op_chain(repeats=10 if args.quick else 30)
        results["tiny_op_chain"] = chain
        print(
            f"\ntiny ops: {chain['n_ops']} adds on a 1-element tensor, forward+backward: "
            + ", ".join(
                f"{k} {v:.2f} ms ({chain['us_per_op'][k]:.1f} µs/op)"
                for k, v in chain["ms"].items()
            )
            + (f"; mlplab/torch {chain['mlplab/torch']:.2f}" if "mlplab/torch" in chain else "")
        )
        hv = hvp_vs_grad(repeats=10 if args.quick else 40)
        results["hvp"] = hv
        print(
            "HVP on 784-100-10 B128: "
            + ", ".join(f"{k} {v:.2f} ms" for k, v in hv["ms"].items())
            + f"; mlplab hvp/grad {hv['hvp/grad']:.2f} (goal ≤ 4)"
            + (f", torch hvp/grad {hv['torch hvp/grad']:.2f}" if "torch hvp/grad" in hv else "")
        )
        imp = import_time(repeats=3 if args.quick else 7)
        results["import"] = imp
        print(
            f"import: numpy {imp['import numpy s']:.3f} s, mlplab {imp['import mlplab s']:.3f} s "
            f"(goal < 0.3 s); heavy modules loaded: {imp['heavy modules loaded'] or 'none'}"
        )
    results["environment"]["loadavg_end"] = os.getloadavg()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=float))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
