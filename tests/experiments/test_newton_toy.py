"""The saddle f(x, y) = x² − y²: full Newton lands on it, damped Newton (H + λI) escapes it."""

import numpy as np
import pytest

from mlplab.experiments.newton_toy import ToyConfig, saddle_derivatives, toy_path, toy_study

H = np.diag([2.0, -2.0])  # ∇²f, the same everywhere


def reference_path(start, steps, lr=1.0, damping=0.0, newton=True):
    """A plain NumPy transcription: θ ← θ − α (H + λI)⁻¹ ∇f (Newton) or θ ← θ − α∇f (GD)."""
    theta = np.array(start, dtype=np.float64)
    points = [theta.copy()]
    for _ in range(steps):
        g = np.array([2 * theta[0], -2 * theta[1]])
        d = np.linalg.solve(H + damping * np.eye(2), g) if newton else g
        theta = theta - lr * d
        points.append(theta.copy())
    return np.stack(points)


@pytest.mark.parametrize("start", [(1.0, 0.5), (-3.0, 2.0), (0.25, -7.0), (1e-3, 1e3)])
def test_one_full_newton_step_lands_exactly_on_the_saddle(start):
    path = toy_path("newton", start, 1)
    assert path[1].tolist() == [0.0, 0.0]
    at = saddle_derivatives(path[1])
    assert at["gradient"] == [0.0, 0.0]
    low, high = at["eigenvalues"]
    assert low < 0 < high
    assert at["eigenvalues"] == [-2.0, 2.0]


@pytest.mark.parametrize("damping", [2.5, 4.0, 10.0])
def test_newton_with_damping_above_the_negative_curvature_moves_away_along_y(damping):
    path = toy_path("newton", (1.0, 0.5), 4, damping=damping)
    np.testing.assert_allclose(path, reference_path((1.0, 0.5), 4, damping=damping), rtol=1e-14)
    ys, xs = np.abs(path[:, 1]), np.abs(path[:, 0])
    assert np.all(np.diff(ys) > 0)  # away from the saddle, along y
    assert np.all(np.diff(xs) < 0)  # towards it along x: descent on both axes
    values = path[:, 0] ** 2 - path[:, 1] ** 2
    assert np.all(np.diff(values) < 0)


def test_the_lectures_damped_step_still_converges_to_the_saddle():
    path = toy_path("newton", (1.0, 0.5), 6, lr=0.5)
    np.testing.assert_allclose(path, reference_path((1.0, 0.5), 6, lr=0.5), rtol=1e-14)
    np.testing.assert_allclose(path[1:] / path[:-1], 0.5)


def test_gradient_descent_matches_the_transcription_and_escapes():
    path = toy_path("gd", (1.0, 0.5), 5, lr=0.1)
    np.testing.assert_allclose(path, reference_path((1.0, 0.5), 5, lr=0.1, newton=False))
    assert np.all(np.diff(np.abs(path[:, 1])) > 0)


def test_the_derivatives_come_from_the_library_and_match_the_closed_form():
    d = saddle_derivatives([1.5, -0.5])
    assert d["value"] == 1.5**2 - 0.25
    assert d["gradient"] == [3.0, 1.0]
    assert d["hessian"] == H.tolist()


def test_toy_study_claims_and_bad_damping():
    res = toy_study(ToyConfig(steps=3))
    assert res["claims"]["full_newton_one_step_on_saddle"] is True
    assert res["claims"]["damped_alpha_error_ratio"] == 0.5
    assert res["claims"]["levenberg_moves_away_along_y"] is True
    assert res["saddle"]["eigenvalues"] == [-2.0, 2.0]
    with pytest.raises(ValueError, match="damping must be > "):
        toy_study(ToyConfig(damping=1.0))
    with pytest.raises(ValueError, match="method must be"):
        toy_path("adam", (1.0, 1.0), 1)
