"""mlplab experiment newton: spectra, classification, the damping search, the runner and its CLI."""

import contextlib
import io
import json
import math
from dataclasses import replace

import numpy as np
import pytest

from mlplab import Tensor
from mlplab.cli import main
from mlplab.experiments.newton_paths import end_point, first_order_run, newton_run
from mlplab.experiments.newton_problem import MLPProblem, make_problem
from mlplab.experiments.newton_spectrum import classify, damping_search, spectrum
from mlplab.experiments.newton_study import NewtonConfig, jsonable, run_newton


class Quadratic:
    """f(θ) = ½θᵀAθ with a symmetric A: ∇f = Aθ, ∇²f = A (the constructed cases)."""

    def __init__(self, diag):
        self.a = np.diag(np.asarray(diag, dtype=np.float64))

    def loss(self, theta):
        return 0.5 * (theta @ (Tensor(self.a) @ theta))

    def loss_grad(self, theta):
        return float(0.5 * theta @ self.a @ theta), self.a @ theta

    def hessian(self, theta):
        return self.a.copy()


def tiny_problem(seed=0):
    rng = np.random.default_rng(seed)
    return MLPProblem((3, 4, 2), rng.standard_normal((12, 3)), rng.integers(0, 2, 12))


def test_spectrum_agrees_with_eigvalsh_of_the_dense_hessian():
    p = tiny_problem()
    theta = p.init(1)
    hess = p.hessian(theta)
    ev = np.linalg.eigvalsh(hess)
    s = spectrum(hess)
    np.testing.assert_array_equal(s["eigenvalues"], ev)
    assert (s["lambda_min"], s["lambda_max"]) == (ev[0], ev[-1])
    tau = 1e-8 * np.abs(ev).max()
    assert s["fraction_negative"] == np.mean(ev < -tau)
    nonzero = np.abs(ev)[np.abs(ev) > tau]
    assert s["condition_nonzero"] == pytest.approx(nonzero.max() / nonzero.min())
    assert s["condition_positive"] == pytest.approx(ev[-1] / ev[ev > tau].min())
    assert s["fraction_negative"] > 0  # the tiny ReLU net is already indefinite


def test_the_hessian_matches_central_finite_differences_of_the_gradient():
    p = tiny_problem()
    theta = p.init(2)
    hess = p.hessian(theta)
    h, fd = 1e-6, np.zeros_like(hess)
    for i in range(p.n):
        e = np.zeros(p.n)
        e[i] = h
        fd[:, i] = (p.loss_grad(theta + e)[1] - p.loss_grad(theta - e)[1]) / (2 * h)
    np.testing.assert_allclose(hess, fd, atol=1e-6)
    np.testing.assert_allclose(hess, hess.T, atol=1e-12)


def test_spectrum_of_a_constructed_matrix():
    s = spectrum(np.diag([-2.0, -1e-12, 1e-3, 5.0]))
    assert s["fraction_negative"] == 0.5 - 0.25  # −1e-12 is numerically zero
    assert s["fraction_zero"] == 0.25 and s["condition"] == 5.0 / 1e-12
    assert s["condition_nonzero"] == 5.0 / 1e-3 and s["condition_positive"] == 5.0 / 1e-3


@pytest.mark.parametrize(
    ("args", "kwargs", "expected"),
    [
        ((2.0, 0.1, 1e-4, -1e-4, 1.0), {}, "minimum"),  # −1e-4 ≥ −1e-3·1: within tolerance
        ((2.0, 0.1, 1e-4, 0.3, 1.0), {}, "minimum"),
        ((2.0, 0.5, 1e-4, -0.01, 1.0), {}, "saddle"),
        ((2.0, 0.5, 1e-4, -0.01, 1.0), {"curvature_tol": 0.1}, "minimum"),
        ((2.0, 0.5, 0.01, -0.5, 1.0), {}, "not converged"),
        ((2.0, 0.5, 0.01, -0.5, 1.0), {"grad_tol": 0.1}, "saddle"),
        ((2.0, 21.0, 1e-9), {}, "diverged"),  # loss > 10 × start, though stationary
        ((2.0, 19.0, 5.0), {}, "not converged"),
        ((2.0, math.nan, 1.0), {}, "diverged"),
        ((2.0, 1.0, math.inf), {}, "diverged"),
        ((2.0, 1.0, 1e-9, 1.0, 1.0), {"failed": True}, "diverged"),
    ],
)
def test_classify_constructed_end_points(args, kwargs, expected):
    assert classify(*args, **kwargs) == expected


def test_classify_needs_the_curvature_of_a_stationary_point():
    with pytest.raises(ValueError, match="needs lambda_min"):
        classify(2.0, 0.1, 1e-6)


def test_end_point_classifies_a_saddle_a_minimum_and_a_failure():
    saddle = end_point(Quadratic([1.0, -1.0]), np.zeros(2), 1.0)
    assert (saddle["outcome"], saddle["lambda_min"]) == ("saddle", -1.0)
    bowl = end_point(Quadratic([1.0, 2.0]), np.zeros(2), 1.0)
    assert (bowl["outcome"], bowl["fraction_negative"]) == ("minimum", 0.0)
    away = end_point(Quadratic([1.0, 2.0]), np.ones(2), 1.0, always_spectrum=False)
    assert away["outcome"] == "not converged" and away["lambda_min"] is None
    failed = end_point(Quadratic([1.0, 2.0]), np.zeros(2), 1.0, failure="singular")
    assert failed["outcome"] == "diverged"


def test_full_newton_on_a_saddle_quadratic_goes_to_the_saddle():
    run = newton_run(Quadratic([1.0, -1.0]), np.array([1.0, 1.0]), 3)
    assert run["losses"] == [0.0, 0.0] and run["theta"].tolist() == [0.0, 0.0]
    assert end_point(Quadratic([1.0, -1.0]), run["theta"], 0.0)["outcome"] == "saddle"


def test_newton_run_records_a_singular_system_and_leaves_theta():
    run = newton_run(Quadratic([1.0, 0.0]), np.array([1.0, 1.0]), 3)
    assert "singular" in run["failure"] and run["theta"].tolist() == [1.0, 1.0]
    assert run["losses"] == [0.5]


def test_damping_search_finds_the_known_smallest_safe_lambda():
    # f = ½(x² − y²) from (0, 1): a (H + λI) step maps y ↦ λy/(λ − 1), so the loss −½y² falls
    # iff |λ/(λ − 1)| > 1 iff λ > ½; λ = 1 makes H + λI singular; λ = 0 climbs to the saddle.
    problem = Quadratic([1.0, -1.0])

    def run(lam):
        r = newton_run(problem, np.array([0.0, 1.0]), 3, damping=lam)
        return r["losses"] + ([math.inf] if r["failure"] else [])

    res = damping_search(run, [2.0, 0.6, 1.0, 0.4, 0.1, 0.0])
    assert res["lambdas"] == [0.0, 0.1, 0.4, 0.6, 1.0, 2.0]
    assert res["increases"] == [True, True, True, False, True, False]
    assert res["smallest_safe"] == 0.6
    assert res["losses"][0] == [-0.5, 0.0]
    y = 1.0
    for loss in res["losses"][3][1:]:
        y *= 0.6 / (0.6 - 1)
        assert loss == pytest.approx(-0.5 * y * y)
    assert damping_search(run, [0.0, 0.1])["smallest_safe"] is None


def test_first_order_run_is_the_library_optimizer():
    run = first_order_run(Quadratic([1.0, 4.0]), np.array([1.0, 1.0]), "gd", 0.1, 3, every=1)
    np.testing.assert_allclose(run["theta"], [0.9**3, 0.6**3])
    assert [t for t, _ in run["snapshots"]] == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="'gd' or 'adam'"):
        first_order_run(Quadratic([1.0]), np.ones(1), "sgd", 0.1, 1)


def test_jsonable_writes_no_nan_literals():
    text = json.dumps(jsonable({"x": [math.nan, -math.inf, np.float32(2.0)]}), allow_nan=False)
    assert text == '{"x": [null, null, 2.0]}'


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"starts": 0}, "starts must be an integer >= 1, got 0"),
        ({"hidden": (0,)}, "hidden must be positive integers"),
        ({"damping": -1.0}, "damping must be a number > 0, got -1.0"),
        ({"lambdas": (math.nan,)}, "lambdas must be numbers >= 0"),
        ({"blowup": 1.0}, "blowup must be > 1, got 1.0"),
        ({"start_damping_factor": 1.0}, "start_damping_factor must be a number > 1, got 1.0"),
        ({"start_damped_steps": 0}, "start_damped_steps must be an integer >= 1, got 0"),
        ({"cost_min_total_s": -1.0}, "cost_min_total_s must be >= 0, got -1.0"),
        ({"spectrum_points": 100, "first_order_steps": 10}, "spectrum_points (100)"),
    ],
)
def test_config_check_names_the_bad_key(change, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        NewtonConfig.quick(**change).check()


def _numbers(res):
    """Everything but the timings (and reason 3's cost, which is all timings)."""
    if isinstance(res, dict):
        return {
            k: _numbers(v)
            for k, v in res.items()
            if k not in ("timings", "seconds", "cost") and not k.endswith("_s")
        }
    if isinstance(res, list):
        return [_numbers(v) for v in res]
    return res


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """One ``mlplab experiment newton --quick`` run: (config, folder, results.json, printed)."""
    out = tmp_path_factory.mktemp("newton_quick") / "newton"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["experiment", "newton", "--quick", "--out", str(out), "--no-progress"]) == 0
    res = _strict((out / "results.json").read_text())
    return NewtonConfig.quick(), out, res, printed.getvalue()


def _no_figures(res):
    return {k: v for k, v in res.items() if k != "figures"}


def test_two_quick_runs_give_equal_numbers(quick, tmp_path):
    config, _, a, _ = quick  # the CLI's run, read back from its results.json
    b = run_newton(tmp_path / "b", config, progress=False, figures=False)
    saved = json.loads((tmp_path / "b" / "results.json").read_text())
    assert _numbers(saved) == _numbers(b)
    assert _numbers(_no_figures(a)) == _numbers(_no_figures(b))
    assert a["toy"]["claims"]["full_newton_one_step_on_saddle"] is True
    assert sum(a["starts"]["counts"]["newton_full"].values()) == config.starts
    # another seed moves θ₀ (fewer starts and λs: they do not enter reason 1)
    other = run_newton(tmp_path / "c", replace(config, seed=1, starts=1, lambdas=(0.0,)),
                       progress=False, figures=False)  # fmt: skip
    assert _numbers(other["local_optima"]) != _numbers(a["local_optima"])


def test_reason_5_damped_newton_uses_reason_4s_lambda_and_its_multiple(quick):
    config, _, res, _ = quick
    r5, safe = res["starts"], res["damping"]["smallest_safe"]
    problem = make_problem(hidden=config.hidden, n_train=config.n_train, seed=config.seed)
    lam = config.damping if safe is None else safe
    assert r5["dampings"] == {"newton_damped": lam, "newton_damped_large": 10 * lam}
    for key in ("newton_full", "newton_damped", "newton_damped_large", "gd", "adam"):
        assert sum(r5["counts"][key].values()) == config.starts
    steps = config.start_damped_steps
    for row in r5["rows"]:
        for key, damping in r5["dampings"].items():
            end = row[key]
            assert end["lambda_min"] is not None and end["steps"] <= steps  # always a spectrum
            again = newton_run(problem, problem.init(row["seed"]), steps, damping=damping,
                               blowup=config.blowup)  # fmt: skip
            assert end["loss"] == again["losses"][-1]
            ls = again["losses"]
            assert end["loss_up"] == any(b >= a for a, b in zip(ls[:-1], ls[1:], strict=False))
    spread = r5["spread"]["newton_damped"]["lambda_min"]
    lmins = [r["newton_damped"]["lambda_min"] for r in r5["rows"]]
    assert (spread["min"], spread["max"], spread["finite"]) == (min(lmins), max(lmins), 3)
    assert spread["median"] == float(np.median(lmins))


def _strict(text):
    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def test_cli_quick_run_writes_results_figures_and_the_report_section(quick, tmp_path,
                                                                      monkeypatch):  # fmt: skip
    _, out, res, printed = quick
    assert "local optima:" in printed and "starting point:" in printed and "wrote" in printed
    assert res["config"]["starts"] == 3 and res["cost"]["n"] == [70, 130]
    pytest.importorskip("matplotlib")
    assert "newton_toy.png" in res["figures"] and "newton_cost.png" in res["figures"]
    for name in res["figures"]:
        assert (out / name).stat().st_size > 1000

    from mlplab.experiments import report

    monkeypatch.setattr(report, "load_or_run", lambda *a, **k: {})
    monkeypatch.setattr(report, "render", lambda o, od, i, idir, sections: "".join(sections))
    page = tmp_path / "page.html"
    assert main(["report", "--out", str(page), "--newton-dir", str(out)]) == 0
    html = page.read_text(encoding="utf-8")
    assert "局部最优性" in html and "Local optimality" in html and "Measured:" in html
    for name in res["figures"]:
        assert f'alt="{name}" src="data:image/png;base64,' in html


@pytest.mark.parametrize(
    "argv",
    [
        ["experiment", "newton", "--starts", "0"],
        ["experiment", "newton", "--seed", "-1"],
        ["experiment", "newton", "--seed", "x"],
        ["report", "--newton-dir", "{tmp}"],
    ],
)
def test_bad_cli_input_exits_2_with_one_line(argv, tmp_path, capsys):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) <= 3 and err  # argparse: usage + error; mlplab's own: one line
    assert any(w in err[-1] for w in ("--starts", "--seed", "--newton-dir"))


def test_cli_refuses_a_non_empty_out(tmp_path, capsys):
    (tmp_path / "old.txt").write_text("keep me")
    assert main(["experiment", "newton", "--quick", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--overwrite" in err[0]
    assert (tmp_path / "old.txt").read_text() == "keep me"


def test_without_matplotlib_the_figures_are_skipped_with_one_line(tmp_path, capsys, monkeypatch):
    import sys

    from mlplab.experiments.newton_figures import newton_figures
    from mlplab.experiments.newton_toy import toy_study

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    assert newton_figures({"toy": toy_study()}, tmp_path) == []
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "matplotlib" in err[0] and "mlplab[lab]" in err[0]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_exact_zero_eigenvalues_are_the_predicted_flat_directions(seed):
    from mlplab.experiments.newton_problem import make_problem
    from mlplab.experiments.newton_spectrum import flat_directions

    p = make_problem(hidden=(3,), n_train=200)
    theta = p.init(seed)
    hess = p.hessian(theta)
    d = flat_directions(p, theta, np.linalg.eigvalsh(hess), hess)
    assert d["softmax_shift"] == 4 and d["unseen_inputs"] >= 2 * 3  # two constant corner tiles
    assert d["predicted"] == d["measured"]
    assert d["softmax_shift_curvature"] < 1e-14
