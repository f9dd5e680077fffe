"""dtype rules (PyTorch's) and clear error messages."""

from __future__ import annotations

import numpy as np
import pytest

import mlplab
from mlplab import functional as F


def test_creation_dtypes_follow_pytorch() -> None:
    assert mlplab.tensor(1.5).dtype == np.float32
    assert mlplab.tensor([[1.0, 2.0]]).dtype == np.float32
    assert mlplab.tensor([1, 2.5]).dtype == np.float32
    assert mlplab.tensor(3).dtype == np.int64
    assert mlplab.tensor([1, 2]).dtype == np.int64
    assert mlplab.tensor(np.ones(2)).dtype == np.float64
    assert mlplab.tensor(np.ones(2, np.float16)).dtype == np.float16
    assert mlplab.tensor([1.0], dtype=np.float64).dtype == np.float64


def test_tensor_copies_and_Tensor_wraps() -> None:
    a = np.ones(3)
    assert not np.shares_memory(mlplab.tensor(a).numpy(), a)
    assert mlplab.Tensor(a).numpy() is a


def test_scalars_and_integer_tensors_never_upcast_float32() -> None:
    x = mlplab.tensor([1.0, 2.0], requires_grad=True)
    labels = mlplab.tensor([3, 4])
    for y in (x * 3, 3 * x, x * 2.5, x / 3, x - 1, x**2, 2.0**x, x * labels, labels + x):
        assert y.dtype == np.float32, y
    assert (labels * 2).dtype == np.int64
    assert (labels * 2.5).dtype == np.float32
    (g,) = mlplab.grad((x * labels).sum(), [x])
    assert g.dtype == np.float32
    np.testing.assert_array_equal(g.numpy(), [3.0, 4.0])


def test_mixed_float_precision_promotes_but_gradients_keep_their_dtype() -> None:
    a = mlplab.tensor(np.ones(3, np.float32), requires_grad=True)
    b = mlplab.tensor(np.full(3, 2.0), requires_grad=True)
    y = a * b
    assert y.dtype == np.float64
    ga, gb = mlplab.grad(y.sum(), [a, b])
    assert ga.dtype == np.float32 and gb.dtype == np.float64
    ga, gb = mlplab.grad(mlplab.concatenate([a, b]).sum(), [a, b])
    assert ga.dtype == np.float32 and gb.dtype == np.float64


def _every_op(x: mlplab.Tensor, w: mlplab.Tensor) -> list[mlplab.Tensor]:
    p = x.abs() + 0.5
    return [
        x + w, x - w, x * w, x / (w * w + 1), -x, p**1.5, p**w, x.exp(), p.log(), x.tanh(),
        mlplab.erf(x), mlplab.where(x.data > 0, x, w), x @ w.T, x.sum(axis=0), x.max(axis=1),
        x.reshape(-1), x.T, x.broadcast_to((2, 2, 3)), x[[0, 0, 1]], x[x.data > 0],
        mlplab.concatenate([x, w]), mlplab.stack([x, w]), x.mean(), x.var(axis=0), p.sqrt(),
        F.maximum(x, w), F.minimum(x, w), x.relu(), F.leaky_relu(x), x.sigmoid(), F.softplus(x),
        F.gelu(x), F.gelu(x, approximate="tanh"), F.logsumexp(x), x.log_softmax(), x.softmax(),
        F.cross_entropy(x, np.array([0, 2])), F.mse_loss(x, w), F.log1p(p),
    ]  # fmt: skip


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_op_keeps_the_dtype_and_gradients_take_their_inputs(dtype: type) -> None:
    rng = np.random.default_rng(0)
    x = mlplab.tensor(rng.standard_normal((2, 3)).astype(dtype), requires_grad=True)
    w = mlplab.tensor(rng.standard_normal((2, 3)).astype(dtype), requires_grad=True)
    for y in _every_op(x, w):
        assert y.dtype == dtype, y
        seed = mlplab.Tensor(np.ones(y.shape))  # a float64 seed must not leak into float32
        grads = mlplab.grad(y, [x, w], grad_outputs=seed, create_graph=True, allow_unused=True)
        for g in grads:
            assert g is None or g.dtype == dtype
        if grads[0] is not None and grads[0].requires_grad:
            square = mlplab.sum(grads[0] * grads[0])
            (h,) = mlplab.grad(square, [x], retain_graph=True, allow_unused=True)
            assert h is None or h.dtype == dtype


def test_requires_grad_only_for_floating_tensors() -> None:
    with pytest.raises(TypeError, match="int64"):
        mlplab.tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="floating"):
        mlplab.tensor([1, 2]).requires_grad_()


def test_matmul_shape_errors_name_both_shapes() -> None:
    a, b = mlplab.tensor(np.ones((32, 784))), mlplab.tensor(np.ones((100, 10)))
    with pytest.raises(ValueError, match=r"\(32, 784\) @ \(100, 10\)"):
        a @ b
    with pytest.raises(ValueError, match=r"\(2, 3, 4\) @ \(5, 4, 2\)"):
        mlplab.tensor(np.ones((2, 3, 4))) @ mlplab.tensor(np.ones((5, 4, 2)))
    with pytest.raises(ValueError, match=r"\(3,\) @ \(\)"):
        mlplab.tensor(np.ones(3)) @ mlplab.tensor(np.float64(1.0))


def test_broadcast_errors_name_both_shapes() -> None:
    a, b = mlplab.tensor(np.ones((2, 3))), mlplab.tensor(np.ones(4))
    for op in (mlplab.add, mlplab.multiply, mlplab.divide, mlplab.power, F.maximum):
        with pytest.raises(ValueError, match=r"\(2, 3\) and \(4,\)"):
            op(a, b)
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 2\)"):
        mlplab.broadcast_to(a, (3, 2))
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(4,\)"):
        F.mse_loss(a, b)


def test_backward_from_a_non_scalar_needs_a_seed() -> None:
    x = mlplab.tensor(np.ones(3), requires_grad=True)
    y = x * 2.0
    with pytest.raises(RuntimeError, match=r"shape \(3,\).*grad=.*\.sum\(\)"):
        y.backward()
    with pytest.raises(RuntimeError, match="shape"):
        mlplab.grad(y, [x])
    y.backward(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0, 6.0])


def test_backward_of_a_tensor_without_a_graph_says_what_to_do() -> None:
    with pytest.raises(RuntimeError, match="requires_grad=True"):
        mlplab.tensor(np.ones(2)).sum().backward()


@pytest.mark.parametrize("reduce", [mlplab.sum, mlplab.max, F.mean, F.var, F.logsumexp])
def test_reductions_over_a_bad_axis_raise(reduce) -> None:  # type: ignore[no-untyped-def]
    x = mlplab.tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"axis 2 is out of range"):
        reduce(x, axis=2)
    with pytest.raises(ValueError, match=r"axis -3 is out of range"):
        reduce(x, axis=-3)


def test_reductions_of_a_0d_tensor_take_axis_0() -> None:
    x = mlplab.tensor(np.float64(2.5), requires_grad=True)
    assert x.sum(axis=0).item() == 2.5 and x.max(axis=-1).item() == 2.5


def test_other_shape_errors() -> None:
    x = mlplab.tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"reshape.*\(2, 3\)"):
        x.reshape(4, 2)
    with pytest.raises(ValueError, match="stack: axis 5"):
        mlplab.stack([x, x], axis=5)
    with pytest.raises(ValueError, match="concatenate"):
        mlplab.concatenate([x, mlplab.tensor(np.ones((3, 3)))], axis=1)
    with pytest.raises(IndexError, match=r"\(2, 3\)"):
        x[5]
    with pytest.raises(ValueError, match="labels must be in"):
        F.cross_entropy(x, np.array([0, 3]))


def test_nan_propagates_through_relu_and_maximum() -> None:
    x = mlplab.tensor([np.nan, -1.0, 2.0])
    assert np.isnan(x.relu().numpy()[0]) and np.isnan(F.maximum(x, 0.0).numpy()[0])
    assert np.isnan(F.minimum(x, 0.0).numpy()[0])


def test_derivatives_at_the_conventional_points() -> None:
    zero = mlplab.tensor(np.zeros(1), requires_grad=True)
    for f, slope in [(F.relu, 0.0), (F.softplus, 0.5), (F.sigmoid, 0.25), (F.abs, 1.0)]:
        (g,) = mlplab.grad(f(zero).sum(), [zero])
        np.testing.assert_allclose(g.numpy(), [slope], err_msg=f.__name__)
    (g,) = mlplab.grad((mlplab.tensor(np.zeros(1)) ** zero).sum() * 0 + (0.0**zero).sum(), [zero])
    assert np.isfinite(g.numpy()).all()
