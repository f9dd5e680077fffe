"""`mlplab experiment newton`: why Newton's method is little used in deep learning, measured.

The lecture gives five reasons; each gets a measurement on the 7×7-MNIST ReLU MLP of
:mod:`~mlplab.experiments.newton_problem` (float64, full batch, exact Hessians) or the 2-D saddle
of :mod:`~mlplab.experiments.newton_toy`:

1. local optima — from one initialization, full Newton, the lecture's damped Newton (α < 1),
   Newton with damping (H + λI), GD and Adam for a fixed number of steps: the loss, ‖∇f‖,
   λ_min(∇²f) and the test accuracy at the end;
2. indefiniteness — the spectrum at initialization and every few steps along the GD and Adam
   paths (fraction of negative eigenvalues, λ_min, λ_max) and one full Newton step taken at
   each of those points (does the loss go up?); full Newton also from the trained points;
3. cost — :func:`~mlplab.experiments.newton_cost.measure_cost` (NEWTON-COST's measurement);
4. conditioning — the condition numbers at the same points, and a damping sweep from the
   initialization: the smallest λ for which (H + λI) steps stop increasing the loss;
5. the starting point — full Newton, damped Newton (H + λI) with the λ reason 4 found safe
   and with ``start_damping_factor``·λ, GD and Adam from ``starts`` seeded initializations,
   each end point classified (thresholds in :mod:`~mlplab.experiments.newton_spectrum`).

The knobs: :class:`~mlplab.experiments.newton_config.NewtonConfig`. All arithmetic runs with
one thread (mlplab's and the BLAS's), so the numbers, which a seed fixes, do not depend on the
machine's core count.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from ..parallel import get_num_threads, set_num_threads
from ..progress import progress_bar
from .newton_config import FIELDS as FIELDS  # re-exported: the CLI's flag names
from .newton_config import NewtonConfig
from .newton_paths import end_point, first_order_run, newton_run
from .newton_spectrum import OUTCOMES, damping_search, flat_directions, spectrum
from .newton_toy import toy_study

__all__ = ["NewtonConfig", "jsonable", "run_newton"]


def jsonable(value: Any) -> Any:
    """Return ``value`` as plain JSON types; non-finite floats become None (no NaN literals).

    Examples:
        >>> jsonable({"a": np.float64(1.5), "b": [math.inf, np.arange(2)], "c": (1, None)})
        {'a': 1.5, 'b': [None, [0, 1]], 'c': [1, None]}
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def _tolerances(cfg: NewtonConfig) -> dict[str, Any]:
    return {"grad_tol": cfg.grad_tol, "curvature_tol": cfg.curvature_tol, "blowup": cfg.blowup,
            "rel_tol": cfg.rel_tol}  # fmt: skip


def _local_optima(problem: Any, theta0: np.ndarray, cfg: NewtonConfig, bar: Any) -> dict:
    """Reason 1: five optimizers from one θ₀; the GD/Adam runs keep snapshots for reason 2."""
    start_loss, tol = problem.loss_grad(theta0)[0], _tolerances(cfg)
    every = max(1, cfg.first_order_steps // cfg.spectrum_points)
    runs = {
        "newton_full": ("full Newton (α = 1)",
                        newton_run(problem, theta0, cfg.newton_steps, blowup=cfg.blowup)),
        "newton_alpha": (f"the lecture's damped Newton (α = {cfg.alpha:g})",
                         newton_run(problem, theta0, cfg.newton_steps, lr=cfg.alpha,
                                    blowup=cfg.blowup)),
        "newton_damped": (f"damped Newton (H + {cfg.damping:g}I)",
                          newton_run(problem, theta0, cfg.newton_steps, damping=cfg.damping,
                                     blowup=cfg.blowup)),
        "gd": (f"GD (α = {cfg.gd_lr:g})",
               first_order_run(problem, theta0, "gd", cfg.gd_lr, cfg.first_order_steps, every)),
        "adam": (f"Adam (α = {cfg.adam_lr:g})",
                 first_order_run(problem, theta0, "adam", cfg.adam_lr, cfg.first_order_steps,
                                 every)),
    }  # fmt: skip
    out = {}
    for key, (label, run) in runs.items():
        end = end_point(problem, run["theta"], start_loss, failure=run.get("failure"), **tol)
        out[key] = {"label": label, "steps": len(run["losses"]) - 1, "losses": run["losses"],
                    "seconds": run["seconds"], "end": end, "snapshots": run.get("snapshots", []),
                    "theta": run["theta"]}  # fmt: skip
        bar.update(1)
    return out


def _along_paths(problem: Any, theta0: np.ndarray, r1: dict, cfg: NewtonConfig, bar: Any) -> dict:
    """Reasons 2 and 4: spectrum, condition and one full Newton step at points along GD/Adam."""

    eigenvalues: dict[str, Any] = {}
    flat: dict[str, Any] = {}

    def point(theta: np.ndarray, name: str) -> dict[str, Any]:
        hess = problem.hessian(theta)
        s = spectrum(hess, cfg.rel_tol)
        eigenvalues[name] = s.pop("eigenvalues")
        if name == "init":
            flat.update(flat_directions(problem, theta, eigenvalues[name], hess))
        step = newton_run(problem, theta, 1, blowup=math.inf)  # mlplab.optim.Newton's step
        after = step["losses"][1] if len(step["losses"]) > 1 else None
        before = step["losses"][0]
        probe = {"loss": before, "loss_after": after, "failure": step["failure"],
                 "loss_up": None if after is None else bool(not after <= before)}  # fmt: skip
        bar.update(1)
        return {**s, "newton_step": probe,
                "grad_norm": float(np.linalg.norm(problem.loss_grad(theta)[1]))}  # fmt: skip

    at_init = {"step": 0, **point(theta0, "init")}
    paths: dict[str, Any] = {}
    for key in ("gd", "adam"):
        snaps = [(t, theta) for t, theta in r1[key]["snapshots"] if t > 0]
        paths[key] = [at_init] + [{"step": t, **point(theta, key)} for t, theta in snaps]
    tol = _tolerances(cfg)
    from_trained = {}
    for key in ("gd", "adam"):
        run = newton_run(problem, r1[key]["theta"], cfg.newton_steps, blowup=cfg.blowup)
        start = run["losses"][0]
        from_trained[key] = {
            "losses": run["losses"], "grad_norms": run["grad_norms"], "failure": run["failure"],
            "end": end_point(problem, run["theta"], start, failure=run["failure"], **tol),
        }  # fmt: skip
    return {
        "eigenvalues": eigenvalues,  # at θ₀ and at the last GD and Adam points
        "flat_directions": flat,
        "paths": paths,
        "newton_from_trained": from_trained,
    }


def _damping_sweep(problem: Any, theta0: np.ndarray, cfg: NewtonConfig, bar: Any) -> dict:
    """Reason 4: (H + λI) steps from θ₀ for every λ of the grid; the smallest λ that is safe."""
    failures: dict[float, str | None] = {}

    def run(lam: float) -> list[float]:
        r = newton_run(problem, theta0, cfg.sweep_steps, damping=lam, blowup=cfg.blowup,
                       stop_on_increase=True)  # fmt: skip
        failures[lam] = r["failure"]
        bar.update(1)
        return r["losses"] + ([math.inf] if r["failure"] else [])

    res = damping_search(run, cfg.lambdas)
    res["failures"] = [failures[lam] for lam in res["lambdas"]]
    res["steps"] = cfg.sweep_steps
    return res


def _starts(problem: Any, cfg: NewtonConfig, safe: float | None, bar: Any) -> dict:
    """Reason 5: full and damped Newton, GD and Adam from ``starts`` seeded θ₀, classified.

    The damped columns use (H + λI) with λ = ``safe`` (reason 4's smallest safe λ; the
    config's ``damping`` when the sweep found none) and with ``start_damping_factor``·λ; their
    end points always get a spectrum (λ_min), and ``loss_up`` says whether a step raised f.
    """
    tol = _tolerances(cfg)
    lam = cfg.damping if safe is None else float(safe)
    dampings = {"newton_damped": lam, "newton_damped_large": cfg.start_damping_factor * lam}
    rows = []
    for s in range(cfg.starts):
        theta0 = problem.init(cfg.seed + s)
        start_loss = problem.loss_grad(theta0)[0]
        newton = newton_run(problem, theta0, cfg.start_newton_steps, blowup=cfg.blowup)
        row = {"seed": cfg.seed + s, "start_loss": start_loss}
        row["newton_full"] = end_point(problem, newton["theta"], start_loss, always_spectrum=False,
                                       failure=newton["failure"], **tol)  # fmt: skip
        row["newton_full"]["steps"] = len(newton["losses"]) - 1
        for key, damping in dampings.items():
            run = newton_run(problem, theta0, cfg.start_damped_steps, damping=damping,
                             blowup=cfg.blowup)  # fmt: skip
            ls = run["losses"]
            row[key] = end_point(problem, run["theta"], start_loss, failure=run["failure"], **tol)
            row[key]["steps"], row[key]["seconds"] = len(ls) - 1, run["seconds"]
            row[key]["loss_up"] = any(not b < a for a, b in zip(ls[:-1], ls[1:], strict=False))
        for key, lr in (("gd", cfg.gd_lr), ("adam", cfg.adam_lr)):
            run = first_order_run(problem, theta0, key, lr, cfg.start_first_order_steps)
            row[key] = end_point(problem, run["theta"], start_loss, always_spectrum=False, **tol)
            row[key]["seconds"] = run["seconds"]
        rows.append(row)
        bar.update(1)
    keys = ("newton_full", *dampings, "gd", "adam")
    counts = {key: {o: sum(r[key]["outcome"] == o for r in rows) for o in OUTCOMES} for key in keys}
    spread = {
        key: {q: _quantiles([r[key][q] for r in rows]) for q in ("loss", "grad_norm", "lambda_min")}
        for key in keys
    }
    return {"rows": rows, "counts": counts, "dampings": dampings, "spread": spread,
            "thresholds": tol}  # fmt: skip


def _quantiles(values: list[Any]) -> dict[str, Any]:
    """min, median and max of the finite values (None when there is none), and how many."""
    v = np.sort([x for x in values if x is not None and math.isfinite(x)])
    if not len(v):
        return {"min": None, "median": None, "max": None, "finite": 0}
    return {"min": v[0], "median": np.median(v), "max": v[-1], "finite": len(v)}


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(jsonable(data), indent=1, allow_nan=False), encoding="utf-8")
    os.replace(tmp, path)


def run_newton(
    out: str | Path, config: NewtonConfig | None = None, progress: bool = True,
    figures: bool = True,
) -> dict[str, Any]:  # fmt: skip
    """Run the five measurements, write ``results.json`` and (``figures``) the PNGs to ``out``.

    Returns:
        The results (JSON-able): ``{"config", "problem", "toy", "local_optima", "indefinite",
        "damping", "starts", "cost", "figures", "timings", "seconds"}``.

    Raises:
        ValueError: for a bad setting (before any work).

    Examples:
        >>> import tempfile
        >>> cfg = NewtonConfig.quick(cost=False, starts=1, newton_steps=1, spectrum_points=1)
        >>> res = run_newton(tempfile.mkdtemp(), cfg, progress=False, figures=False)
        >>> sorted(res["starts"]["counts"]["newton_full"])
        ['diverged', 'minimum', 'not converged', 'saddle']
    """
    from .newton_problem import make_problem

    cfg = config or NewtonConfig()
    cfg.check()
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    start, timings = time.perf_counter(), {}
    threads = get_num_threads()
    set_num_threads(1)
    total = 6 + 2 * cfg.spectrum_points + len(cfg.lambdas) + cfg.starts
    bar = progress_bar(total=total, desc="newton", disable=not progress)
    try:
        clock = time.perf_counter()
        toy = toy_study(cfg.toy)
        problem = make_problem(hidden=cfg.hidden, n_train=cfg.n_train, seed=cfg.seed)
        theta0 = problem.init(cfg.seed)
        r1 = _local_optima(problem, theta0, cfg, bar)
        timings["local_optima_s"], clock = time.perf_counter() - clock, time.perf_counter()
        r2 = _along_paths(problem, theta0, r1, cfg, bar)
        timings["indefinite_s"], clock = time.perf_counter() - clock, time.perf_counter()
        r4 = _damping_sweep(problem, theta0, cfg, bar)
        timings["damping_s"], clock = time.perf_counter() - clock, time.perf_counter()
        r5 = _starts(problem, cfg, r4["smallest_safe"], bar)
        timings["starts_s"], clock = time.perf_counter() - clock, time.perf_counter()
    finally:
        bar.close()
        set_num_threads(threads)
    cost = None
    if cfg.cost:
        from .newton_cost import measure_cost

        cost = measure_cost(hidden_sizes=cfg.cost_hidden, n_train=cfg.cost_n_train,
                            repeats=cfg.cost_repeats, seed=cfg.seed, progress=progress,
                            min_total_s=cfg.cost_min_total_s)  # fmt: skip
        timings["cost_s"] = time.perf_counter() - clock
    for run in r1.values():
        run.pop("theta")
        run["snapshot_steps"] = [t for t, _ in run.pop("snapshots")]
    results: dict[str, Any] = {
        "experiment": "newton",
        "config": asdict(cfg),
        "problem": {
            "sizes": list(problem.sizes),
            "n": problem.n,
            "n_train": cfg.n_train,
            "loss_at_init": problem.loss_grad(theta0)[0],
        },  # fmt: skip
        "toy": toy,
        "local_optima": r1,
        "indefinite": r2,
        "damping": r4,
        "starts": r5,
        "cost": cost,
        "figures": [],
    }
    results = jsonable(results)
    if figures:
        from .newton_figures import newton_figures

        results["figures"] = newton_figures(results, folder)
    timings["total_s"] = time.perf_counter() - start
    results["timings"], results["seconds"] = timings, timings["total_s"]
    _write_json(folder / "results.json", results)
    return results
