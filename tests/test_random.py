"""The library seed: every default random draw is reproducible after mlplab.manual_seed, an
explicit rng or seed keeps winning, and initializers' errors name the function called."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import mlplab
from mlplab import init
from mlplab.data import DataLoader
from mlplab.data.loader import ArrayDataset
from mlplab.nn import MLP, Linear

RANDOM_INITS = [
    "normal", "uniform", "trunc_normal", "variance_scaling", "xavier_uniform", "xavier_normal",
    "kaiming_uniform", "kaiming_normal", "orthogonal",
]  # fmt: skip


def _weights(model: mlplab.nn.Module) -> list[np.ndarray]:
    return [p.data.copy() for p in model.parameters()]


def test_manual_seed_is_exported_and_returns_the_default_generator():
    assert mlplab.manual_seed is mlplab.random.manual_seed
    g = mlplab.manual_seed(5)
    assert g is mlplab.random.generator()
    assert g.integers(1 << 30) == np.random.default_rng(5).integers(1 << 30)


@pytest.mark.parametrize("bad", [1.5, "0", None, True])
def test_manual_seed_refuses_non_ints(bad):
    with pytest.raises(TypeError, match="manual_seed: seed must be an int"):
        mlplab.manual_seed(bad)


def test_manual_seed_refuses_negative():
    with pytest.raises(ValueError, match="manual_seed: seed must be >= 0, got -1"):
        mlplab.manual_seed(-1)


@pytest.mark.parametrize("name", RANDOM_INITS)
def test_initializers_without_rng_follow_manual_seed(name):
    f, f_ = getattr(init, name), getattr(init, name + "_", None)
    mlplab.manual_seed(0)
    a = f((6, 4))
    mlplab.manual_seed(0)
    b = f((6, 4))
    c = f((6, 4))  # the stream moves on
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(b, c)
    if f_ is not None:
        mlplab.manual_seed(0)
        w = f_(mlplab.tensor(np.zeros((6, 4), np.float32)))
        np.testing.assert_array_equal(w.data, a)


def test_kaiming_normal_in_place_without_rng_works():
    w = mlplab.tensor(np.zeros((400, 300), np.float32))
    assert init.kaiming_normal_(w) is w
    assert abs(w.data.var() * 400 - 2.0) < 0.05


@pytest.mark.parametrize("name", RANDOM_INITS)
def test_explicit_rng_wins_and_leaves_the_default_untouched(name):
    f = getattr(init, name)
    mlplab.manual_seed(1)
    a = f((5, 3), np.random.default_rng(9))
    after = mlplab.random.generator().integers(1 << 30)
    mlplab.manual_seed(2)
    b = f((5, 3), 9)
    np.testing.assert_array_equal(a, b)
    assert after == np.random.default_rng(1).integers(1 << 30)


@pytest.mark.parametrize(
    "build",
    [
        lambda rng=None: Linear(7, 3, rng=rng),
        lambda rng=None: Linear(7, 3, weight_init="xavier_normal", bias_init="normal:1", rng=rng),
        lambda rng=None: MLP(7, 3, width=5, depth=3, rng=rng),
        lambda rng=None: MLP(7, 3, width=5, depth=2, init=None, rng=rng),
    ],
    ids=["linear-default", "linear-named", "mlp-kaiming", "mlp-torch-default"],
)
def test_modules_without_rng_follow_manual_seed(build):
    mlplab.manual_seed(3)
    a = _weights(build())
    np.random.seed(0)  # noqa: NPY002  (NumPy's legacy seed has no say)
    mlplab.manual_seed(3)
    b = _weights(build())
    c = _weights(build())
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0])
    mlplab.manual_seed(4)
    explicit = _weights(build(rng=11))
    mlplab.manual_seed(5)
    for x, y in zip(explicit, _weights(build(rng=np.random.default_rng(11))), strict=True):
        np.testing.assert_array_equal(x, y)


def _epochs(loader: DataLoader, n: int = 2) -> list[list[int]]:
    return [np.concatenate([y.numpy() for _, y in loader]).tolist() for _ in range(n)]


def test_dataloader_shuffle_without_seed_follows_manual_seed():
    ds = ArrayDataset(np.zeros((50, 1), np.float32), np.arange(50))
    mlplab.manual_seed(7)
    a = _epochs(DataLoader(ds, batch_size=8, shuffle=True))
    mlplab.manual_seed(7)
    b = _epochs(DataLoader(ds, batch_size=8, shuffle=True))
    c = _epochs(DataLoader(ds, batch_size=8, shuffle=True))
    assert a == b
    assert a[0] != a[1] and a != c
    mlplab.manual_seed(8)
    seeded = _epochs(DataLoader(ds, batch_size=8, shuffle=True, seed=3))
    mlplab.manual_seed(9)
    assert seeded == _epochs(DataLoader(ds, batch_size=8, shuffle=True, seed=3))


def test_a_loader_does_not_shift_the_weights_drawn_after_it():
    ds = ArrayDataset(np.zeros((10, 1), np.float32), np.arange(10))
    mlplab.manual_seed(0)
    plain = _weights(Linear(4, 2))
    mlplab.manual_seed(0)
    DataLoader(ds, batch_size=2, shuffle=True)
    np.testing.assert_array_equal(_weights(Linear(4, 2))[0], plain[0])


_BAD = {
    "rng": "x", "dtype": np.int32, "gain": float("nan"), "mode": "bad", "nonlinearity": "bad",
    "std": -1.0, "a": "q", "b": float("nan"), "mean": "m", "scale": -1.0, "distribution": "bad",
    "value": "x",
}  # fmt: skip
_CASES = [
    (name + suffix, key)
    for name in [*RANDOM_INITS, "constant"]
    for suffix in ("", "_")
    for key in inspect.signature(getattr(init, name)).parameters
    if key in _BAD
    and hasattr(init, name + suffix)
    and not ((suffix or name == "constant") and key == "dtype")  # constant may be integer
]


@pytest.mark.parametrize(("called", "key"), _CASES, ids=[f"{c}-{k}" for c, k in _CASES])
def test_initializer_errors_name_the_function_called(called, key):
    f = getattr(init, called)
    kwargs = {key: _BAD[key]}
    if called.startswith("constant") and key != "value":
        kwargs["value"] = 1.0
    with pytest.raises((TypeError, ValueError)) as caught:
        if called.endswith("_"):
            f(mlplab.tensor(np.zeros((4, 3))), **kwargs)
        else:
            f((4, 3), **kwargs)
    assert str(caught.value).startswith(called + ":"), str(caught.value)


def test_in_place_initializers_refuse_dtype_and_integer_tensors():
    with pytest.raises(TypeError, match=r"^kaiming_normal_: takes no dtype"):
        init.kaiming_normal_(mlplab.tensor(np.zeros((2, 2))), dtype=np.float32)
    with pytest.raises(TypeError, match=r"^xavier_uniform_: dtype must be a floating-point"):
        init.xavier_uniform_(mlplab.tensor(np.zeros((2, 2), np.int64)))
