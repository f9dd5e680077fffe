"""Tests for mlplab.serialization: round trips, interop, hostile files, atomic writes."""

from __future__ import annotations

import json
import os
import pickle
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import mlplab
from mlplab import serialization
from mlplab.serialization import load, load_metadata, save

DTYPES = [np.bool_, np.uint8, np.int8, np.uint16, np.int16, np.float16, np.uint32, np.int32,
          np.float32, np.uint64, np.int64, np.float64]  # fmt: skip


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def sample(dtype, shape, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt.kind == "f":
        a = rng.standard_normal(shape).astype(dt)
        special = np.array([np.nan, -np.inf, np.inf, -0.0, np.finfo(dt).tiny / 2], dt)
        a.reshape(-1)[: min(a.size, 5)] = special[: min(a.size, 5)]
        return a
    if dt.kind == "b":
        return rng.random(shape) < 0.5
    info = np.iinfo(dt)
    return rng.integers(info.min, info.max, shape, dtype=dt, endpoint=True)


def raw_file(path, header, data=b"", n=None) -> str:
    """Write handmade safetensors bytes: header (dict or bytes), data, optional fake length."""
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text) if n is None else n) + text + data)
    return str(path)


# --- round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(), (0,), (3, 0, 2), (7,), (4, 5), (2, 3, 4)])
def test_round_trip_is_bit_exact(tmp_path, dtype, shape):
    a = sample(dtype, shape)
    save({"a": a, "b": a[::-1] if a.ndim else a}, tmp_path / "f.safetensors")
    out = load(tmp_path / "f.safetensors")
    assert list(out) == ["a", "b"]
    assert same_bits(out["a"], a)
    assert same_bits(out["b"], a[::-1] if a.ndim else a)


def test_non_contiguous_big_endian_and_tensor_inputs(tmp_path):
    base = sample(np.float64, (6, 8))
    state = {
        "transposed": base.T,
        "strided": base[::2, 1::3],
        "big_endian": base.astype(">f4"),
        "tensor": mlplab.Tensor(base[:2]),
        "scalar": np.float32(2.5),
    }
    save(state, tmp_path / "f.safetensors")
    out = load(tmp_path / "f.safetensors")
    assert same_bits(out["transposed"], base.T)
    assert same_bits(out["strided"], base[::2, 1::3])
    assert out["big_endian"].dtype == np.float32  # native order, same values
    assert same_bits(out["big_endian"], base.astype(np.float32))
    assert same_bits(out["tensor"], base[:2])
    assert out["scalar"].shape == () and out["scalar"] == np.float32(2.5)


@settings(max_examples=40, deadline=None)
@given(
    st.dictionaries(
        st.text(min_size=0, max_size=8),
        hnp.arrays(
            st.sampled_from(DTYPES),
            hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
        ),
        max_size=4,
    ),
    st.dictionaries(st.text(max_size=6), st.text(max_size=12), max_size=3),
)
def test_round_trip_property(tmp_path_factory, state, metadata):
    state.pop("__metadata__", None)
    path = tmp_path_factory.mktemp("h") / "f.safetensors"
    save(state, path, metadata=metadata)
    out, meta = load(path, with_metadata=True)
    assert list(out) == list(state)
    assert all(same_bits(out[k], state[k]) for k in state)
    assert meta == metadata


def test_loaded_arrays_are_writable_and_independent(tmp_path):
    save({"a": np.zeros(4), "b": np.ones(4)}, tmp_path / "f")
    out = load(tmp_path / "f")
    out["a"] += 5
    assert out["a"].flags.writeable and out["a"].flags.owndata
    np.testing.assert_array_equal(out["b"], 1.0)


def test_metadata(tmp_path):
    config = json.dumps({"width": 100, "init": "normal:2/n"})
    save({"w": np.eye(2)}, tmp_path / "f", metadata={"config": config})
    assert load_metadata(tmp_path / "f") == {"config": config}
    assert load(tmp_path / "f", with_metadata=True)[1] == {"config": config}
    save({"w": np.eye(2)}, tmp_path / "g")
    assert load_metadata(tmp_path / "g") == {}


def test_data_starts_aligned_to_8_bytes(tmp_path):
    save({"odd_name": np.zeros(3)}, tmp_path / "f")
    (n,) = struct.unpack("<Q", (tmp_path / "f").read_bytes()[:8])
    assert (8 + n) % 8 == 0


# --- interop ----------------------------------------------------------------------------------


def test_written_by_mlplab_read_by_safetensors_and_torch(tmp_path):
    st_numpy = pytest.importorskip("safetensors.numpy")
    state = {str(np.dtype(d)): sample(d, (3, 4)) for d in DTYPES}
    state["scalar"], state["empty"] = np.array(1.5), np.zeros((0, 3), np.float32)
    save(state, tmp_path / "f", metadata={"k": "v"})
    theirs = st_numpy.load_file(tmp_path / "f")
    assert set(theirs) == set(state)
    assert all(same_bits(theirs[k], state[k]) for k in state)
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file

    tensors = load_file(tmp_path / "f")
    assert tensors["float64"].dtype == torch.float64 and tensors["empty"].shape == (0, 3)
    assert all(same_bits(tensors[k].numpy(), state[k]) for k in ["float32", "int64", "bool"])


def test_written_by_safetensors_read_by_mlplab(tmp_path):
    st_numpy = pytest.importorskip("safetensors.numpy")
    state = {str(np.dtype(d)): sample(d, (2, 5), seed=3) for d in DTYPES}
    state["scalar"], state["empty"] = np.array(7, np.int16), np.zeros((4, 0), np.float64)
    st_numpy.save_file(state, tmp_path / "f", metadata={"format": "np"})
    out, meta = load(tmp_path / "f", with_metadata=True)
    assert set(out) == set(state) and meta == {"format": "np"}
    assert all(same_bits(out[k], state[k]) for k in state)


# --- bad input to save ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "state,error,match",
    [
        ({(1, 2): np.zeros(2)}, TypeError, r"keys must be str or int, got \(1, 2\)"),
        ({"a": np.array([{"x": 1}], dtype=object)}, TypeError, r"state\['a'\] has dtype object"),
        ({"a": np.zeros(2, np.complex64)}, TypeError, "dtype complex64"),
        ({"a": [1.0, {2.0}]}, TypeError, r"state\['a'\]\[1\] is a set"),
        ({"__metadata__": np.zeros(1)}, ValueError, "reserved"),
        ([np.zeros(2)], TypeError, "mapping"),
    ],
)
def test_save_rejects_bad_state_and_writes_nothing(tmp_path, state, error, match):
    with pytest.raises(error, match=match):
        save(state, tmp_path / "f")
    assert os.listdir(tmp_path) == []


def test_save_rejects_bad_metadata_and_missing_directory(tmp_path):
    with pytest.raises(TypeError, match="metadata must be a mapping of str to str"):
        save({"a": np.zeros(1)}, tmp_path / "f", metadata={"epoch": 3})
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save({"a": np.zeros(1)}, tmp_path / "nope" / "f")


# --- hostile and broken files -----------------------------------------------------------------


@pytest.fixture
def good_file(tmp_path):
    path = tmp_path / "good.safetensors"
    save({"w": sample(np.float32, (5, 3)), "b": sample(np.int64, (3,))}, path, {"m": "x"})
    return path


def test_truncated_files_are_refused(good_file, tmp_path):
    blob = good_file.read_bytes()
    (n,) = struct.unpack("<Q", blob[:8])
    for cut in [0, 3, 8, 9, 8 + n // 2, 8 + n - 1, 8 + n, 8 + n + 1, len(blob) - 4, len(blob) - 1]:
        path = tmp_path / f"cut{cut}"
        path.write_bytes(blob[:cut])
        with pytest.raises(ValueError, match=rf"load: .*cut{cut}: .*(truncated|header length)"):
            load(path)


def test_trailing_garbage_is_refused(good_file):
    with open(good_file, "ab") as f:
        f.write(b"\0" * 8)
    with pytest.raises(ValueError, match="8 trailing bytes"):
        load(good_file)


@pytest.mark.parametrize(
    "mutate,match",
    [
        (lambda h: h.replace(b'"dtype"', b'"dtype\xff'), "corrupted header"),
        (lambda h: h.replace(b"{", b"[", 1), "corrupted header"),
        (lambda h: h.replace(b'"shape":[5,3]', b'"shape":[5,4]'), "needs 80"),
        (lambda h: h.replace(b'"F32"', b'"Q32"'), "unknown dtype 'Q32'; known: BOOL"),
        (lambda h: h.replace(b'"F32"', b'"BF16"'), "BF16 is not supported by NumPy"),
        (lambda h: h.replace(b"}}", b"] ", 1), "corrupted header"),
    ],
)
def test_corrupted_headers_are_refused(good_file, mutate, match):
    blob = good_file.read_bytes()
    (n,) = struct.unpack("<Q", blob[:8])
    header = mutate(blob[8 : 8 + n]).rstrip(b" ").ljust(n)  # the padding absorbs a longer name
    assert len(header) == n  # the length is kept, so only the content is wrong
    good_file.write_bytes(blob[:8] + header + blob[8 + n :])
    with pytest.raises(ValueError, match=rf"load: .*good.safetensors: .*{match}"):
        load(good_file)


def entry(dtype="F32", shape=(2,), offsets=(0, 8)):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


@pytest.mark.parametrize(
    "header,data,match",
    [
        ({"a": entry(offsets=(0, 8)), "b": entry(offsets=(4, 12))}, 12, "overlaps"),
        ({"a": entry(offsets=(0, 8)), "b": entry(offsets=(12, 20))}, 20, "leaves a gap"),
        ({"a": entry(offsets=(4, 12))}, 12, "leaves a gap"),
        ({"a": entry(offsets=(0, 8))}, 4, "truncated: the header needs 8 data bytes"),
        ({"a": entry(offsets=(8, 0))}, 8, "span -8 bytes"),
        ({"a": entry(offsets=(0, -8))}, 8, "data_offsets must be"),
        ({"a": entry(offsets=(0, True))}, 8, "data_offsets must be"),
        ({"a": entry(offsets=(0, 8.0))}, 8, "data_offsets must be"),
        ({"a": entry(shape=(2, -1))}, 8, "shape must be a list of non-negative ints"),
        ({"a": entry(shape="2")}, 8, "shape must be"),
        ({"a": {**entry(), "extra": 1}}, 8, "expected keys dtype, shape, data_offsets"),
        ({"a": [1, 2]}, 8, "expected keys"),
        ({"__metadata__": {"k": 1}}, 0, "__metadata__ must be an object of str -> str"),
        ({"__metadata__": []}, 0, "__metadata__ must be"),
        (b'{"a": 1, "a": 2}', 0, "duplicate key"),
        (b'{"a": NaN}', 0, "JSON constant NaN"),
        (b'{"a": {"dtype": "BOOL", "shape": [1], "data_offsets": [0, 1]}}', b"\x07", "BOOL"),
    ],
)
def test_handmade_bad_files(tmp_path, header, data, match):
    data = data if isinstance(data, bytes) else b"\0" * data
    path = raw_file(tmp_path / "bad", header, data)
    with pytest.raises(ValueError, match=rf"load: .*bad: .*{match}"):
        load(path)


def test_header_length_beyond_limits(tmp_path):
    with pytest.raises(ValueError, match="header length 4096 does not fit the file of 10 bytes"):
        load(raw_file(tmp_path / "f", b"{}", n=4096))
    big = tmp_path / "big"
    with open(big, "wb") as f:  # a sparse file larger than the header limit
        f.write(struct.pack("<Q", 200 * 1024 * 1024))
        f.truncate(201 * 1024 * 1024)
    with pytest.raises(ValueError, match="does not fit"):
        load(big)


def test_handmade_valid_file_is_read(tmp_path):
    data = np.array([1.5, -2.0], "<f4").tobytes() + np.array([3], "<i2").tobytes()
    header = {"x": entry(), "y": entry("I16", (), (8, 10)), "__metadata__": {"a": "b"}}
    path = raw_file(tmp_path / "ok", header, data)
    out = load(path)
    np.testing.assert_array_equal(out["x"], [1.5, -2.0])
    assert out["y"].shape == () and out["y"] == 3


# --- pickle payloads are never run ------------------------------------------------------------


class Evil:
    marker = ""

    def __reduce__(self):
        return (open, (self.marker, "w"))


def evil_payloads(marker):
    Evil.marker = str(marker)
    yield "pickle-0", pickle.dumps({"w": Evil()}, protocol=0)
    for protocol in (2, 4, 5):
        yield f"pickle-{protocol}", pickle.dumps({"w": Evil()}, protocol=protocol)


def test_pickle_payload_is_live_without_mlplab(tmp_path):
    # the control: unpickling these bytes does run code, so the next test can fail
    marker = tmp_path / "pwned"
    for _, payload in evil_payloads(marker):
        pickle.loads(payload)
        assert marker.exists()
        marker.unlink()


def test_pickle_payloads_are_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    for name, payload in evil_payloads(marker):
        path = tmp_path / name
        path.write_bytes(payload)
        with pytest.raises(ValueError, match=rf"load: .*{name}: "):
            load(path)
        if name != "pickle-0":
            with pytest.raises(ValueError, match="looks like a pickle"):
                load(path)
    np.save(tmp_path / "obj.npy", np.array([Evil()], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="looks like a NumPy .npy file"):
        load(tmp_path / "obj.npy")
    assert not marker.exists()


def test_torch_save_is_refused(tmp_path):
    torch = pytest.importorskip("torch")
    marker = tmp_path / "pwned"
    Evil.marker = str(marker)
    torch.save({"w": torch.zeros(2), "evil": Evil()}, tmp_path / "new.pt")
    torch.save({"w": torch.zeros(2)}, tmp_path / "old.pt", _use_new_zipfile_serialization=False)
    with pytest.raises(ValueError, match="looks like a zip archive"):
        load(tmp_path / "new.pt")
    with pytest.raises(ValueError, match="looks like a pickle"):
        load(tmp_path / "old.pt")
    assert not marker.exists()


# --- atomic writes ----------------------------------------------------------------------------


class FailingFile:
    """A file that fails (disk full) after ``budget`` bytes."""

    def __init__(self, f, budget, error):
        self.f, self.budget, self.error = f, budget, error

    def write(self, data):
        size = memoryview(data).nbytes
        if size > self.budget:
            self.f.write(bytes(memoryview(data).cast("B")[: self.budget]))
            raise self.error
        self.budget -= size
        return self.f.write(data)

    def __getattr__(self, name):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), KeyboardInterrupt()])
@pytest.mark.parametrize("budget", [0, 8, 100, 700])
def test_crash_mid_write_keeps_the_old_file(good_file, monkeypatch, error, budget):
    before = good_file.read_bytes()
    real_fdopen = os.fdopen
    monkeypatch.setattr(
        serialization.os, "fdopen", lambda *a, **k: FailingFile(real_fdopen(*a, **k), budget, error)
    )
    with pytest.raises(type(error)):
        save({"w": np.ones((100, 100))}, good_file)
    assert good_file.read_bytes() == before
    assert os.listdir(good_file.parent) == [good_file.name]


@pytest.mark.parametrize("step", ["fsync", "replace"])
def test_crash_before_rename_keeps_the_old_file(good_file, monkeypatch, step):
    before = good_file.read_bytes()

    def crash(*args):
        raise OSError(5, f"{step} failed")

    monkeypatch.setattr(serialization.os, step, crash)
    with pytest.raises(OSError, match=f"{step} failed"):
        save({"w": np.ones(3)}, good_file)
    monkeypatch.undo()
    assert good_file.read_bytes() == before
    assert os.listdir(good_file.parent) == [good_file.name]


def test_overwrite_and_file_mode(tmp_path):
    path = tmp_path / "f"
    save({"a": np.zeros(1)}, path)
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's private 0600
    os.chmod(path, 0o640)
    save({"a": np.ones(2)}, path)
    assert os.stat(path).st_mode & 0o777 == 0o640
    np.testing.assert_array_equal(load(path)["a"], [1, 1])
    assert os.listdir(tmp_path) == ["f"]


def test_a_header_of_640_bytes_is_not_mistaken_for_a_pickle(tmp_path):
    # 640 = 0x0280: the file starts with 0x80 0x02 like a protocol-2 pickle, and is still valid
    header = json.dumps({"x": entry()}).encode().ljust(640)
    path = raw_file(tmp_path / "f", header, np.array([1, 2], "<f4").tobytes())
    assert (tmp_path / "f").read_bytes()[:2] == b"\x80\x02"
    np.testing.assert_array_equal(load(path)["x"], [1, 2])
