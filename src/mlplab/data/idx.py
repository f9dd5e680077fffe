"""The IDX file format: MNIST's container for n-dimensional arrays.

An IDX file is a header followed by the array's bytes, all big-endian::

    byte 0-1   0x00 0x00        (the magic number's zero bytes)
    byte 2     type code        0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
                                0x0D float32, 0x0E float64
    byte 3     ndim             number of dimensions (>= 1)
    4 * ndim   dimensions       each a big-endian uint32
    payload    prod(dims) * itemsize bytes, C order

so MNIST's images file starts ``00 00 08 03`` then 60000, 28, 28. The file may be gzip-compressed
(detected by the gzip magic bytes ``1f 8b``, never by the name). :func:`read_idx` checks every
field before it trusts it: the payload must be exactly ``prod(dims) * itemsize`` bytes, and this is
compared with what the file can hold *before* anything is allocated, so a corrupt header cannot
make it allocate terabytes, and a gzip bomb cannot be decompressed past that size.
"""

from __future__ import annotations

import gzip as _gzip
import math
import os
import struct
import zlib
from typing import Any

import numpy as np

__all__ = ["read_idx", "write_idx", "IDX_DTYPES"]

#: type code -> big-endian NumPy dtype
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dtype.newbyteorder("="): code for code, dtype in IDX_DTYPES.items()}

_GZIP_MAGIC = b"\x1f\x8b"
# Deflate cannot compress better than about 1032:1, so a gzip file of S bytes cannot honestly
# decompress to more than ~1032 * S bytes; a header that claims more is corrupt (or a bomb).
_MAX_DEFLATE_RATIO = 1032
_MAX_NDIM = 32


def _fail(path: Any, problem: str) -> ValueError:
    return ValueError(f"read_idx: {os.fspath(path)}: {problem}")


def _read_exact(f: Any, n: int) -> bytes:
    """Read up to ``n`` bytes, looping over short reads."""
    chunks, left = [], n
    while left > 0:
        chunk = f.read(min(left, 1 << 24))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _parse(f: Any, path: Any, limit: int, compressed: bool) -> np.ndarray:
    """Parse an IDX stream whose decompressed size is at most ``limit`` bytes."""
    head = _read_exact(f, 4)
    if len(head) < 4:
        raise _fail(path, f"truncated header: expected 4 bytes of magic number, got {len(head)}")
    if head[0] != 0 or head[1] != 0:
        raise _fail(path, f"not an IDX file: magic number must start with 0x0000, got {head.hex()}")
    code, ndim = head[2], head[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise _fail(path, f"unknown type code 0x{code:02X} (expected one of {known})")
    if not 1 <= ndim <= _MAX_NDIM:
        raise _fail(path, f"dimension count must be in [1, {_MAX_NDIM}], got {ndim}")
    raw_dims = _read_exact(f, 4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise _fail(
            path, f"truncated header: {ndim} dimensions need {4 * ndim} bytes, got {len(raw_dims)}"
        )
    dims = struct.unpack(f">{ndim}I", raw_dims)
    dtype = IDX_DTYPES[code]
    expected = math.prod(dims) * dtype.itemsize  # a Python int: no overflow
    if not expected and math.prod(max(d, 1) for d in dims) * dtype.itemsize >= 2**63:
        raise _fail(path, f"dimensions {dims} are beyond what NumPy can hold, even when empty")
    available = limit - 4 - 4 * ndim
    if expected > available:
        if compressed:
            problem = (
                f"dimensions {dims} need {expected} bytes of {dtype.name} data, more than "
                f"a gzip file of this size can hold ({max(available, 0)})"
            )
        else:
            problem = (
                f"truncated data: dimensions {dims} need {expected} bytes of {dtype.name} "
                f"data but the file holds {max(available, 0)} after the header"
            )
        raise _fail(path, problem)
    payload = _read_exact(f, expected)
    if len(payload) < expected:
        raise _fail(
            path, f"truncated data: dimensions {dims} need {expected} bytes, got {len(payload)}"
        )
    if f.read(1):
        raise _fail(
            path,
            f"trailing bytes after the {expected} bytes that dimensions {dims} "
            "describe (oversized or wrong header)",
        )
    native = dtype.newbyteorder("=")
    return np.frombuffer(payload, dtype=dtype).astype(native).reshape(dims)


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (raw or gzip-compressed) into a NumPy array.

    Args:
        path: the file. Compression is detected from the first two bytes (``1f 8b``), not from
            the name.

    Returns:
        An array of shape ``dims`` in the native byte order, with the dtype the type code names
        (uint8, int8, int16, int32, float32 or float64). The array owns its (writable) memory.

    Raises:
        FileNotFoundError: if the file does not exist.
        ValueError: one line naming the file and the problem: a magic number that does not
            start with 0x0000, an unknown type code, a bad dimension count, a truncated header or
            payload, trailing bytes, dimensions that need more bytes than the file can hold
            (checked before any allocation), or a corrupt gzip stream.

    Examples:
        >>> import numpy as np, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "a.idx")
        >>> write_idx(np.arange(6, dtype=np.uint8).reshape(2, 3), path)
        >>> read_idx(path)
        array([[0, 1, 2],
               [3, 4, 5]], dtype=uint8)
    """
    size = os.path.getsize(path)
    with open(path, "rb") as raw:
        compressed = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        if not compressed:
            return _parse(raw, path, size, compressed=False)
        try:
            with _gzip.GzipFile(fileobj=raw, mode="rb") as f:
                return _parse(f, path, size * _MAX_DEFLATE_RATIO, compressed=True)
        except (EOFError, OSError, zlib.error) as err:
            raise _fail(path, f"corrupt gzip stream ({type(err).__name__}: {err})") from None


def write_idx(array: Any, path: str | os.PathLike[str], gzip: bool = False) -> None:
    """Write an array as an IDX file (big-endian), optionally gzip-compressed.

    Args:
        array: an array of dtype uint8, int8, int16, int32, float32 or float64 with at least one
            dimension, each below 2**32.
        path: the file to write (overwritten).
        gzip: compress the file with gzip.

    Raises:
        TypeError: if the dtype has no IDX type code.
        ValueError: if the array is 0-dimensional, has more than 32 dimensions, or a dimension
            does not fit in 32 bits.

    Examples:
        >>> import numpy as np, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "labels.idx1.gz")
        >>> write_idx(np.array([3, 1, 4], dtype=np.int32), path, gzip=True)
        >>> read_idx(path)
        array([3, 1, 4], dtype=int32)
    """
    array = np.asarray(array)
    native = array.dtype.newbyteorder("=")
    if native not in _CODES:
        names = ", ".join(d.newbyteorder("=").name for d in IDX_DTYPES.values())
        raise TypeError(f"write_idx: dtype must be one of {names}, got {array.dtype}")
    if not 1 <= array.ndim <= _MAX_NDIM:
        raise ValueError(
            f"write_idx: array must have 1 to {_MAX_NDIM} dimensions, got shape {array.shape}"
        )
    if any(d >= 2**32 for d in array.shape):
        raise ValueError(f"write_idx: each dimension must be < 2**32, got shape {array.shape}")
    code = _CODES[native]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()
    opener = _gzip.open if gzip else open
    with opener(path, "wb") as f:
        f.write(header)
        f.write(payload)
