"""mlplab.hvp and mlplab.grad on lists of tensors: a list in, a list of the same structure out,
checked against central differences of the gradient and against the full Hessian."""

from __future__ import annotations

import numpy as np
import pytest

import mlplab
from mlplab import nn

RNG = np.random.default_rng(1331)
X = RNG.standard_normal((6, 3))
Y = np.array([0, 1, 1, 0, 1, 0])


def loss(w: mlplab.Tensor, b: mlplab.Tensor) -> mlplab.Tensor:
    return mlplab.cross_entropy(mlplab.tanh(mlplab.Tensor(X) @ w) + b, Y)


def numpy_gradient(w: np.ndarray, b: np.ndarray) -> list[np.ndarray]:
    wt, bt = mlplab.tensor(w, requires_grad=True), mlplab.tensor(b, requires_grad=True)
    return [g.numpy() for g in mlplab.grad(loss(wt, bt), [wt, bt])]


W0, B0 = RNG.standard_normal((3, 2)), RNG.standard_normal(2)
VW, VB = RNG.standard_normal((3, 2)), RNG.standard_normal(2)


def test_grad_on_a_list_equals_central_differences():
    w, b = mlplab.tensor(W0, requires_grad=True), mlplab.tensor(B0, requires_grad=True)
    grads = mlplab.grad(loss(w, b), [w, b])
    assert isinstance(grads, list) and [g.shape for g in grads] == [(3, 2), (2,)]
    eps = 1e-6
    for i, (x0, g) in enumerate(zip((W0, B0), grads, strict=True)):
        numeric = np.zeros_like(x0)
        for j in np.ndindex(x0.shape):
            step = np.zeros_like(x0)
            step[j] = eps
            args_plus = [W0, B0]
            args_minus = [W0, B0]
            args_plus[i], args_minus[i] = x0 + step, x0 - step
            plus = loss(*(mlplab.tensor(a) for a in args_plus)).item()
            minus = loss(*(mlplab.tensor(a) for a in args_minus)).item()
            numeric[j] = (plus - minus) / (2 * eps)
        np.testing.assert_allclose(g.numpy(), numeric, rtol=1e-6, atol=1e-9)


def test_hvp_on_a_list_equals_differences_of_the_gradient():
    hv = mlplab.hvp(loss, [W0, B0], [VW, VB])
    assert isinstance(hv, list) and [h.shape for h in hv] == [(3, 2), (2,)]
    eps = 1e-5
    plus = numpy_gradient(W0 + eps * VW, B0 + eps * VB)
    minus = numpy_gradient(W0 - eps * VW, B0 - eps * VB)
    for h, p, m in zip(hv, plus, minus, strict=True):
        np.testing.assert_allclose(h.numpy(), (p - m) / (2 * eps), rtol=1e-6, atol=1e-9)


def test_hvp_on_a_list_equals_the_full_hessian_times_v():
    sizes = [W0.size, B0.size]

    def flat_loss(theta: mlplab.Tensor) -> mlplab.Tensor:
        return loss(theta[: sizes[0]].reshape(3, 2), theta[sizes[0] :])

    H = mlplab.hessian(flat_loss, np.concatenate([W0.ravel(), B0])).numpy()
    np.testing.assert_allclose(H, H.T, atol=1e-12)
    expected = H @ np.concatenate([VW.ravel(), VB])
    hv = mlplab.hvp(loss, (mlplab.tensor(W0), mlplab.tensor(B0)), (VW, VB))
    assert isinstance(hv, tuple)  # a tuple in, a tuple out
    np.testing.assert_allclose(
        np.concatenate([h.numpy().ravel() for h in hv]), expected, atol=1e-12
    )


def test_hvp_over_a_models_parameters():
    model = nn.MLP(3, 2, width=4, depth=2, activation="tanh", rng=0, dtype=np.float64)
    params = list(model.parameters())
    vs = [RNG.standard_normal(p.shape) for p in params]
    x = mlplab.tensor(X)

    hv = mlplab.hvp(lambda *_: mlplab.cross_entropy(model(x), Y), params, vs)
    assert all(p.grad is None for p in params)  # .grad is left alone

    def gradient() -> list[np.ndarray]:
        return [g.numpy() for g in mlplab.grad(mlplab.cross_entropy(model(x), Y), params)]

    eps = 1e-5
    saved = [p.data.copy() for p in params]
    for p, v, s in zip(params, vs, saved, strict=True):
        p.data = s + eps * v
    plus = gradient()
    for p, v, s in zip(params, vs, saved, strict=True):
        p.data = s - eps * v
    minus = gradient()
    for p, s in zip(params, saved, strict=True):
        p.data = s
    for h, a, b in zip(hv, plus, minus, strict=True):
        np.testing.assert_allclose(h.numpy(), (a - b) / (2 * eps), rtol=1e-5, atol=1e-8)


def test_hvp_with_an_affine_or_unused_entry_gives_zeros():
    hv = mlplab.hvp(lambda a, b: (a * a).sum() + (3.0 * b).sum(), [W0, B0], [VW, VB])
    np.testing.assert_allclose(hv[0].numpy(), 2 * VW)
    np.testing.assert_array_equal(hv[1].numpy(), np.zeros(2))
    hv = mlplab.hvp(lambda a, b: (2.0 * a).sum(), [W0, B0], [VW, VB])
    assert [h.numpy().any() for h in hv] == [False, False]


def test_hvp_against_torch():
    torch = pytest.importorskip("torch")

    def torch_loss(w, b):
        return torch.nn.functional.cross_entropy(
            torch.tanh(torch.tensor(X) @ w) + b, torch.tensor(Y)
        )

    _, expected = torch.autograd.functional.hvp(
        torch_loss, (torch.tensor(W0), torch.tensor(B0)), (torch.tensor(VW), torch.tensor(VB))
    )
    for h, e in zip(mlplab.hvp(loss, [W0, B0], [VW, VB]), expected, strict=True):
        np.testing.assert_allclose(h.numpy(), e.numpy(), rtol=1e-10, atol=1e-14)


def test_bad_structure_is_a_clear_error():
    with pytest.raises(
        ValueError, match="hvp: v must be a list of 2 tensors like x, got a ndarray"
    ):
        mlplab.hvp(loss, [W0, B0], VW)
    with pytest.raises(
        ValueError, match="hvp: v must be a list of 2 tensors like x, got a list of 1"
    ):
        mlplab.hvp(loss, [W0, B0], [VW])
    with pytest.raises(ValueError, match=r"hvp: v\[1\] has shape \(3,\), x\[1\] has shape \(2,\)"):
        mlplab.hvp(loss, [W0, B0], [VW, np.zeros(3)])
