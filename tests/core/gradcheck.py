"""Finite-difference checks of first and second derivatives, shared by the core tests.

Every check is in float64 with a *random* upstream gradient u: the scalar checked is
L(x) = ⟨u, f(x)⟩, so a transposed or mis-broadcast VJP cannot hide behind all-ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import mlplab

Fn = Callable[..., mlplab.Tensor]


def leaves(arrays: Sequence[np.ndarray]) -> list[mlplab.Tensor]:
    """Fresh float64 leaves that require grad (copies: the checks perturb the arrays)."""
    return [mlplab.tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]


def numeric_gradients(
    f: Fn, arrays: Sequence[np.ndarray], u: np.ndarray, eps: float = 1e-6
) -> list[np.ndarray]:
    """Central differences of L(x) = ⟨u, f(x)⟩ with respect to every element of every input."""
    arrays = [np.array(a, dtype=np.float64) for a in arrays]

    def loss() -> float:
        with mlplab.no_grad():
            out = f(*[mlplab.Tensor(a) for a in arrays]).numpy()
        return float(np.sum(u * out))

    grads = []
    for x in arrays:
        g = np.zeros_like(x)
        flat, gflat = x.reshape(-1), g.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + eps
            up = loss()
            flat[i] = old - eps
            down = loss()
            flat[i] = old
            gflat[i] = (up - down) / (2 * eps)
        grads.append(g)
    return grads


def check_vjp(
    f: Fn,
    arrays: Sequence[np.ndarray],
    rng: np.random.Generator,
    rtol: float = 1e-6,
    atol: float = 1e-7,
) -> list[np.ndarray]:
    """Assert that mlplab's VJP of ``f`` at ``arrays`` equals central differences.

    Also asserts that every gradient has its input's shape and dtype. Returns the gradients.
    """
    xs = leaves(arrays)
    out = f(*xs)
    u = rng.standard_normal(out.shape)
    grads = mlplab.grad(out, xs, grad_outputs=mlplab.Tensor(u), allow_unused=True)
    expected = numeric_gradients(f, arrays, u)
    result = []
    for x, g, e in zip(xs, grads, expected, strict=True):
        g_array = np.zeros_like(x.numpy()) if g is None else g.numpy()
        assert g_array.shape == x.shape, (g_array.shape, x.shape)
        assert g_array.dtype == x.dtype
        np.testing.assert_allclose(g_array, e, rtol=rtol, atol=atol)
        result.append(g_array)
    return result


def _gradient(f: Fn, xs: Sequence[mlplab.Tensor], u: np.ndarray, create_graph: bool) -> list:
    out = f(*xs)
    loss = mlplab.sum(out * mlplab.Tensor(u))
    return mlplab.grad(loss, list(xs), create_graph=create_graph, allow_unused=True)


def check_second_order(
    f: Fn,
    arrays: Sequence[np.ndarray],
    rng: np.random.Generator,
    eps: float = 1e-5,
    rtol: float = 1e-5,
    atol: float = 1e-6,
) -> None:
    """Assert that grad-of-grad (``create_graph``) and ``mlplab.hvp`` give ∇²L·v for random v,
    compared with central differences of the gradient along v: (∇L(x+εv) − ∇L(x−εv)) / 2ε.
    """
    xs = leaves(arrays)
    out_shape = f(*xs).shape
    u = rng.standard_normal(out_shape)
    vs = [rng.standard_normal(np.shape(a)) for a in arrays]

    # Route 1: differentiate ⟨∇L, v⟩ once more through the recorded backward graph.
    first = _gradient(f, xs, u, create_graph=True)
    inner = None
    for g, v in zip(first, vs, strict=True):
        if g is not None and g.requires_grad:
            term = mlplab.sum(g * mlplab.Tensor(v))
            inner = term if inner is None else inner + term
    if inner is None:
        hv = [np.zeros(np.shape(a)) for a in arrays]
    else:
        got = mlplab.grad(inner, xs, allow_unused=True)
        hv = [np.zeros(x.shape) if g is None else g.numpy() for x, g in zip(xs, got, strict=True)]

    # Finite differences of the first-order gradient along v.
    def gradient_at(sign: float) -> list[np.ndarray]:
        moved = leaves([np.asarray(a) + sign * eps * v for a, v in zip(arrays, vs, strict=True)])
        grads = _gradient(f, moved, u, create_graph=False)
        return [
            np.zeros(x.shape) if g is None else g.numpy() for x, g in zip(moved, grads, strict=True)
        ]

    plus, minus = gradient_at(+1.0), gradient_at(-1.0)
    for h, p, m in zip(hv, plus, minus, strict=True):
        np.testing.assert_allclose(h, (p - m) / (2 * eps), rtol=rtol, atol=atol)

    # Route 2: mlplab.hvp on each input alone (the others held fixed) agrees with route 1
    # restricted to that input's block of the Hessian.
    for i, (a, v) in enumerate(zip(arrays, vs, strict=True)):
        others = [np.asarray(b, dtype=np.float64) for b in arrays]

        def scalar(x: mlplab.Tensor, i: int = i, others: list = others) -> mlplab.Tensor:
            args: list[Any] = [mlplab.Tensor(b) for b in others]
            args[i] = x
            return mlplab.sum(f(*args) * mlplab.Tensor(u))

        block = mlplab.hvp(scalar, np.asarray(a, dtype=np.float64), v).numpy()
        e_v = [np.zeros(np.shape(b)) for b in arrays]
        e_v[i] = v
        plus_i = _fd_gradient_block(f, arrays, u, e_v, i, eps)
        assert block.shape == np.shape(a)
        np.testing.assert_allclose(block, plus_i, rtol=rtol, atol=atol)


def _fd_gradient_block(
    f: Fn, arrays: Sequence[np.ndarray], u: np.ndarray, vs: list, i: int, eps: float
) -> np.ndarray:
    def gradient_at(sign: float) -> np.ndarray:
        moved = leaves([np.asarray(a) + sign * eps * v for a, v in zip(arrays, vs, strict=True)])
        (g,) = _gradient(f, moved, u, create_graph=False)[i : i + 1]
        return np.zeros(moved[i].shape) if g is None else g.numpy()

    return (gradient_at(+1.0) - gradient_at(-1.0)) / (2 * eps)
