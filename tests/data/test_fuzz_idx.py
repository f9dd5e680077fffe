"""Fuzzing read_idx: random bytes, random headers, truncations and bit flips of valid files.

The contract: every input either loads (a valid file gives back exactly its array) or raises
``ValueError`` with one line that starts ``read_idx: <path>:``; never another exception, never
an allocation larger than the file could describe. ``MLPLAB_FUZZ_SCALE`` multiplies the number
of examples (``scripts/fuzz.py`` sets it).
"""

import gzip
import os
import struct
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzzing import mutations
from mlplab.data import read_idx, write_idx
from mlplab.data.idx import IDX_DTYPES

SCALE = int(os.environ.get("MLPLAB_FUZZ_SCALE", "1"))
FUZZ = settings(
    max_examples=150 * SCALE,
    deadline=None,
    derandomize=SCALE == 1,  # CI: the same examples every run
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
DTYPES = [d.newbyteorder("=") for d in IDX_DTYPES.values()]


def _load(path):
    """read_idx(path), or the error, checked against the contract."""
    try:
        return read_idx(path)
    except ValueError as err:
        message = str(err)
        assert "\n" not in message and message.startswith(f"read_idx: {path}: "), message
        return err


@st.composite
def arrays(draw):
    dtype = draw(st.sampled_from(DTYPES))
    shape = draw(st.lists(st.integers(0, 5), min_size=1, max_size=3))
    seed = draw(st.integers(0, 2**32 - 1))
    data = np.random.default_rng(seed).integers(0, 256, size=int(np.prod(shape)) * dtype.itemsize)
    return np.frombuffer(data.astype(np.uint8).tobytes(), dtype=dtype).reshape(shape)


@FUZZ
@given(data=st.binary(max_size=300), gz=st.booleans())
def test_random_bytes(tmp_path, data, gz):
    path = tmp_path / "x.idx"
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    _load(path)


@FUZZ
@given(array=arrays(), gz=st.booleans(), data=st.data())
def test_valid_files_load_exactly_and_mutations_never_escape_the_contract(
    tmp_path, array, gz, data
):
    path = tmp_path / "x.idx"
    write_idx(array, path, gzip=gz)
    loaded = _load(path)
    assert isinstance(loaded, np.ndarray) and loaded.dtype == array.dtype
    np.testing.assert_array_equal(loaded, array)
    valid = path.read_bytes()
    mutated = data.draw(mutations(valid))
    path.write_bytes(mutated)
    result = _load(path)
    if len(mutated) < len(valid) and valid.startswith(mutated):  # a pure truncation
        assert isinstance(result, ValueError)


@st.composite
def headers(draw) -> bytes:
    """A header with any type code, dimension count and (huge) dimensions, a short payload."""
    code = draw(st.sampled_from([*IDX_DTYPES, 0x00, 0x0A, 0xFF]))
    ndim = draw(st.one_of(st.integers(0, 4), st.integers(0, 255)))
    dims = draw(st.lists(st.integers(0, 2**32 - 1), min_size=ndim, max_size=ndim))
    magic = draw(st.sampled_from([b"\x00\x00", b"\x00\x01"]))
    head = magic + bytes([code, ndim]) + struct.pack(f">{ndim}I", *dims)
    return head + draw(st.binary(max_size=64))


@FUZZ
@given(data=headers(), gz=st.booleans())
def test_any_declared_shape_allocates_at_most_what_the_file_can_hold(tmp_path, data, gz):
    path = tmp_path / "x.idx"
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    # what the file can describe: its bytes, or what deflate could expand them to
    budget = 4 * path.stat().st_size * (1032 if gz else 1) + (1 << 20)
    tracemalloc.start()
    try:
        _load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= budget, f"read_idx allocated {peak} bytes for a {path.stat().st_size}-byte file"


@pytest.mark.parametrize("gz", [False, True])
def test_a_terabyte_header_in_a_tiny_file_is_refused_before_allocating(tmp_path, gz):
    head = bytes([0, 0, 0x0E, 3]) + struct.pack(">3I", 2**32 - 1, 2**32 - 1, 2**32 - 1)
    path = tmp_path / "bomb.idx"
    path.write_bytes(gzip.compress(head + b"\0" * 64, mtime=0) if gz else head + b"\0" * 64)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"read_idx: .*dimensions \(4294967295,"):
            read_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < (1 << 20)


def test_an_empty_shape_too_big_for_numpy_is_a_read_idx_error(tmp_path):
    """Found by scripts/fuzz.py: (0, 2**32-1, 2**32-1) holds no bytes, yet NumPy refuses it."""
    path = tmp_path / "empty.idx"
    path.write_bytes(bytes([0, 0, 0x08, 3]) + struct.pack(">3I", 0, 2**32 - 1, 2**32 - 1))
    with pytest.raises(ValueError, match=r"read_idx: .*beyond what NumPy can hold"):
        read_idx(path)
    path.write_bytes(bytes([0, 0, 0x08, 2]) + struct.pack(">2I", 0, 2**32 - 1))
    assert read_idx(path).shape == (0, 2**32 - 1)  # empty, and NumPy can hold it
