"""Reason 3: forming and storing an n×n Hessian costs too much in high dimensions — measured.

For the networks 49 → h → 10 on 7×7 MNIST (n = 60h + 10 parameters) this times, at one
parameter point, what one Newton step needs beside what a gradient step needs:

- a gradient ∇f (one backward pass, O(m·n) for a batch of m);
- one Hessian-vector product Hv = ∇(∇f·v) (a backward pass through the gradient's graph);
- the dense Hessian (n such passes, one per row: O(n·m·n) = O(m·n²) time, n²·8 bytes);
- a dense solve (H + λI) d = ∇f (LU, ~⅔n³ flops) and the spectrum ``eigvalsh`` (~⁴⁄₃n³ to 9n³);
- the damped Newton direction by conjugate gradient on Hessian-vector products (k iterations,
  k HVPs, O(n) memory), never forming H.

Each cost c is fitted as c ≈ C·nᵖ by :func:`fit_exponent`. At small n every call is
dominated by a fixed overhead (Python, small matrices), so the exponent is fitted on all sizes
and again on the largest half, and both are reported.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..optim.newton import conjugate_gradient
from ..parallel import get_num_threads, set_num_threads
from ..progress import progress_bar
from .newton_problem import MLPProblem, parameter_count, pooled_mnist

__all__ = ["fit_exponent", "measure_cost", "CLOCKS", "TIMES"]

#: the timed operations, as (key of a row, label)
TIMES = (
    ("gradient_s", "gradient"),
    ("hvp_s", "HVP"),
    ("hessian_s", "forming H"),
    ("solve_s", "solve (H+λI)d=g"),
    ("eigvalsh_s", "eigvalsh(H)"),
    ("cg_s", "HVP + CG"),
)
#: a call longer than this is not repeated (its noise is small against its length)
_REPEAT_BELOW_S = 1.0
#: most calls of one short operation (see ``min_total_s`` of :func:`measure_cost`)
_MAX_CALLS = 1000
#: fn ↦ (least seconds, fn's result): :func:`_min_time` with the measurement's settings bound
Timer = Callable[[Callable[[], Any]], tuple[float, Any]]
#: the clocks a measurement may use: wall time, or this process's CPU time (with one thread,
#: the CPU time does not count the waits for a core that other processes cause)
CLOCKS: dict[str, Callable[[], float]] = {
    "perf_counter": time.perf_counter,
    "process_time": time.process_time,
}


def fit_exponent(n: Sequence[float], cost: Sequence[float]) -> float:
    """Return the least-squares slope p of log cost against log n (cost ≈ C·nᵖ).

    With uᵢ = log nᵢ and vᵢ = log costᵢ::

        p = Σᵢ (uᵢ − ū)(vᵢ − v̄) / Σᵢ (uᵢ − ū)²

    Args:
        n: the sizes (at least two distinct, all > 0).
        cost: the measured costs (seconds, bytes; all > 0), one per size.

    Raises:
        ValueError: for fewer than two points, lengths that differ, values that are not
            finite and positive, or sizes that are all equal.

    Examples:
        >>> fit_exponent([10, 100, 1000], [3e-4, 3e-2, 3.0])
        2.0
    """
    u, v = np.asarray(n, dtype=np.float64), np.asarray(cost, dtype=np.float64)
    if u.ndim != 1 or u.shape != v.shape or len(u) < 2:
        raise ValueError(
            f"fit_exponent: need at least 2 (n, cost) pairs of equal length, got "
            f"{np.shape(n)} and {np.shape(cost)}"
        )
    for name, values in (("n", u), ("cost", v)):
        if not np.all(np.isfinite(values) & (values > 0)):
            raise ValueError(f"fit_exponent: {name} must be finite and > 0, got {values.tolist()}")
    u, v = np.log(u), np.log(v)
    du = u - u.mean()
    if not np.any(du):
        raise ValueError(f"fit_exponent: the sizes n are all equal ({np.exp(u[0]):g})")
    return round(float(du @ (v - v.mean()) / (du @ du)), 12)


def _min_time(
    fn: Callable[[], Any],
    repeats: int,
    clock: Callable[[], float] = time.perf_counter,
    min_total_s: float = 0.0,
) -> tuple[float, Any]:
    """The least of the timings of fn() by ``clock``: ``repeats`` calls, more while less than
    ``min_total_s`` have passed in all, and one only when a call takes over 1 s."""
    best, out, spent, calls = np.inf, None, 0.0, 0
    while calls < repeats or (spent < min_total_s and calls < _MAX_CALLS):
        start = clock()
        out = fn()
        took = clock() - start
        best, spent, calls = min(best, took), spent + took, calls + 1
        if best > _REPEAT_BELOW_S:
            break
    return best, out


def _peak_bytes(fn: Callable[[], Any]) -> int:
    """The tracemalloc peak of fn() above what was allocated before it (NumPy's arrays too)."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        fn()
        return int(tracemalloc.get_traced_memory()[1] - base)
    finally:
        tracemalloc.stop()


def _attempt(fn: Callable[[], Any], timed: Timer) -> tuple[float | None, Any, str | None]:
    """:func:`_min_time`, or (None, None, the reason) where the system has no solution."""
    try:
        seconds, out = timed(fn)
    except (RuntimeError, np.linalg.LinAlgError) as error:  # singular, or not PD for CG
        return None, None, f"{type(error).__name__}: {error}"
    return seconds, out, None


def _one_size(
    p: MLPProblem,
    theta: np.ndarray,
    timed: Timer,
    damping: float | None,
    cg_tol: float,
) -> dict[str, Any]:
    n = p.n
    gradient_s, (_, g) = timed(lambda: p.loss_grad(theta))
    v = g / np.linalg.norm(g)
    hvp_s, _ = timed(lambda: p.hvp(theta, v))
    hessian_s, h = timed(lambda: p.hessian(theta))
    eigvalsh_s, eig = timed(lambda: np.linalg.eigvalsh(h))
    lam_min, lam_max = float(eig[0]), float(eig[-1])
    # Unless told, λ = max(2·|λ_min|, 10⁻³·λ_max): H + λI is positive definite (its smallest
    # eigenvalue is ≥ |λ_min|) also where dead ReLUs leave H singular and λ_min = 0.
    lam = max(-2.0 * lam_min, 1e-3 * lam_max) if damping is None else float(damping)
    eye = np.eye(n)

    def solve() -> np.ndarray:
        return np.linalg.solve(h + lam * eye, g)

    iterations = [0]

    def damped_hvp(u: np.ndarray) -> np.ndarray:
        iterations[0] += 1
        return p.hvp(theta, u) + lam * u

    def cg() -> np.ndarray:
        iterations[0] = 0
        return conjugate_gradient(damped_hvp, g, tol=cg_tol)

    solve_s, d_dense, solve_error = _attempt(solve, timed)
    cg_s, d_cg, cg_error = _attempt(cg, timed)
    both = d_cg is not None and d_dense is not None
    return {
        "n": n,
        "gradient_s": gradient_s,
        "hvp_s": hvp_s,
        "hessian_s": hessian_s,
        "solve_s": solve_s,
        "eigvalsh_s": eigvalsh_s,
        "cg_s": cg_s,
        "cg_iterations": iterations[0] if cg_error is None else None,
        "cg_relative_difference": (
            float(np.linalg.norm(d_cg - d_dense) / np.linalg.norm(d_dense)) if both else None
        ),
        "solve_error": solve_error,
        "cg_error": cg_error,
        "damping": lam,
        "lambda_min": lam_min,
        "lambda_max": lam_max,
        "hessian_bytes": int(h.nbytes),
        "gradient_bytes": int(g.nbytes),
        "gradient_peak_bytes": _peak_bytes(lambda: p.loss_grad(theta)),
        "cg_peak_bytes": None if cg_error else _peak_bytes(cg),
        "solve_peak_bytes": None if solve_error else _peak_bytes(solve),
        "hessian_over_gradient": hessian_s / gradient_s,
        "cg_over_gradient": None if cg_s is None else cg_s / gradient_s,
    }


def measure_cost(
    hidden_sizes: Sequence[int] = (2, 4, 8, 16, 32, 50),
    n_train: int = 256,
    repeats: int = 3,
    seed: int = 0,
    progress: bool = True,
    *,
    damping: float | None = None,
    cg_tol: float = 1e-8,
    threads: int = 1,
    clock: str = "perf_counter",
    min_total_s: float = 0.2,
) -> dict[str, Any]:
    """Time and size what a Newton step costs against a gradient, for 49 → h → 10 networks.

    At θ = Kaiming init (seed) on ``n_train`` pooled digits, for each h (n = 60h + 10):
    the gradient, one HVP, forming H (``mlplab.hessian``: n backward passes), ``eigvalsh(H)``,
    ``np.linalg.solve(H + λI, ∇f)``, and conjugate gradient on HVPs for the same system
    (``mlplab.optim.newton.conjugate_gradient``, relative residual ``cg_tol``). Times are
    minima over ``repeats`` calls of ``time.<clock>`` (``"perf_counter"``: wall time;
    ``"process_time"``: this process's CPU time, steadier on a shared machine; a short call
    repeats until ``min_total_s`` have passed — the least of 3 millisecond calls on a loaded
    machine is mostly noise, of ~100 it is steady —, a call over 1 s is not repeated), with
    ``threads`` mlplab and BLAS threads (restored afterwards). Memory: ``hessian_bytes`` is the
    array's nbytes (= n²·8); ``*_peak_bytes`` are tracemalloc peaks of a separate call (NumPy's
    arrays; LAPACK's own workspace is not seen). λ = ``damping``, or when None
    max(2·abs(λ_min(H)), 10⁻³·λ_max(H)), which makes H + λI positive definite. A system without a
    solution (singular, or not positive definite for CG) is recorded (``solve_error``,
    ``cg_error``, its time None), not raised.

    Exponents p (cost ≈ C·nᵖ, :func:`fit_exponent`) are fitted on all sizes ("all") and on the
    largest half ("large"; all of them below 4 sizes); "ratios" hold forming-H/gradient and
    CG/gradient per size.

    Returns:
        A JSON-able dict: settings, ``rows`` (one per size), ``exponents``, ``total_s``.

    Raises:
        ValueError: for an empty or non-positive ``hidden_sizes``, repeats < 1, threads < 1.

    Examples:
        >>> r = measure_cost((1, 2), n_train=16, repeats=1, progress=False, min_total_s=0)
        >>> [row["n"] for row in r["rows"]], r["threads"], sorted(r["exponents"])
        ([70, 130], 1, ['all', 'large'])
    """
    sizes = list(hidden_sizes)
    if not sizes or any(
        isinstance(h, bool) or not isinstance(h, (int, np.integer)) or h < 1 for h in sizes
    ):
        raise ValueError(f"measure_cost: hidden_sizes must be positive integers, got {sizes!r}")
    for name, value in (("repeats", repeats), ("threads", threads)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"measure_cost: {name} must be an integer >= 1, got {value!r}")
    if clock not in CLOCKS:
        raise ValueError(f"measure_cost: clock must be one of {sorted(CLOCKS)}, got {clock!r}")
    if not min_total_s >= 0:
        raise ValueError(f"measure_cost: min_total_s must be >= 0, got {min_total_s!r}")
    if damping is not None and not damping >= 0:
        raise ValueError(f"measure_cost: damping must be >= 0 or None, got {damping!r}")
    start = time.perf_counter()
    x, y, _, _ = pooled_mnist(n_train=n_train, n_test=0, seed=seed)

    def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
        return _min_time(fn, repeats, CLOCKS[clock], min_total_s)

    before = get_num_threads()
    set_num_threads(threads)
    rows = []
    bar = progress_bar(total=len(sizes), desc="newton cost", disable=not progress)
    try:
        for h in sizes:
            bar.set_postfix(n=parameter_count((49, h, 10)))
            p = MLPProblem((49, int(h), 10), x, y)
            rows.append(
                {
                    "hidden": int(h),
                    **_one_size(p, p.init(seed), timed, damping, cg_tol),
                }
            )
            bar.update(1)
    finally:
        bar.close()
        set_num_threads(before)
    ns = [row["n"] for row in rows]
    large = rows[len(rows) // 2 :] if len(rows) >= 4 else rows
    keys = [key for key, _ in TIMES] + [
        "hessian_bytes", "solve_peak_bytes", "gradient_bytes", "gradient_peak_bytes",
        "cg_peak_bytes",
    ]  # fmt: skip
    exponents: dict[str, Any] = {}
    for name, chosen in (("all", rows), ("large", large)):
        fit: dict[str, Any] = {"n": [row["n"] for row in chosen]}
        for key in keys:
            values = [row[key] for row in chosen]
            ok = len(chosen) >= 2 and all(v is not None and v > 0 for v in values)
            fit[key] = fit_exponent(fit["n"], values) if ok else None
        exponents[name] = fit
    return {
        "experiment": "newton-cost",
        "hidden_sizes": [int(h) for h in sizes],
        "n": ns,
        "n_train": n_train,
        "repeats": repeats,
        "min_total_s": min_total_s,
        "seed": seed,
        "threads": threads,
        "cg_tol": cg_tol,
        "damping": "max(2*|lambda_min|, 1e-3*lambda_max)" if damping is None else damping,
        "timer": f"time.{clock}, min over repeats (short calls: {min_total_s} s; over 1 s: once)",
        "clock": clock,
        "memory": "hessian_bytes = H.nbytes (= n^2*8); *_peak_bytes = tracemalloc peak",
        "rows": rows,
        "exponents": exponents,
        "ratios": {
            "hessian_over_gradient": [row["hessian_over_gradient"] for row in rows],
            "cg_over_gradient": [row["cg_over_gradient"] for row in rows],
        },
        "total_s": time.perf_counter() - start,
    }
