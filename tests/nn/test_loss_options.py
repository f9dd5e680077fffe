"""CrossEntropyLoss / cross_entropy with PyTorch's weight=, label_smoothing=, ignore_index= and
reduction=, and MSELoss's reductions: against a NumPy transcription of PyTorch's formula,
central differences, and PyTorch itself (1e-10 in float64, values and gradients)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import mlplab
from mlplab import functional as F
from mlplab import nn
from mlplab.ops.fused import SoftmaxCrossEntropy

RNG = np.random.default_rng(613)
M, K = 7, 5
LOGITS = RNG.standard_normal((M, K)) * 2
LABELS = np.array([0, 4, 2, 2, 1, 3, 4])
WEIGHT = RNG.uniform(0.2, 2.0, K)
IGNORED = np.array([0, 4, -100, 2, 1, -100, 4])  # two rows left out

OPTIONS = list(
    itertools.product(["mean", "sum", "none"], [None, "w"], [0.0, 0.25, 1.0], [LABELS, IGNORED])
)
IDS = [
    f"{r}-{'w' if w else 'now'}-eps{e}-{'ign' if y is IGNORED else 'all'}" for r, w, e, y in OPTIONS
]


def reference(logits, labels, reduction, weight, eps, ignore_index=-100):
    """PyTorch's cross_entropy with class indices, transcribed to NumPy."""
    z = logits - logits.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    k = logits.shape[1]
    w = np.ones(k) if weight is None else weight
    kept = labels != ignore_index
    safe = np.where(kept, labels, 0)
    w_y = w[safe] * kept
    nll = -log_p[np.arange(len(labels)), safe] * w_y
    smooth = -(log_p * w).sum(axis=1) * kept
    losses = (1 - eps) * nll + eps / k * smooth
    if reduction == "none":
        return losses
    return losses.sum() / (w_y.sum() if reduction == "mean" else 1.0)


def ours(logits, labels, reduction, weight, eps, **kwargs):
    return F.cross_entropy(logits, labels, reduction, weight=weight, label_smoothing=eps, **kwargs)


@pytest.mark.parametrize(("reduction", "w", "eps", "labels"), OPTIONS, ids=IDS)
def test_matches_the_formula_and_central_differences(reduction, w, eps, labels):
    weight = WEIGHT if w else None
    x = mlplab.tensor(LOGITS, requires_grad=True)
    out = ours(x, labels, reduction, weight, eps)
    np.testing.assert_allclose(out.numpy(), reference(LOGITS, labels, reduction, weight, eps))
    u = RNG.standard_normal(out.shape)
    (grad,) = mlplab.grad(out, [x], grad_outputs=mlplab.Tensor(u))
    numeric = np.zeros_like(LOGITS)
    for i in np.ndindex(LOGITS.shape):
        step = np.zeros_like(LOGITS)
        step[i] = 1e-6
        plus = reference(LOGITS + step, labels, reduction, weight, eps)
        minus = reference(LOGITS - step, labels, reduction, weight, eps)
        numeric[i] = np.sum(u * (plus - minus)) / 2e-6
    np.testing.assert_allclose(grad.numpy(), numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(("reduction", "w", "eps", "labels"), OPTIONS, ids=IDS)
def test_matches_torch(reduction, w, eps, labels):
    torch = pytest.importorskip("torch")
    weight = WEIGHT if w else None
    module = nn.CrossEntropyLoss(reduction, weight=weight, label_smoothing=eps)
    theirs = torch.nn.CrossEntropyLoss(
        weight=None if weight is None else torch.tensor(weight),
        reduction=reduction,
        label_smoothing=eps,
    )
    x = mlplab.tensor(LOGITS, requires_grad=True)
    tx = torch.tensor(LOGITS, requires_grad=True)
    out, t_out = module(x, labels), theirs(tx, torch.tensor(labels))
    np.testing.assert_allclose(out.numpy(), t_out.detach().numpy(), rtol=1e-10, atol=1e-12)
    u = RNG.standard_normal(out.shape)
    (out * mlplab.Tensor(u)).sum().backward()
    (t_out * torch.tensor(u)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("eps", [0.0, 0.3])
def test_second_derivatives_match_torch(eps):
    torch = pytest.importorskip("torch")
    v = RNG.standard_normal(LOGITS.shape)

    def f(x):
        return F.cross_entropy(x, IGNORED, weight=WEIGHT, label_smoothing=eps)

    hv = mlplab.hvp(f, LOGITS, v).numpy()
    _, t_hv = torch.autograd.functional.hvp(
        lambda x: torch.nn.functional.cross_entropy(
            x, torch.tensor(IGNORED), weight=torch.tensor(WEIGHT), label_smoothing=eps
        ),
        torch.tensor(LOGITS),
        torch.tensor(v),
    )
    np.testing.assert_allclose(hv, t_hv.numpy(), rtol=1e-10, atol=1e-12)


def test_custom_ignore_index_and_one_example():
    torch = pytest.importorskip("torch")
    labels = np.where(LABELS == 2, 3, LABELS)  # ignore class 3 (a valid class index)
    tl = torch.tensor(labels)
    for reduction in ("mean", "sum", "none"):
        got = F.cross_entropy(LOGITS, labels, reduction, ignore_index=3, label_smoothing=0.1)
        want = torch.nn.functional.cross_entropy(
            torch.tensor(LOGITS), tl, reduction=reduction, ignore_index=3, label_smoothing=0.1
        )
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-10)
        one = F.cross_entropy(LOGITS[0], LABELS[0], reduction, weight=WEIGHT, label_smoothing=0.2)
        want_one = torch.nn.functional.cross_entropy(
            torch.tensor(LOGITS[0]),
            torch.tensor(LABELS[0]),
            weight=torch.tensor(WEIGHT),
            reduction=reduction,
            label_smoothing=0.2,
        )
        assert one.shape == tuple(want_one.shape) == ()
        np.testing.assert_allclose(one.numpy(), want_one.numpy(), rtol=1e-10)


def test_the_default_case_keeps_the_fused_node():
    x = mlplab.tensor(LOGITS, requires_grad=True)
    assert isinstance(nn.CrossEntropyLoss()(x, LABELS).op, SoftmaxCrossEntropy)
    assert isinstance(F.cross_entropy(x, LABELS, "sum").op, SoftmaxCrossEntropy)
    assert not isinstance(F.cross_entropy(x, IGNORED).op, SoftmaxCrossEntropy)
    assert not isinstance(F.cross_entropy(x, LABELS, label_smoothing=0.1).op, SoftmaxCrossEntropy)


def test_float32_stays_float32():
    x = mlplab.tensor(LOGITS.astype(np.float32), requires_grad=True)
    loss = F.cross_entropy(x, IGNORED, weight=WEIGHT, label_smoothing=0.1)
    loss.backward()
    assert loss.dtype == np.float32 and x.grad.dtype == np.float32


def test_bad_options_fail_before_any_work():
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\], got 1.5"):
        nn.CrossEntropyLoss(label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\], got -0.1"):
        F.cross_entropy(LOGITS, LABELS, label_smoothing=-0.1)
    with pytest.raises(ValueError, match="weight must be a 1-D array of finite numbers"):
        nn.CrossEntropyLoss(weight=[[1.0, 2.0]])
    with pytest.raises(ValueError, match=r"weight must have shape \(5,\), got \(3,\)"):
        nn.CrossEntropyLoss(weight=[1.0, 2.0, 3.0])(mlplab.tensor(LOGITS), LABELS)
    with pytest.raises(ValueError, match="reduction must be .* got ndarray; pass class weights"):
        nn.CrossEntropyLoss(WEIGHT)  # PyTorch's positional weight
    with pytest.raises(ValueError, match="cross_entropy: reduction must be"):
        F.cross_entropy(LOGITS, LABELS, "avg")
    with pytest.raises(ValueError, match=r"labels must be in \[0, 5\), got \[-1, 4\]"):
        F.cross_entropy(LOGITS, np.array([0, 1, 2, 3, 4, -1, -100]))
    with pytest.raises(TypeError, match="ignore_index must be an int"):
        nn.CrossEntropyLoss(ignore_index=1.5)


def test_repr_names_the_options():
    loss = nn.CrossEntropyLoss("sum", weight=[1.0, 2.0], ignore_index=0, label_smoothing=0.1)
    assert repr(loss) == (
        "CrossEntropyLoss(reduction='sum', weight=[1.0, 2.0], ignore_index=0, label_smoothing=0.1)"
    )


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_reductions_match_torch(reduction):
    torch = pytest.importorskip("torch")
    target = RNG.standard_normal((M, K))
    x = mlplab.tensor(LOGITS, requires_grad=True)
    tx = torch.tensor(LOGITS, requires_grad=True)
    out = nn.MSELoss(reduction)(x, mlplab.tensor(target))
    t_out = torch.nn.MSELoss(reduction=reduction)(tx, torch.tensor(target))
    np.testing.assert_allclose(out.numpy(), t_out.detach().numpy(), rtol=1e-10)
    u = RNG.standard_normal(out.shape)
    (out * mlplab.Tensor(u)).sum().backward()
    (t_out * torch.tensor(u)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10)
