"""The PyTorch spellings on Tensor: each equals its NumPy meaning (and PyTorch's where installed),
the differentiable ones pass gradient checks, and dim=/keepdim= alias axis=/keepdims=."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from gradcheck import check_second_order, check_vjp

import mlplab
from mlplab import functional as F

RNG = np.random.default_rng(1313)
A = RNG.standard_normal((3, 4, 5))


def t(a: np.ndarray, **kwargs) -> mlplab.Tensor:
    return mlplab.tensor(a, **kwargs)


# ---------------------------------------------------------------- min, argmax, argmin


@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 2)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_min_equals_numpy(axis, keepdims):
    np.testing.assert_array_equal(t(A).min(axis, keepdims).numpy(), A.min(axis, keepdims=keepdims))
    np.testing.assert_array_equal(mlplab.min(t(A), axis).numpy(), A.min(axis))


@pytest.mark.parametrize("axis", [None, 1, -1])
def test_min_gradients(axis):
    check_vjp(lambda x: x.min(axis=axis), [A], RNG)
    check_second_order(lambda x: x.min(axis=axis) * x.min(axis=axis), [A], RNG)


def test_min_shares_the_gradient_among_ties_like_max():
    x = t(np.array([1.0, 0.0, 0.0, 2.0]), requires_grad=True)
    x.min().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.5, 0.5, 0.0])
    with pytest.raises(ValueError, match=r"min: the tensor of shape \(0,\) is empty"):
        t(np.zeros(0)).min()


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("axis", [None, 0, 1, -1])
@pytest.mark.parametrize("keepdims", [False, True])
def test_argmax_argmin_equal_numpy(name, axis, keepdims):
    a = np.round(A * 2)  # ties: the first index wins in both
    got = getattr(t(a), name)(axis, keepdims)
    assert got.dtype == np.int64 and not got.requires_grad
    np.testing.assert_array_equal(got.numpy(), getattr(a, name)(axis, keepdims=keepdims))
    np.testing.assert_array_equal(getattr(mlplab, name)(t(a), axis).numpy(), getattr(a, name)(axis))


def test_argmax_refuses_tuples_and_bad_axes():
    with pytest.raises(TypeError, match=r"argmax: axis must be an int or None, got \(0, 1\)"):
        t(A).argmax((0, 1))
    with pytest.raises(ValueError, match="argmin: axis 3 is out of range"):
        t(A).argmin(3)


# ---------------------------------------------------------------- shape spellings


@pytest.mark.parametrize("shape", [(12, 5), (-1,), (5, 3, 4)])
def test_view_is_reshape(shape):
    np.testing.assert_array_equal(t(A).view(*shape).numpy(), A.reshape(shape))
    np.testing.assert_array_equal(t(A).view(shape).numpy(), A.reshape(shape))


@pytest.mark.parametrize("dim", [0, 1, 3, -1, -4])
def test_unsqueeze_is_expand_dims(dim):
    assert t(A).unsqueeze(dim).shape == np.expand_dims(A, dim).shape


def test_unsqueeze_out_of_range():
    with pytest.raises(IndexError, match=r"unsqueeze: dim 4 is out of range \[-4, 3\]"):
        t(A).unsqueeze(4)


@pytest.mark.parametrize("axis", [None, 0, 2, (0, 2), -1])
def test_squeeze_equals_numpy(axis):
    a = A[:1, :, None, :1]
    np.testing.assert_array_equal(t(a).squeeze(axis).numpy(), np.squeeze(a, axis))
    if isinstance(axis, int):
        np.testing.assert_array_equal(t(a).squeeze(dim=axis).numpy(), np.squeeze(a, axis))


def test_squeeze_of_a_longer_axis_is_an_error():
    with pytest.raises(ValueError, match=r"squeeze: axis 1 has length 4, not 1"):
        t(A).squeeze(1)


@pytest.mark.parametrize(
    ("start", "end", "shape"), [(0, -1, (60,)), (1, 2, (3, 20)), (0, 1, (12, 5))]
)
def test_flatten(start, end, shape):
    np.testing.assert_array_equal(t(A).flatten(start, end).numpy(), A.reshape(shape))
    assert t(np.float32(2.0)).flatten().shape == (1,)
    with pytest.raises(ValueError, match="flatten: start_dim 2 comes after end_dim 1"):
        t(A).flatten(2, 1)


@pytest.mark.parametrize(
    "f",
    [
        lambda x: x.view(4, 15) * x.flatten(1).view(4, 15),
        lambda x: x.unsqueeze(1).squeeze(1).flatten() ** 2,
        lambda x: x.clone() * x,
    ],
    ids=["view-flatten", "unsqueeze-squeeze", "clone"],
)
def test_shape_methods_and_clone_gradients(f):
    check_vjp(f, [A], RNG)
    check_second_order(f, [A], RNG)


def test_clone_copies_and_stays_in_the_graph():
    x = t(A, requires_grad=True)
    y = x.clone()
    assert not np.shares_memory(y.data, x.data) and y.requires_grad and not y.is_leaf
    assert not t(A).clone().requires_grad


# ---------------------------------------------------------------- dtype, counts, item, zero_


def test_float_double_long():
    x = t(np.array([1.7, -2.2]), requires_grad=True)
    assert x.float().dtype == np.float32 and x.double().dtype == np.float64
    assert x.double() is x  # already float64: nothing to do, as in PyTorch
    x.float().sum().backward()
    assert x.grad.dtype == np.float64
    y = x.long()
    assert y.dtype == np.int64 and not y.requires_grad
    np.testing.assert_array_equal(y.numpy(), [1, -2])  # truncates toward zero, as torch.long


def test_numel_dim_item_and_callable_size():
    x = t(A)
    assert (x.numel(), x.dim(), x.ndim) == (60, 3, 3)
    assert x.size == 60 and isinstance(x.size, int)  # NumPy's meaning stays
    assert x.size() == (3, 4, 5) and x.size(1) == 4 and x.size(-1) == 5
    assert np.zeros(x.size).shape == (60,) and x.size + 1 == 61
    with pytest.raises(IndexError, match="size: dim 3 is out of range"):
        x.size(3)
    with pytest.raises(TypeError, match="size: dim must be an int"):
        x.size("0")
    assert t(np.array([[2.5]])).item() == 2.5
    with pytest.raises(ValueError, match="item: the tensor has 60 elements"):
        x.item()


def test_module_num_parameters_still_counts_with_size():
    model = mlplab.nn.MLP(3, 2, width=4, depth=2, rng=0)
    assert model.num_parameters() == 3 * 4 + 4 + 4 * 2 + 2


def test_zero_():
    x = t(A.copy())
    assert x.zero_() is x and not x.numpy().any()
    w = t(A.copy(), requires_grad=True)
    with pytest.raises(RuntimeError, match="zero_: a leaf tensor that requires grad"):
        w.zero_()
    with pytest.raises(RuntimeError, match="zero_: a tensor in a recorded graph"):
        (w * 2).zero_()
    with mlplab.no_grad():
        w.zero_()
    assert not w.numpy().any()
    (t(A, requires_grad=True) * 3).sum().backward()
    with pytest.raises(ValueError, match="zero_: the tensor's data is read-only"):
        mlplab.broadcast_to(t(np.ones(2)), (3, 2)).zero_()


def test_zero_grad_habit():
    w = t(A.copy(), requires_grad=True)
    (w * w).sum().backward()
    w.grad.zero_()
    assert not w.grad.numpy().any()


def test_backward_has_a_docstring():
    doc = mlplab.Tensor.backward.__doc__
    assert doc and "create_graph" in doc and "retain_graph" in doc


# ---------------------------------------------------------------- dim= and keepdim= aliases

REDUCTIONS = {
    "sum": lambda x, **k: x.sum(**k),
    "mean": lambda x, **k: x.mean(**k),
    "max": lambda x, **k: x.max(**k),
    "min": lambda x, **k: x.min(**k),
    "var": lambda x, **k: x.var(**k),
    "argmax": lambda x, **k: x.argmax(**k),
    "argmin": lambda x, **k: x.argmin(**k),
    "logsumexp": lambda x, **k: x.logsumexp(**k),
    "F.logsumexp": lambda x, **k: F.logsumexp(x, **k),
    "mlplab.sum": lambda x, **k: mlplab.sum(x, **k),
    "mlplab.max": lambda x, **k: mlplab.max(x, **k),
    "F.mean": lambda x, **k: F.mean(x, **k),
}


@pytest.mark.parametrize("name", list(REDUCTIONS))
@pytest.mark.parametrize("dim", [0, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_dim_keepdim_alias_axis_keepdims(name, dim, keepdim):
    f = REDUCTIONS[name]
    expected = f(t(A), axis=dim, keepdims=keepdim).numpy()
    np.testing.assert_array_equal(f(t(A), dim=dim, keepdim=keepdim).numpy(), expected)
    np.testing.assert_array_equal(f(t(A), dim=dim, keepdims=keepdim).numpy(), expected)
    np.testing.assert_array_equal(f(t(A), axis=dim, keepdim=keepdim).numpy(), expected)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_dim_alias_on_softmax(name):
    for f in (getattr(t(A), name), lambda **k: getattr(F, name)(t(A), **k)):
        np.testing.assert_array_equal(f(dim=1).numpy(), f(axis=1).numpy())


@pytest.mark.parametrize("name", list(REDUCTIONS))
def test_both_spellings_is_a_type_error(name):
    f = REDUCTIONS[name]
    with pytest.raises(TypeError, match="got both axis= and its PyTorch alias dim="):
        f(t(A), axis=0, dim=0)
    with pytest.raises(TypeError, match="got both keepdims= and its PyTorch alias keepdim="):
        f(t(A), keepdims=True, keepdim=True)


def test_both_spellings_positional_is_a_type_error():
    with pytest.raises(TypeError, match="sum: got both axis="):
        t(A).sum(0, dim=0)
    with pytest.raises(TypeError, match="max: got both keepdims="):
        mlplab.max(t(A), 0, True, keepdim=True)


def test_aliases_appear_in_the_signature():
    params = inspect.signature(mlplab.sum).parameters
    assert params["dim"].kind is inspect.Parameter.KEYWORD_ONLY and "keepdim" in params
    assert "keepdim" not in inspect.signature(F.softmax).parameters


def test_gradient_through_the_aliases():
    check_vjp(lambda x: x.var(dim=1, keepdim=True) + x.logsumexp(dim=1, keepdim=True), [A], RNG)


# ---------------------------------------------------------------- PyTorch as the oracle


def test_against_torch():
    torch = pytest.importorskip("torch")
    a = np.round(A * 3) / 3
    x, tx = t(a), torch.tensor(a)
    for ours, theirs in [
        (x.argmax(), tx.argmax()),
        (x.argmax(dim=1), tx.argmax(dim=1)),
        (x.argmin(dim=-1, keepdim=True), tx.argmin(dim=-1, keepdim=True)),
        (x.min(dim=2), tx.min(dim=2).values),
        (x.max(dim=0, keepdim=True), tx.max(dim=0, keepdim=True).values),
        (x.min(), tx.min()),
        (x.sum(dim=(0, 2), keepdim=True), tx.sum(dim=(0, 2), keepdim=True)),
        (x.mean(dim=1), tx.mean(dim=1)),
        (x.var(dim=1), tx.var(dim=1, correction=0)),
        (x.logsumexp(dim=1), tx.logsumexp(dim=1)),
        (x.softmax(dim=0), tx.softmax(dim=0)),
        (x.log_softmax(dim=-1), tx.log_softmax(dim=-1)),
        (x.view(-1, 5), tx.view(-1, 5)),
        (x.unsqueeze(-2), tx.unsqueeze(-2)),
        (x[:, :1].squeeze(1), tx[:, :1].squeeze(1)),
        (x.flatten(1), tx.flatten(1)),
        (x.flatten(0, 1), tx.flatten(0, 1)),
        (x.clone(), tx.clone()),
        (x.float(), tx.float()),
        (x.long(), tx.long()),
    ]:
        assert tuple(ours.shape) == tuple(theirs.shape)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12, atol=1e-12)
    assert (x.numel(), x.dim(), x.size(), x.size(1)) == (
        tx.numel(),
        tx.dim(),
        tuple(tx.size()),
        tx.size(1),
    )


def test_min_gradient_against_torch():
    torch = pytest.importorskip("torch")
    a = np.round(A * 2) / 2  # with ties
    x = t(a, requires_grad=True)
    tx = torch.tensor(a, requires_grad=True)
    u = RNG.standard_normal((3, 5))
    (x.min(dim=1) * t(u)).sum().backward()
    (tx.amin(dim=1) * torch.tensor(u)).sum().backward()  # amin shares ties evenly, as ours
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
