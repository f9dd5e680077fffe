"""mlplab.save/load of nested states: model + optimizer state_dicts round-trip exactly."""

from __future__ import annotations

import json
import math
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlplab
from mlplab import optim
from mlplab.nested import TREE_KEY
from mlplab.nn import MLP


def same(a, b) -> bool:
    """Exact equality of nested states: types, dtypes, shapes, bits (NaN equal to NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, np.ndarray | np.generic):
        return a.dtype == b.dtype and np.shape(a) == np.shape(b) and a.tobytes() == b.tobytes()
    if isinstance(a, float):
        return struct.pack("<d", a) == struct.pack("<d", b)
    return a == b


def trained(optimizer_class, **kwargs):
    model = MLP(3, 2, width=4, depth=2, rng=0)
    opt = optimizer_class(model.parameters(), **kwargs)
    x = mlplab.Tensor(np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32))
    for _ in range(3):
        opt.zero_grad()
        (model(x) ** 2).mean().backward()
        opt.step()
    return model, opt, x


@pytest.mark.parametrize(
    "optimizer_class,kwargs",
    [(optim.Adam, {"lr": 0.01}), (optim.SGD, {"lr": 0.1, "momentum": 0.9}),
     (optim.Nesterov, {"lr": 0.1})],
)  # fmt: skip
def test_model_and_optimizer_state_round_trip_exactly(tmp_path, optimizer_class, kwargs):
    model, opt, x = trained(optimizer_class, **kwargs)
    state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3}
    mlplab.save(state, tmp_path / "s.safetensors")
    loaded = mlplab.load(tmp_path / "s.safetensors")
    assert same(loaded, state)
    assert isinstance(loaded["epoch"], int)
    assert all(isinstance(k, int) for k in loaded["optimizer"]["state"])
    # a fresh model and optimizer continue exactly as the originals do
    model2 = MLP(3, 2, width=4, depth=2, rng=1)
    opt2 = optimizer_class(model2.parameters(), **kwargs)
    model2.load_state_dict(loaded["model"])
    opt2.load_state_dict(loaded["optimizer"])
    for m, o in ((model, opt), (model2, opt2)):
        o.zero_grad()
        (m(x) ** 2).mean().backward()
        o.step()
    for a, b in zip(model.parameters(), model2.parameters(), strict=True):
        np.testing.assert_array_equal(a.data, b.data)


def test_leaves_keep_their_types(tmp_path):
    state = {
        "ints": [0, -1, 2**70], "floats": (0.1, -0.0, math.inf, -math.inf, math.nan),
        "flags": [True, False, None], "text": "β, ünïcode", "empty": {"d": {}, "l": [], "t": ()},
        "scalars": [np.float32(1.5), np.int64(7), np.bool_(True)],
        "tensor": mlplab.Tensor(np.arange(3.0)), "int_keys": {0: "a", 10: "b", "x": 1},
        "arrays": [np.zeros((0, 2), np.int16), np.array(3, np.uint8)],
    }  # fmt: skip
    mlplab.save(state, tmp_path / "f")
    loaded = mlplab.load(tmp_path / "f")
    expected = dict(state, tensor=np.arange(3.0))
    assert same(loaded, expected)
    assert type(loaded["scalars"][0]) is np.float32


def test_flat_state_keeps_the_plain_layout(tmp_path):
    mlplab.save({"w": np.eye(2)}, tmp_path / "f", metadata={"k": "v"})
    header = (tmp_path / "f").read_bytes()
    assert TREE_KEY.encode() not in header
    assert mlplab.serialization.load_metadata(tmp_path / "f") == {"k": "v"}


def test_nested_file_is_plain_safetensors_to_other_readers(tmp_path):
    st_numpy = pytest.importorskip("safetensors.numpy")
    model, opt, _ = trained(optim.Adam, lr=0.01)
    mlplab.save({"model": model.state_dict(), "optimizer": opt.state_dict()}, tmp_path / "f")
    arrays = st_numpy.load_file(tmp_path / "f")
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(arrays[f"model/{name}"], value)
    assert "optimizer/state/0/exp_avg" in arrays
    _, meta = mlplab.load(tmp_path / "f", with_metadata=True)
    assert meta == {}  # the skeleton is not user metadata


def test_key_collisions_get_distinct_tensor_names(tmp_path):
    state = {"a/b": np.zeros(1), "a": {"b": np.ones(1)}}
    mlplab.save(state, tmp_path / "f")
    assert same(mlplab.load(tmp_path / "f"), state)


@pytest.mark.parametrize(
    "state,error,match",
    [
        ({"a": {1, 2}}, TypeError, r"state\['a'\] is a set"),
        ({"a": {1.5: 0}}, TypeError, r"keys must be str or int, got 1\.5 in state\['a'\]"),
        ({"a": [np.zeros(1, np.complex64)]}, TypeError, "complex64"),
        ({"__metadata__": 1}, ValueError, "reserved"),
    ],
)
def test_bad_nested_states_are_refused_and_nothing_is_written(tmp_path, state, error, match):
    with pytest.raises(error, match=match):
        mlplab.save(state, tmp_path / "f")
    assert list(tmp_path.iterdir()) == []


def test_a_state_that_contains_itself_is_refused(tmp_path):
    loop: list = []
    loop.append(loop)
    with pytest.raises(ValueError, match="contains itself"):
        mlplab.save({"x": loop}, tmp_path / "f")


def test_the_reserved_metadata_key_is_refused(tmp_path):
    with pytest.raises(ValueError, match="mlplab.tree"):
        mlplab.save({"a": 1}, tmp_path / "f", metadata={TREE_KEY: "{}"})


def handmade(path, skeleton: str, tensors: dict[str, np.ndarray]):
    header, blobs, offset = {}, b"", 0
    for name, array in tensors.items():
        data = array.astype("<f8").tobytes()
        header[name] = {"dtype": "F64", "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(data)]}  # fmt: skip
        blobs += data
        offset += len(data)
    header["__metadata__"] = {TREE_KEY: skeleton}
    text = json.dumps(header).encode()
    text += b" " * (-(8 + len(text)) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + blobs)


@pytest.mark.parametrize(
    "skeleton,match",
    [
        ("{", "Expecting"),
        ('{"dict": [["a", {"tensor": "nope"}]]}', "names no tensor"),
        ('{"dict": [["a", {"tensor": "w"}], ["b", {"tensor": "w"}]]}', "named twice"),
        ('{"dict": []}', "'w' is in the file but not in the state"),
        ('{"dict": [["a", {"tensor": "w"}], ["a", 1]]}', "repeated dict key"),
        ('{"dict": [["a", {"tensor": "w"}], [true, 1]]}', "bad or repeated dict key"),
        ('{"list": [{"tensor": "w"}]}', "top level must be a dict"),
        ('{"dict": [["a", {"tensor": "w"}], ["b", {"set": []}]]}', "unknown tag"),
        ('{"dict": [["a", {"scalar": "w"}]]}', r"has shape \(2,\)"),
        ('{"dict": [["w", {"tensor": "w"}], ["x", {"a": 1, "b": 2}]]}', "tagged object"),
        ('{"dict": [["w", {"tensor": "w"}], ["n", {"nan": "zz"}]]}', "16 hex digits"),
        ("[" * 100000 + "]" * 100000, "nested too deep|corrupted"),
    ],
)
def test_hostile_skeletons_are_one_line_value_errors(tmp_path, skeleton, match):
    handmade(tmp_path / "f", skeleton, {"w": np.zeros(2)})
    with pytest.raises(ValueError, match=match) as info:
        mlplab.load(tmp_path / "f")
    message = str(info.value)
    assert message.startswith(f"load: {tmp_path / 'f'}:") and "\n" not in message


leaves = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=5)
    | st.builds(np.asarray, st.lists(st.floats(width=32), max_size=3)).map(
        lambda a: a.astype(np.float32))
)  # fmt: skip
trees = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=3) | st.integers(-5, 5), inner, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None)
@given(state=st.dictionaries(st.text(min_size=1, max_size=4), trees, max_size=4))
def test_round_trip_property(tmp_path_factory, state):
    state.pop("__metadata__", None)
    path = tmp_path_factory.mktemp("p") / "f"
    mlplab.save(state, path)
    assert same(mlplab.load(path), state)
