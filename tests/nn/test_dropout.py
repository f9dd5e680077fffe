"""Dropout: keep rate, unbiasedness, eval identity, the NumPy transcription of the mask, errors."""

import sys
from pathlib import Path

import numpy as np
import pytest

import mlplab
from mlplab import nn
from mlplab.functional import dropout

sys.path.insert(0, str(Path(__file__).parents[1] / "core"))
from gradcheck import check_second_order, check_vjp  # noqa: E402

N = 1_000_000


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_keep_rate_and_mean_are_within_five_standard_errors(p):
    rng = np.random.default_rng(0)
    x = rng.uniform(0.5, 1.5, N)
    y = dropout(mlplab.tensor(x), p, rng=np.random.default_rng(1)).numpy()
    kept = y != 0
    keep_se = np.sqrt(p * (1 - p) / N)
    assert abs(kept.mean() - (1 - p)) < 5 * keep_se
    np.testing.assert_allclose(y[kept], x[kept] / (1 - p))
    ratio = y / x  # E[y/x] = 1, each term m/(1−p) with variance p/(1−p)
    assert abs(ratio.mean() - 1.0) < 5 * np.sqrt(p / (1 - p) / N)


def test_mask_is_the_numpy_transcription_for_the_same_generator():
    x = np.random.default_rng(2).standard_normal((7, 9))
    ours = nn.Dropout(0.3, rng=np.random.default_rng(5))
    first, second = ours(mlplab.tensor(x)).numpy(), ours(mlplab.tensor(x)).numpy()
    rng = np.random.default_rng(5)
    for got in (first, second):  # the generator continues its stream from mask to mask
        keep = rng.random(x.shape) >= 0.3
        np.testing.assert_array_equal(got, x * (keep.astype(x.dtype) * (1 / 0.7)))


def test_eval_mode_and_p_zero_are_the_identity_and_p_one_drops_everything():
    x = mlplab.tensor(np.ones((3, 4), np.float32))
    assert nn.Dropout(0.5).eval()(x) is x
    assert dropout(x, 0.0) is x
    np.testing.assert_array_equal(dropout(x, 1.0, rng=0).numpy(), np.zeros((3, 4), np.float32))
    assert dropout(x, 0.5, rng=0).dtype == np.float32


def test_default_generator_is_the_library_one():
    x = mlplab.tensor(np.ones(50))
    mlplab.random.manual_seed(11)
    a = nn.Dropout(0.5)(x).numpy()
    mlplab.random.manual_seed(11)
    np.testing.assert_array_equal(nn.Dropout(0.5)(x).numpy(), a)


@pytest.mark.parametrize("p", [-0.1, 1.5, "0.5", True, float("nan")])
def test_p_outside_zero_one_is_refused_by_name(p):
    with pytest.raises(ValueError, match="p must be a probability in"):
        nn.Dropout(p)
    with pytest.raises(ValueError, match="dropout: p"):
        dropout(mlplab.tensor(np.ones(2)), p)


def test_derivatives_are_the_mask_first_and_zero_second():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 5))

    def fn(z):  # the same mask at every evaluation: a fresh generator with one seed
        return dropout(z * z, 0.4, rng=np.random.default_rng(7))

    check_vjp(fn, [x], rng)
    check_second_order(fn, [x], rng)
