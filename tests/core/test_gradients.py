"""Every primitive and composite against central finite differences, at first and second order.

Each case is a function of float64 tensors and the arrays to evaluate it at, chosen away from
kinks (relu and abs at 0, ties of max) so that finite differences are meaningful.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from gradcheck import check_second_order, check_vjp

import mlplab
from mlplab import functional as F


def normal(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape)


def positive(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.5, 2.0, shape)


def away_from_zero(*shape: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.2, 2.0, shape)


def distinct(*shape: int, seed: int = 0) -> np.ndarray:
    """Values at least 0.1 apart (no ties for max), in random order."""
    rng = np.random.default_rng(seed)
    return rng.permutation(np.arange(np.prod(shape)) * 0.1 - 1.0).reshape(shape)


MASK = np.array([[True, False, True, True], [False, False, True, False], [True, True, False, True]])
COND = np.array([True, False, False, True])

PRIMITIVES = {
    "add": (lambda a, b: a + b, [normal(3, 4), normal(4, seed=1)]),
    "add_both_broadcast": (lambda a, b: mlplab.add(a, b), [normal(3, 1), normal(1, 4, seed=1)]),
    "subtract": (lambda a, b: a - b, [normal(2, 3, 4), normal(3, 1, seed=1)]),
    "multiply": (lambda a, b: a * b, [normal(3, 4), normal(3, 1, seed=1)]),
    "multiply_same_input": (lambda a: a * a, [normal(3, 4)]),
    "divide": (lambda a, b: a / b, [normal(3, 4), away_from_zero(4, seed=1)]),
    "negative": (lambda a: -a, [normal(3, 4)]),
    "power_scalar_3": (lambda a: a**3, [normal(3, 4)]),
    "power_scalar_fraction": (lambda a: a**2.5, [positive(3, 4)]),
    "power_scalar_negative": (lambda a: a**-1.5, [positive(3, 4)]),
    "power_tensor": (lambda a, b: a**b, [positive(3, 4), normal(3, 4, seed=1)]),
    "power_tensor_broadcast": (lambda a, b: a**b, [positive(3, 1), normal(4, seed=1)]),
    "rpower": (lambda b: 2.0**b, [normal(3, 4)]),
    "exp": (lambda a: a.exp(), [normal(3, 4)]),
    "log": (lambda a: a.log(), [positive(3, 4)]),
    "log1p": (lambda a: F.log1p(a), [positive(3, 4) - 0.4]),
    "tanh": (lambda a: a.tanh(), [normal(3, 4)]),
    "erf": (lambda a: mlplab.erf(a), [normal(3, 4)]),
    "where": (lambda a, b: mlplab.where(COND, a, b), [normal(3, 4), normal(3, 1, seed=1)]),
    "where_products": (lambda a, b: mlplab.where(MASK, a * b, a / b), [normal(3, 4), positive(4)]),
    "matmul": (lambda a, b: a @ b, [normal(3, 4), normal(4, 2, seed=1)]),
    "matmul_vec_mat": (lambda a, b: a @ b, [normal(4), normal(4, 2, seed=1)]),
    "matmul_mat_vec": (lambda a, b: a @ b, [normal(3, 4), normal(4, seed=1)]),
    "matmul_vec_vec": (lambda a, b: a @ b, [normal(4), normal(4, seed=1)]),
    "matmul_batched": (lambda a, b: a @ b, [normal(2, 3, 4), normal(2, 4, 2, seed=1)]),
    "matmul_batch_broadcast": (lambda a, b: a @ b, [normal(2, 1, 3, 4), normal(3, 4, 2, seed=1)]),
    "matmul_batched_mat": (lambda a, b: a @ b, [normal(2, 3, 4), normal(4, 2, seed=1)]),
    "matmul_vec_batched": (lambda a, b: a @ b, [normal(4), normal(2, 4, 3, seed=1)]),
    "matmul_batched_vec": (lambda a, b: a @ b, [normal(2, 3, 4), normal(4, seed=1)]),
    "sum_all": (lambda a: a.sum(), [normal(2, 3, 4)]),
    "sum_axis0": (lambda a: a.sum(axis=0), [normal(2, 3, 4)]),
    "sum_axes_keepdims": (lambda a: a.sum(axis=(0, 2), keepdims=True), [normal(2, 3, 4)]),
    "sum_negative_axis": (lambda a: mlplab.sum(a, axis=-1), [normal(2, 3, 4)]),
    "max_all": (lambda a: a.max(), [distinct(3, 4)]),
    "max_axis1": (lambda a: a.max(axis=1), [distinct(2, 3, 4)]),
    "max_axes_keepdims": (lambda a: a.max(axis=(0, 2), keepdims=True), [distinct(2, 3, 4)]),
    "min_all": (lambda a: a.min(), [distinct(3, 4)]),
    "min_axis1_keepdims": (lambda a: mlplab.min(a, axis=1, keepdims=True), [distinct(2, 3, 4)]),
    # argmax/argmin are indices (not differentiated); the picked entries are.
    "argmax_pick": (lambda a: a[np.arange(3), a.argmax(axis=1).numpy()], [distinct(3, 4)]),
    "argmin_pick": (lambda a: a.flatten()[a.argmin().item()], [distinct(3, 4)]),
    "clone": (lambda a: a.clone() * a, [normal(3, 4)]),
    "reshape": (lambda a: a.reshape(4, -1) * mlplab.Tensor(np.arange(6.0)), [normal(2, 3, 4)]),
    "transpose": (lambda a: a.transpose(2, 0, 1) @ mlplab.Tensor(normal(3, 5)), [normal(2, 3, 4)]),
    "transpose_T": (lambda a: a.T, [normal(3, 4)]),
    "broadcast_to": (lambda a: mlplab.broadcast_to(a, (2, 3, 4)), [normal(3, 1)]),
    "broadcast_to_new_axes": (lambda a: a.broadcast_to((5, 2, 4)), [normal(4)]),
    "getitem_slices": (lambda a: a[1:, ::2], [normal(3, 4)]),
    "getitem_ellipsis_newaxis": (lambda a: a[..., None, 1], [normal(2, 3, 4)]),
    "getitem_negative_step": (lambda a: a[::-1, 1:3], [normal(3, 4)]),
    "getitem_int_repeats": (lambda a: a[[0, 2, 0, 1, 0]], [normal(3, 4)]),
    "getitem_int_pairs": (lambda a: a[[0, 1, 1, 2], [2, 2, 0, 2]], [normal(3, 4)]),
    "getitem_mixed": (lambda a: a[1:, [3, 0, 3]], [normal(3, 4)]),
    "getitem_bool_mask": (lambda a: a[MASK], [normal(3, 4)]),
    "getitem_bool_rows": (lambda a: a[np.array([True, False, True])], [normal(3, 4)]),
    "concatenate": (
        lambda a, b, c: mlplab.concatenate([a, b, c], axis=1),
        [normal(2, 3), normal(2, 1, seed=1), normal(2, 2, seed=2)],
    ),
    "stack": (lambda a, b: mlplab.stack([a, b], axis=1), [normal(2, 3), normal(2, 3, seed=1)]),
    "stack_negative_axis": (lambda a, b: mlplab.stack([a, b * a], axis=-1), [normal(3), normal(3)]),
    # longdouble is a wider float on most platforms: the round trip is differentiable in float64.
    "astype": (lambda a: (a.astype(np.longdouble) ** 2).astype(np.float64), [normal(3, 4)]),
}

LABELS = np.array([2, 0, 3])

COMPOSITES = {
    "mean_all": (lambda a: a.mean(), [normal(3, 4)]),
    "mean_axis": (lambda a: F.mean(a, axis=0, keepdims=True), [normal(3, 4)]),
    "var_all": (lambda a: a.var(), [normal(3, 4)]),
    "var_axis_ddof": (lambda a: F.var(a, axis=1, ddof=1), [normal(3, 4)]),
    "sqrt": (lambda a: a.sqrt(), [positive(3, 4)]),
    "abs": (lambda a: abs(a), [away_from_zero(3, 4)]),
    "maximum": (lambda a, b: F.maximum(a, b), [distinct(3, 4), distinct(4, seed=1) + 0.05]),
    "minimum": (lambda a, b: F.minimum(a, b), [distinct(3, 4), distinct(3, 1, seed=1) + 0.05]),
    "maximum_scalar": (lambda a: F.maximum(a, 0.25), [distinct(3, 4) + 0.05]),
    "relu": (lambda a: a.relu(), [away_from_zero(3, 4)]),
    "leaky_relu": (lambda a: F.leaky_relu(a, 0.2), [away_from_zero(3, 4)]),
    "sigmoid": (lambda a: a.sigmoid(), [np.array([-30.0, -3.0, -0.5, 0.0, 0.7, 4.0, 25.0])]),
    "softplus": (lambda a: F.softplus(a), [np.array([-30.0, -3.0, -0.5, 0.0, 0.7, 4.0, 25.0])]),
    "gelu": (lambda a: F.gelu(a), [normal(3, 4) * 2]),
    "gelu_tanh": (lambda a: F.gelu(a, approximate="tanh"), [normal(3, 4) * 2]),
    "logsumexp": (lambda a: F.logsumexp(a, axis=1), [normal(3, 4) * 3]),
    "logsumexp_axes_keepdims": (
        lambda a: F.logsumexp(a, axis=(0, 2), keepdims=True),
        [normal(2, 3, 4)],
    ),
    "logsumexp_large": (lambda a: F.logsumexp(a, axis=-1), [normal(3, 4) + 800.0]),
    "log_softmax": (lambda a: a.log_softmax(axis=-1), [normal(3, 4) * 3]),
    "log_softmax_axis0": (lambda a: F.log_softmax(a, axis=0), [normal(3, 4)]),
    "softmax": (lambda a: a.softmax(), [normal(3, 4) * 3]),
    "cross_entropy_mean": (lambda a: F.cross_entropy(a, LABELS), [normal(3, 4) * 2]),
    "cross_entropy_sum": (
        lambda a: F.cross_entropy(a, mlplab.tensor(LABELS), reduction="sum"),
        [normal(3, 4)],
    ),
    "cross_entropy_none": (lambda a: F.cross_entropy(a, LABELS, reduction="none"), [normal(3, 4)]),
    "cross_entropy_one_example": (lambda a: F.cross_entropy(a, np.array(1)), [normal(4)]),
    "affine": (
        lambda x, w, b: mlplab.ops.affine(x, w, b),
        [normal(3, 4), normal(4, 2, seed=1), normal(2, seed=2)],
    ),
    "softmax_cross_entropy": (
        lambda a: mlplab.ops.softmax_cross_entropy(a, LABELS, 0.5),
        [normal(3, 4) * 2],
    ),
    "normalize_batch_axes_affine": (  # the fused BatchNorm node: statistics over the batch
        lambda a, w, b: mlplab.ops.normalize(a, (0,), w, b),
        [normal(5, 4), positive(4, seed=1), normal(4, seed=2)],
    ),
    "normalize_feature_axes": (  # the fused LayerNorm node without γ, β
        lambda a: mlplab.ops.normalize(a, (1,)),
        [normal(3, 4)],
    ),
    "mse_loss": (lambda a, b: F.mse_loss(a, b), [normal(3, 4), normal(3, 4, seed=1)]),
    "mse_loss_sum": (
        lambda a: F.mse_loss(a, normal(3, 4, seed=1), reduction="sum"),
        [normal(3, 4)],
    ),
    "batch_norm_training_affine": (
        lambda a, w, b: F.batch_norm(a, None, None, w, b, training=True),
        [normal(5, 4), positive(4, seed=1), normal(4, seed=2)],
    ),
    "layer_norm_affine": (
        lambda a, w, b: F.layer_norm(a, 4, w, b),
        [normal(3, 4), positive(4, seed=1), normal(4, seed=2)],
    ),
    "dropout_fixed_mask": (  # a fresh generator per call: the same mask every evaluation
        lambda a: F.dropout(a, 0.3, rng=np.random.default_rng(7)),
        [normal(3, 4)],
    ),
}

CASES = {**PRIMITIVES, **COMPOSITES}


def _rng(name: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(name.encode()))


@pytest.mark.parametrize("name", list(CASES))
def test_vjp_matches_central_differences(name: str) -> None:
    f, arrays = CASES[name]
    check_vjp(f, arrays, _rng(name))


@pytest.mark.parametrize("name", list(CASES))
def test_second_derivatives_match_differences_of_the_gradient(name: str) -> None:
    f, arrays = CASES[name]
    check_second_order(f, arrays, _rng(name))


def test_every_public_primitive_and_composite_has_a_case() -> None:
    names = set(mlplab.ops.__all__) - {"apply", "as_tensor", "sum_to"}
    names |= set(F.__all__)
    covered = {n for n in names if any(case.startswith(n) for case in CASES)}
    covered |= {"getitem", "sum_to"} & names  # getitem_*; sum_to is broadcast_to's VJP
    assert names - covered == set()


def test_a_broken_vjp_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The checker itself can fail: transpose one matmul VJP the wrong way and watch it."""
    from mlplab.ops import MatMul, matmul, swap_last

    def wrong(self, g, out, a, b):  # type: ignore[no-untyped-def]
        return matmul(g, swap_last(b)) * 1.0001, matmul(swap_last(a), g)

    monkeypatch.setattr(MatMul, "vjp", wrong)
    f, arrays = CASES["matmul"]
    with pytest.raises(AssertionError):
        check_vjp(f, arrays, _rng("matmul"))
