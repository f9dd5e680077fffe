"""The fused normalization node against the composite it replaces, PyTorch and differences.

``batch_norm`` and ``layer_norm`` run as one ``Normalize`` node; the composite of mean, var and
power (``nn.norm._standardize_composite``) is the reference: the same values and first and
second derivatives, to rounding.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

import mlplab
from mlplab import nn
from mlplab.functional import batch_norm, layer_norm, mean, var
from mlplab.nn.norm import _standardize_composite
from mlplab.ops.normalization import Normalize, normalize

sys.path.insert(0, str(Path(__file__).parents[1] / "core"))
from gradcheck import check_second_order, check_vjp  # noqa: E402

TIGHT = dict(rtol=1e-12, atol=1e-12)


def _x(shape, seed=0, dtype=np.float64):
    return (np.random.default_rng(seed).standard_normal(shape) * 2.0 + 0.5).astype(dtype)


def _composite_bn(x, w, b, stats=None, eps=1e-5):
    """BatchNorm as the composite, over (0,) or (0, 2); ``stats``: eval mode's (μ, σ²)."""
    axes, shape = ((0,), (x.shape[1],)) if x.ndim == 2 else ((0, 2), (x.shape[1], 1))
    if stats is None:
        mu, sigma2 = mean(x, axis=axes, keepdims=True), var(x, axis=axes, keepdims=True)
    else:
        mu, sigma2 = (mlplab.Tensor(np.asarray(s).reshape(shape)) for s in stats)
    return _standardize_composite(x, mu, sigma2, w, b, shape, eps)


def _composite_ln(x, w, b, k=1, eps=1e-5):
    axes = tuple(range(x.ndim - k, x.ndim))
    mu, sigma2 = mean(x, axis=axes, keepdims=True), var(x, axis=axes, keepdims=True)
    return _standardize_composite(x, mu, sigma2, w, b, x.shape[x.ndim - k :], eps)


def _values_and_grads(fn, arrays, u, create_graph=False):
    leaves = [None if a is None else mlplab.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*leaves)
    node = (out.op, len(out.inputs))  # before the backward frees the graph
    grads = mlplab.grad(
        mlplab.sum(out * mlplab.Tensor(u)),
        [t for t in leaves if t is not None],
        create_graph=create_graph,
    )
    return out.numpy(), [g.numpy() for g in grads], node


CASES = {
    "bn-2d": ((16, 5), lambda x, w, b: batch_norm(x, None, None, w, b, training=True),
              _composite_bn, 5),
    "bn-3d": ((6, 4, 3), lambda x, w, b: batch_norm(x, None, None, w, b, training=True),
              _composite_bn, 4),
    "bn-eval": ((7, 5), lambda x, w, b: batch_norm(x, _x(5, 7), 1.0 + _x(5, 8) ** 2, w, b),
                lambda x, w, b: _composite_bn(x, w, b, (_x(5, 7), 1.0 + _x(5, 8) ** 2)), 5),
    "ln-2d": ((6, 7), lambda x, w, b: layer_norm(x, 7, w, b), _composite_ln, 7),
    "ln-3d": ((3, 4, 5), lambda x, w, b: layer_norm(x, (4, 5), w, b),
              lambda x, w, b: _composite_ln(x, w, b, k=2), (4, 5)),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("affine", [True, False])
def test_one_node_with_the_composite_values_and_gradients(case, affine):
    shape, fused, composite, pshape = CASES[case]
    rng = np.random.default_rng(1)
    x, u = _x(shape, 2), rng.standard_normal(shape)
    params = [rng.standard_normal(pshape) + 1.0, rng.standard_normal(pshape)] if affine else []
    arrays = [x, *params] if affine else [x]

    def call(fn):
        return lambda x, *p: fn(x, *(p if p else (None, None)))

    ours, our_grads, (op, n_inputs) = _values_and_grads(call(fused), arrays, u)
    theirs, their_grads, _ = _values_and_grads(call(composite), arrays, u)
    assert isinstance(op, Normalize) and n_inputs == len(arrays)
    np.testing.assert_allclose(ours, theirs, **TIGHT)
    for a, b in zip(our_grads, their_grads, strict=True):
        np.testing.assert_allclose(a, b, **TIGHT)
    # The lean first-order VJP (on arrays) and the recorded one (in mlplab ops) agree.
    _, recorded, _ = _values_and_grads(call(fused), arrays, u, create_graph=True)
    for a, b in zip(our_grads, recorded, strict=True):
        np.testing.assert_allclose(a, b, **TIGHT)


@pytest.mark.parametrize("case", list(CASES))
def test_derivatives_match_central_differences(case):
    shape, fused, _, pshape = CASES[case]
    rng = np.random.default_rng(3)
    arrays = [_x(shape, 4), rng.standard_normal(pshape) + 1.0, rng.standard_normal(pshape)]
    check_vjp(fused, arrays, rng, rtol=1e-5, atol=1e-7)
    check_second_order(fused, arrays, rng, rtol=1e-4, atol=1e-6)


def _bn_mlp_loss(norm, params, x, y):
    """tanh(BN(x W₁ + b₁)) W₂ + b₂ into cross-entropy; ``norm`` is the fused or composite BN."""
    w1, b1, gamma, beta, w2, b2 = params
    h = mlplab.tanh(norm(x @ w1 + b1, gamma, beta))
    return mlplab.functional.cross_entropy(h @ w2 + b2, y)


def _bn_mlp(seed=0):
    rng = np.random.default_rng(seed)
    shapes = [(6, 5), (5,), (5,), (5,), (5, 3), (3,)]
    params = [rng.standard_normal(s) * 0.7 for s in shapes]
    params[2] += 1.0
    vs = [rng.standard_normal(s) for s in shapes]
    return params, vs, rng.standard_normal((9, 6)), rng.integers(0, 3, 9)


def _mlplab_hvp(norm, params, vs, x, y):
    return mlplab.hvp(
        lambda *p: _bn_mlp_loss(norm, p, mlplab.Tensor(x), y),
        [mlplab.tensor(p) for p in params],
        [mlplab.tensor(v) for v in vs],
    )


def test_hvp_through_a_batch_norm_mlp_equals_the_composite_and_torch():
    torch = pytest.importorskip("torch")
    params, vs, x, y = _bn_mlp()

    def fused(h, g, b):
        return batch_norm(h, None, None, g, b, training=True)

    ours = _mlplab_hvp(fused, params, vs, x, y)
    composite = _mlplab_hvp(_composite_bn, params, vs, x, y)
    for a, b in zip(ours, composite, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), **TIGHT)

    def torch_loss(w1, b1, gamma, beta, w2, b2):
        h = torch.nn.functional.batch_norm(
            torch.tensor(x) @ w1 + b1, None, None, gamma, beta, training=True
        )
        return torch.nn.functional.cross_entropy(torch.tanh(h) @ w2 + b2, torch.tensor(y))

    _, theirs = torch.autograd.functional.hvp(
        torch_loss, tuple(torch.tensor(p) for p in params), tuple(torch.tensor(v) for v in vs)
    )
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)


def test_hvp_through_a_layer_norm_mlp_equals_the_composite():
    params, vs, x, y = _bn_mlp(1)
    ours = _mlplab_hvp(lambda h, g, b: layer_norm(h, 5, g, b), params, vs, x, y)
    composite = _mlplab_hvp(_composite_ln, params, vs, x, y)
    for a, b in zip(ours, composite, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), **TIGHT)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("ndim", [2, 3])
def test_batch_norm_matches_torch_functional(training, affine, ndim):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    shape = (8, 4) if ndim == 2 else (5, 4, 3)
    x, u = _x(shape, 6) * 3, rng.standard_normal(shape)
    w, b = (rng.standard_normal(4) + 1.0, rng.standard_normal(4)) if affine else (None, None)
    running = [_x(4, 7), 0.5 + _x(4, 8) ** 2]
    ours_running = [r.copy() for r in running]
    xm = mlplab.tensor(x, requires_grad=True)
    wm, bm = (mlplab.tensor(p, requires_grad=True) if affine else None for p in (w, b))
    out = batch_norm(xm, *ours_running, wm, bm, training=training, momentum=0.3)
    (out * mlplab.Tensor(u)).sum().backward()
    xt = torch.tensor(x, requires_grad=True)
    wt, bt = (torch.tensor(p, requires_grad=True) if affine else None for p in (w, b))
    theirs_running = [torch.tensor(r) for r in running]
    out_t = torch.nn.functional.batch_norm(
        xt, *theirs_running, wt, bt, training=training, momentum=0.3
    )
    (out_t * torch.tensor(u)).sum().backward()
    pairs = [(out.numpy(), out_t), (xm.grad.numpy(), xt.grad)]
    pairs += list(zip(ours_running, theirs_running, strict=True))
    if affine:
        pairs += [(wm.grad.numpy(), wt.grad), (bm.grad.numpy(), bt.grad)]
    for a, b in pairs:
        np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_matches_torch_functional(affine):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(9)
    x, u = _x((3, 4, 5), 10) * 3, rng.standard_normal((3, 4, 5))
    w, b = (rng.standard_normal((4, 5)) + 1.0, rng.standard_normal((4, 5)))
    leaves = [mlplab.tensor(a, requires_grad=True) for a in (x, w, b)]
    tleaves = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    params, tparams = (leaves[1:], tleaves[1:]) if affine else ([None, None], [None, None])
    out = layer_norm(leaves[0], (4, 5), *params)
    out_t = torch.nn.functional.layer_norm(tleaves[0], (4, 5), *tparams)
    (out * mlplab.Tensor(u)).sum().backward()
    (out_t * torch.tensor(u)).sum().backward()
    pairs = [(out.numpy(), out_t)] + [
        (a.grad.numpy(), b.grad) for a, b in zip(leaves, tleaves, strict=True) if b.grad is not None
    ]
    assert len(pairs) == (4 if affine else 2)
    for a, b in pairs:
        np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-10, atol=1e-10)


def test_float32_stays_float32_and_is_close_to_the_float64_result():
    rng = np.random.default_rng(11)
    x, u = _x((32, 6), 12), rng.standard_normal((32, 6))
    results = {}
    for dtype in (np.float32, np.float64):
        bn = nn.BatchNorm1d(6, dtype=dtype)
        bn.weight.data[...] = rng.standard_normal(6) if dtype == np.float32 else results["w"]
        results.setdefault("w", bn.weight.data.astype(np.float64))
        xm = mlplab.tensor(x.astype(dtype), requires_grad=True)
        out = bn(xm)
        assert isinstance(out.op, Normalize)
        (out * mlplab.tensor(u.astype(dtype))).sum().backward()
        arrays = [out.numpy(), xm.grad.numpy(), bn.weight.grad.numpy(), bn.bias.grad.numpy()]
        assert all(a.dtype == dtype for a in arrays)
        assert bn.running_var.numpy().dtype == dtype
        results[dtype] = arrays
    for a, b in zip(results[np.float32], results[np.float64], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_mixed_dtypes_take_the_composite_and_promote_as_before():
    bn = nn.BatchNorm1d(3)  # float32 γ, β
    out = bn(mlplab.tensor(_x((4, 3)), requires_grad=True))  # a float64 input
    assert out.dtype == np.float64 and not isinstance(out.op, Normalize)
    out.sum().backward()
    assert bn.weight.grad.dtype == np.float32


def test_the_output_is_not_the_kept_x_hat():
    x = mlplab.tensor(_x((5, 3)), requires_grad=True)
    u = np.random.default_rng(13).standard_normal((5, 3))
    y = normalize(x, (0,))
    expected = _values_and_grads(lambda x: normalize(x, (0,)), [_x((5, 3))], u)[1][0]
    y.data[...] = 0.0  # writing into the output must not change the backward
    (y * mlplab.Tensor(u)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), expected)


def test_gradients_only_for_what_requires_them():
    x = mlplab.tensor(_x((5, 3)))
    gamma = mlplab.tensor(np.ones(3), requires_grad=True)
    beta = mlplab.tensor(np.zeros(3))
    (normalize(x, (0,), gamma, beta) * mlplab.tensor(_x((5, 3), 1))).sum().backward()
    assert gamma.grad is not None and x.grad is None and beta.grad is None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_running_statistics_follow_the_formula_over_steps(dtype):
    rng = np.random.default_rng(14)
    bn = nn.BatchNorm1d(4, momentum=0.3, dtype=dtype)
    mean_, var_ = np.zeros(4, dtype), np.ones(4, dtype)
    for _ in range(3):
        x = _x((6, 4), int(rng.integers(100)), dtype)
        bn(mlplab.tensor(x))
        mu = x.sum(0, keepdims=True) / np.asarray(6, dtype)
        sigma2 = ((x - mu) ** 2).sum(0) / np.asarray(6, dtype)
        mean_ = 0.3 * mu[0] + (1.0 - 0.3) * mean_
        var_ = 0.3 * (sigma2 * (6 / 5)) + (1.0 - 0.3) * var_
        np.testing.assert_allclose(
            bn.running_mean.numpy(), mean_, rtol=1e-6 if dtype == np.float32 else 1e-14
        )
        np.testing.assert_allclose(
            bn.running_var.numpy(), var_, rtol=1e-6 if dtype == np.float32 else 1e-14
        )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(x=np.ones((3, 2), np.int64)), "floating dtype"),
        (dict(weight=np.ones(2, np.float32)), "floating dtype"),
        (dict(axes=(2,)), "out of range"),
        (dict(weight=np.ones(3)), "does not broadcast"),
    ],
)
def test_normalize_refuses_bad_input_before_any_work(kwargs, match):
    args = dict(x=np.ones((3, 2)), axes=(0,), weight=None) | kwargs
    with pytest.raises(ValueError, match=match):
        normalize(mlplab.tensor(args.pop("x")), args.pop("axes"), **args)
