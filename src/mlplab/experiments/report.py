"""`mlplab report`: one self-contained HTML page of the lecture's claims, figures and numbers.

The page reuses ``results.json`` in the experiments' output folders when it is there (or reruns
the experiments when asked or when it is missing). Every figure is embedded as a base64 PNG, so
the page references no other file and no network address.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..html_table import cell, png, table

__all__ = ["load_or_run", "render", "write_report"]

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ccc}
.claim{display:flex;gap:1.5em;align-items:flex-start;margin:1.5em 0}
.claim .text{flex:1 1 40%}.claim .fig{flex:1 1 60%}.claim img{max-width:100%}
table{border-collapse:collapse;font-size:.9em}td,th{border:1px solid #ccc;padding:.2em .5em}
.num{font-family:monospace}.derivation{background:#f6f6f6;padding:.6em;white-space:pre-wrap}
"""


def load_or_run(kind: str, folder: Path, rerun: bool = False, config: Any = None) -> dict:
    """Return the results of experiment ``kind`` (``"optimizers"`` or ``"init"``) in ``folder``:
    read ``results.json`` if present (and not ``rerun``), else run the experiment there.

    Examples:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = (folder / "results.json").write_text('{"claims": {"threshold": 0.1}}')
        >>> load_or_run("optimizers", folder)  # already there: read, not run
        {'claims': {'threshold': 0.1}}
        >>> load_or_run("sweeps", folder, rerun=True)
        Traceback (most recent call last):
        ...
        ValueError: report: unknown experiment 'sweeps', expected 'optimizers' or 'init'
    """
    path = Path(folder) / "results.json"
    if path.exists() and not rerun:
        return json.loads(path.read_text())  # type: ignore[no-any-return]
    if kind == "optimizers":
        from .optimizers import run_optimizers

        return run_optimizers(folder, config)
    if kind == "init":
        from .init_study import run_init_study

        return run_init_study(folder, config)
    raise ValueError(f"report: unknown experiment {kind!r}, expected 'optimizers' or 'init'")


def _img(folder: Path, name: str) -> str:
    return png(Path(folder) / name)


def _fmt(value: Any) -> str:
    return cell(value, none="never", yes_no=True)  # None here: a tolerance never reached


def _table(header: list[str], rows: list[list[Any]]) -> str:
    return table(header, rows, none="never", yes_no=True)


def _claim(title: str, text: str, figure: str) -> str:
    return (
        f'<div class="claim"><div class="text"><h3>{html.escape(title)}</h3>{text}</div>'
        f'<div class="fig">{figure}</div></div>'
    )


def _optimizer_section(res: dict[str, Any], folder: Path) -> str:
    runs, claims, prob = res["runs"], res["claims"], res["problem"]
    ev = prob["eigenvalues"]

    def row(key: str) -> list[Any]:
        r = runs[key]
        return [r["label"], r["steps_to_tol"], r["final_error"], r["diverged"]]

    header = ["method", f"steps to ‖θ−θ*‖ ≤ {res['config']['tol']:g}", "final error", "diverged"]
    parts = [
        "<h2>Optimizers on f(θ) = ½θᵀPθ + qᵀθ</h2>",
        f"<p>P has eigenvalues {ev[0]:.4g} and {ev[-1]:.4g} (κ = {prob['condition_number']:.3g});"
        f" every run starts at θ₀ = {res['config']['theta0']} (‖θ₀ − θ*‖ = "
        f"{prob['initial_error']:.4g}) and takes up to {res['config']['steps']} steps of a real "
        "<code>mlplab.optim</code> optimizer on an mlplab Tensor.</p>",
        _claim(
            "GD converges iff α < 2/λ_max",
            f"<p>2/λ_max = <b>{claims['threshold_lr_2_over_lambda_max']:.4g}</b>. At 0.95·2/λ_max "
            f"GD converges: {_fmt(claims['gd_converges_below_threshold'])} (final error "
            f"{_fmt(runs['gd_below']['final_error'])}); at 1.05·2/λ_max it diverges: "
            f"{_fmt(claims['gd_diverges_above_threshold'])} (error "
            f"{_fmt(runs['gd_above']['final_error'])} when stopped).</p>"
            + _table(header, [row(k) for k in ("gd_crawl", "gd_oscillate", "gd_diverge")]),
            _img(folder, "gd_learning_rates.png"),
        ),
        _claim(
            "Newton with α = 1 solves a quadratic in one step",
            "<p>Error after one full step: <b>"
            f"{_fmt(claims['newton_full_step_error_after_1_step'])}</b>. "
            "Damped (α = ½) the error is multiplied by "
            f"{_fmt(claims['newton_damped_error_ratio_per_step'])} per step.</p>"
            + _table(header, [row("newton_full"), row("newton_damped")]),
            _img(folder, "newton.png"),
        ),
        _claim(
            "Momentum: smoother than GD, but can still oscillate",
            _table(header, [row(k) for k in ("gd_reference", "momentum", "momentum_heavy")]),
            _img(folder, "momentum_vs_gd.png"),
        ),
        _claim(
            "Unbiased momentum: the first steps are not damped",
            "<p>u starts at 0, so plain momentum's first step is (1−β)αg; dividing by "
            "1−β^{t+1} restores αg. Measured ratio of first-step lengths (unbiased / plain): "
            f"<b>{_fmt(claims['unbiased_over_plain_first_step_length'])}</b> (= 1/(1−β)).</p>"
            + _table(header, [row("momentum_plain"), row("momentum_unbiased")]),
            _img(folder, "unbiased_momentum.png"),
        ),
        _claim(
            "Nesterov: the gradient at the look-ahead point θ − αu",
            _table(header, [row("momentum_cmp"), row("nesterov")]),
            _img(folder, "nesterov.png"),
        ),
        _claim(
            "Adam: per-coordinate scaling",
            "<p>With a constant α Adam's steps stay about α long per coordinate near θ*.</p>"
            + _table(header, [row("gd_reference"), row("adam"), row("adam_lecture")]),
            _img(folder, "adam.png"),
        ),
        _claim(
            "Error per step", "<p>The same runs as error curves.</p>", _img(folder, "errors.png")
        ),
    ]
    ls = res["least_squares"]
    rows = [
        [ls[k]["optimizer"], ls[k]["steps"], *ls[k]["excess_loss_after_epochs"].values(),
         ls[k]["examples_to_1pct_of_initial_excess"]]
        for k in ("gd", "sgd")
    ]  # fmt: skip
    epochs = list(ls["gd"]["excess_loss_after_epochs"])
    parts.append(
        _claim(
            "Many cheap noisy steps beat few exact ones (per unit of compute)",
            f"<p>Least squares, {ls['problem']['examples']} examples × "
            f"{ls['problem']['features']} features; f(w) − f(w*) after each number of passes:</p>"
            + _table(
                [
                    "method",
                    "steps",
                    *[f"after {e} epoch(s)" for e in epochs],
                    "examples to 1% of the initial excess",
                ],
                rows,
            ),  # fmt: skip
            _img(folder, "sgd_vs_gd.png"),
        )
    )
    return "\n".join(parts)


_DERIVATION = """Forward: Zᵢ₊₁ = relu(Zᵢ Wᵢ), Wᵢ ~ N(0, σ²). A unit of Zᵢ Wᵢ has variance
σ²·n·E[z²]; relu keeps half of it: E[relu(a)²] = Var(a)/2. So each layer multiplies the
second moment by c = σ²n/2, and ‖Z_L‖/‖Z₂‖ ≈ c^((L−2)/2): 1 for σ² = 2/n, 0.5^24 ≈ 6e−8
for 1/n, 1.5^24 ≈ 1.7e4 for 3/n over L = 50 layers.
Backward: Gᵢ = (Gᵢ₊₁ ∘ relu′(Zᵢ Wᵢ)) Wᵢᵀ multiplies the second moment by the same c per layer,
from the last layer towards the first.
Weight gradients: ∇Wᵢ ℓ = Zᵢᵀ Gᵢ₊₁ takes c^((i−1)/2) from the forward signal and c^((L−i)/2) from
the backward one: about the same norm in every layer, at an overall scale ∝ c^((L−1)/2) —
tiny for 1/n, about 1 for 2/n, huge for 3/n."""


def _dead_note(run: dict[str, Any]) -> str:
    """Say where a trained network's signal is exactly 0 (a log axis cannot draw that)."""
    act = run["after_training"]["activation_norm"]
    dead = [i + 1 for i, v in enumerate(act) if v == 0]
    if not dead:
        return ""
    grads = run["after_training"]["gradient_norm"]
    zero_grads = sum(1 for v in grads if v == 0)
    return (
        f"<p>σ² = {html.escape(run['label'])}: after training the output of layer(s) "
        f"{', '.join(map(str, dead))} is exactly 0 on this batch (every ReLU off), so "
        f"{zero_grads} of {len(grads)} weight gradients are exactly 0; zeros are not drawn on "
        "the log axes.</p>"
    )


def _init_section(res: dict[str, Any], folder: Path) -> str:
    cfg, runs, th = res["config"], res["runs"], res["theory"]
    var = res["variance"]
    dot_rows = [
        [d["activation"], d["sigma2"], d["measured"], d["theory"]] for d in var["dot_product"]
    ]
    depth_rows = [
        [d["activation"], d["sigma2"], d["factor_measured"], d["factor_theory"]]
        for d in var["depth"]
    ]
    fwd = [[r["label"], th[r["label"]]["activation_ratio_measured"],
            th[r["label"]]["activation_ratio_theory"]] for r in runs]  # fmt: skip
    bwd = [
        [r["label"], r["gradient_scale"], r["gradient_spread"],
         th[r["label"]].get("gradient_scale_vs_2n_measured"),
         th[r["label"]].get("gradient_scale_vs_2n_theory")]
        for r in runs
    ]  # fmt: skip

    def last(r: dict[str, Any], key: str) -> Any:
        epochs = r["train"]["epochs"]
        return epochs[-1].get(key) if epochs else None

    def first_norm(norms: list[float]) -> Any:
        return norms[0] if norms else None

    train_rows = [
        [r["label"], r["initial_loss"], first_norm(r["train"]["gradient_norm_before_clipping"]),
         100 * r["train"]["fraction_of_steps_clipped"], last(r, "train_loss"),
         last(r, "val_accuracy"),
         f"at step {r['train']['diverged_at_step']}" if r["train"]["diverged"] else False]
        for r in runs
    ]  # fmt: skip
    unclipped_rows = [
        [r["label"], first_norm(r["unclipped"]["gradient_norm_before_clipping"]),
         r["unclipped"]["steps"][0][1] if r["unclipped"]["steps"] else None,
         r["unclipped"]["steps"][-1][1] if r["unclipped"]["steps"] else None,
         r["unclipped"]["diverged_at_step"]]
        for r in runs
        if r.get("unclipped") is not None
    ]  # fmt: skip
    change_rows = [
        [r["label"], min(r["weight_change"]), sum(r["weight_change"]) / len(r["weight_change"]),
         max(r["weight_change"])]
        for r in runs
        if not r["train"]["diverged"]
    ]  # fmt: skip
    after_rows = [
        [r["label"], r["activation_ratio"], r["after_training"]["activation_ratio"],
         r["gradient_scale"], r["after_training"]["gradient_scale"], r["gradient_spread"],
         r["after_training"]["gradient_spread"]]
        for r in runs
        if r.get("after_training") is not None and r["k"] > 0
    ]  # fmt: skip
    kept: list[str] = []
    moved: list[str] = []
    for r in runs:
        if r.get("after_training") is not None and r["k"] > 0:
            before, now = r["activation_ratio"], r["after_training"]["activation_ratio"]
            close = before > 0 and now > 0 and 0.1 <= now / before <= 10
            (kept if close else moved).append(html.escape(r["label"]))
    steps = max((len(r["train"]["gradient_norm_before_clipping"]) for r in runs), default=0)
    clip = cfg.get("clip_grad_norm")
    setting = (
        f"{html.escape(cfg['optimizer'])} (lr {cfg['lr']:g}"
        + (f", momentum {cfg['momentum']:g}" if cfg["optimizer"] == "sgd" else "")
        + f", {html.escape(cfg.get('schedule', 'constant'))} schedule, batch {cfg['batch_size']}, "
        f"{cfg['epochs']} epochs = {steps} steps"
        + (f", global gradient norm clipped to {clip:g}" if clip is not None else ", no clipping")
        + ")"
    )
    diverged = [r["label"] for r in runs if r["train"]["diverged"]]
    story = "<p>"
    for r in runs:
        u = r.get("unclipped")
        if u is not None and u["diverged_at_step"] is not None:
            raw = first_norm(u["gradient_norm_before_clipping"])
            story += (
                f"Without clipping, the same optimizer makes the loss of σ² = {r['label']} "
                f"NaN/inf at step {u['diverged_at_step']} (marked × in the middle panel): its "
                f"gradient norm at step 1 is {_fmt(raw)}, so the step lr·g overshoots at once — "
                "the exploding case of the lecture. "
            )
    if clip is not None:
        story += (
            f"Clipping rescales a step only where ‖g‖ > {clip:g}; the column '% steps clipped' "
            "says for which runs it did. "
        )
    if diverged:
        story += f"With the shared setting, σ² = {', '.join(diverged)} diverged (marked ×). "
    story += "</p>"
    unclipped_table = (
        "<p>The same runs without clipping, first steps:</p>"
        + _table(
            ["σ²", "‖g‖ at step 1", "loss at step 1", "last finite loss", "loss NaN/inf at step"],
            unclipped_rows,
        )  # fmt: skip
        if unclipped_rows
        else ""
    )
    zeros = next((r for r in runs if r["k"] == 0), None)
    parts = [
        f"<h2>Initialization: a ReLU MLP of {cfg['depth']} layers × {cfg['width']} units on "
        f"{html.escape(cfg['data'])}</h2>",
        f"<p>Wᵢ ~ N(0, σ²), σ² = k/n (n = fan_in), biases 0; norms at initialization on one batch "
        f"of {cfg['probe_batch']} training images; then the same training for every σ²: "
        f"{setting}; then the same norms again on the same batch.</p>",
        _claim(
            "Var(wᵀx) = 1 for w ~ N(0, 1/n) with linear units; σ² = 2/n for ReLU",
            _table(["x", "σ²", "measured Var(wᵀx)", "theory σ²n·E[x²]"], dot_rows)
            + "<p>Through 50 random layers (x ~ N(0, I)), factor per layer of E[z²]:</p>"
            + _table(["activation", "σ²", "measured factor", "theory"], depth_rows),
            _img(folder, "variance.png"),
        ),
        _claim(
            "Forward: the activation norm is flat for 2/n, vanishes for 1/n, explodes for 3/n",
            _table(["σ²", "‖Z_L‖/‖Z₂‖ measured", "theory (σ²n/2)^((L−2)/2)"], fwd)
            + f'<div class="derivation">{html.escape(_DERIVATION)}</div>',
            _img(folder, "activation_norm.png"),
        ),
        _claim(
            "Backward: weight gradients about equal in every layer, at scale (σ²n/2)^((L−1)/2)",
            _table(
                [
                    "σ²",
                    "geometric mean ‖∇Wᵢ‖ (hidden)",
                    "max/min over layers",
                    "scale / scale(2/n) measured",
                    "theory (k/2)^((L−1)/2)",
                ],
                bwd,
            ),  # fmt: skip
            _img(folder, "gradient_norm.png"),
        ),
        _claim(
            "Training depends on the initialization",
            _table(
                [
                    "σ²",
                    "loss at init",
                    "‖g‖ at step 1",
                    "% steps clipped",
                    "last train loss",
                    "val accuracy",
                    "diverged",
                ],
                train_rows,
            )  # fmt: skip
            + story
            + unclipped_table,
            _img(folder, "training.png"),
        ),
        _claim(
            "Weights stay close to their initial values",
            "<p>‖Wᵢ − Wᵢ,₀‖/‖Wᵢ,₀‖ per layer after training (measured):</p>"
            + _table(["σ²", "min", "mean", "max"], change_rows),
            _img(folder, "weight_change.png"),
        ),
    ]
    if after_rows:
        parts.insert(
            -1,
            _claim(
                "The norm profiles after training, beside those at initialization",
                "<p>The same batch, before and after training (right panels of the forward and "
                "backward figures). ‖Z_L‖/‖Z₂‖ stayed within 10× of its value at initialization "
                f"for σ² = {', '.join(kept) or 'none'}; it changed by more for "
                f"{', '.join(moved) or 'none'}.</p>"
                + "".join(_dead_note(r) for r in runs if r.get("after_training"))
                + _table(
                    [
                        "σ²",
                        "‖Z_L‖/‖Z₂‖ init",
                        "after",
                        "gradient scale init",
                        "after",
                        "max/min init",
                        "after",
                    ],
                    after_rows,
                ),  # fmt: skip
                "",
            ),
        )
    if zeros is not None:
        parts.append(
            "<h3>Zero initialization</h3><p>All gradients below the last layer exactly zero: "
            f"<b>{_fmt(zeros['gradients_below_last_layer_exactly_zero'])}</b>; largest relative "
            f"weight change after training: {_fmt(max(zeros['weight_change']))} (the weights "
            "never move; with W = 0 even the last layer's weight gradient Z_Lᵀ G is 0 because "
            "Z_L = 0 — only the last bias learns).</p>"
        )
    return "\n".join(parts)


def render(
    optimizers: dict[str, Any], opt_dir: Path, init: dict[str, Any], init_dir: Path,
    sweeps: Sequence[str] = (),
) -> str:  # fmt: skip
    """Return the HTML page for the two experiments' results (figures read from their folders),
    followed by the ``sweeps`` sections (see :func:`mlplab.sweep.page.sweep_section`).

    Examples:
        Tiny versions of both experiments, without figures:

        >>> import tempfile
        >>> from mlplab.experiments.init_study import InitConfig, run_init_study
        >>> from mlplab.experiments.optimizers import OptimizersConfig, run_optimizers
        >>> a, b = Path(tempfile.mkdtemp()), Path(tempfile.mkdtemp())
        >>> opt = run_optimizers(a, OptimizersConfig(steps=20, ls_examples=100, ls_epochs=2),
        ...                      figures=False)
        >>> tiny = InitConfig(depth=3, width=8, epochs=1, train_examples=100, unclipped_steps=2)
        >>> ini = run_init_study(b, tiny, figures=False, progress=False)
        >>> render(opt, a, ini, b).startswith("<!DOCTYPE html>")
        True
    """
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>mlplab: the lecture's experiments</title><style>{_STYLE}</style></head><body>"
        "<h1>Fully connected networks, optimization, initialization — measured by mlplab</h1>"
        f"{_optimizer_section(optimizers, opt_dir)}\n{_init_section(init, init_dir)}"
        + "\n".join(sweeps)
        + "</body></html>"
    )


def _saved_results(experiment: str, folder: Path) -> dict[str, Any]:
    """The results.json that ``mlplab experiment <experiment> --out folder`` wrote."""
    results = folder / "results.json"
    if not results.is_file():
        raise FileNotFoundError(
            f"report: no {results}; run mlplab experiment {experiment} --out {folder} first"
        )
    return json.loads(results.read_text())


def write_report(
    out: str | Path, optimizers_dir: str | Path, init_dir: str | Path, rerun: bool = False,
    optimizers_config: Any = None, init_config: Any = None, sweeps: Sequence[str | Path] = (),
    normalization_dir: str | Path | None = None, newton_dir: str | Path | None = None,
) -> Path:  # fmt: skip
    """Run or reuse both experiments and write the self-contained HTML page to ``out``, with one
    section per sweep folder in ``sweeps`` (read first, so a bad folder fails before any run).

    Examples:
        Reusing the results of tiny runs (their ``results.json``):

        >>> import tempfile
        >>> from mlplab.experiments.init_study import InitConfig, run_init_study
        >>> from mlplab.experiments.optimizers import OptimizersConfig, run_optimizers
        >>> a, b = Path(tempfile.mkdtemp()), Path(tempfile.mkdtemp())
        >>> _ = run_optimizers(a, OptimizersConfig(steps=20, ls_examples=100, ls_epochs=2),
        ...                    figures=False)
        >>> tiny = InitConfig(depth=3, width=8, epochs=1, train_examples=100, unclipped_steps=2)
        >>> _ = run_init_study(b, tiny, figures=False, progress=False)
        >>> write_report(Path(tempfile.mkdtemp()) / "report.html", a, b).name
        'report.html'
    """
    from ..sweep.page import sweep_section

    sweep_sections = [sweep_section(folder) for folder in sweeps]
    if normalization_dir is not None:  # results of `mlplab experiment normalization`, not rerun
        from .normalization_report import normalization_section

        res = _saved_results("normalization", Path(normalization_dir))
        sweep_sections.insert(0, normalization_section(res, Path(normalization_dir)))
    if newton_dir is not None:  # results of `mlplab experiment newton`, not rerun
        from .newton_report import newton_section

        res = _saved_results("newton", Path(newton_dir))
        sweep_sections.insert(0, newton_section(res, Path(newton_dir)))
    opt = load_or_run("optimizers", Path(optimizers_dir), rerun, optimizers_config)
    ini = load_or_run("init", Path(init_dir), rerun, init_config)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    page = render(opt, Path(optimizers_dir), ini, Path(init_dir), sweep_sections)
    out.write_text(page, encoding="utf-8")
    return out
