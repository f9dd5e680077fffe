"""Fuzzing mlplab.load (safetensors): random bytes, random headers, mutations of valid files.

The contract: every input either loads (a valid file gives back exactly what was saved) or
raises ``ValueError`` with one short line that starts ``load: <path>:``; never another exception
(a RecursionError from deeply nested JSON, a NumPy "array is too big" without the file's name
were both found this way), never an allocation larger than the file could describe.
Nested states (``mlplab.save`` of dicts, lists, numbers) must round-trip exactly, and any
skeleton (``mlplab.tree`` metadata) must load or raise the same way.
``MLPLAB_FUZZ_SCALE`` multiplies the number of examples (``scripts/fuzz.py`` sets it).
"""

import json
import os
import struct
import tracemalloc

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlplab
from fuzzing import mutations

SCALE = int(os.environ.get("MLPLAB_FUZZ_SCALE", "1"))
FUZZ = settings(
    max_examples=150 * SCALE,
    deadline=None,
    derandomize=SCALE == 1,  # CI: the same examples every run
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
DTYPES = ["bool", "uint8", "int8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
          "float16", "float32", "float64"]  # fmt: skip
CODES = ["BOOL", "U8", "I8", "U16", "I16", "F16", "U32", "I32", "F32", "U64", "I64", "F64",
         "BF16", "F8_E4M3", "C64", "", "f32"]  # fmt: skip


def _load(path):
    """mlplab.load(path), or the error, checked against the contract."""
    try:
        return mlplab.load(path)
    except ValueError as err:
        message = str(err)
        assert "\n" not in message and message.startswith(f"load: {path}: "), message
        assert len(message) < 400 + len(str(path)), message
        return err


@st.composite
def states(draw):
    """A dict of small arrays of every supported dtype (0-d and empty included)."""
    names = draw(st.lists(st.text(min_size=1, max_size=6), max_size=4, unique=True))
    state = {}
    for name in names:
        dtype = np.dtype(draw(st.sampled_from(DTYPES)))
        shape = tuple(draw(st.lists(st.integers(0, 4), max_size=3)))
        raw = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).integers(
            0, 256, size=int(np.prod(shape)) * dtype.itemsize, dtype=np.uint8
        )
        array = raw.view(dtype).reshape(shape)
        state[name] = (array > 0) if dtype.kind == "b" else array
    return state


def _same(loaded, state):
    assert list(loaded) == list(state)
    for key, array in state.items():
        assert loaded[key].dtype == array.dtype and loaded[key].shape == array.shape
        assert loaded[key].tobytes() == array.tobytes()  # bit for bit, NaNs included


@FUZZ
@given(data=st.binary(max_size=300))
def test_random_bytes(tmp_path, data):
    path = tmp_path / "x.safetensors"
    path.write_bytes(data)
    _load(path)


@FUZZ
@given(state=states(), data=st.data())
def test_valid_files_load_exactly_and_mutations_never_escape_the_contract(
    tmp_path, monkeypatch, state, data
):
    monkeypatch.setattr(os, "fsync", lambda fd: None)  # durability is not the point; speed is
    path = tmp_path / "x.safetensors"
    mlplab.save(state, path, metadata={"note": "fuzz"})
    _same(_load(path), state)
    valid = path.read_bytes()
    mutated = data.draw(mutations(valid))
    path.write_bytes(mutated)
    result = _load(path)
    if len(mutated) < len(valid) and valid.startswith(mutated):  # a pure truncation
        assert isinstance(result, ValueError)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=6,
)
entries = st.fixed_dictionaries(
    {
        "dtype": st.sampled_from(CODES),
        "shape": st.lists(st.integers(0, 2**64) | st.integers(0, 5), max_size=70) | json_values,
        "data_offsets": st.lists(st.integers(-1, 2**64) | st.integers(0, 64), max_size=3)
        | json_values,
    },
    optional={"extra": json_values},
)


@st.composite
def headers(draw) -> bytes:
    """A header of random entries (any shape, offsets, dtype; metadata of any JSON)."""
    header = draw(st.dictionaries(st.text(max_size=4), entries | json_values, max_size=3))
    if draw(st.booleans()):
        header["__metadata__"] = draw(json_values)
    text = json.dumps(header)
    if draw(st.booleans()):  # JSON nested deeper than the parser's recursion limit
        depth = draw(st.integers(1, 5000))
        text = '{"a": ' + "[" * depth + "]" * depth + "}"
    raw = text.encode() + b" " * draw(st.integers(0, 7))
    length = draw(st.just(len(raw)) | st.integers(0, 2**64 - 1))
    return struct.pack("<Q", length) + raw + draw(st.binary(max_size=64))


@FUZZ
@given(data=headers())
def test_any_header_allocates_at_most_what_the_file_can_hold(tmp_path, data):
    path = tmp_path / "x.safetensors"
    path.write_bytes(data)
    tracemalloc.start()
    try:
        _load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    budget = 16 * len(data) + (1 << 20)  # the parsed JSON, the arrays, and small change
    assert peak <= budget, f"load allocated {peak} bytes for a {len(data)}-byte file"


small_arrays = st.builds(
    lambda dtype, n, seed: np.random.default_rng(seed).integers(0, 100, size=n).astype(dtype),
    st.sampled_from(["float32", "float64", "int64", "uint8"]),
    st.integers(0, 4),
    st.integers(0, 2**32 - 1),
)
leaves = (
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=4)
    | small_arrays | st.builds(np.float32, st.floats(width=32))
)  # fmt: skip
nested_states = st.dictionaries(
    st.text(max_size=4) | st.integers(-5, 5),
    st.recursive(
        leaves,
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.tuples(inner, inner)
            | st.dictionaries(st.text(max_size=4) | st.integers(0, 9), inner, max_size=3)
        ),
        max_leaves=8,
    ),
    max_size=4,
)


def _canonical(value):
    """A comparable form that tells ints, floats (bit for bit), arrays and containers apart."""
    if isinstance(value, np.ndarray | np.generic):
        return ("array", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, float):
        return ("float", struct.pack(">d", value))
    if isinstance(value, dict):
        return ("dict", [(type(k).__name__, k, _canonical(v)) for k, v in value.items()])
    if isinstance(value, list | tuple):
        return (type(value).__name__, [_canonical(v) for v in value])
    return (type(value).__name__, value)


tagged = st.recursive(
    json_values,
    lambda inner: (
        st.fixed_dictionaries({"dict": st.lists(st.tuples(json_values, inner).map(list))})
        | st.fixed_dictionaries({"list": st.lists(inner, max_size=3)})
        | st.fixed_dictionaries({"tensor": st.text(max_size=4) | json_values})
        | st.fixed_dictionaries({"scalar": st.text(max_size=4) | json_values})
        | st.fixed_dictionaries({"nan": st.text(max_size=17) | json_values})
    ),
    max_leaves=8,
)


@settings(FUZZ, max_examples=100 * SCALE)
@given(state=nested_states, data=st.data())
def test_nested_states_round_trip_and_hostile_skeletons_never_escape_the_contract(
    tmp_path, monkeypatch, state, data
):
    from mlplab.nested import TREE_KEY

    monkeypatch.setattr(os, "fsync", lambda fd: None)  # durability is not the point; speed is
    path = tmp_path / "n.safetensors"
    mlplab.save(state, path)
    assert _canonical(_load(path)) == _canonical(state)
    header_tree = data.draw(tagged | st.text(max_size=12).map(json.dumps), label="skeleton")
    raw = {f"t{i}": np.zeros(i, np.float32) for i in range(data.draw(st.integers(0, 2)))}
    mlplab.save(raw, path, metadata={"note": "x"})
    blob = bytearray(path.read_bytes())
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + n])
    header.setdefault("__metadata__", {})[TREE_KEY] = json.dumps(header_tree)
    text = json.dumps(header).encode()
    text += b" " * (-(8 + len(text)) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + bytes(blob[8 + n :]))
    _load(path)
