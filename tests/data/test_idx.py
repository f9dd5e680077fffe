"""read_idx / write_idx on handmade IDX bytes, and every kind of corruption."""

import gzip
import struct
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlplab.data import read_idx, write_idx

CODES = {
    0x08: np.uint8,
    0x09: np.int8,
    0x0B: np.int16,
    0x0C: np.int32,
    0x0D: np.float32,
    0x0E: np.float64,
}


def idx_bytes(code, dims, payload):
    """Build an IDX file by hand, straight from the format's description."""
    return bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims) + payload


def sample(dtype, shape, seed=0):
    rng = np.random.default_rng(seed)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)
    return rng.standard_normal(shape).astype(dtype) * 1e3


def one_line_error(excinfo, path, *words):
    msg = str(excinfo.value)
    assert "\n" not in msg
    assert str(path) in msg
    for word in words:
        assert word in msg, msg


@pytest.mark.parametrize("code", sorted(CODES))
@pytest.mark.parametrize("compress", [False, True])
def test_reads_handmade_bytes_of_every_type(tmp_path, code, compress):
    dtype = np.dtype(CODES[code])
    expected = sample(dtype, (3, 4, 2), seed=code)
    data = idx_bytes(code, (3, 4, 2), expected.astype(dtype.newbyteorder(">")).tobytes())
    path = tmp_path / "handmade.idx"
    path.write_bytes(gzip.compress(data) if compress else data)

    got = read_idx(path)

    assert got.dtype == dtype and got.dtype.isnative
    assert got.shape == (3, 4, 2)
    np.testing.assert_array_equal(got, expected)
    got[0, 0, 0] = 0  # the array owns writable memory


@pytest.mark.parametrize("code", sorted(CODES))
def test_write_idx_writes_exactly_the_format(tmp_path, code):
    array = sample(np.dtype(CODES[code]), (5, 3), seed=1)
    write_idx(array, tmp_path / "a.idx")
    write_idx(array, tmp_path / "a.idx.gz", gzip=True)
    be = array.astype(array.dtype.newbyteorder(">")).tobytes()
    assert (tmp_path / "a.idx").read_bytes() == idx_bytes(code, (5, 3), be)
    assert gzip.decompress((tmp_path / "a.idx.gz").read_bytes()) == idx_bytes(code, (5, 3), be)


def test_compression_is_detected_by_magic_bytes_not_name(tmp_path):
    labels = np.array([7, 2, 1], dtype=np.uint8)
    write_idx(labels, tmp_path / "looks-raw.idx", gzip=True)
    write_idx(labels, tmp_path / "looks-gzipped.gz", gzip=False)
    np.testing.assert_array_equal(read_idx(tmp_path / "looks-raw.idx"), labels)
    np.testing.assert_array_equal(read_idx(tmp_path / "looks-gzipped.gz"), labels)


@settings(max_examples=25, deadline=None)
@given(
    code=st.sampled_from(sorted(CODES)),
    shape=st.lists(st.integers(0, 5), min_size=1, max_size=4).map(tuple),
    compress=st.booleans(),
)
def test_roundtrip_property(tmp_path_factory, code, shape, compress):
    path = tmp_path_factory.mktemp("rt") / "x.idx"
    array = sample(np.dtype(CODES[code]), shape, seed=len(shape))
    write_idx(array, path, gzip=compress)
    got = read_idx(path)
    assert got.shape == shape and got.dtype == array.dtype
    np.testing.assert_array_equal(got, array)


# --- corruption: each kind gives its own one-line ValueError naming the file --------------------

GOOD = idx_bytes(0x08, (2, 3), bytes(range(6)))


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"\x01\x00" + GOOD[2:], ["magic number", "0x0000"]),
        (b"\x00\x00\x0a" + GOOD[3:], ["unknown type code 0x0A"]),
        (b"\x00\x00\x08\x00" + GOOD[8:], ["dimension count", "got 0"]),
        (b"\x00\x00\x08\x40" + GOOD[4:], ["dimension count", "got 64"]),
        (GOOD[:3], ["truncated header"]),
        (GOOD[:10], ["truncated header", "2 dimensions need 8 bytes"]),
        (GOOD[:-1], ["truncated data", "need 6 bytes"]),
        (GOOD + b"\x00", ["trailing bytes"]),
        (b"", ["truncated header"]),
    ],
    ids=[
        "bad-magic",
        "bad-type",
        "ndim-0",
        "ndim-64",
        "short-magic",
        "short-dims",
        "short-data",
        "trailing",
        "empty",
    ],
)
def test_corruption_is_a_clear_error(tmp_path, data, words, compress):
    path = tmp_path / "bad.idx"
    path.write_bytes(gzip.compress(data) if compress else data)
    with pytest.raises(ValueError) as excinfo:
        read_idx(path)
    one_line_error(excinfo, path, "read_idx", *words)


@pytest.mark.parametrize("compress", [False, True])
def test_absurd_dimensions_fail_before_any_allocation(tmp_path, compress):
    # 2**32-1 cubed float64s is ~6e29 bytes: the reader must refuse from the header alone.
    data = idx_bytes(0x0E, (2**32 - 1,) * 3, b"\x00" * 64)
    path = tmp_path / "absurd.idx"
    path.write_bytes(gzip.compress(data) if compress else data)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError) as excinfo:
            read_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    one_line_error(excinfo, path, "need", "bytes")
    assert peak < 1_000_000


def test_gzip_bomb_is_not_decompressed_past_the_header_size(tmp_path):
    # 16 MB of zeros compress to ~16 kB; the header claims only 10 bytes of data.
    bomb = idx_bytes(0x08, (10,), bytes(16 * 2**20))
    path = tmp_path / "bomb.idx.gz"
    path.write_bytes(gzip.compress(bomb, compresslevel=9))
    tracemalloc.start()
    try:
        with pytest.raises(ValueError) as excinfo:
            read_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    one_line_error(excinfo, path, "trailing bytes")
    assert peak < 2**20


def test_gzip_claiming_more_than_deflate_can_hold(tmp_path):
    path = tmp_path / "claims.idx.gz"
    path.write_bytes(gzip.compress(idx_bytes(0x08, (2**31,), b"\x00" * 100)))
    with pytest.raises(ValueError) as excinfo:
        read_idx(path)
    one_line_error(excinfo, path, "more than a gzip file of this size can hold")


@pytest.mark.parametrize("damage", ["cut", "flip"])
def test_corrupt_gzip_stream(tmp_path, damage):
    packed = bytearray(gzip.compress(idx_bytes(0x0D, (50, 50), sample(np.float32, 2500).tobytes())))
    if damage == "cut":
        packed = packed[: len(packed) // 2]
    else:
        packed[len(packed) // 2] ^= 0xFF
        packed[len(packed) // 2 + 1] ^= 0xFF
    path = tmp_path / "damaged.gz"
    path.write_bytes(bytes(packed))
    with pytest.raises(ValueError) as excinfo:
        read_idx(path)
    one_line_error(excinfo, path, "read_idx")


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nope.idx")


@pytest.mark.parametrize(
    ("array", "error", "words"),
    [
        (np.array([1, 2], dtype=np.int64), TypeError, "dtype must be one of"),
        (np.array([True]), TypeError, "got bool"),
        (np.array(3, dtype=np.uint8), ValueError, "1 to 32 dimensions"),
    ],
)
def test_write_idx_rejects_what_idx_cannot_hold(tmp_path, array, error, words):
    with pytest.raises(error, match=words):
        write_idx(array, tmp_path / "x.idx")
