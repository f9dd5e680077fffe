"""Property tests: every binary op over mutually broadcastable shapes behaves like NumPy, and
its VJP returns gradients of the inputs' shapes that pass the finite-difference check."""

from __future__ import annotations

import numpy as np
from gradcheck import check_vjp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import mlplab
from mlplab import functional as F

# name: (mlplab op, NumPy reference); _operands keeps each in its smooth domain
BINARY = {
    "add": (mlplab.add, np.add),
    "subtract": (mlplab.subtract, np.subtract),
    "multiply": (mlplab.multiply, np.multiply),
    "divide": (mlplab.divide, np.divide),
    "power": (mlplab.power, np.power),
    "maximum": (F.maximum, np.maximum),
    "minimum": (F.minimum, np.minimum),
}

SHAPES = mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3)
PROPERTY = settings(max_examples=25, deadline=None, derandomize=True)


def _operands(name: str, shapes: tuple, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shapes[0])
    b = rng.standard_normal(shapes[1])
    if name == "divide":  # keep the denominator away from 0
        b = np.sign(b + 0.5 * (b == 0)) * (np.abs(b) + 0.5)
    if name == "power":  # a positive base
        a = np.abs(a) + 0.5
    if name in ("maximum", "minimum"):  # no ties within finite-difference reach
        a = a + 0.05 * (np.abs(a - b) < 0.05)
    return np.asarray(a), np.asarray(b)


def _check(name: str, data: st.DataObject) -> None:
    shapes = data.draw(SHAPES).input_shapes
    seed = data.draw(st.integers(0, 2**16))
    op, reference = BINARY[name]
    a, b = _operands(name, shapes, seed)

    out = op(mlplab.Tensor(a), mlplab.Tensor(b))
    expected = reference(a, b)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)

    grads = check_vjp(op, [a, b], np.random.default_rng(seed))
    assert [g.shape for g in grads] == [a.shape, b.shape]


@PROPERTY
@given(data=st.data())
def test_add(data: st.DataObject) -> None:
    _check("add", data)


@PROPERTY
@given(data=st.data())
def test_subtract(data: st.DataObject) -> None:
    _check("subtract", data)


@PROPERTY
@given(data=st.data())
def test_multiply(data: st.DataObject) -> None:
    _check("multiply", data)


@PROPERTY
@given(data=st.data())
def test_divide(data: st.DataObject) -> None:
    _check("divide", data)


@PROPERTY
@given(data=st.data())
def test_power(data: st.DataObject) -> None:
    _check("power", data)


@PROPERTY
@given(data=st.data())
def test_maximum(data: st.DataObject) -> None:
    _check("maximum", data)


@PROPERTY
@given(data=st.data())
def test_minimum(data: st.DataObject) -> None:
    _check("minimum", data)


@PROPERTY
@given(
    shapes=mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, max_side=3),
    seed=st.integers(0, 2**16),
)
def test_where(shapes, seed: int) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    shape_c, shape_a, shape_b = shapes.input_shapes
    cond = rng.random(shape_c) < 0.5
    a, b = rng.standard_normal(shape_a), rng.standard_normal(shape_b)

    def op(x: mlplab.Tensor, y: mlplab.Tensor) -> mlplab.Tensor:
        return mlplab.where(cond, x, y)

    out = op(mlplab.Tensor(a), mlplab.Tensor(b))
    np.testing.assert_array_equal(out.numpy(), np.where(cond, a, b))
    grads = check_vjp(op, [a, b], rng)
    assert [g.shape for g in grads] == [np.shape(a), np.shape(b)]


@PROPERTY
@given(
    shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
    seed=st.integers(0, 2**16),
)
def test_broadcast_to_and_its_sum_back(shapes, seed: int) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shapes.input_shapes[0])
    target = shapes.result_shape

    def op(x: mlplab.Tensor) -> mlplab.Tensor:
        return mlplab.broadcast_to(x, target)

    out = op(mlplab.Tensor(a))
    np.testing.assert_array_equal(out.numpy(), np.broadcast_to(a, target))
    (g,) = check_vjp(op, [a], rng)
    assert g.shape == np.shape(a)


@PROPERTY
@given(
    shapes=mutually_broadcastable_shapes(
        signature=np.matmul.signature, max_dims=2, max_side=3, min_side=1
    ),
    seed=st.integers(0, 2**16),
)
def test_matmul_with_1d_and_broadcast_batch_operands(shapes, seed: int) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    a, b = (rng.standard_normal(s) for s in shapes.input_shapes)
    out = mlplab.matmul(mlplab.Tensor(a), mlplab.Tensor(b))
    np.testing.assert_allclose(out.numpy(), np.matmul(a, b), rtol=1e-12, atol=1e-12)
    grads = check_vjp(mlplab.matmul, [a, b], rng)
    assert [g.shape for g in grads] == [a.shape, b.shape]
