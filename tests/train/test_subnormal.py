"""fit warns (one line) when vanishing gradients make Adam's second moment subnormal."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from mlplab import Tensor, nn
from mlplab.data import ArrayDataset, DataLoader
from mlplab.optim import SGD, Adam
from mlplab.subnormal import SubnormalWarning, subnormal_fraction, subnormal_report
from mlplab.train import fit


def _deep_net(std: float | None) -> nn.MLP:
    """30 ReLU layers of width 16; ``std`` None keeps MLP's Kaiming initialization."""
    model = nn.MLP(16, 4, width=16, depth=30, rng=0)
    if std is not None:
        rng = np.random.default_rng(0)
        for layer in model.layers:
            layer.weight.data[...] = rng.standard_normal(layer.weight.shape) * std
    return model


def _loader() -> DataLoader:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 16)).astype(np.float32)
    return DataLoader(ArrayDataset(x, rng.integers(0, 4, 64)), batch_size=32)


def test_fraction_counts_only_subnormals() -> None:
    tiny = np.finfo(np.float32).tiny
    a = np.array([0.0, tiny, tiny / 2, -tiny / 4, 1.0, np.inf, np.nan, 1e-45], np.float32)
    assert subnormal_fraction([a]) == pytest.approx(3 / 8)  # tiny/2, −tiny/4, 1e-45
    assert subnormal_fraction([np.arange(3)]) == 0.0  # integers are never subnormal


def test_fit_warns_when_adam_state_goes_subnormal() -> None:
    model = _deep_net(std=0.1)  # per layer the signal shrinks by 0.1·√(16/2) ≈ 0.28
    opt = Adam(model.parameters())
    with pytest.warns(SubnormalWarning, match=r"of exp_avg_sq subnormal.*better initialization"):
        fit(model, opt, _loader(), epochs=1)
    assert subnormal_report(opt)["exp_avg_sq"] > 0.1


def test_kaiming_does_not_warn() -> None:
    model = _deep_net(std=None)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SubnormalWarning)
        fit(model, Adam(model.parameters()), _loader(), epochs=1)
        fit(model, SGD(model.parameters(), lr=0.01, momentum=0.9), _loader(), epochs=1)


def test_report_names_the_gradient_too() -> None:
    w = Tensor(np.ones(4, np.float32), requires_grad=True)
    opt = SGD([w], lr=0.1)
    w.grad = Tensor(np.full(4, 1e-39, np.float32))
    assert subnormal_report(opt) == {"grad": 1.0}
