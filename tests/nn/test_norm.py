"""BatchNorm1d and LayerNorm: formulas, running statistics, errors, first and second derivatives."""

import sys
from pathlib import Path

import numpy as np
import pytest

import mlplab
from mlplab import nn
from mlplab.functional import batch_norm, layer_norm

sys.path.insert(0, str(Path(__file__).parents[1] / "core"))
from gradcheck import check_second_order, check_vjp  # noqa: E402


def _x(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape) * 2.0 + 0.5


def test_batch_norm_training_is_the_formula_with_the_biased_variance():
    x = _x((6, 4))
    bn = nn.BatchNorm1d(4, dtype=np.float64)
    y = bn(mlplab.tensor(x)).numpy()
    mu, var = x.mean(0), x.var(0)
    np.testing.assert_allclose(y, (x - mu) / np.sqrt(var + 1e-5), rtol=1e-12)
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.1 * mu, rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.numpy(), 0.9 + 0.1 * x.var(0, ddof=1), rtol=1e-12)
    assert int(bn.num_batches_tracked.item()) == 1


def test_batch_norm_eval_uses_running_statistics_and_momentum_none_averages():
    bn = nn.BatchNorm1d(3, momentum=None, dtype=np.float64)
    batches = [_x((5, 3), seed) for seed in range(4)]
    for x in batches:
        bn(mlplab.tensor(x))
    np.testing.assert_allclose(bn.running_mean.numpy(), np.mean([b.mean(0) for b in batches], 0))
    np.testing.assert_allclose(
        bn.running_var.numpy(), np.mean([b.var(0, ddof=1) for b in batches], 0)
    )
    bn.eval()
    x = _x((2, 3), 9)
    expected = (x - bn.running_mean.numpy()) / np.sqrt(bn.running_var.numpy() + 1e-5)
    np.testing.assert_allclose(bn(mlplab.tensor(x)).numpy(), expected, rtol=1e-12)
    assert int(bn.num_batches_tracked.item()) == 4  # eval does not count


def test_batch_norm_without_running_stats_normalizes_with_the_batch_in_eval_too():
    bn = nn.BatchNorm1d(3, affine=False, track_running_stats=False, dtype=np.float64).eval()
    x = _x((4, 3))
    np.testing.assert_allclose(
        bn(mlplab.tensor(x)).numpy(), (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5), rtol=1e-12
    )
    assert list(bn.named_buffers()) == [] and list(bn.parameters()) == []


def test_batch_norm_3d_input_normalizes_over_batch_and_length():
    x = _x((3, 2, 4))
    y = batch_norm(mlplab.tensor(x), None, None, training=True).numpy()
    mu, var = x.mean((0, 2), keepdims=True), x.var((0, 2), keepdims=True)
    np.testing.assert_allclose(y, (x - mu) / np.sqrt(var + 1e-5), rtol=1e-12)


def test_batch_norm_refuses_a_training_batch_of_one_row_and_counts_nothing():
    bn = nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(mlplab.tensor(np.ones((1, 3), np.float32)))
    assert int(bn.num_batches_tracked.item()) == 0
    assert bn.eval()(mlplab.tensor(np.ones((1, 3), np.float32))).shape == (1, 3)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"num_features": 0}, "num_features"),
        ({"num_features": 3, "momentum": 1.5}, "momentum"),
        ({"num_features": 3, "eps": -1.0}, "eps"),
    ],
)
def test_batch_norm_validates_its_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        nn.BatchNorm1d(**kwargs)


def test_batch_norm_refuses_the_wrong_number_of_features():
    with pytest.raises(ValueError, match="expected 3 features"):
        nn.BatchNorm1d(3)(mlplab.tensor(np.ones((4, 5), np.float32)))
    with pytest.raises(ValueError, match="2-D"):
        nn.BatchNorm1d(3)(mlplab.tensor(np.ones(3, np.float32)))


def test_layer_norm_is_the_formula_per_row_and_refuses_a_wrong_trailing_shape():
    x = _x((5, 4))
    ln = nn.LayerNorm(4, dtype=np.float64)
    mu, var = x.mean(1, keepdims=True), x.var(1, keepdims=True)
    np.testing.assert_allclose(ln(mlplab.tensor(x)).numpy(), (x - mu) / np.sqrt(var + 1e-5))
    x3 = _x((2, 3, 4))
    y = layer_norm(mlplab.tensor(x3), (3, 4)).numpy()
    mu, var = x3.mean((1, 2), keepdims=True), x3.var((1, 2), keepdims=True)
    np.testing.assert_allclose(y, (x3 - mu) / np.sqrt(var + 1e-5))
    with pytest.raises(ValueError, match="normalized_shape"):
        ln(mlplab.tensor(np.ones((2, 5))))
    with pytest.raises(ValueError, match="normalized_shape"):
        nn.LayerNorm(0)
    assert [n for n, _ in nn.LayerNorm(4, bias=False).named_parameters()] == ["weight"]
    assert list(nn.LayerNorm(4, elementwise_affine=False).parameters()) == []


def _bn(x, w, b):
    return batch_norm(x, None, None, w, b, training=True)


def _ln(x, w, b):
    return layer_norm(x, x.shape[-1], w, b)


@pytest.mark.parametrize("fn", [_bn, _ln], ids=["batch_norm", "layer_norm"])
def test_first_derivatives_match_central_differences(fn):
    rng = np.random.default_rng(3)
    arrays = [_x((5, 4), 1), rng.standard_normal(4) + 1.0, rng.standard_normal(4)]
    check_vjp(fn, arrays, rng, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("fn", [_bn, _ln], ids=["batch_norm", "layer_norm"])
def test_hessian_vector_products_match_differences_of_the_gradient(fn):
    rng = np.random.default_rng(4)
    arrays = [_x((4, 3), 2), rng.standard_normal(3) + 1.0, rng.standard_normal(3)]
    check_second_order(fn, arrays, rng, rtol=1e-4, atol=1e-6)


def test_eval_batch_norm_gradient_is_the_running_scale():
    rng = np.random.default_rng(5)
    mean, var = rng.standard_normal(3), rng.uniform(0.5, 2.0, 3)

    def fn(x, w, b):
        return batch_norm(x, mean, var, w, b, training=False)

    check_vjp(fn, [_x((4, 3)), rng.standard_normal(3), rng.standard_normal(3)], rng)


def test_mlp_options_are_validated_and_laid_out_as_documented():
    with pytest.raises(ValueError, match="norm must be None, 'batch' or 'layer', got 'group'"):
        nn.MLP(4, 2, width=3, depth=3, norm="group")
    with pytest.raises(TypeError, match="residual must be a bool"):
        nn.MLP(4, 2, width=3, depth=3, residual=1)
    with pytest.raises(ValueError, match="p must be a probability"):
        nn.MLP(4, 2, width=3, depth=3, dropout=1.5)
    model = nn.MLP(4, 2, width=3, depth=3, norm="layer", residual=True, rng=0, dtype=np.float64)
    assert [type(n).__name__ for n in model.norms] == ["LayerNorm", "LayerNorm"]
    x = _x((5, 4))
    l0, l1, l2 = model.layers
    z2 = np.maximum(
        layer_norm(mlplab.tensor(x @ l0.weight.numpy() + l0.bias.numpy()), 3).numpy(), 0
    )
    h = z2 @ l1.weight.numpy() + l1.bias.numpy()
    z3 = np.maximum(layer_norm(mlplab.tensor(h), 3).numpy(), 0) + z2  # residual: width 3 → 3
    np.testing.assert_allclose(
        model(mlplab.tensor(x)).numpy(), z3 @ l2.weight.numpy() + l2.bias.numpy(), rtol=1e-12
    )


def test_mlp_dropout_masks_follow_the_seed():
    x = mlplab.tensor(np.ones((4, 6), np.float32))
    a = nn.MLP(6, 2, width=8, depth=3, dropout=0.5, rng=3)(x).numpy()
    b = nn.MLP(6, 2, width=8, depth=3, dropout=0.5, rng=3)(x).numpy()
    np.testing.assert_array_equal(a, b)
    plain = nn.MLP(6, 2, width=8, depth=3, rng=3)
    dropped = nn.MLP(6, 2, width=8, depth=3, dropout=0.5, rng=3)
    np.testing.assert_array_equal(plain.layers[0].weight.numpy(), dropped.layers[0].weight.numpy())
    np.testing.assert_array_equal(plain(x).numpy(), dropped.eval()(x).numpy())
