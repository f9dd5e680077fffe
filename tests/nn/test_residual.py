"""Residual: y = F(z) + z, its gradient I + ∂F/∂z, and the shape error."""

import sys
from pathlib import Path

import numpy as np
import pytest

import mlplab
from mlplab import nn

sys.path.insert(0, str(Path(__file__).parents[1] / "core"))
from gradcheck import check_vjp  # noqa: E402


def test_output_is_block_plus_input():
    linear = nn.Linear(3, 3, rng=0, dtype=np.float64)
    x = np.random.default_rng(1).standard_normal((4, 3))
    y = nn.Residual(linear)(mlplab.tensor(x)).numpy()
    np.testing.assert_allclose(y, x @ linear.weight.numpy() + linear.bias.numpy() + x)


def test_gradient_matches_central_differences():
    rng = np.random.default_rng(2)
    block = nn.Sequential(nn.Linear(3, 3, rng=0, dtype=np.float64), nn.Tanh())
    check_vjp(nn.Residual(block), [rng.standard_normal((4, 3))], rng)


def test_a_block_that_changes_the_shape_is_refused_naming_both_shapes():
    with pytest.raises(ValueError, match=r"Linear changed the shape from \(2, 3\) to \(2, 4\)"):
        nn.Residual(nn.Linear(3, 4, rng=0))(mlplab.tensor(np.ones((2, 3), np.float32)))
    with pytest.raises(TypeError, match="fn must be a Module"):
        nn.Residual(lambda x: x)


def test_parameters_of_the_block_are_the_residual_parameters():
    block = nn.Linear(3, 3, rng=0)
    assert [n for n, _ in nn.Residual(block).named_parameters()] == ["fn.weight", "fn.bias"]
