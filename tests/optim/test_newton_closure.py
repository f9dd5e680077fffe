"""Newton takes PyTorch's closure (one that calls backward) as well as its own, and fit reads
what closure each optimizer needs from its ``closure_kind`` (a user's subclass works)."""

from __future__ import annotations

import numpy as np
import pytest

import mlplab
from mlplab import optim
from mlplab.data import ArrayDataset, DataLoader
from mlplab.nn import CrossEntropyLoss, Linear
from mlplab.train import closure_kind, fit, train_step


def problem(seed=0):
    rng = np.random.default_rng(seed)
    x = mlplab.Tensor(rng.normal(size=(12, 3)))
    y = mlplab.Tensor((np.arange(12) % 2).astype(np.int64))
    model = Linear(3, 2, rng=seed, dtype=np.float64)
    return model, x, y


def newton_steps(calls_backward: bool, steps: int = 3):
    model, x, y = problem()
    crit = CrossEntropyLoss()
    opt = optim.Newton(model.parameters(), lr=1.0, damping=0.1)

    def closure():
        opt.zero_grad()
        loss = crit(model(x), y)
        if calls_backward:
            loss.backward()
        return loss

    losses = [float(opt.step(closure).item()) for _ in range(steps)]
    return losses, [p.data.copy() for p in model.parameters()], model


def test_pytorch_closure_that_calls_backward_works_and_matches_the_graph_closure():
    with_backward, params_b, model = newton_steps(calls_backward=True)
    without, params_n, _ = newton_steps(calls_backward=False)
    assert with_backward == without
    for a, b in zip(params_b, params_n, strict=True):
        np.testing.assert_array_equal(a, b)
    assert with_backward[-1] < with_backward[0]
    # the closure's backward filled .grad as in PyTorch
    assert all(p.grad is not None for p in model.parameters())


def test_backward_keeps_freeing_graphs_outside_newton_step():
    newton_steps(calls_backward=True, steps=1)
    x = mlplab.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_function_backward_in_the_closure_gets_an_error_that_points_the_right_way():
    model, x, y = problem()
    opt = optim.Newton(model.parameters())

    def closure():
        loss = CrossEntropyLoss()(model(x), y)
        mlplab.backward(loss)  # the function form frees the graph
        return loss

    before = [p.data.copy() for p in model.parameters()]
    with pytest.raises(RuntimeError, match=r"loss\.backward\(\) \(the Tensor method"):
        opt.step(closure)
    for p, b in zip(model.parameters(), before, strict=True):
        np.testing.assert_array_equal(p.data, b)


def test_closure_returning_a_float_is_told_to_return_the_tensor():
    model, x, y = problem()
    opt = optim.Newton(model.parameters())
    with pytest.raises(RuntimeError, match=r"return loss, not loss\.item\(\)"):
        opt.step(lambda: float(CrossEntropyLoss()(model(x), y).item()))


class MyNewton(optim.Newton):
    """A user's subclass: the class name is not "Newton"."""


class MyNesterov(optim.Nesterov):
    pass


def test_closure_kind_is_declared_and_inherited():
    model, _, _ = problem()
    assert optim.Optimizer.closure_kind == "none"
    assert closure_kind(optim.Adam(model.parameters())) == "none"
    assert closure_kind(optim.Newton(model.parameters())) == "graph"
    assert closure_kind(MyNewton(model.parameters())) == "graph"
    assert closure_kind(MyNesterov(model.parameters(), lr=0.1)) == "backward"


def test_fit_trains_a_subclass_of_newton():
    model, x, y = problem()
    data = ArrayDataset(x.data, y.data)
    opt = MyNewton(model.parameters(), damping=0.1)
    history = fit(model, opt, DataLoader(data, batch_size=12), epochs=3)
    losses = [row["train_loss"] for row in history.epochs]
    assert losses[-1] < losses[0]


def test_a_wrong_closure_kind_is_one_clear_error():
    model, x, y = problem()

    class Odd(optim.SGD):
        closure_kind = "sometimes"  # type: ignore[assignment]

    with pytest.raises(ValueError, match="closure_kind must be one of none, backward, graph"):
        train_step(model, Odd(model.parameters(), lr=0.1), CrossEntropyLoss(), x, y)
