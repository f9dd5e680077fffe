"""Linear: y = x W + b with W stored (in, out); initialization, validation, gradients."""

import numpy as np
import pytest

import mlplab
from mlplab import init, nn


def test_forward_is_x_w_plus_b_with_the_lecture_layout():
    layer = nn.Linear(4, 3, rng=0, dtype=np.float64)
    assert layer.weight.shape == (4, 3) and layer.bias.shape == (3,)
    x = np.random.default_rng(1).standard_normal((5, 4))
    out = layer(mlplab.tensor(x))
    np.testing.assert_allclose(out.numpy(), x @ layer.weight.numpy() + layer.bias.numpy())
    # leading batch dimensions broadcast too
    x3 = np.random.default_rng(2).standard_normal((2, 5, 4))
    np.testing.assert_allclose(
        layer(mlplab.tensor(x3)).numpy(), x3 @ layer.weight.numpy() + layer.bias.numpy()
    )


def test_bias_is_added_without_copying_it():
    layer = nn.Linear(4, 3, rng=0)
    # a batch (2-D): one affine node on the parameters themselves, the bias added in place
    out = layer(mlplab.tensor(np.ones((6, 4), np.float32)))
    assert out.inputs[1] is layer.weight and out.inputs[2] is layer.bias
    # more leading dimensions: an explicit broadcast, a stride-0 view of the bias
    out = layer(mlplab.tensor(np.ones((2, 6, 4), np.float32)))
    broadcast_bias = out.inputs[1]
    assert broadcast_bias.shape == (2, 6, 3)
    assert np.shares_memory(broadcast_bias.data, layer.bias.data)
    assert broadcast_bias.data.strides[:2] == (0, 0)


def test_gradients_match_finite_differences_with_a_random_upstream_gradient():
    rng = np.random.default_rng(0)
    layer = nn.Linear(3, 2, rng=1, dtype=np.float64)
    x = mlplab.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    g = rng.standard_normal((4, 2))

    def f() -> float:
        return float((layer(x).numpy() * g).sum())

    (layer(x) * mlplab.tensor(g)).sum().backward()
    for tensor in (layer.weight, layer.bias, x):
        numeric = np.zeros(tensor.shape)
        for index in np.ndindex(tensor.shape):
            saved = tensor.data[index]
            tensor.data[index] = saved + 1e-6
            up = f()
            tensor.data[index] = saved - 1e-6
            down = f()
            tensor.data[index] = saved
            numeric[index] = (up - down) / 2e-6
        np.testing.assert_allclose(tensor.grad.numpy(), numeric, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(layer.weight.grad.numpy(), x.numpy().T @ g)
    np.testing.assert_allclose(layer.bias.grad.numpy(), g.sum(axis=0))


def test_default_init_is_torchs_uniform_one_over_sqrt_fan_in():
    n, k = 400, 500
    layer = nn.Linear(n, k, rng=0)
    w, b = layer.weight.numpy(), layer.bias.numpy()
    bound = 1 / np.sqrt(n)
    assert w.dtype == np.float32 and np.abs(w).max() <= bound and np.abs(b).max() <= bound
    # U(-B, B) has variance B²/3 = gain²/fan_in with torch's gain √(2/(1+5)) for a = √5
    assert abs(w.var() / (bound**2 / 3) - 1) < 0.02
    assert abs(w.mean()) < 0.01 * bound
    assert abs(np.abs(w).max() / bound - 1) < 1e-3  # the whole interval is used


def test_named_and_callable_initializers_and_zero_biases():
    n = 1000
    layer = nn.Linear(n, 300, weight_init="kaiming_normal", rng=0, dtype=np.float64)
    assert abs(layer.weight.numpy().var() * n / 2 - 1) < 0.02
    assert not np.any(layer.bias.numpy())  # named init -> zero bias
    sweep = nn.Linear(n, 300, weight_init="normal:3/n", rng=0)
    assert abs(sweep.weight.numpy().var() * n / 3 - 1) < 0.02
    direct = nn.Linear(n, 300, weight_init=init.kaiming_normal, rng=0, dtype=np.float64)
    np.testing.assert_array_equal(direct.weight.numpy(), layer.weight.numpy())
    ones = nn.Linear(2, 3, weight_init="zeros", bias_init=lambda s, r, dtype: np.ones(s, dtype))
    assert not np.any(ones.weight.numpy()) and np.all(ones.bias.numpy() == 1)


def test_a_seed_reproduces_the_weights_and_a_generator_is_consumed_in_order():
    a, b = nn.Linear(5, 4, rng=7), nn.Linear(5, 4, rng=7)
    np.testing.assert_array_equal(a.weight.numpy(), b.weight.numpy())
    np.testing.assert_array_equal(a.bias.numpy(), b.bias.numpy())
    generator = np.random.default_rng(7)
    c = nn.Linear(5, 4, rng=generator)
    np.testing.assert_array_equal(c.weight.numpy(), a.weight.numpy())
    d = nn.Linear(5, 4, rng=generator)
    assert not np.array_equal(c.weight.numpy(), d.weight.numpy())


def test_bias_false_and_float64():
    layer = nn.Linear(3, 2, bias=False, rng=0, dtype=np.float64)
    assert layer.bias is None and [p.shape for p in layer.parameters()] == [(3, 2)]
    x = np.ones((1, 3))
    np.testing.assert_allclose(layer(mlplab.tensor(x)).numpy(), x @ layer.weight.numpy())


def test_bad_arguments_and_inputs_get_one_line_errors():
    with pytest.raises(ValueError, match="Linear: in_features must be a positive int, got 0"):
        nn.Linear(0, 3)
    with pytest.raises(ValueError, match="Linear: out_features must be a positive int, got 2.5"):
        nn.Linear(3, 2.5)
    with pytest.raises(TypeError, match="Linear: dtype must be floating point, got int64"):
        nn.Linear(3, 2, dtype=np.int64)
    with pytest.raises(TypeError, match="Linear: rng must be a numpy.random.Generator"):
        nn.Linear(3, 2, rng=np.random.RandomState(0))
    with pytest.raises(ValueError, match="from_name: unknown initializer 'he'"):
        nn.Linear(3, 2, weight_init="he")
    with pytest.raises(ValueError, match=r"Linear: initializer returned shape \(2, 3\), expected"):
        nn.Linear(3, 2, weight_init=lambda shape, rng, dtype: np.zeros(shape[::-1]))
    layer = nn.Linear(784, 100, rng=0)
    with pytest.raises(ValueError) as error:
        layer(mlplab.tensor(np.zeros((32, 100), np.float32)))
    assert str(error.value) == "Linear: expected input with last dimension 784, got shape (32, 100)"
    with pytest.raises(TypeError, match="Linear: input dtype float64 differs from weight dtype"):
        layer(mlplab.tensor(np.zeros((32, 784))))
