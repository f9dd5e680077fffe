"""The lean first-order backward (affine and relu VJPs straight on arrays) is bit-identical to
the recorded backward written in mlplab ops, over 100 training steps."""

from __future__ import annotations

import numpy as np
import pytest

import mlplab
from mlplab import nn
from mlplab.optim import SGD, Adam


def _train(opt: str, create_graph: bool, steps: int = 100) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    model = nn.MLP(12, 5, width=[16] * 9, depth=10, rng=0)  # 10 Linear layers, 9 relus
    if opt == "sgd":
        optimizer = SGD(model.parameters(), lr=0.05, momentum=0.9)
    else:
        optimizer = Adam(model.parameters(), lr=1e-2)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(steps):
        x = mlplab.Tensor(rng.standard_normal((8, 12)).astype(np.float32))
        y = rng.integers(0, 5, 8)
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        # create_graph records the backward in mlplab ops (the general VJPs); without it the
        # first-order VJPs work on the arrays directly.
        loss.backward(create_graph=create_graph)
        if create_graph:
            for p in model.parameters():
                p.grad = mlplab.Tensor(p.grad.data)  # drop the recorded graph
        optimizer.step()
    return [p.data.copy() for p in model.parameters()]


@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_lean_backward_equals_recorded_backward_after_100_steps(opt: str) -> None:
    lean, recorded = _train(opt, False), _train(opt, True)
    for a, b in zip(lean, recorded, strict=True):
        assert np.array_equal(a, b)
    assert not np.array_equal(lean[0], _train(opt, False, steps=99)[0])  # the steps did move it


def test_lean_gradients_match_finite_differences_float64() -> None:
    rng = np.random.default_rng(1)
    model = nn.MLP(4, 3, width=5, depth=3, rng=0, dtype=np.float64)
    x = mlplab.Tensor(rng.standard_normal((6, 4)))
    y = rng.integers(0, 3, 6)
    loss_fn = nn.CrossEntropyLoss()
    loss_fn(model(x), y).backward()
    for p in model.parameters():
        got = p.grad.data
        want = np.zeros_like(p.data)
        for i in np.ndindex(p.data.shape):
            old = p.data[i]
            p.data[i] = old + 1e-6
            up = loss_fn(model(x), y).item()
            p.data[i] = old - 1e-6
            down = loss_fn(model(x), y).item()
            p.data[i] = old
            want[i] = (up - down) / 2e-6
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)
