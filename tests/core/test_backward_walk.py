"""The backward walk (nodes in decreasing creation order, first-order gradients on arrays) and
the bias row sum Σ_rows G = 1ᵀ G that every path shares."""

from __future__ import annotations

import numpy as np
import pytest

import mlplab
from mlplab import nn
from mlplab.autodiff import grad
from mlplab.ops import Op, apply
from mlplab.ops.fused import _AFFINE, _AFFINE_RELU
from mlplab.ops.shape import sum_rows, sum_to
from mlplab.tensor import Tensor


def test_recorded_results_are_numbered_after_their_inputs() -> None:
    x = mlplab.tensor([1.0, 2.0], requires_grad=True)
    a = x * 2.0
    b = a * a
    c = b + a
    assert a.seq < b.seq < c.seq
    assert not hasattr(x, "seq")  # a leaf needs no number


def test_a_node_used_late_waits_for_every_consumer() -> None:
    # ``a`` is used by nodes made long after it; a depth-first order from ``out`` would reach
    # ``a`` through its first consumer. Taken by decreasing seq, ``a`` comes last of all.
    x = mlplab.tensor([0.5, -1.5, 2.0], requires_grad=True, dtype=np.float64)
    a = x * x
    chain = a
    for _ in range(5):
        chain = chain * 1.5 + 1.0
    out = (chain * a + a).sum()
    out.backward()
    xd = x.data
    c = xd**2
    for _ in range(5):
        c = c * 1.5 + 1.0
    # d/dx of c(a)·a + a with dc/da = 1.5⁵, da/dx = 2x
    want = ((1.5**5) * xd**2 + c + 1.0) * 2 * xd
    np.testing.assert_allclose(x.grad.data, want, rtol=1e-12)


def test_a_chain_of_ten_thousand_ops_needs_no_recursion() -> None:
    x = mlplab.tensor(1.0, requires_grad=True, dtype=np.float64)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.backward()
    assert x.grad.item() == pytest.approx(1.0001**10_000)


class _Twice(Op):
    """2a with only ``vjp`` (no array form): a first-order pass calls its vjp on Tensors."""

    __slots__ = ()

    def forward(self, a):
        return 2 * a

    def vjp(self, g, out, a):
        return (g * 2.0,)


class _Counted(_Twice):
    """2a that counts its VJP calls."""

    __slots__ = ("calls",)

    def __init__(self) -> None:
        self.calls = 0

    def vjp(self, g, out, a):
        self.calls += 1
        return super().vjp(g, out, a)


@pytest.mark.parametrize("create_graph", [False, True])
def test_each_node_is_taken_once_with_its_whole_gradient(create_graph: bool) -> None:
    # ``a`` has two consumers, one made right after it and one at the very end: it must wait
    # for both (a walk that took it early would need its VJP twice).
    op = _Counted()
    x = mlplab.tensor([1.0, -2.0], requires_grad=True)
    a = apply(op, x)
    b = a * 3.0
    c = b * b + 1.0
    (c + a).sum().backward(create_graph=create_graph)
    assert op.calls == 1
    want = (18.0 * (2.0 * x.data) + 1.0) * 2.0  # a = 2x: d/dx Σ(9a² + 1 + a) = (18a + 1)·2
    np.testing.assert_allclose(x.grad.data, want, rtol=1e-6)


def test_an_op_without_vjp_arrays_runs_its_vjp_in_a_first_order_pass() -> None:
    x = mlplab.tensor([1.0, 3.0], requires_grad=True)
    apply(_Twice(), x).sum().backward()
    assert np.array_equal(x.grad.data, np.array([2.0, 2.0], np.float32))
    (dx,) = grad((apply(_Twice(), x) * x).sum(), [x])
    assert np.array_equal(dx.data, np.array([4.0, 12.0], np.float32))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sum_rows_is_the_product_with_ones(dtype: type) -> None:
    a = np.random.default_rng(0).standard_normal((128, 100)).astype(dtype)
    got = sum_rows(a)
    assert got.dtype == dtype and got.shape == (100,) and got.flags.writeable
    assert np.array_equal(got, np.ones(128, dtype) @ a)
    assert np.array_equal(sum_rows(a[:, :7]), np.ones(128, dtype) @ a[:, :7])  # a strided view
    np.testing.assert_allclose(got, a.astype(np.float64).sum(axis=0), rtol=1e-4, atol=1e-4)


def test_sum_rows_leaves_other_arrays_to_numpy_sum() -> None:
    for a in (np.arange(12).reshape(4, 3), np.ones((4, 3), np.float16), np.ones(5)):
        got = sum_rows(a)
        assert got.dtype == a.sum(axis=0).dtype and np.array_equal(got, a.sum(axis=0))
    assert np.array_equal(sum_rows(np.ones((0, 3), np.float32)), np.zeros(3, np.float32))


def _bias_case() -> tuple[Tensor, Tensor, Tensor, np.ndarray]:
    rng = np.random.default_rng(2)
    x = mlplab.Tensor(rng.standard_normal((128, 30)).astype(np.float32), requires_grad=True)
    w = mlplab.Tensor(rng.standard_normal((30, 40)).astype(np.float32), requires_grad=True)
    b = mlplab.Tensor(rng.standard_normal(40).astype(np.float32), requires_grad=True)
    g = rng.standard_normal((128, 40)).astype(np.float32)
    return x, w, b, g


@pytest.mark.parametrize("op", [_AFFINE, _AFFINE_RELU])
def test_bias_gradient_is_ones_times_g_lean_recorded_and_general(op: Op) -> None:
    x, w, b, g = _bias_case()
    out = apply(op, x, w, b)
    gd = g * (out.data != 0) if op is _AFFINE_RELU else g
    want = np.ones(128, np.float32) @ gd
    lean = op.vjp_arrays(g, out, x, w, b)
    with mlplab.enable_grad():
        recorded = op.vjp(Tensor._make(g), out, x, w, b)
    for got, rec in zip(lean, recorded, strict=True):
        assert np.array_equal(got, rec.data)
    assert np.array_equal(lean[2], want)
    # the plain-op path: the broadcast bias's VJP sums back with the same product
    assert np.array_equal(sum_to(Tensor._make(gd), (40,)).data, want)


def test_mlp_bias_gradients_are_ones_times_the_layer_gradient() -> None:
    rng = np.random.default_rng(3)
    model = nn.MLP(6, 4, width=9, depth=2, rng=0)
    x = mlplab.Tensor(rng.standard_normal((16, 6)).astype(np.float32))
    y = rng.integers(0, 4, 16)
    nn.CrossEntropyLoss()(model(x), y).backward()
    out_layer = model.layers[1]
    z = np.maximum(x.data @ model.layers[0].weight.data + model.layers[0].bias.data, 0)
    h = z @ out_layer.weight.data + out_layer.bias.data
    p = np.exp(h - h.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(16), y] -= 1
    g = p * np.float32(1 / 16)
    assert np.array_equal(out_layer.bias.grad.data, np.ones(16, np.float32) @ g)


@pytest.mark.parametrize("leaf_input", [True, False])
def test_array_and_tensor_gradients_of_one_tensor_add_up(leaf_input: bool) -> None:
    # z feeds an op with an array VJP (affine) and one without (multiply): its two gradients
    # come as an array and as a Tensor; lean and recorded passes agree bit for bit.
    rng = np.random.default_rng(4)
    x0 = rng.standard_normal((5, 3)).astype(np.float32)
    w = mlplab.Tensor(rng.standard_normal((3, 4)).astype(np.float32), requires_grad=True)
    b = mlplab.Tensor(rng.standard_normal(4).astype(np.float32), requires_grad=True)
    v = mlplab.Tensor(rng.standard_normal((5, 4)).astype(np.float32))

    def grads(create_graph: bool) -> list[np.ndarray]:
        x = mlplab.Tensor(x0.copy(), requires_grad=True)
        z = x if leaf_input else x * 1.5
        loss = (mlplab.ops.affine(z, w, b) * v).sum() + (z * z).sum()
        got = grad(loss, [x, w, b], create_graph=create_graph)
        return [t.data for t in got]

    lean, recorded = grads(False), grads(True)
    for a, r in zip(lean, recorded, strict=True):
        assert np.array_equal(a, r)
    s = 1.0 if leaf_input else 1.5
    z = x0 * s
    want_x = ((v.data @ w.data.T) + 2 * z) * s
    np.testing.assert_allclose(lean[0], want_x, rtol=1e-5, atol=1e-6)
