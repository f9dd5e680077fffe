"""PyTorch's module names: ``mlplab.nn.functional`` and ``mlplab.nn.init`` are mlplab.functional
and mlplab.init under those names, the same objects, and follow what is added there later."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import mlplab
from mlplab import nn


@pytest.mark.parametrize(("alias", "source"), [("functional", "functional"), ("init", "init")])
def test_every_name_is_the_same_object(alias, source):
    module = importlib.import_module(f"mlplab.nn.{alias}")
    original = importlib.import_module(f"mlplab.{source}")
    assert getattr(nn, alias) is module
    assert set(original.__all__) <= set(module.__all__)
    for name in original.__all__:
        assert getattr(module, name) is getattr(original, name), name


@pytest.mark.parametrize(("alias", "source"), [("functional", "functional"), ("init", "init")])
def test_names_added_later_appear(alias, source, monkeypatch):
    module = importlib.import_module(f"mlplab.nn.{alias}")
    original = importlib.import_module(f"mlplab.{source}")

    def added_later(x):
        return x

    monkeypatch.setattr(original, "added_later", added_later, raising=False)
    assert module.added_later is added_later
    assert "added_later" in dir(module)
    with pytest.raises(AttributeError, match=f"module 'mlplab.nn.{alias}' has no attribute 'nope'"):
        _ = module.nope


def test_pytorch_style_script():
    import mlplab.nn.functional as F
    import mlplab.nn.init as init

    mlplab.manual_seed(0)
    w = init.kaiming_normal_(mlplab.tensor(np.zeros((4, 3), np.float32)))
    x = mlplab.tensor(np.ones((2, 4), np.float32))
    loss = F.cross_entropy(F.relu(x @ w), np.array([0, 2]), label_smoothing=0.1)
    assert loss.shape == () and np.isfinite(loss.item())


def test_star_import_takes_every_public_name():
    namespace: dict = {}
    exec("from mlplab.nn.functional import *", namespace)  # noqa: S102
    assert set(mlplab.functional.__all__) <= set(namespace)
    assert namespace["cross_entropy"] is mlplab.functional.cross_entropy
