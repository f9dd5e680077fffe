"""PyTorch as the oracle: values, gradients and Hessian-vector products in float64 to 1e-10."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import mlplab
from mlplab import functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

TOL = {"rtol": 1e-10, "atol": 1e-10}


def _expressions() -> dict[str, tuple[Callable[..., Any], Callable[..., Any], list[tuple]]]:
    """name: (mlplab expression, the same in torch, input shapes); both see the same arrays."""
    return {
        "broadcast_affine_tanh": (
            lambda x, w, b: ((x @ w + b).tanh() * b).sum(),
            lambda x, w, b: ((x @ w + b).tanh() * b).sum(),
            [(5, 3), (3, 4), (4,)],
        ),
        "outer_broadcast_quotient": (
            lambda a, b: (a / (b.exp() + 1.0) - a * b).mean(),
            lambda a, b: (a / (b.exp() + 1.0) - a * b).mean(),
            [(4, 1), (1, 3)],
        ),
        "softmax_log_softmax_mix": (
            lambda x, y: (F.softmax(x * y, axis=-1) * F.log_softmax(x, axis=0)).sum(),
            lambda x, y: (torch.softmax(x * y, dim=-1) * torch.log_softmax(x, dim=0)).sum(),
            [(3, 5), (5,)],
        ),
        "logsumexp_var_sqrt": (
            lambda x, s: F.logsumexp(x, axis=1).var() + (x * x + s * s).sqrt().sum(),
            lambda x, s: (
                torch.logsumexp(x, dim=1).var(unbiased=False) + (x * x + s * s).sqrt().sum()
            ),
            [(4, 3), (3,)],
        ),
        "activations": (
            lambda x, w: (
                F.sigmoid(x) * F.softplus(w) + F.gelu(x * w) + F.gelu(x - w, approximate="tanh")
            ).sum(),
            lambda x, w: (
                torch.sigmoid(x) * TF.softplus(w)
                + TF.gelu(x * w)
                + TF.gelu(x - w, approximate="tanh")
            ).sum(),
            [(3, 4), (4,)],
        ),
        "power_max_slices": (
            lambda x, p: ((x * x + 1.0) ** p).max(axis=0).sum() + (x[1:, ::2] ** 3).sum(),
            lambda x, p: ((x * x + 1.0) ** p).amax(dim=0).sum() + (x[1:, ::2] ** 3).sum(),
            [(3, 4), (4,)],
        ),
        "batched_matmul_broadcast": (
            lambda a, b, v: ((a @ b).tanh() @ v).sum(),
            lambda a, b, v: ((a @ b).tanh() @ v).sum(),
            [(2, 1, 3, 4), (3, 4, 2), (2,)],
        ),
        "mse_and_where": (
            lambda p, t: F.mse_loss(mlplab.where(p.data > 0, p * t, -p), t),
            lambda p, t: TF.mse_loss(torch.where(p > 0, p * t, -p), t),
            [(3, 4), (3, 4)],
        ),
    }


EXPRESSIONS = _expressions()


def _inputs(shapes: list[tuple], seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in shapes]


@pytest.mark.parametrize("name", list(EXPRESSIONS))
def test_value_gradient_and_hvp_equal_torch(name: str) -> None:
    f_ml, f_torch, shapes = EXPRESSIONS[name]
    arrays = _inputs(shapes, seed=len(name))
    vs = _inputs(shapes, seed=len(name) + 1)

    xs = [mlplab.tensor(a, requires_grad=True) for a in arrays]
    loss = f_ml(*xs)
    grads = mlplab.grad(loss, xs, create_graph=True)
    inner = mlplab.sum(grads[0] * mlplab.Tensor(vs[0]))
    for g, v in zip(grads[1:], vs[1:], strict=True):
        inner = inner + mlplab.sum(g * mlplab.Tensor(v))
    hvps = mlplab.grad(inner, xs)

    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    t_loss = f_torch(*ts)
    t_grads = torch.autograd.grad(t_loss, ts, create_graph=True)
    t_inner = sum((g * torch.tensor(v)).sum() for g, v in zip(t_grads, vs, strict=True))
    t_hvps = torch.autograd.grad(t_inner, ts)

    np.testing.assert_allclose(loss.item(), t_loss.item(), **TOL)
    for g, tg in zip(grads, t_grads, strict=True):
        np.testing.assert_allclose(g.numpy(), tg.detach().numpy(), **TOL)
    for h, th in zip(hvps, t_hvps, strict=True):
        np.testing.assert_allclose(h.numpy(), th.numpy(), **TOL)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_small_mlp_loss_gradient_and_hvp_equal_torch(activation: str) -> None:
    rng = np.random.default_rng(7)
    X = rng.standard_normal((8, 5))
    y = rng.integers(0, 3, 8)
    params = [rng.standard_normal(s) * 0.7 for s in [(5, 6), (6,), (6, 3), (3,)]]
    vs = [rng.standard_normal(p.shape) for p in params]

    def ml_loss(W1: Any, b1: Any, W2: Any, b2: Any) -> Any:
        h = mlplab.Tensor(X) @ W1 + b1
        h = h.relu() if activation == "relu" else h.tanh()
        return F.cross_entropy(h @ W2 + b2, y)

    def torch_loss(W1: Any, b1: Any, W2: Any, b2: Any) -> Any:
        h = torch.tensor(X) @ W1 + b1
        h = torch.relu(h) if activation == "relu" else torch.tanh(h)
        return TF.cross_entropy(h @ W2 + b2, torch.tensor(y))

    ws = [mlplab.tensor(p, requires_grad=True) for p in params]
    loss = ml_loss(*ws)
    loss.backward(create_graph=True)
    grads = [w.grad for w in ws]
    inner = mlplab.sum(grads[0] * mlplab.Tensor(vs[0]))
    for g, v in zip(grads[1:], vs[1:], strict=True):
        inner = inner + mlplab.sum(g * mlplab.Tensor(v))
    hvps = mlplab.grad(inner, ws)

    ts = [torch.tensor(p, requires_grad=True) for p in params]
    t_loss = torch_loss(*ts)
    t_grads = torch.autograd.grad(t_loss, ts, create_graph=True)
    t_inner = sum((g * torch.tensor(v)).sum() for g, v in zip(t_grads, vs, strict=True))
    t_hvps = torch.autograd.grad(t_inner, ts)

    np.testing.assert_allclose(loss.item(), t_loss.item(), **TOL)
    for g, tg in zip(grads, t_grads, strict=True):
        assert g is not None
        np.testing.assert_allclose(g.numpy(), tg.detach().numpy(), **TOL)
    for h, th in zip(hvps, t_hvps, strict=True):
        np.testing.assert_allclose(h.numpy(), th.numpy(), **TOL)


def test_hvp_and_hessian_equal_torch_functional() -> None:
    rng = np.random.default_rng(3)
    A = rng.standard_normal((4, 4))
    x0, v = rng.standard_normal(4), rng.standard_normal(4)

    def f_ml(x: Any) -> Any:
        return F.logsumexp(mlplab.Tensor(A) @ x, axis=0) + (x**4).sum() / 4.0

    def f_torch(x: Any) -> Any:
        return torch.logsumexp(torch.tensor(A) @ x, dim=0) + (x**4).sum() / 4.0

    _, t_hv = torch.autograd.functional.hvp(f_torch, torch.tensor(x0), torch.tensor(v))
    t_h = torch.autograd.functional.hessian(f_torch, torch.tensor(x0))
    np.testing.assert_allclose(mlplab.hvp(f_ml, x0, v).numpy(), t_hv.numpy(), **TOL)
    np.testing.assert_allclose(mlplab.hessian(f_ml, x0).numpy(), t_h.numpy(), **TOL)


def test_sigmoid_and_softplus_keep_relative_precision_far_left() -> None:
    x = np.array([-700.0, -80.0, -37.0, -20.0, -5.0, 0.0, 5.0, 30.0])
    t = torch.tensor(x)
    np.testing.assert_allclose(
        F.sigmoid(mlplab.Tensor(x)).numpy(), torch.sigmoid(t).numpy(), rtol=1e-14
    )
    np.testing.assert_allclose(
        F.log_softmax(mlplab.Tensor(np.stack([x, -x], axis=1)), axis=1).numpy(),
        torch.log_softmax(torch.stack([t, -t], dim=1), dim=1).numpy(),
        rtol=1e-11,
    )
    # PyTorch's softplus returns x itself above its threshold 20; compare below it.
    low = x[x < 20]
    np.testing.assert_allclose(
        F.softplus(mlplab.Tensor(low)).numpy(), TF.softplus(torch.tensor(low)).numpy(), rtol=1e-14
    )
