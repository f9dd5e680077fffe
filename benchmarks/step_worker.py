"""Time one library's training step in this (fresh) process and print one JSON line.

Usage::

    python benchmarks/step_worker.py --lib mlplab|torch|floor --config small --opt sgd|adam \
        --threads T [--quick] [--what step|fit|hvp|tiny|paired]

The driver (``bench_train_step.py``) starts one of these per (library, configuration, optimizer,
thread count) and round, with ``OMP_NUM_THREADS`` and friends set to T before anything loads,
so no other library's worker threads run in the process. Only the library measured is
imported (NumPy for the floor). ``--what`` picks the measurement:

- ``step``: ``zero_grad(); loss = loss_fn(model(x), y); loss.backward(); step()`` on a fixed
  batch, median and min over the timed steps after a warm-up (gc off while timing);
- ``fit`` (mlplab): ``mlplab.train.fit`` over an epoch of 16 such batches, seconds per batch;
- ``hvp`` (mlplab, torch): a gradient and a Hessian-vector product (grad of ⟨∇L, v⟩ with
  ``create_graph=True``) on the configuration, each with its forward, timed in alternating
  blocks (:func:`alternated`);
- ``tiny``: 1000 adds on a 1-element tensor, forward and backward (per-op overhead);
- ``paired`` (mlplab): mlplab's step and the floor's in this one process, in alternating
  blocks — both are NumPy on the same BLAS, so no other library's threads are in the way, and
  their ratio is immune to the machine's speed drifting between processes.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from configs import CONFIGS, LR, MOMENTUM, make_batch, make_weights  # noqa: E402


def timed(fn: Callable[[], Any], warmup: int, steps: int) -> dict[str, Any]:
    """Median and min seconds of ``fn`` over ``steps`` calls after ``warmup`` calls."""
    first = [fn() for _ in range(warmup)]
    times = []
    gc.collect()
    gc.disable()  # a collection inside a timed step would bill it to this one
    try:
        for _ in range(steps):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    finally:
        gc.enable()
    return {
        "median_ms": statistics.median(times) * 1e3,
        "min_ms": min(times) * 1e3,
        "steps": steps,
        "first": first[0] if first else None,
    }


def alternated(fns: dict[str, Callable[[], Any]], blocks: int, steps: int) -> dict[str, Any]:
    """Time each of ``fns`` in ``blocks`` alternating blocks of ``steps`` calls: per function the
    minimum over its blocks of the block's median, and the ratio of the first two functions'
    (``"hvp/grad"``, ``"mlplab/floor"``): they are compared in the same stretch of machine
    time, not one after the other."""
    per: dict[str, list[float]] = {name: [] for name in fns}
    for fn in fns.values():
        fn()
    for _ in range(blocks):
        for name, fn in fns.items():
            per[name].append(timed(fn, 1, steps)["median_ms"])
    out: dict[str, Any] = {name: {"median_ms": min(v), "blocks_ms": v} for name, v in per.items()}
    a, b = list(fns)[:2]
    out[f"{a}/{b}"] = out[a]["median_ms"] / out[b]["median_ms"]
    return out


# ------------------------------------------------------------------------------------ mlplab


def mlplab_model(weights: list[np.ndarray], biases: list[np.ndarray], bn: bool) -> Any:
    from mlplab import nn

    if not bn:
        sizes = [weights[0].shape[0]] + [w.shape[1] for w in weights]
        model = nn.MLP(sizes[0], sizes[-1], width=sizes[1:-1], depth=len(weights), rng=0)
        linears = list(model.layers)
    else:
        layers: list[Any] = []
        for i, w in enumerate(weights):
            layers.append(nn.Linear(w.shape[0], w.shape[1], rng=0))
            if i < len(weights) - 1:
                layers += [nn.BatchNorm1d(w.shape[1]), nn.ReLU()]
        model = nn.Sequential(*layers)
        linears = [m for m in layers if isinstance(m, nn.Linear)]
    for layer, w, b in zip(linears, weights, biases, strict=True):
        layer.weight.data[...] = w
        layer.bias.data[...] = b
    return model


def mlplab_step(cfg: dict[str, Any], opt: str, weights: Any, biases: Any) -> Callable[[], float]:
    import mlplab
    from mlplab import nn
    from mlplab.optim import SGD, Adam

    model = mlplab_model(weights, biases, cfg.get("bn", False))
    if opt == "sgd":
        optimizer: Any = SGD(model.parameters(), lr=LR["sgd"], momentum=MOMENTUM)
    else:
        optimizer = Adam(model.parameters(), lr=LR["adam"])
    loss_fn = nn.CrossEntropyLoss()
    x, y = make_batch(cfg["sizes"][0], cfg["batch"])
    tx = mlplab.Tensor(x)

    def step() -> float:
        optimizer.zero_grad()
        loss = loss_fn(model(tx), y)
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def mlplab_fit(cfg: dict[str, Any], opt: str, weights: Any, biases: Any, quick: bool) -> dict:
    from mlplab.data import ArrayDataset, DataLoader
    from mlplab.optim import SGD, Adam
    from mlplab.train import fit

    model = mlplab_model(weights, biases, cfg.get("bn", False))
    if opt == "sgd":
        optimizer: Any = SGD(model.parameters(), lr=LR["sgd"], momentum=MOMENTUM)
    else:
        optimizer = Adam(model.parameters(), lr=LR["adam"])
    n_batches = 16
    x, y = make_batch(cfg["sizes"][0], cfg["batch"] * n_batches)
    loader = DataLoader(ArrayDataset(x, y), batch_size=cfg["batch"], shuffle=False)
    epochs = 2 if quick else 5
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        fit(model, optimizer, loader, epochs=1)
        times.append((time.perf_counter() - start) / n_batches)
    times = times[1:]  # the first epoch warms up
    return {"median_ms": statistics.median(times) * 1e3, "min_ms": min(times) * 1e3}


def mlplab_hvp(cfg: dict[str, Any], weights: Any, biases: Any) -> dict[str, Callable[[], Any]]:
    import mlplab
    from mlplab import nn

    model = mlplab_model(weights, biases, cfg.get("bn", False))
    params = list(model.parameters())
    rng = np.random.default_rng(2)
    vs = [mlplab.Tensor(rng.standard_normal(p.shape).astype(np.float32)) for p in params]
    loss_fn = nn.CrossEntropyLoss()
    x, y = make_batch(cfg["sizes"][0], cfg["batch"])
    tx = mlplab.Tensor(x)

    def gradient() -> Any:
        return mlplab.grad(loss_fn(model(tx), y), params)

    def hvp() -> Any:
        grads = mlplab.grad(loss_fn(model(tx), y), params, create_graph=True)
        dot = sum((g * v).sum() for g, v in zip(grads, vs, strict=True))
        return mlplab.grad(dot, params)

    return {"grad": gradient, "hvp": hvp}


def mlplab_tiny(n: int = 1000) -> Callable[[], None]:
    import mlplab

    c = mlplab.Tensor(np.ones(1, np.float32))

    def run() -> None:
        x = mlplab.tensor(np.ones(1, np.float32), requires_grad=True)
        z = x
        for _ in range(n):
            z = z + c
        z.backward()

    return run


# ------------------------------------------------------------------------------------- torch


def torch_step(cfg: dict[str, Any], opt: str, weights: Any, biases: Any) -> Callable[[], float]:
    from torch_baseline import make_torch_step

    x, y = make_batch(cfg["sizes"][0], cfg["batch"])
    step, _ = make_torch_step(
        weights, biases, x, y, opt, lr=LR[opt], momentum=MOMENTUM, bn=cfg.get("bn", False)
    )
    return step


def torch_hvp(cfg: dict[str, Any], weights: Any, biases: Any) -> dict[str, Callable[[], Any]]:
    import torch
    from torch_baseline import torch_mlp

    model = torch_mlp(weights, biases, bn=cfg.get("bn", False))
    params = list(model.parameters())
    rng = np.random.default_rng(2)
    vs = [torch.from_numpy(rng.standard_normal(p.shape).astype(np.float32)) for p in params]
    x, y = make_batch(cfg["sizes"][0], cfg["batch"])
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    ce = torch.nn.functional.cross_entropy

    def gradient() -> Any:
        return torch.autograd.grad(ce(model(tx), ty), params)

    def hvp() -> Any:
        grads = torch.autograd.grad(ce(model(tx), ty), params, create_graph=True)
        dot = sum((g * v).sum() for g, v in zip(grads, vs, strict=True))
        return torch.autograd.grad(dot, params)

    return {"grad": gradient, "hvp": hvp}


def torch_tiny(n: int = 1000) -> Callable[[], None]:
    import torch

    c = torch.ones(1)

    def run() -> None:
        x = torch.ones(1, requires_grad=True)
        z = x
        for _ in range(n):
            z = z + c
        z.backward()

    return run


# ------------------------------------------------------------------------------------ main


def set_threads(lib: str, threads: int) -> None:
    """Set the thread count of the library measured (the environment already says it)."""
    import threadpoolctl

    threadpoolctl.threadpool_limits(threads, user_api="blas")
    if lib == "torch":
        import torch

        torch.set_num_threads(threads)
    elif lib == "mlplab":
        import mlplab

        if hasattr(mlplab, "set_num_threads"):
            mlplab.set_num_threads(threads)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    cfg = CONFIGS[args.config]
    warmup, steps = cfg["quick"] if args.quick else cfg["steps"]
    if args.what == "tiny":
        fn = mlplab_tiny() if args.lib == "mlplab" else torch_tiny()
        return timed(fn, 3, 5 if args.quick else 20)
    weights, biases = make_weights(cfg["sizes"])
    if args.what == "fit":
        return mlplab_fit(cfg, args.opt, weights, biases, args.quick)
    if args.what == "hvp":
        fns = (mlplab_hvp if args.lib == "mlplab" else torch_hvp)(cfg, weights, biases)
        return alternated(
            {"hvp": fns["hvp"], "grad": fns["grad"]},
            blocks=2 if args.quick else 6,
            steps=max(steps // 8, 3),
        )
    if args.what == "paired":
        from numpy_floor import FloorMLP

        x, y = make_batch(cfg["sizes"][0], cfg["batch"])
        floor = FloorMLP(weights, biases, x.shape[0], args.opt, lr=LR[args.opt], momentum=MOMENTUM)
        fns = {
            "mlplab": mlplab_step(cfg, args.opt, weights, biases),
            "floor": lambda: floor.step(x, y),
        }
        return alternated(fns, blocks=2 if args.quick else 6, steps=max(steps // 4, 3))
    if args.lib == "floor":
        if cfg.get("bn"):
            return {"skipped": "the floor has no batch norm"}
        from numpy_floor import FloorMLP

        x, y = make_batch(cfg["sizes"][0], cfg["batch"])
        floor = FloorMLP(weights, biases, x.shape[0], args.opt, lr=LR[args.opt], momentum=MOMENTUM)
        return timed(lambda: floor.step(x, y), max(warmup, 1), steps)
    make = mlplab_step if args.lib == "mlplab" else torch_step
    try:
        fn = make(cfg, args.opt, weights, biases)
    except AttributeError as err:  # e.g. mlplab.nn.BatchNorm1d not built yet
        return {"skipped": str(err)}
    return timed(fn, max(warmup, 1), steps)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lib", choices=["mlplab", "torch", "floor"], required=True)
    parser.add_argument("--config", choices=list(CONFIGS), default="small")
    parser.add_argument("--opt", choices=["sgd", "adam"], default="sgd")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--what", choices=["step", "fit", "hvp", "tiny", "paired"], default="step")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    set_threads(args.lib, args.threads)
    result = measure(args)
    result |= {"lib": args.lib, "config": args.config, "opt": args.opt, "threads": args.threads}
    print(json.dumps(result, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
