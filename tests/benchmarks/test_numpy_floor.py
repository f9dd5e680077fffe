"""The NumPy floor must be right to be a floor: same loss, gradients and update as mlplab/torch."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from numpy_floor import FloorMLP  # noqa: E402

import mlplab  # noqa: E402
from mlplab import nn  # noqa: E402

SIZES = [7, 5, 4, 3]
BATCH = 6


def _setup() -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    weights = [
        rng.standard_normal((a, b)).astype(np.float32) * np.float32(0.7)
        for a, b in zip(SIZES[:-1], SIZES[1:], strict=True)
    ]
    biases = [rng.standard_normal(b).astype(np.float32) * np.float32(0.1) for b in SIZES[1:]]
    x = rng.standard_normal((BATCH, SIZES[0])).astype(np.float32)
    y = rng.integers(0, SIZES[-1], BATCH)
    return weights, biases, x, y


def _mlplab_loss_and_grads(weights, biases, x, y):
    model = nn.MLP(SIZES[0], SIZES[-1], width=SIZES[1:-1], depth=len(weights), rng=0)
    for layer, w, b in zip(model.layers, weights, biases, strict=True):
        layer.weight.data[...] = w
        layer.bias.data[...] = b
    loss = nn.CrossEntropyLoss()(model(mlplab.Tensor(x)), y)
    loss.backward()
    grads = []
    for layer in model.layers:
        grads += [layer.weight.grad.numpy(), layer.bias.grad.numpy()]
    return loss.item(), grads


def test_loss_and_gradients_match_mlplab() -> None:
    weights, biases, x, y = _setup()
    floor = FloorMLP(weights, biases, BATCH, "sgd")
    floor.forward(x)
    loss = floor.loss_and_seed(y)
    floor.backward(x)
    expected_loss, expected_grads = _mlplab_loss_and_grads(weights, biases, x, y)
    assert loss == pytest.approx(expected_loss, rel=1e-5)
    for got, want in zip(floor.gradients(), expected_grads, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_three_steps_match_torch(optimizer: str) -> None:
    torch = pytest.importorskip("torch")
    from torch_baseline import make_torch_step

    weights, biases, x, y = _setup()
    lr = 0.1 if optimizer == "sgd" else 0.01
    floor = FloorMLP(weights, biases, BATCH, optimizer, lr=lr, momentum=0.9)
    step, model = make_torch_step(weights, biases, x, y, optimizer, lr=lr, momentum=0.9)
    for _ in range(3):
        assert floor.step(x, y) == pytest.approx(step(), rel=1e-5)
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    for layer, w, b in zip(linears, floor.W, floor.b, strict=True):
        np.testing.assert_allclose(w, layer.weight.detach().numpy().T, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(b, layer.bias.detach().numpy(), rtol=1e-5, atol=1e-6)
