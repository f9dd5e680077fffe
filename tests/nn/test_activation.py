"""Activation modules and Flatten: values, gradients against PyTorch, validation."""

import math

import numpy as np
import pytest

import mlplab
from mlplab import nn

X = np.random.default_rng(0).standard_normal((4, 5)) * 3
X[0, :3] = [0.0, -1e-3, 1e-3]

NUMPY_FORMS = {
    "relu": (nn.ReLU(), lambda x: np.maximum(x, 0)),
    "leaky": (nn.LeakyReLU(0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    "tanh": (nn.Tanh(), np.tanh),
    "sigmoid": (nn.Sigmoid(), lambda x: 1 / (1 + np.exp(-x))),
    "gelu": (
        nn.GELU(),
        lambda x: 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2))),
    ),
    "gelu_tanh": (
        nn.GELU("tanh"),
        lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))),
    ),
    "identity": (nn.Identity(), lambda x: x),
}


@pytest.mark.parametrize("name", sorted(NUMPY_FORMS))
def test_activation_equals_its_formula(name):
    module, formula = NUMPY_FORMS[name]
    np.testing.assert_allclose(module(mlplab.tensor(X)).numpy(), formula(X), rtol=1e-12)


@pytest.mark.parametrize("name", sorted(NUMPY_FORMS))
def test_activation_value_and_gradient_equal_torch(name):
    torch = pytest.importorskip("torch")
    torch_forms = {
        "relu": torch.nn.ReLU(),
        "leaky": torch.nn.LeakyReLU(0.2),
        "tanh": torch.nn.Tanh(),
        "sigmoid": torch.nn.Sigmoid(),
        "gelu": torch.nn.GELU(),
        "gelu_tanh": torch.nn.GELU(approximate="tanh"),
        "identity": torch.nn.Identity(),
    }
    g = np.random.default_rng(1).standard_normal(X.shape)
    x = mlplab.tensor(X, requires_grad=True)
    (NUMPY_FORMS[name][0](x) * mlplab.tensor(g)).sum().backward()
    xt = torch.tensor(X, requires_grad=True)
    yt = torch_forms[name](xt)
    (yt * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(
        NUMPY_FORMS[name][0](mlplab.tensor(X)).numpy(), yt.detach().numpy(), rtol=1e-12
    )
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_activation_lookup_and_validation():
    assert isinstance(nn.get_activation("ReLU", "MLP"), nn.ReLU)
    assert isinstance(nn.get_activation(None, "MLP"), nn.Identity)
    custom = nn.LeakyReLU(0.3)
    assert nn.get_activation(custom, "MLP") is custom
    with pytest.raises(ValueError, match="MLP: unknown activation 'swish', expected one of"):
        nn.get_activation("swish", "MLP")
    with pytest.raises(ValueError, match="GELU: approximate must be 'none' or 'tanh', got 'erf'"):
        nn.GELU("erf")
    with pytest.raises(TypeError, match="LeakyReLU: negative_slope must be a number"):
        nn.LeakyReLU("0.1")


def test_flatten_merges_dimensions_and_keeps_gradients():
    x = mlplab.tensor(np.arange(2 * 3 * 4, dtype=np.float64).reshape(2, 3, 4), requires_grad=True)
    out = nn.Flatten()(x)
    assert out.shape == (2, 12)
    np.testing.assert_array_equal(out.numpy(), x.numpy().reshape(2, 12))
    assert nn.Flatten(0)(x).shape == (24,)
    assert nn.Flatten(1, 1)(x).shape == (2, 3, 4)
    assert nn.Flatten(-2)(x).shape == (2, 12)
    out.sum().backward()
    assert x.grad.shape == (2, 3, 4)
    with pytest.raises(ValueError, match=r"Flatten: dims 3..-1 are not valid for an input of sha"):
        nn.Flatten(3)(x)
