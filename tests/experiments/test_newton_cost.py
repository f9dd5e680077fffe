"""Reason 3 (cost): the exponent fit on known timings, and the structure of a tiny measurement."""

import json

import numpy as np
import pytest

import mlplab
from mlplab.experiments.newton_cost import TIMES, fit_exponent, measure_cost
from mlplab.experiments.newton_cost_figures import cost_finding, format_cost_table
from mlplab.experiments.newton_problem import MLPProblem, pooled_mnist


@pytest.mark.parametrize("power", [1.0, 2.0, 3.0])
def test_fit_exponent_recovers_known_powers_from_noisy_timings(power):
    rng = np.random.default_rng(int(power))
    n = np.array([130, 250, 490, 970, 1930, 3010], dtype=float)
    cost = 2e-9 * n**power * np.exp(rng.normal(0.0, 0.05, len(n)))  # ±5 % multiplicative noise
    assert abs(fit_exponent(n, cost) - power) < 0.05
    assert fit_exponent(n, 7e-3 * n**power) == pytest.approx(power, abs=1e-12)


def test_fit_exponent_is_the_least_squares_slope():
    n, cost = [1.0, 2.0, 4.0], [1.0, 8.0, 16.0]
    u, v = np.log(n), np.log(cost)
    assert fit_exponent(n, cost) == pytest.approx(np.polyfit(u, v, 1)[0], abs=1e-12)


@pytest.mark.parametrize(
    ("n", "cost", "message"),
    [
        ([10], [1.0], "at least 2"),
        ([10, 20, 30], [1.0, 2.0], "at least 2"),
        ([10, 20], [1.0, 0.0], "cost must be finite and > 0"),
        ([10, -20], [1.0, 2.0], "n must be finite and > 0"),
        ([10, 20], [1.0, float("nan")], "cost must be finite and > 0"),
        ([10, 10], [1.0, 2.0], "all equal"),
    ],
)
def test_fit_exponent_bad_input_is_one_line_value_error(n, cost, message):
    with pytest.raises(ValueError, match=message) as info:
        fit_exponent(n, cost)
    assert "\n" not in str(info.value)


@pytest.fixture(scope="module")
def tiny():
    return measure_cost((1, 2, 3, 4), n_train=24, repeats=2, seed=0, progress=False, min_total_s=0)


def test_measure_cost_structure_and_json(tiny):
    json.loads(json.dumps(tiny))  # JSON-able as it is
    assert tiny["threads"] == 1 and tiny["n_train"] == 24 and tiny["repeats"] == 2
    assert [row["n"] for row in tiny["rows"]] == tiny["n"] == [70, 130, 190, 250]
    assert [row["hidden"] for row in tiny["rows"]] == [1, 2, 3, 4]
    for row in tiny["rows"]:
        for key, _ in TIMES:
            assert row[key] > 0
        assert row["hessian_over_gradient"] == row["hessian_s"] / row["gradient_s"]
        assert row["cg_over_gradient"] == row["cg_s"] / row["gradient_s"]
        assert row["cg_iterations"] >= 1 and row["cg_error"] is None
        for key in ("gradient_peak_bytes", "cg_peak_bytes", "solve_peak_bytes"):
            assert row[key] > 0
    assert tiny["exponents"]["all"]["n"] == tiny["n"]
    assert tiny["exponents"]["large"]["n"] == [190, 250]  # the largest half
    for fit in tiny["exponents"].values():
        for key, _ in TIMES:
            assert np.isfinite(fit[key])
    assert tiny["ratios"]["cg_over_gradient"] == [r["cg_over_gradient"] for r in tiny["rows"]]


def test_memory_is_n_squared_times_8(tiny):
    for row in tiny["rows"]:
        assert row["hessian_bytes"] == row["n"] ** 2 * 8
        assert row["gradient_bytes"] == row["n"] * 8
        assert row["solve_peak_bytes"] >= row["hessian_bytes"]  # H + λI is a new n×n array
    assert tiny["exponents"]["all"]["hessian_bytes"] == pytest.approx(2.0, abs=1e-12)


def test_spectrum_and_damping_agree_with_eigvalsh_of_the_dense_hessian(tiny):
    x, y, _, _ = pooled_mnist(n_train=24, n_test=0, seed=0)
    for row in tiny["rows"]:
        p = MLPProblem((49, row["hidden"], 10), x, y)
        eig = np.linalg.eigvalsh(p.hessian(p.init(0)))
        assert row["lambda_min"] == pytest.approx(eig[0], abs=1e-10)
        assert row["lambda_max"] == pytest.approx(eig[-1], abs=1e-10)
        assert row["damping"] == pytest.approx(max(-2 * eig[0], 1e-3 * eig[-1]), abs=1e-10)


def test_cg_direction_equals_the_dense_solve_on_a_positive_definite_case(tiny):
    for row in tiny["rows"]:
        assert row["lambda_min"] + row["damping"] > 0
        assert row["cg_relative_difference"] < 1e-6
    fixed = measure_cost(
        (2,), n_train=24, repeats=1, progress=False, min_total_s=0, damping=3.0, cg_tol=1e-12
    )
    (row,) = fixed["rows"]
    assert row["damping"] == 3.0 and row["cg_relative_difference"] < 1e-9


def test_cg_on_an_indefinite_system_is_recorded_not_raised():
    result = measure_cost((2,), n_train=24, repeats=1, progress=False, min_total_s=0, damping=0.0)
    (row,) = result["rows"]
    assert row["lambda_min"] < 0  # the Hessian at initialization is indefinite
    assert row["cg_s"] is None and row["cg_iterations"] is None
    assert "not positive definite" in row["cg_error"]
    assert row["cg_relative_difference"] is None and row["cg_peak_bytes"] is None
    assert (row["solve_s"] is None) == (row["solve_error"] is not None)
    assert "failed" in format_cost_table(result)
    assert result["exponents"]["all"]["cg_s"] is None


def test_thread_count_is_restored():
    before = mlplab.get_num_threads()
    mlplab.set_num_threads(2)
    try:
        result = measure_cost((1,), n_train=8, repeats=1, progress=False, min_total_s=0)
        assert result["threads"] == 1 and mlplab.get_num_threads() == 2
    finally:
        mlplab.set_num_threads(before)


def test_progress_lines_go_to_stderr(capsys):
    measure_cost((1,), n_train=8, repeats=1, progress=True, min_total_s=0)
    assert "newton cost: 1/1" in capsys.readouterr().err
    measure_cost((1,), n_train=8, repeats=1, progress=False, min_total_s=0)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hidden_sizes": ()}, "hidden_sizes"),
        ({"hidden_sizes": (2, 0)}, "hidden_sizes"),
        ({"repeats": 0}, "repeats"),
        ({"threads": 0}, "threads"),
        ({"damping": -1.0}, "damping"),
        ({"n_train": 5000}, "n_train"),
        ({"clock": "time"}, "clock must be one of"),
        ({"min_total_s": -1.0}, "min_total_s"),
    ],
)
def test_measure_cost_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        measure_cost(**{"progress": False, **kwargs})


def test_format_cost_table_has_a_row_per_size_and_the_exponents(tiny):
    lines = format_cost_table(tiny).splitlines()
    assert len(lines) == 1 + 4 + 2
    assert lines[1].split()[0] == "70" and lines[4].split()[0] == "250"
    assert "H memory 2.00" in lines[-1]


def synthetic_result():
    rows = []
    for h in (2, 8, 32):
        n = 60 * h + 10
        rows.append(
            {
                "hidden": h, "n": n, "gradient_s": 1e-6 * n, "hvp_s": 3e-6 * n,
                "hessian_s": 1e-6 * n**2, "solve_s": 1e-10 * n**3, "eigvalsh_s": 3e-10 * n**3,
                "cg_s": None if h == 2 else 5e-5 * n, "hessian_bytes": 8 * n**2,
                "solve_peak_bytes": 16 * n**2, "gradient_bytes": 8 * n,
                "gradient_peak_bytes": 100 * n, "cg_peak_bytes": None if h == 2 else 300 * n,
            }
        )  # fmt: skip
    fits = {"n": [r["n"] for r in rows], "gradient_s": 1.0, "hessian_s": 2.0, "cg_s": None}
    return {"rows": rows, "exponents": {"all": fits, "large": fits}, "threads": 1, "n_train": 8}


def test_plot_cost_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    from mlplab.experiments.newton_cost_figures import plot_cost

    out = plot_cost(synthetic_result(), tmp_path / "sub" / "cost.png")
    assert out == tmp_path / "sub" / "cost.png"
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000


def test_cost_finding_reads_the_largest_size(tiny):
    text = cost_finding(tiny)
    last = tiny["rows"][-1]
    assert text.startswith("at n = 250: H takes 0.5 MB (n²·8 bytes, p = 2.00;")
    assert f"{last['cg_iterations']} iterations" in text
    assert f"= {last['hessian_over_gradient']:.0f} gradients" in text


def test_process_time_clock_is_recorded():
    result = measure_cost(
        (1,), n_train=8, repeats=1, progress=False, min_total_s=0, clock="process_time"
    )
    assert result["clock"] == "process_time" and "process_time" in result["timer"]
    assert all(result["rows"][0][key] > 0 for key, _ in TIMES)


def test_short_calls_repeat_until_min_total_s_and_slow_calls_run_once():
    from mlplab.experiments.newton_cost import _min_time

    def fake(step):
        ticks, calls = iter(np.arange(0, 1e4, step)), []
        return (lambda: float(next(ticks))), calls

    clock, calls = fake(0.01)  # each call takes 0.01 "s" by this clock
    best, _ = _min_time(lambda: calls.append(1), 3, clock, min_total_s=0.1)
    assert len(calls) == 10 and best == pytest.approx(0.01)
    clock, calls = fake(0.01)
    _min_time(lambda: calls.append(1), 3, clock, min_total_s=0.0)
    assert len(calls) == 3
    clock, calls = fake(2.0)  # over 1 s: one call, whatever the settings
    best, _ = _min_time(lambda: calls.append(1), 3, clock, min_total_s=10.0)
    assert len(calls) == 1 and best == pytest.approx(2.0)
