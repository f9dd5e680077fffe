"""The views of reason 3 (what a Newton step costs against a gradient as n grows): the table,
the sentence for the note, and the log-log figure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .newton_cost import TIMES
from .plots import _pyplot, _save

__all__ = ["plot_cost", "format_cost_table", "cost_finding"]

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
        >>> r = measure_cost((1, 2), n_train=16, repeats=1, progress=False, min_total_s=0)
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
    left.set_ylabel(f"seconds ({result.get('clock', 'perf_counter')}, min over repeats)")
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


def format_cost_table(result: dict[str, Any]) -> str:
    """Return the rows of :func:`measure_cost` as a plain-text table with the fitted exponents.

    Examples:
        >>> from mlplab.experiments.newton_cost import measure_cost
        >>> r = measure_cost((1, 2), n_train=16, repeats=1, progress=False, min_total_s=0)
        >>> lines = format_cost_table(r).splitlines()
        >>> lines[0].split()[:5], len(lines)
        (['n', 'grad', 'ms', 'HVP', 'ms'], 5)
    """
    head = (
        f"{'n':>8} {'grad ms':>9} {'HVP ms':>9} {'form H s':>10} {'solve s':>8} {'eigh s':>9} "
        f"{'CG ms':>8} {'CG it':>6} {'H MB':>5} {'H/grad':>8} {'CG/grad':>7}"
    )
    lines = [head]
    for r in result["rows"]:
        lines.append(
            f"{r['n']:>8} {r['gradient_s'] * 1e3:>9.2f} {r['hvp_s'] * 1e3:>9.2f} "
            f"{r['hessian_s']:>10.3f} "
            + (f"{r['solve_s']:>8.4f} " if r["solve_s"] is not None else f"{'failed':>8} ")
            + f"{r['eigvalsh_s']:>9.4f} "
            + (
                f"{r['cg_s'] * 1e3:>8.1f} {r['cg_iterations']:>6} "
                if r["cg_s"] is not None
                else f"{'failed':>8} {'-':>6} "
            )
            + f"{r['hessian_bytes'] / 1e6:>5.1f} {r['hessian_over_gradient']:>8.0f} "
            + (f"{r['cg_over_gradient']:>7.0f}" if r["cg_s"] is not None else f"{'-':>7}")
        )
    for name, fit in result["exponents"].items():
        pairs = ", ".join(
            f"{label} {fit[key]:.2f}" for key, label in TIMES if fit.get(key) is not None
        )
        memory = fit.get("hessian_bytes")
        mem = f"; H memory {memory:.2f}" if memory is not None else ""
        lines.append(f"exponent p (cost ~ n^p), {name} n={fit['n']}: {pairs}{mem}")
    return "\n".join(lines)


def cost_finding(result: dict[str, Any]) -> str:
    """Return one sentence of what :func:`measure_cost` found, for the claims table of a note.

    Examples:
        >>> from mlplab.experiments.newton_cost import measure_cost
        >>> r = measure_cost((1, 2), n_train=16, repeats=1, progress=False, min_total_s=0)
        >>> cost_finding(r).startswith("at n = 130: H takes 0.1 MB (n²·8 bytes, p = 2.00;")
        True
    """
    r, fits = result["rows"][-1], result["exponents"]

    def p(key: str) -> str:
        both = [fits[name].get(key) for name in ("all", "large")]
        return " / ".join("n/a" if v is None else f"{v:.2f}" for v in both)

    cg = (
        f"HVP + CG needs no H: {r['cg_iterations']} iterations, {r['cg_s'] * 1e3:.0f} ms = "
        f"{r['cg_over_gradient']:.0f} gradients, {r['cg_peak_bytes'] / 1e6:.1f} MB peak"
        if r["cg_s"] is not None
        else f"HVP + CG failed ({r['cg_error']})"
    )
    return (
        f"at n = {r['n']}: H takes {r['hessian_bytes'] / 1e6:.1f} MB (n²·8 bytes, p = "
        f"{fits['all']['hessian_bytes']:.2f}; 8 TB at n = 10⁶); forming it {r['hessian_s']:.2f} s"
        f" = {r['hessian_over_gradient']:.0f} gradients (p = {p('hessian_s')}, all sizes / "
        f"largest); solve p = {p('solve_s')}, eigvalsh p = {p('eigvalsh_s')}, gradient p = "
        f"{p('gradient_s')}; {cg}"
    )
