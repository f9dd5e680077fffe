"""The initialization claims at the lecture's size (50 layers × 100 units), on a small batch."""

import math

import numpy as np
import pytest

from mlplab.data import ArrayDataset, DataLoader, load_dataset
from mlplab.diagnostics import DiagnosticsRecorder, WeightTracker, activation_norms, probe
from mlplab.experiments.init_study import InitConfig, build_network, summarize
from mlplab.optim import GD
from mlplab.train import fit

DEPTH, WIDTH = 50, 100


@pytest.fixture(scope="module")
def batch():
    ds = load_dataset("mnist-5k")
    return ds.x[:16], ds.y[:16]


@pytest.fixture(scope="module")
def probes(batch):
    x, y = batch
    cfg = InitConfig(depth=DEPTH, width=WIDTH)
    return {
        label: probe(build_network(cfg, label, 784, 10), x, y) for label in ("1/n", "2/n", "3/n")
    }


def test_activation_ratio_follows_sigma2_n_over_2(probes):
    ratio = {
        k: summarize(p.activation_norm, p.gradient_norm)["activation_ratio"]
        for k, p in probes.items()
    }
    assert 0.2 < ratio["2/n"] < 5
    assert ratio["1/n"] < 1e-5
    assert ratio["3/n"] > 1e3
    # and against the theory c^((L-2)/2), within a factor 3 over 48 layers
    for label, k in (("1/n", 1.0), ("3/n", 3.0)):
        theory = (k / 2) ** ((DEPTH - 2) / 2)
        assert abs(math.log10(ratio[label] / theory)) < math.log10(3)


def test_gradient_norms_flat_across_layers_with_scale_of_theory(probes):
    s = {k: summarize(p.activation_norm, p.gradient_norm) for k, p in probes.items()}
    for label in s:
        assert s[label]["gradient_spread"] < 8, (
            label,
            s[label],
        )  # about flat over 48 hidden layers
    for label, k in (("1/n", 1.0), ("3/n", 3.0)):
        measured = s[label]["gradient_scale"] / s["2/n"]["gradient_scale"]
        theory = (k / 2) ** ((DEPTH - 1) / 2)
        assert abs(math.log10(measured / theory)) < math.log10(5), (label, measured, theory)
    assert 0.1 < s["2/n"]["gradient_scale"] < 10


def test_zero_init_gradients_below_last_layer_exactly_zero_and_weights_never_move(batch):
    x, y = batch
    model = build_network(InitConfig(depth=8, width=20), "zeros", 784, 10)
    p = probe(model, x, y)
    layers = list(model.layers)
    for layer in layers[:-1]:
        assert not np.any(layer.weight.grad.data) and not np.any(layer.bias.grad.data)
    assert p.gradient_norm == [0.0] * 8
    tracker = WeightTracker(model)
    bias_before = layers[-1].bias.data.copy()
    model.zero_grad()
    fit(model, GD(model.parameters(), lr=0.1), DataLoader(ArrayDataset(x, y), 4), epochs=2)
    assert tracker.relative_change() == [0.0] * 8
    assert all(not np.any(layer.weight.data) for layer in layers)
    assert np.any(layers[-1].bias.data != bias_before)  # only the last bias learns


def test_activation_norms_match_a_hand_forward():
    from mlplab.nn import MLP

    model = MLP(5, 3, width=4, depth=3, rng=1, dtype=np.float64)
    x = np.random.default_rng(2).normal(size=(6, 5))
    z, expected = x, []
    for i, layer in enumerate(model.layers):
        z = z @ layer.weight.data + layer.bias.data
        z = np.maximum(z, 0) if i < 2 else z
        expected.append(np.linalg.norm(z))
    np.testing.assert_allclose(activation_norms(model, x), expected, rtol=1e-12)


def test_recorder_in_fit_tracks_distance_from_init():
    from mlplab.nn import MLP

    rng = np.random.default_rng(0)
    data = ArrayDataset(rng.normal(size=(32, 6)).astype(np.float32), rng.integers(0, 3, 32))
    model = MLP(6, 3, width=8, depth=3, rng=0)
    w0 = [layer.weight.data.copy() for layer in model.layers]
    rec = DiagnosticsRecorder(every=2, probe_x=data.x[:8])
    fit(model, GD(model.parameters(), lr=0.5), DataLoader(data, 8), epochs=2, callbacks=[rec])
    assert [e for e, _ in rec.weight_change] == [1, 2]
    assert [s for s, _ in rec.gradient_norms] == [1, 3, 5, 7]
    assert len(rec.activation_norms) == 3
    expected = [
        np.linalg.norm(m.weight.data - a) / np.linalg.norm(a)
        for m, a in zip(model.layers, w0, strict=True)
    ]
    np.testing.assert_allclose(rec.weight_change[-1][1], expected, rtol=1e-6)
    assert all(v > 0 for v in expected)
