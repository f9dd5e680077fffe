"""MLP: the lecture's Z_{i+1} = σ(Z_i W_i + 1 b_iᵀ), checked against NumPy and PyTorch;
the zero-initialization claim; width/depth validation."""

import numpy as np
import pytest

import mlplab
from mlplab import nn

ACTIVATIONS = {
    "relu": lambda z: np.maximum(z, 0),
    "tanh": np.tanh,
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
}


def random_bias(shape, rng, dtype):
    return rng.standard_normal(shape).astype(dtype)


def numpy_forward(model: nn.MLP, x: np.ndarray, sigma) -> np.ndarray:
    """The lecture's matrix form, written out: Z_{i+1} = σ(Z_i W_i + 1 b_iᵀ), no σ at the end."""
    z = x
    ones = np.ones((x.shape[0], 1))
    layers = list(model.layers)
    for i, layer in enumerate(layers):
        w, b = layer.weight.numpy(), layer.bias.numpy()
        z = z @ w + ones @ b[None, :]
        if i < len(layers) - 1:
            z = sigma(z)
    return z


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_forward_equals_the_numpy_transcription(activation):
    model = nn.MLP(
        6, 4, width=[8, 5, 7], activation=activation, bias_init=random_bias, rng=0, dtype="float64"
    )
    assert [layer.weight.shape for layer in model.layers] == [(6, 8), (8, 5), (5, 7), (7, 4)]
    assert np.any(model.layers[1].bias.numpy() != 0)
    x = np.random.default_rng(1).standard_normal((9, 6))
    expected = numpy_forward(model, x, ACTIVATIONS[activation])
    np.testing.assert_allclose(model(mlplab.tensor(x)).numpy(), expected, rtol=1e-12, atol=1e-14)


def torch_copy(torch, model: nn.MLP, activation):
    """The same network in PyTorch: weights copied transposed, (in, out) -> (out, in)."""
    modules = []
    layers = list(model.layers)
    for i, layer in enumerate(layers):
        linear = torch.nn.Linear(layer.in_features, layer.out_features, dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(torch.tensor(layer.weight.numpy().T))
            linear.bias.copy_(torch.tensor(layer.bias.numpy()))
        modules.append(linear)
        if i < len(layers) - 1:
            modules.append(activation())
    return torch.nn.Sequential(*modules)


@pytest.mark.parametrize(
    ("width", "depth", "activation"),
    [([16, 12, 8], None, "relu"), (100, 50, "relu"), ([10, 10], None, "tanh"), (9, 3, "gelu")],
)
def test_logits_loss_and_gradients_equal_torch_in_float64(width, depth, activation):
    torch = pytest.importorskip("torch")
    activations = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "gelu": torch.nn.GELU}
    rng = np.random.default_rng(3)
    model = nn.MLP(
        20, 10, width=width, depth=depth, activation=activation,
        bias_init=lambda s, r, dtype: 0.1 * r.standard_normal(s), rng=4, dtype=np.float64,
    )  # fmt: skip
    reference = torch_copy(torch, model, activations[activation])
    x, labels = rng.standard_normal((16, 20)), rng.integers(0, 10, size=16)

    logits = model(mlplab.tensor(x))
    loss = nn.CrossEntropyLoss()(logits, labels)
    loss.backward()
    logits_t = reference(torch.tensor(x))
    loss_t = torch.nn.functional.cross_entropy(logits_t, torch.tensor(labels))
    loss_t.backward()

    scale = np.abs(logits_t.detach().numpy()).max()
    np.testing.assert_allclose(
        logits.numpy(), logits_t.detach().numpy(), rtol=0, atol=1e-10 * scale
    )
    assert abs(loss.item() - loss_t.item()) <= 1e-10 * max(1.0, loss_t.item())
    torch_linears = [m for m in reference if isinstance(m, torch.nn.Linear)]
    for layer, linear in zip(model.layers, torch_linears, strict=True):
        for ours, theirs in ((layer.weight.grad.numpy(), linear.weight.grad.numpy().T),
                             (layer.bias.grad.numpy(), linear.bias.grad.numpy())):  # fmt: skip
            np.testing.assert_allclose(
                ours, theirs, rtol=0, atol=1e-10 * max(np.abs(theirs).max(), 1e-3)
            )


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_zero_init_every_weight_gradient_is_exactly_zero(activation):
    """With W = 0 and b = 0 every hidden activation is σ(0) = 0 (for ReLU and tanh), so the
    logits are 0 and only the last bias receives a gradient, mean(softmax − onehot) ≠ 0.
    The last weight's gradient Z_Lᵀ G is zero because its input Z_L is zero; every earlier
    gradient is zero because the backward signal G W_Lᵀ passes through W_L = 0."""
    model = nn.MLP(12, 5, width=8, depth=4, activation=activation, init="zeros", rng=0)
    assert all(not np.any(p.numpy()) for p in model.parameters())
    rng = np.random.default_rng(0)
    x = mlplab.tensor(rng.standard_normal((10, 12)).astype(np.float32))
    labels = rng.integers(0, 5, size=10)
    nn.CrossEntropyLoss()(model(x), labels).backward()
    layers = list(model.layers)
    for layer in layers:
        assert np.array_equal(layer.weight.grad.numpy(), np.zeros(layer.weight.shape))
    for layer in layers[:-1]:
        assert np.array_equal(layer.bias.grad.numpy(), np.zeros(layer.bias.shape))
    expected_last_bias = (np.full((10, 5), 1 / 5) - np.eye(5)[labels]).mean(axis=0)
    np.testing.assert_allclose(layers[-1].bias.grad.numpy(), expected_last_bias, rtol=1e-6)
    assert np.any(layers[-1].bias.grad.numpy() != 0)


def test_zero_init_stays_stuck_under_gradient_descent():
    """The lecture's point: it is not just the first step. Gradient descent only ever moves
    the last bias, so every weight (and every earlier bias) stays exactly zero."""
    model = nn.MLP(12, 5, width=8, depth=4, init="zeros", rng=0)
    rng = np.random.default_rng(1)
    x = mlplab.tensor(rng.standard_normal((32, 12)).astype(np.float32))
    labels = rng.integers(0, 5, size=32)
    for _ in range(20):
        model.zero_grad()
        nn.CrossEntropyLoss()(model(x), labels).backward()
        for p in model.parameters():
            p.data -= 0.5 * p.grad.numpy()
    layers = list(model.layers)
    assert all(not np.any(layer.weight.numpy()) for layer in layers)
    assert all(not np.any(layer.bias.numpy()) for layer in layers[:-1])
    assert np.any(layers[-1].bias.numpy() != 0)


def test_zero_init_with_sigmoid_only_the_last_layer_learns():
    """σ(0) = 1/2 ≠ 0, so the last weight sees non-zero inputs and gets a gradient; all earlier
    layers still get exactly zero, since the signal reaching them is G W_Lᵀ with W_L = 0."""
    model = nn.MLP(6, 3, width=4, depth=3, activation="sigmoid", init="zeros", rng=0)
    x = mlplab.tensor(np.random.default_rng(2).standard_normal((5, 6)).astype(np.float32))
    nn.CrossEntropyLoss()(model(x), np.array([0, 1, 2, 0, 1])).backward()
    layers = list(model.layers)
    for layer in layers[:-1]:
        assert not np.any(layer.weight.grad.numpy()) and not np.any(layer.bias.grad.numpy())
    assert np.any(layers[-1].weight.grad.numpy() != 0)


def test_width_and_depth_forms_and_their_validation():
    assert nn.MLP(784, 10, depth=1, rng=0).sizes == [784, 10]  # softmax regression
    assert nn.MLP(784, 10, 100, 1, rng=0).depth == 1
    assert nn.MLP(784, 10, width=100, depth=50, rng=0).sizes == [784] + [100] * 49 + [10]
    assert nn.MLP(5, 2, width=(4, 3), depth=3, rng=0).sizes == [5, 4, 3, 2]
    assert all(isinstance(layer, nn.Linear) for layer in nn.MLP(5, 2, 4, 3, rng=0).layers)
    with pytest.raises(ValueError, match="MLP: width lists 2 hidden sizes, so depth must be 3"):
        nn.MLP(5, 2, width=[4, 3], depth=4)
    with pytest.raises(ValueError, match="MLP: depth 3 needs a width"):
        nn.MLP(5, 2, depth=3)
    with pytest.raises(ValueError, match=r"MLP: depth \(the number of Linear layers\) is required"):
        nn.MLP(5, 2, width=4)
    with pytest.raises(ValueError, match="MLP: depth must be a positive int, got 0"):
        nn.MLP(5, 2, width=4, depth=0)
    with pytest.raises(ValueError, match=r"MLP: width\[1\] must be a positive int, got -3"):
        nn.MLP(5, 2, width=[4, -3])
    with pytest.raises(ValueError, match="MLP: in_features must be a positive int, got 0"):
        nn.MLP(0, 2, depth=1)
    with pytest.raises(ValueError, match="MLP: unknown activation 'softsign'"):
        nn.MLP(5, 2, 4, 2, activation="softsign")


def test_init_choices_seed_and_output_activation():
    a = nn.MLP(50, 10, 40, 3, rng=11)
    b = nn.MLP(50, 10, 40, 3, rng=11)
    for (name, p), q in zip(a.named_parameters(), b.parameters(), strict=True):
        np.testing.assert_array_equal(p.numpy(), q.numpy(), err_msg=name)
    assert all(not np.any(layer.bias.numpy()) for layer in a.layers)  # named init: b = 0
    torch_like = nn.MLP(50, 10, 40, 3, init=None, rng=0)
    assert np.any(torch_like.layers[0].bias.numpy() != 0)
    assert np.abs(torch_like.layers[0].weight.numpy()).max() <= 1 / np.sqrt(50)
    big = nn.MLP(1000, 10, 500, 2, init="normal:3/n", rng=0, dtype=np.float64)
    assert abs(big.layers[0].weight.numpy().var() * 1000 / 3 - 1) < 0.02
    probs = nn.MLP(4, 3, 5, 2, output_activation="sigmoid", rng=0)
    out = probs(mlplab.tensor(np.ones((2, 4), np.float32))).numpy()
    assert out.dtype == np.float32 and np.all((out > 0) & (out < 1))


def test_hooks_on_model_layers_observe_each_layers_input():
    """What the diagnostics do: hook every Linear and record its input, Zᵢ."""
    model = nn.MLP(8, 3, width=6, depth=4, rng=0, dtype=np.float64)
    inputs = []
    handles = [
        layer.register_forward_hook(lambda m, i, o: inputs.append(i[0].numpy()))
        for layer in model.layers
    ]
    x = np.random.default_rng(0).standard_normal((5, 8))
    model(mlplab.tensor(x))
    for handle in handles:
        handle.remove()
    assert len(inputs) == 4
    np.testing.assert_array_equal(inputs[0], x)
    z = x
    for layer, seen in zip(model.layers, inputs, strict=True):
        np.testing.assert_allclose(seen, z, rtol=1e-12)
        z = np.maximum(z @ layer.weight.numpy() + layer.bias.numpy(), 0)
