"""The ``mlplab report`` section of ``mlplab experiment newton``: the lecture's five reasons, each
quoted (Chinese, with an English translation) beside what mlplab measured and its figure.

:func:`newton_claims` turns ``results.json`` into the rows of that table as plain text (the
command line prints them too); :func:`newton_section` renders the HTML.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

from ..html_table import table

__all__ = ["LECTURE", "newton_claims", "newton_section"]

#: reason → (the lecture's sentence, its English translation, the figure)
LECTURE: dict[str, tuple[str, str, str]] = {
    "local optima": (
        "局部最优性:牛顿法通常只能找到局部最优解,而不是全局最优解。",
        "Local optimality: Newton's method can usually only find a local optimum, not the "
        "global one.",
        "newton_local_optima.png",
    ),
    "indefiniteness": (
        "Hessian矩阵的正定性:……在非凸问题中,Hessian矩阵可能不是正定的,或者在某些区域是不定的,"
        "这使得牛顿法无法保证收敛到局部最小点。",
        "Positive definiteness of the Hessian: … in non-convex problems the Hessian may not be "
        "positive definite, or is indefinite in some regions, so Newton's method cannot be "
        "guaranteed to converge to a local minimum.",
        "newton_indefinite.png",
    ),
    "cost": (
        "计算复杂性:牛顿法需要计算和存储目标函数的Hessian矩阵,这在高维问题中可能导致计算复杂性和"
        "存储需求非常高。",
        "Computational complexity: Newton's method must compute and store the Hessian, which in "
        "high dimensions can make the computation and the storage very expensive.",
        "newton_cost.png",
    ),
    "conditioning": (
        "数值稳定性:在非凸问题中,Hessian矩阵可能存在病态情况,导致牛顿法的迭代过程不稳定,甚至可能发散。",
        "Numerical stability: in non-convex problems the Hessian may be ill-conditioned, making "
        "the iteration unstable, possibly even divergent.",
        "newton_conditioning.png",
    ),
    "starting point": (
        "收敛速度:牛顿法的收敛速度依赖于初始点的选择和目标函数的性质。……牛顿法的收敛速度可能会很慢,"
        "或者在某些情况下根本不收敛。",
        "Convergence speed: it depends on the choice of the starting point and on the "
        "objective. … it may converge very slowly, or in some cases not at all.",
        "newton_starts.png",
    ),
}


def _g(value: Any, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}g}"


def _end(run: dict[str, Any]) -> str:
    e = run["end"]
    why = f", {e['failure']}" if e.get("failure") else ""
    return (
        f"{run['label']}, {run['steps']} steps ({run['seconds']:.1f} s): loss {_g(e['loss'])}, "
        f"‖∇f‖ {_g(e['grad_norm'], 2)}, λ_min {_g(e['lambda_min'], 2)}, test acc "
        f"{_g(e['test_accuracy'])} ({e['outcome']}{why})"
    )


def _spread(values: list[Any]) -> str:
    v = sorted(math.inf if x is None else x for x in values)
    return f"{_g(v[len(v) // 2])} ({_g(v[0])}–{_g(v[-1])})"


def _flat_text(r2: dict[str, Any]) -> str:
    d = r2.get("flat_directions") or {}
    if d.get("predicted") is None:
        return ""
    return (
        f"H is exactly singular: at θ₀ {d['measured']} eigenvalues are 0 (≤ 1e-12·max|λ|), as "
        f"predicted ({d['predicted']}): {d['softmax_shift']} directions along which softmax "
        f"does not change (the same number added to every logit; curvature "
        f"{_g(d['softmax_shift_curvature'], 2)}·max|λ|) and {d['unseen_inputs']} incoming "
        "weights of hidden units that see fewer independent inputs than they have (always-"
        "empty border tiles, units active on few digits). "
    )


def _fate(run: dict[str, Any]) -> str:
    e = run["end"]
    return f"{e['outcome']} ({run['failure'] or 'loss ' + _g(e['loss'])})"


def _probe_summary(paths: dict[str, Any]) -> tuple[int, int, int]:
    probes = [p["newton_step"] for key in ("gd", "adam") for p in paths[key][(key == "adam") :]]
    up = sum(bool(p["loss_up"]) for p in probes)
    singular = sum(p["failure"] is not None for p in probes)
    return up, singular, len(probes)


def _cost_text(cost: dict[str, Any] | None) -> str:
    if cost is None:
        return "not measured (cost=False)"
    big, fit = cost["rows"][-1], cost["exponents"]["large"]
    return (
        f"n = {cost['n'][0]}…{big['n']}: forming H ∝ n^{_g(fit['hessian_s'])}, solve "
        f"∝ n^{_g(fit['solve_s'])}, eigvalsh ∝ n^{_g(fit['eigvalsh_s'])}, H's memory "
        f"∝ n^{_g(fit['hessian_bytes'])} (fits over the largest sizes); at n = {big['n']}: H "
        f"{big['hessian_bytes'] / 1e6:.0f} MB, forming it {_g(big['hessian_s'])} s = "
        f"{big['hessian_over_gradient']:.0f} gradients, while HVP + CG solves the damped system "
        f"in {_g(big['cg_s'])} s = {_g(big['cg_over_gradient'])} gradients, O(n) memory"
    )


def _start_columns(r5: dict[str, Any]) -> list[tuple[str, str]]:
    damped = [(key, f"H + {lam:g}I") for key, lam in r5.get("dampings", {}).items()]
    return [("newton_full", "full Newton"), *damped, ("gd", "GD"), ("adam", "Adam")]


def _seconds(ends: list[dict[str, Any]]) -> str:
    seconds = [e["seconds"] for e in ends if e.get("seconds") is not None]
    return f"{sum(seconds) / len(seconds):.1f} s a start" if seconds else "time not recorded"


def _damped_starts_text(r5: dict[str, Any]) -> str:
    """The damped columns of reason 5: steps, starts whose loss rose, ‖∇f‖ and λ_min spreads."""
    parts = []
    for key, lam in r5.get("dampings", {}).items():
        ends = [r[key] for r in r5["rows"]]
        up = sum(bool(e["loss_up"]) for e in ends)
        parts.append(
            f"H + {lam:g}I ({ends[0]['steps']} steps, {_seconds(ends)}): the loss rose at some "
            f"step from {up} of "
            f"{len(ends)} starts, ‖∇f‖ {_spread([e['grad_norm'] for e in ends])}, λ_min "
            f"{_spread([e['lambda_min'] for e in ends])}"
        )
    if not parts:
        return ""
    first = [f"{name} {_seconds([r[key] for r in r5['rows']])}" for key, name in
             (("gd", "GD"), ("adam", "Adam"))]  # fmt: skip
    return f"; at the damped end points {'; '.join(parts)} (beside {', '.join(first)})"


def newton_claims(res: dict[str, Any]) -> list[dict[str, str]]:
    """Return one row per reason: ``{"reason", "lecture", "english", "measured", "figure"}``.

    Examples:
        >>> import tempfile
        >>> from mlplab.experiments.newton_study import NewtonConfig, run_newton
        >>> cfg = NewtonConfig.quick(cost=False, starts=1, newton_steps=1, spectrum_points=1)
        >>> res = run_newton(tempfile.mkdtemp(), cfg, progress=False, figures=False)
        >>> [row["reason"] for row in newton_claims(res)][:2]
        ['local optima', 'indefiniteness']
    """
    r1, r2, sweep, r5 = res["local_optima"], res["indefinite"], res["damping"], res["starts"]
    paths, init = r2["paths"], r2["paths"]["gd"][0]
    up, singular, probes = _probe_summary(paths)
    trained = r2["newton_from_trained"]
    neg = {k: [p["fraction_negative"] for p in paths[k]] for k in ("gd", "adam")}
    cond = [p["condition_nonzero"] for k in ("gd", "adam") for p in paths[k]]
    cond = [c for c in cond if c is not None]
    full = [p["condition"] for k in ("gd", "adam") for p in paths[k]]
    full = [math.inf if c is None else c for c in full]  # JSON's null: a singular H
    counts, n = r5["counts"], len(r5["rows"])
    lam0 = sweep["losses"][0]
    safe = sweep["smallest_safe"]
    measured = {
        "local optima": "; ".join(
            _end(r1[k]) for k in ("newton_full", "newton_alpha", "newton_damped", "gd", "adam")
        ),
        "indefiniteness": (
            f"at θ₀ {100 * init['fraction_negative']:.1f}% of the {init['n']} eigenvalues are "
            f"negative (λ_min {_g(init['lambda_min'])}, λ_max {_g(init['lambda_max'])}; "
            f"{100 * init['fraction_zero']:.1f}% numerically 0, |λ| ≤ 1e-8·max|λ|); along GD "
            f"{100 * min(neg['gd']):.1f}–{100 * max(neg['gd']):.1f}%, along Adam "
            f"{100 * min(neg['adam']):.1f}–{100 * max(neg['adam']):.1f}% negative. One full "
            f"Newton step (mlplab.optim.Newton) from those {probes} points raised the loss at "
            f"{up} and was refused at {singular} (singular H). Full Newton from the trained "
            f"GD and Adam points: {_fate(trained['gd'])}; {_fate(trained['adam'])}"
            + f". Saddles reached by full Newton from {n} starts: {counts['newton_full']['saddle']}"
        ),
        "cost": _cost_text(res.get("cost")),
        "conditioning": (
            f"max|λ|/min|λ| = {_g(min(full), 2)}–{_g(max(full), 2)} along GD and Adam "
            f"(above 1/ε = 4.5e15: H is numerically singular; at θ₀ "
            f"{100 * init['fraction_zero']:.1f}% of the eigenvalues are ≤ 1e-8·max|λ|); over "
            f"the others {_g(min(cond), 2)}–{_g(max(cond), 2)}. {_flat_text(r2)}"
            f"(H + λI) steps from θ₀: the "
            f"smallest λ of the grid that never raised the loss in {sweep['steps']} steps is "
            f"{_g(safe)} (|λ_min(θ₀)| = {_g(abs(init['lambda_min']))}); without damping "
            f"(λ = 0) the loss went {_g(lam0[0])} → {_g(lam0[-1]) if len(lam0) > 1 else 'n/a'}"
            + (f" ({sweep['failures'][0]})" if sweep["failures"][0] else "")
        )
        if cond
        else "no finite condition number",
        "starting point": (
            f"from {n} seeded starts: "
            + "; ".join(
                f"{name}: " + ", ".join(f"{c} {o}" for o, c in counts[key].items() if c)
                for key, name in _start_columns(r5)
            )
            + f" ({sum(r['newton_full']['failure'] is not None for r in r5['rows'])} of the "
            "full Newton runs refused: singular H)"
            + "; final loss, median (min–max): "
            + "; ".join(
                f"{name} {_spread([r[key]['loss'] for r in r5['rows']])}"
                for key, name in _start_columns(r5)
            )  # fmt: skip
            + _damped_starts_text(r5)
            + f" (thresholds: ‖∇f‖ ≤ {r5['thresholds']['grad_tol']:g}, λ_min ≥ "
            f"−{r5['thresholds']['curvature_tol']:g}·max|λ|, diverged = loss > "
            f"{r5['thresholds']['blowup']:g}× start, non-finite or a singular system)"
        ),
    }
    return [
        {"reason": k, "lecture": zh, "english": en, "measured": measured[k], "figure": fig}
        for k, (zh, en, fig) in LECTURE.items()
    ]


def newton_section(res: dict[str, Any], folder: Path) -> str:
    """Return the HTML section: the saddle, then the five reasons (quote | measured | figure).

    Examples:
        >>> import tempfile
        >>> from mlplab.experiments.newton_study import NewtonConfig, run_newton
        >>> cfg = NewtonConfig.quick(cost=False, starts=1, newton_steps=1, spectrum_points=1)
        >>> res = run_newton(tempfile.mkdtemp(), cfg, progress=False, figures=False)
        >>> "<h2>" in newton_section(res, Path("."))
        True
    """
    from .report import _claim, _img

    prob, toy = res["problem"], res["toy"]
    one = toy["runs"]["full"]["after_one_step"]
    parts = [
        "<h2>Why Newton's method is little used in deep learning: the five reasons, measured</h2>",
        f"<p>The network: 7×7-pooled MNIST digits, a ReLU MLP {'–'.join(map(str, prob['sizes']))}"
        f" with n = {prob['n']} parameters, float64, full batch of {prob['n_train']} digits "
        "(exact Hessians by <code>mlplab.hessian</code>, Newton steps by "
        "<code>mlplab.optim.Newton</code>). The whole run took "
        f"{res.get('seconds', 0):.0f} s.</p>",
        _claim(
            "A saddle: f(x, y) = x² − y²",
            f"<p>From {html.escape(str(toy['config']['start']))} one full Newton step lands on "
            f"{html.escape(str(one['point']))}: ∇f = {html.escape(str(one['gradient']))}, Hessian "
            f"eigenvalues {html.escape(str(one['eigenvalues']))} — a saddle, not a minimum. "
            f"With (H + {toy['config']['damping']:g}I) (λ > |λ_min| = 2) and with GD the iterate "
            "moves away along y, the direction of negative curvature.</p>",
            _img(folder, "newton_toy.png"),
        ),
    ]
    rows = newton_claims(res)
    for row in rows:
        parts.append(
            _claim(
                row["reason"].capitalize(),
                f"<p lang='zh'>{html.escape(row['lecture'])}</p><p><em>"
                f"{html.escape(row['english'])}</em></p><p><b>Measured:</b> "
                f"{html.escape(row['measured'])}.</p>",
                _img(folder, row["figure"]),
            )
        )
    parts.append(
        table(
            ["reason", "the lecture's claim", "what mlplab measured"],
            [[r["reason"], r["english"], r["measured"]] for r in rows],
            row_labels=True,
        )  # fmt: skip
    )
    return "\n".join(parts)
