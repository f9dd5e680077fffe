"""The optimizer claims on the 2-D quadratic, with mlplab.optim's real classes."""

import json

import numpy as np
import pytest

from mlplab import optim
from mlplab.experiments.optimizers import OptimizersConfig, run_optimizers
from mlplab.experiments.quadratic import Quadratic, ill_conditioned, run_trajectory


def test_newton_full_step_solves_the_quadratic_in_one_step():
    f = ill_conditioned(1.0, 50.0, 20.0)
    path = run_trajectory(f, lambda p: optim.Newton(p, lr=1.0), [-3.0, 4.0], 1)
    assert np.linalg.norm(path[1] - f.optimum) <= 1e-10


def test_damped_newton_halves_the_error():
    f = ill_conditioned()
    path = run_trajectory(f, lambda p: optim.Newton(p, lr=0.5), [-2.0, 2.5], 3)
    err = np.linalg.norm(path - f.optimum, axis=1)
    np.testing.assert_allclose(err[1:] / err[:-1], 0.5, rtol=1e-9)


@pytest.mark.parametrize(
    "factor, converges", [(0.9, True), (0.99, True), (1.01, False), (1.1, False)]
)
def test_gd_converges_iff_lr_below_two_over_lambda_max(factor, converges):
    f = Quadratic(np.array([[10.0, 2.0], [2.0, 1.0]]), np.array([1.0, -1.0]))
    lr = factor * 2 / f.lambda_max
    path = run_trajectory(f, lambda p: optim.GD(p, lr=lr), [1.0, 1.0], 3000)
    e0, e_end = (np.linalg.norm(path[i] - f.optimum) for i in (0, -1))
    assert (e_end < 1e-6 * e0) == converges
    assert (e_end > e0) == (not converges)


def test_run_optimizers_writes_results_and_figures(tmp_path):
    cfg = OptimizersConfig(steps=40, ls_examples=1000, ls_epochs=2)
    res = run_optimizers(tmp_path, cfg)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["claims"]["newton_full_step_error_after_1_step"] <= 1e-10
    assert saved["claims"]["gd_diverges_above_threshold"]
    assert saved["runs"]["gd_diverge"]["final_error"] > saved["problem"]["initial_error"]
    assert saved["claims"]["unbiased_over_plain_first_step_length"] == pytest.approx(10.0)
    assert (
        saved["least_squares"]["sgd"]["excess_loss_after_epochs"]["1"]
        < (saved["least_squares"]["gd"]["excess_loss_after_epochs"]["1"])
    )
    for name in res["figures"]:
        assert (tmp_path / name).stat().st_size > 10_000
