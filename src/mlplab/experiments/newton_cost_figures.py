"""The figure of reason 3: what a Newton step costs against a gradient as n grows (log-log)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .newton_cost import TIMES
from .plots import _pyplot, _save

__all__ = ["plot_cost"]

#: memory curves: (key of a row, label, line style)
_MEMORY = (
    ("hessian_bytes", "H: n²·8 bytes (nbytes)", "-"),
    ("solve_peak_bytes", "solve (H+λI)d=g: tracemalloc peak", "--"),
    ("cg_peak_bytes", "HVP + CG: tracemalloc peak", "-."),
    ("gradient_peak_bytes", "gradient: tracemalloc peak", ":"),
    ("gradient_bytes", "gradient: n·8 bytes (nbytes)", "-"),
)


def _exponent_label(label: str, key: str, exponents: dict[str, Any]) -> str:
    fits = [exponents.get(name, {}).get(key) for name in ("all", "large")]
    if fits[0] is None:
        return label
    large = f", largest n {fits[1]:.2f}" if fits[1] is not None else ""
    return f"{label}: p = {fits[0]:.2f}{large}"


def plot_cost(result: dict[str, Any], path: Path) -> Path:
    """Draw time against n and memory against n, log-log, from :func:`measure_cost`; save a PNG.

    Left: the seconds of a gradient, one HVP, forming H, the dense solve, ``eigvalsh`` and
    HVP + CG, each labelled with its fitted exponent p (cost ≈ C·nᵖ) over all sizes and over
    the largest half, beside faint guides ∝ n, n², n³. Right: the bytes of H (n²·8) and the
    tracemalloc peaks of the solve, of CG and of a gradient, beside the gradient's n·8.

    Args:
        result: the dict of :func:`~mlplab.experiments.newton_cost.measure_cost`.
        path: where the PNG goes (its folder is created).

    Returns:
        ``path``.

    Examples:
        >>> import tempfile
        >>> from mlplab.experiments.newton_cost import measure_cost
        >>> r = measure_cost((1, 2), n_train=16, repeats=1, progress=False)
        >>> plot_cost(r, Path(tempfile.mkdtemp()) / "cost.png").stat().st_size > 0
        True
    """
    plt = _pyplot()
    rows, exponents = result["rows"], result.get("exponents", {})
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    for key, label in TIMES:
        points = [(r["n"], r[key]) for r in rows if r.get(key) is not None]
        if points:
            ns_t, values = zip(*points, strict=True)
            left.loglog(ns_t, values, "o-", label=_exponent_label(label, key, exponents))
    ns = [r["n"] for r in rows]
    top = max((r["hessian_s"] for r in rows), default=1.0)
    for power, style in ((1, ":"), (2, "--"), (3, "-.")):
        guide = [top * (n / ns[-1]) ** power for n in ns]
        left.loglog(ns, guide, style, color="grey", alpha=0.4, label=f"∝ n^{power}")
    left.set_xlabel("parameters n")
    left.set_ylabel("seconds (min over repeats)")
    left.set_title(f"time per operation, {result.get('threads', '?')} thread(s)")
    left.legend(fontsize=7)
    for key, label, style in _MEMORY:
        points = [(r["n"], r[key]) for r in rows if r.get(key)]
        if points:
            ns_m, values = zip(*points, strict=True)
            right.loglog(ns_m, values, "o" + style, label=_exponent_label(label, key, exponents))
    right.set_xlabel("parameters n")
    right.set_ylabel("bytes")
    right.set_title("memory: a dense H at n = 10⁶ would take 8 TB")
    right.legend(fontsize=7)
    for ax in (left, right):
        ax.set_xticks(ns, [str(n) for n in ns])
        ax.minorticks_off()
    fig.suptitle(
        "Newton's cost: forming and solving with the n×n Hessian vs a gradient "
        f"(49→h→10, batch {result.get('n_train', '?')})"
    )
    return _save(fig, Path(path))
