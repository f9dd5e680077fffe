"""Losses: cross-entropy finite at ±1e4 logits and equal to PyTorch's; MSE; validation."""

import numpy as np
import pytest

import mlplab
from mlplab import nn

LOGITS = np.array(
    [
        [1e4, -1e4, 0.0, 3.0],
        [-1e4, -1e4, -1e4, -1e4],
        [0.5, -0.25, 2.0, 1e4],
        [-1e4, 1e4, 1e4, -3.0],
        [0.1, 0.2, 0.3, 0.4],
    ]
)
LABELS = np.array([1, 2, 3, 1, 0])


def reference_cross_entropy(logits, labels):
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -log_p[np.arange(len(labels)), labels]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_is_finite_at_huge_logits_and_has_finite_gradients(reduction):
    logits = mlplab.tensor(LOGITS, requires_grad=True)
    loss = nn.CrossEntropyLoss(reduction)(logits, LABELS)
    expected = reference_cross_entropy(LOGITS, LABELS)
    assert np.all(np.isfinite(loss.numpy()))
    assert expected[0] == 2e4  # the wrong class by 2·10⁴: large, not inf
    expected = {"mean": expected.mean(), "sum": expected.sum(), "none": expected}[reduction]
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-12)
    loss.sum().backward()
    assert np.all(np.isfinite(logits.grad.numpy()))


def test_cross_entropy_float32_at_huge_logits_stays_finite():
    loss = nn.CrossEntropyLoss()(mlplab.tensor(LOGITS.astype(np.float32)), LABELS)
    assert loss.dtype == np.float32 and np.isfinite(loss.item())


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_equals_torch_value_and_gradient(reduction):
    torch = pytest.importorskip("torch")
    g = np.random.default_rng(0).standard_normal(len(LABELS))
    logits = mlplab.tensor(LOGITS, requires_grad=True)
    loss = nn.CrossEntropyLoss(reduction)(logits, LABELS)
    (loss * mlplab.tensor(g if reduction == "none" else 1.0)).sum().backward()
    logits_t = torch.tensor(LOGITS, requires_grad=True)
    loss_t = torch.nn.CrossEntropyLoss(reduction=reduction)(logits_t, torch.tensor(LABELS))
    (loss_t * torch.tensor(g if reduction == "none" else 1.0)).sum().backward()
    np.testing.assert_allclose(loss.numpy(), loss_t.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(logits.grad.numpy(), logits_t.grad.numpy(), rtol=1e-10, atol=1e-15)


def test_cross_entropy_rejects_bad_labels_and_reductions():
    loss = nn.CrossEntropyLoss()
    logits = mlplab.tensor(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="labels must be integers, got dtype float64"):
        loss(logits, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"labels must be in \[0, 4\), got \[0, 4\]"):
        loss(logits, np.array([0, 1, 4]))
    with pytest.raises(ValueError, match=r"labels must be in \[0, 4\), got \[-1, 1\]"):
        loss(logits, np.array([0, 1, -1]))
    with pytest.raises(
        ValueError, match=r"expected logits \(m, k\) and labels \(m,\), got \(3, 4\)"
    ):
        loss(logits, np.array([0, 1]))
    with pytest.raises(ValueError, match="CrossEntropyLoss: reduction must be 'mean', 'sum' or"):
        nn.CrossEntropyLoss("avg")
    assert repr(nn.CrossEntropyLoss("sum")) == "CrossEntropyLoss(reduction='sum')"


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss_equals_formula_and_torch(reduction):
    rng = np.random.default_rng(0)
    prediction, target = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    p = mlplab.tensor(prediction, requires_grad=True)
    loss = nn.MSELoss(reduction)(p, mlplab.tensor(target))
    squared = (prediction - target) ** 2
    expected = {"mean": squared.mean(), "sum": squared.sum(), "none": squared}[reduction]
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-12)
    loss.sum().backward()
    scale = {"mean": 1 / prediction.size, "sum": 1.0, "none": 1.0}[reduction]
    np.testing.assert_allclose(p.grad.numpy(), 2 * scale * (prediction - target), rtol=1e-12)
    torch = pytest.importorskip("torch")
    loss_t = torch.nn.MSELoss(reduction=reduction)(torch.tensor(prediction), torch.tensor(target))
    np.testing.assert_allclose(loss.numpy(), loss_t.numpy(), rtol=1e-12)


def test_mse_loss_refuses_broadcasting_shapes():
    with pytest.raises(
        ValueError, match=r"prediction and target shapes differ: \(4, 1\) and \(4,\)"
    ):
        nn.MSELoss()(mlplab.tensor(np.zeros((4, 1))), mlplab.tensor(np.zeros(4)))
    with pytest.raises(ValueError, match="MSELoss: reduction must be"):
        nn.MSELoss("mean ")
