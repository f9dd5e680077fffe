"""The engine: Hessians, long chains, memory sharing, accumulation, graph freeing, no_grad."""

from __future__ import annotations

import numpy as np
import pytest

import mlplab
from mlplab import functional as F


def test_hessian_of_a_quadratic_is_P_and_agrees_with_hvp() -> None:
    rng = np.random.default_rng(0)
    n = 6
    M = rng.standard_normal((n, n))
    P = M @ M.T + n * np.eye(n)
    q = rng.standard_normal(n)

    def f(theta: mlplab.Tensor) -> mlplab.Tensor:
        return 0.5 * (theta @ (mlplab.Tensor(P) @ theta)) + mlplab.Tensor(q) @ theta

    theta = rng.standard_normal(n)
    H = mlplab.hessian(f, theta).numpy()
    np.testing.assert_allclose(H, P, rtol=1e-12)
    np.testing.assert_allclose(H, H.T, rtol=1e-12)
    for _ in range(3):
        v = rng.standard_normal(n)
        np.testing.assert_allclose(mlplab.hvp(f, theta, v).numpy(), H @ v, rtol=1e-12)


def test_hessian_of_a_non_quadratic_is_symmetric_and_shaped_like_x_twice() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3))

    def f(t: mlplab.Tensor) -> mlplab.Tensor:
        return F.logsumexp(t, axis=1).sum() + (t.tanh() ** 2).sum()

    H = mlplab.hessian(f, x).numpy()
    assert H.shape == (2, 3, 2, 3)
    flat = H.reshape(6, 6)
    np.testing.assert_allclose(flat, flat.T, atol=1e-12)
    v = rng.standard_normal((2, 3))
    np.testing.assert_allclose(mlplab.hvp(f, x, v).numpy().ravel(), flat @ v.ravel(), atol=1e-12)


def test_hvp_and_hessian_of_an_affine_function_are_zero() -> None:
    f = lambda t: (t * 2.0).sum() + 1.0  # noqa: E731
    np.testing.assert_array_equal(mlplab.hvp(f, np.ones(3), np.ones(3)).numpy(), np.zeros(3))
    np.testing.assert_array_equal(mlplab.hessian(f, np.ones(3)).numpy(), np.zeros((3, 3)))


def test_a_chain_of_10000_ops_backpropagates_without_recursion() -> None:
    x = mlplab.tensor(np.array([0.5]), requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0001**10_000], rtol=1e-9)

    # A long nonlinear chain, differentiated twice through the recorded backward pass.
    def chain(t: mlplab.Tensor, steps: int = 3_000) -> mlplab.Tensor:
        for _ in range(steps):
            t = t + t * t * 1e-4
        return t.sum()

    (g,) = mlplab.grad(chain(x), [x], create_graph=True)
    (h,) = mlplab.grad(g.sum(), [x])
    eps = 1e-5
    with mlplab.no_grad():
        f = [chain(mlplab.Tensor(x.numpy() + d)).item() for d in (-eps, 0.0, eps)]
    np.testing.assert_allclose(g.numpy(), [(f[2] - f[0]) / (2 * eps)], rtol=1e-7)
    np.testing.assert_allclose(h.numpy(), [(f[2] - 2 * f[1] + f[0]) / eps**2], rtol=1e-3)


def test_broadcast_to_is_a_view_and_the_bias_add_copies_no_bias() -> None:
    b = mlplab.tensor(np.arange(4.0), requires_grad=True)
    B = mlplab.broadcast_to(b, (3, 4))
    assert np.shares_memory(B.numpy(), b.numpy())
    assert B.numpy().strides[0] == 0

    x = mlplab.tensor(np.ones((5, 3)))
    W = mlplab.tensor(np.ones((3, 4)), requires_grad=True)
    out = x @ W + b
    assert out.op is not None
    # out = add(x @ W, broadcast_to(b)): the bias operand is a stride-0 view of b's memory.
    (bias_node,) = [t for t in out.inputs if np.shares_memory(t.numpy(), b.numpy())]
    assert bias_node.shape == (5, 4) and bias_node.numpy().strides == (0, 8)
    out.sum().backward()
    np.testing.assert_array_equal(b.grad.numpy(), np.full(4, 5.0))


def test_a_node_used_several_times_accumulates() -> None:
    x = mlplab.tensor(np.array([1.5, -2.0]), requires_grad=True)
    (g,) = mlplab.grad((x * x).sum(), [x])
    np.testing.assert_allclose(g.numpy(), 2 * x.numpy())
    (g,) = mlplab.grad((x + x).sum(), [x])
    np.testing.assert_allclose(g.numpy(), [2.0, 2.0])
    # A diamond: a feeds b and c, which meet again in d.
    a = x.exp()
    b, c = a * 3.0, a.tanh()
    d = (b * c).sum()
    (g,) = mlplab.grad(d, [x])
    e = np.exp(x.numpy())
    expected = (3 * np.tanh(e) + 3 * e * (1 - np.tanh(e) ** 2)) * e
    np.testing.assert_allclose(g.numpy(), expected, rtol=1e-12)


def test_grad_accumulates_across_backward_calls_only_in_dot_grad() -> None:
    x = mlplab.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first)
    before = x.grad.numpy().copy()
    (g,) = mlplab.grad((x**3).sum(), [x])
    np.testing.assert_allclose(g.numpy(), 3 * x.numpy() ** 2)
    np.testing.assert_array_equal(x.grad.numpy(), before)


def test_create_graph_grads_shared_by_two_leaves_accumulate_separately() -> None:
    a = mlplab.tensor(np.array([1.0, 2.0]), requires_grad=True)
    b = mlplab.tensor(np.array([3.0, 4.0]), requires_grad=True)
    w = mlplab.tensor(np.array([5.0, 7.0]))
    y = ((a + b) * w).sum()
    y.backward(create_graph=True)
    y.backward()
    np.testing.assert_array_equal(a.grad.numpy(), [10.0, 14.0])
    np.testing.assert_array_equal(b.grad.numpy(), [10.0, 14.0])


def test_backward_accumulates_into_a_preexisting_grad_buffer_in_place() -> None:
    x = mlplab.tensor(np.array([1.0, 2.0]), requires_grad=True)
    buffer = np.zeros(2)
    x.grad = mlplab.Tensor(buffer)
    (x * 3.0).sum().backward()
    assert x.grad.numpy() is buffer
    np.testing.assert_array_equal(buffer, [3.0, 3.0])


def test_the_graph_is_freed_after_backward_unless_retained() -> None:
    x = mlplab.tensor(np.array([1.0, 2.0]), requires_grad=True)
    h = x.exp()
    y = h.sum()
    y.backward(retain_graph=True)
    assert h.inputs == (x,)
    y.backward()
    assert h.inputs == () and y.inputs == ()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        (h * 2.0).sum().backward()


def test_no_grad_records_nothing_as_context_and_decorator() -> None:
    x = mlplab.tensor(np.array([1.0, 2.0]), requires_grad=True)
    with mlplab.no_grad():
        y = (x * 2.0).exp() + x
        assert not mlplab.is_grad_enabled()
    assert mlplab.is_grad_enabled()
    assert not y.requires_grad and y.op is None and y.inputs == ()

    @mlplab.no_grad()
    def called(t: mlplab.Tensor) -> mlplab.Tensor:
        return t * t

    @mlplab.no_grad
    def bare(t: mlplab.Tensor) -> mlplab.Tensor:
        return t @ t

    for result in (called(x), bare(x)):
        assert not result.requires_grad and result.op is None
    assert mlplab.is_grad_enabled()
    with mlplab.no_grad():
        with mlplab.enable_grad():
            z = x * 2.0
        assert z.requires_grad and z.op is not None
    assert (x * 2.0).requires_grad


def test_grad_mode_is_restored_after_an_exception() -> None:
    with pytest.raises(ZeroDivisionError), mlplab.no_grad():
        1 / 0  # noqa: B018
    assert mlplab.is_grad_enabled()


def test_first_order_backward_records_no_graph() -> None:
    x = mlplab.tensor(np.array([1.0, 2.0]), requires_grad=True)
    (g,) = mlplab.grad((x.tanh() * x).sum(), [x])
    assert not g.requires_grad and g.op is None
    (x.tanh() * x).sum().backward()
    assert not x.grad.requires_grad and x.grad.op is None
