"""state_dict / load_state_dict: copies out, in-place copies in, one-line errors."""

import numpy as np
import pytest

import mlplab
from mlplab import nn


def make(seed: int) -> nn.MLP:
    return nn.MLP(6, 3, width=[5, 4], rng=seed, dtype=np.float64)


def test_state_dict_holds_copies_with_dotted_names():
    model = make(0)
    state = model.state_dict()
    assert list(state) == [
        "layers.0.weight",
        "layers.0.bias",
        "layers.1.weight",
        "layers.1.bias",
        "layers.2.weight",
        "layers.2.bias",
    ]
    assert state["layers.1.weight"].shape == (5, 4)
    state["layers.0.weight"][...] = 123.0  # a copy: the model is untouched
    assert not np.any(model.layers[0].weight.numpy() == 123.0)


def test_round_trip_reproduces_outputs_exactly_and_keeps_parameter_objects():
    source, target = make(0), make(1)
    x = mlplab.tensor(np.random.default_rng(2).standard_normal((7, 6)))
    params = list(target.parameters())
    arrays = [p.data for p in params]
    assert not np.array_equal(source(x).numpy(), target(x).numpy())
    result = target.load_state_dict(source.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    np.testing.assert_array_equal(source(x).numpy(), target(x).numpy())
    for p, q, array in zip(params, target.parameters(), arrays, strict=True):
        assert p is q and p.data is array  # copied in place: optimizers keep working


def test_tensors_are_accepted_and_float64_is_cast_to_the_model_dtype():
    model = nn.Linear(2, 2, rng=0)  # float32
    state = {"weight": mlplab.tensor(np.eye(2)), "bias": np.array([1.0, 2.0])}
    model.load_state_dict(state)
    assert model.weight.dtype == np.float32
    np.testing.assert_array_equal(model.weight.numpy(), np.eye(2, dtype=np.float32))


def test_errors_name_missing_unexpected_and_mismatched_keys_on_one_line():
    model = make(0)
    state = model.state_dict()
    del state["layers.2.bias"]
    state["layers.9.weight"] = np.zeros(3)
    state["layers.0.weight"] = state["layers.0.weight"].T
    before = model.state_dict()
    with pytest.raises(RuntimeError) as error:
        model.load_state_dict(state)
    message = str(error.value)
    assert "\n" not in message
    assert message == (
        "MLP.load_state_dict: missing keys ['layers.2.bias']; "
        "unexpected keys ['layers.9.weight']; "
        "shape mismatch for 'layers.0.weight': expected (6, 5), got (5, 6)"
    )
    for key, value in model.state_dict().items():  # nothing was written
        np.testing.assert_array_equal(value, before[key])


def test_strict_false_reports_keys_but_still_refuses_bad_shapes():
    model, other = make(0), make(1)
    state = other.state_dict()
    del state["layers.2.bias"]
    state["extra"] = np.zeros(1)
    result = model.load_state_dict(state, strict=False)
    assert result.missing_keys == ["layers.2.bias"] and result.unexpected_keys == ["extra"]
    np.testing.assert_array_equal(model.layers[0].weight.numpy(), other.layers[0].weight.numpy())
    state["layers.1.bias"] = np.zeros(7)
    with pytest.raises(RuntimeError, match=r"shape mismatch for 'layers.1.bias': expected \(4,\)"):
        model.load_state_dict(state, strict=False)


def test_non_float_values_and_non_mappings_are_refused():
    model = nn.Linear(2, 2, rng=0)
    with pytest.raises(RuntimeError, match="'bias' must be floating point, got dtype int64"):
        model.load_state_dict({"weight": np.zeros((2, 2)), "bias": np.array([1, 2])})
    with pytest.raises(TypeError, match="Linear.load_state_dict: expected a mapping"):
        model.load_state_dict([("weight", np.zeros((2, 2)))])
