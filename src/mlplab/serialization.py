"""Save and load state dicts of arrays as safetensors files, written in pure NumPy, never pickle.

The safetensors layout (https://github.com/huggingface/safetensors), readable by the
``safetensors`` package and PyTorch::

    8 bytes    N, the header length, unsigned 64-bit little-endian
    N bytes    UTF-8 JSON: {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [b, e]},
               ..., "__metadata__": {"key": "value", ...}}  (str -> str, optional),
               padded with spaces so the data starts at a multiple of 8 bytes
    the rest   every tensor's bytes, C order, little-endian, at [8 + N + b, 8 + N + e)

:func:`load` treats the file as hostile: it checks the header length against the file, parses
the JSON, and checks every dtype, shape and byte range (in the file, contiguous, no overlap, no
gap, no trailing bytes, the size ``prod(shape)·itemsize``) before it allocates any array. It only
ever reads raw numbers, so no file can run code, and a pickle (``torch.save``, ``pickle.dump``,
``np.save`` of objects) is refused with a message that says what it looks like.

:func:`save` writes atomically: to a temporary file in the target's directory, flushed and
fsync'ed, then ``os.replace``-d over the target, so a crash leaves the old file or the new one,
never a half-written one, and no temporary file behind.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import struct
import tempfile
from collections.abc import Mapping
from typing import Any

import numpy as np

from .nested import TREE_KEY, flatten, is_flat, unflatten
from .tensor import Tensor

__all__ = ["save", "load", "load_metadata"]

_DTYPES = {
    "BOOL": "|b1", "U8": "|u1", "I8": "|i1", "U16": "<u2", "I16": "<i2", "F16": "<f2",
    "U32": "<u4", "I32": "<i4", "F32": "<f4", "U64": "<u8", "I64": "<i8", "F64": "<f8",
}  # fmt: skip
_NAMES = {np.dtype(code).newbyteorder("="): name for name, code in _DTYPES.items()}
_NOT_IN_NUMPY = ("BF16", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4")
_MAX_HEADER = 100 * 1024 * 1024  # the limit of the reference implementation
_MAX_NDIM, _MAX_BYTES = 64, 2**63  # NumPy's limits: 64 dimensions, bytes in an intp


def _sniff(head: bytes) -> str:
    """Say what a file that is not safetensors looks like, for the error message."""
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "a pickle (torch.save, pickle.dump), which mlplab never loads"
    if head.startswith(b"\x93NUMPY"):
        return "a NumPy .npy file"
    if head.startswith(b"PK\x03\x04"):
        return "a zip archive (.npz or torch.save)"
    return ""


def _array_of(key: str, value: Any) -> np.ndarray:
    array = value.data if isinstance(value, Tensor) else value
    if isinstance(array, np.generic):
        array = np.asarray(array)
    if not isinstance(array, np.ndarray):
        raise TypeError(
            f"save: state[{key!r}] must be an ndarray or Tensor, got {type(value).__name__} "
            "(wrap numbers in np.asarray)"
        )
    if array.dtype.newbyteorder("=") not in _NAMES:
        raise TypeError(
            f"save: state[{key!r}] has dtype {array.dtype}, expected one of "
            "bool, uint8/16/32/64, int8/16/32/64, float16/32/64"
        )
    little = array.dtype.newbyteorder("<") if array.dtype.itemsize > 1 else array.dtype
    return np.asarray(array, dtype=little, order="C")  # keeps 0-d (ascontiguousarray may not)


def _header(arrays: dict[str, np.ndarray], metadata: Mapping[str, str] | None) -> bytes:
    header: dict[str, Any] = {}
    if metadata is not None:
        if not isinstance(metadata, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
        ):
            raise TypeError("save: metadata must be a mapping of str to str")
        header["__metadata__"] = dict(metadata)
    offset = 0
    for key, array in arrays.items():
        name = _NAMES[array.dtype.newbyteorder("=")]
        header[key] = {"dtype": name, "shape": list(array.shape),
                       "data_offsets": [offset, offset + array.nbytes]}  # fmt: skip
        offset += array.nbytes
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    return text + b" " * (-(8 + len(text)) % 8)


def save(state: Mapping[Any, Any], path: str | os.PathLike[str], metadata: Any = None) -> None:
    """Write a state dict to ``path`` as a safetensors file, atomically.

    A flat state, name -> ndarray or Tensor (its ``.data``), is written as plain safetensors.
    A nested one, whatever ``state_dict()``s hold (dicts with str or int keys, lists, tuples,
    arrays, Tensors, NumPy scalars, ints, floats, bools, None, strings), is written as its arrays,
    each named by its path (``model/layers.0.weight``), plus its structure as JSON in the
    metadata (see :mod:`mlplab.nested`), and :func:`load` gives it back exactly: dtypes kept,
    ints stay ints. Never pickle. Array dtypes: bool, uint8/16/32/64, int8/16/32/64,
    float16/32/64; any shape, 0-d and empty included.

    Args:
        state: the mapping to save.
        path: the file to (over)write.
        metadata: optional str -> str mapping stored as ``__metadata__`` (e.g. a JSON config).

    Raises:
        TypeError: for a key that is not str (flat) or str/int (nested), a value of another
            type, an unsupported dtype (object arrays included: they would need pickle), or
            non-string metadata.
        ValueError: for the reserved key ``"__metadata__"`` or metadata key ``"mlplab.tree"``.
        FileNotFoundError: if the target's directory does not exist.

    Examples:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "w.safetensors")
        >>> save({"w": np.eye(2, dtype=np.float32)}, path, metadata={"step": "3"})
        >>> load(path)["w"]
        array([[1., 0.],
               [0., 1.]], dtype=float32)
        >>> save({"model": {"w": np.zeros(2)}, "optimizer": {"state": {0: {"step": 3}}}}, path)
        >>> load(path)
        {'model': {'w': array([0., 0.])}, 'optimizer': {'state': {0: {'step': 3}}}}
    """
    if not isinstance(state, Mapping):
        raise TypeError(
            f"save: state must be a mapping of str to arrays, got {type(state).__name__}"
        )
    if "__metadata__" in state:
        raise ValueError("save: the key '__metadata__' is reserved; pass metadata=... instead")
    if metadata is not None and isinstance(metadata, Mapping) and TREE_KEY in metadata:
        raise ValueError(f"save: the metadata key {TREE_KEY!r} is reserved")
    if not is_flat(state):
        state, skeleton = flatten(state)
        if metadata is None or isinstance(metadata, Mapping):
            metadata = dict(metadata or {}) | {TREE_KEY: skeleton}
    arrays: dict[str, np.ndarray] = {}
    for key, value in state.items():
        if not isinstance(key, str):
            raise TypeError(f"save: keys must be strings, got {key!r}")
        if key == "__metadata__":
            raise ValueError("save: the key '__metadata__' is reserved; pass metadata=... instead")
        arrays[key] = _array_of(key, value)
    header = _header(arrays, metadata)

    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"save: directory {directory!r} does not exist")
    fd, tmp = tempfile.mkstemp(
        dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp"
    )
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(struct.pack("<Q", len(header)))
            f.write(header)
            for array in arrays.values():
                if array.size:
                    f.write(array.reshape(-1).view(np.uint8).data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _file_mode(path))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def _file_mode(path: str) -> int:
    """The mode a plain ``open(path, "w")`` would give (mkstemp makes files private, 0600)."""
    try:
        return os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _fsync_directory(directory: str) -> None:
    """Make the rename durable (POSIX); not possible, or needed, everywhere."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def _read_header(f: Any, path: str) -> tuple[dict[str, Any], dict[str, str], int]:
    """Read and check the header; return (tensor entries, metadata, data start)."""

    def bad(what: str) -> ValueError:
        return ValueError(f"load: {path}: {what}")

    size = os.fstat(f.fileno()).st_size
    head = f.read(8)
    if len(head) < 8:
        raise bad(f"file is {size} bytes, shorter than the 8-byte header length; truncated?")
    (n,) = struct.unpack("<Q", head)
    if n > size - 8 or n > _MAX_HEADER or n < 2:
        if _sniff(head):
            raise bad(f"not a safetensors file: it looks like {_sniff(head)}")
        raise bad(
            f"header length {n} does not fit the file of {size} bytes (at most "
            f"min(size - 8, {_MAX_HEADER})); truncated or not a safetensors file"
        )
    raw = f.read(n)
    try:
        text = raw.decode("utf-8")
        if not text.startswith("{"):
            raise ValueError("does not start with '{'")
        header = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError, JSONDecodeError; nesting
        raise bad(f"corrupted header: {error}") from None
    if not isinstance(header, dict):
        raise bad("corrupted header: expected a JSON object")
    metadata = header.pop("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise bad("__metadata__ must be an object of str -> str")
    return header, metadata, 8 + n


def _short(value: Any, limit: int = 80) -> str:
    """``repr(value)``, cut to ``limit`` characters: a hostile header can be 100 MB."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate key among {sorted(keys)[:5]}")
    return dict(pairs)


def _no_constant(name: str) -> None:
    raise ValueError(f"JSON constant {name} is not allowed")


def _check_entries(
    header: dict[str, Any], data_size: int, path: str
) -> list[tuple[str, np.dtype[Any], tuple[int, ...], int, int]]:
    """Check every tensor entry; return (key, dtype, shape, begin, end) in file order."""

    def bad(what: str) -> ValueError:
        return ValueError(f"load: {path}: {what}")

    def is_int(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and v >= 0

    entries = []
    for key, info in header.items():
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise bad(
                f"tensor {key!r}: expected keys dtype, shape, data_offsets, got {_short(info)}"
            )
        code, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if code in _NOT_IN_NUMPY:
            raise bad(f"tensor {key!r}: dtype {code} is not supported by NumPy")
        if code not in _DTYPES:
            raise bad(f"tensor {key!r}: unknown dtype {_short(code)}; known: {', '.join(_DTYPES)}")
        if not isinstance(shape, list) or not all(is_int(d) for d in shape):
            raise bad(
                f"tensor {key!r}: shape must be a list of non-negative ints, got {_short(shape)}"
            )
        if len(shape) > _MAX_NDIM or math.prod(max(d, 1) for d in shape) * 8 >= _MAX_BYTES:
            raise bad(f"tensor {key!r}: shape {_short(shape)} is beyond what NumPy can hold")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(map(is_int, offsets))):
            raise bad(f"tensor {key!r}: data_offsets must be [begin, end], got {_short(offsets)}")
        begin, end = offsets
        dtype = np.dtype(_DTYPES[code])
        if end - begin != math.prod(shape) * dtype.itemsize:
            raise bad(
                f"tensor {key!r}: data_offsets {offsets} span {end - begin} bytes, but {code} "
                f"{shape} needs {math.prod(shape) * dtype.itemsize}"
            )
        entries.append((key, dtype, tuple(shape), begin, end))
    position = 0
    for key, _, _, begin, end in sorted(entries, key=lambda e: (e[3], e[4])):
        if begin != position:
            what = "overlaps the previous tensor" if begin < position else "leaves a gap"
            raise bad(f"tensor {key!r}: data_offsets start at {begin}, expected {position}: {what}")
        position = end
    if position > data_size:
        raise bad(f"truncated: the header needs {position} data bytes, the file holds {data_size}")
    if position < data_size:
        raise bad(f"{data_size - position} trailing bytes after the last tensor")
    return entries


def load(path: str | os.PathLike[str], with_metadata: bool = False) -> Any:
    """Read a safetensors file into a dict of NumPy arrays (each owns its memory, writable).

    A file :func:`save` wrote from a nested state gives that state back (its structure is the
    ``mlplab.tree`` metadata entry, which is not returned in the metadata).

    Args:
        path: the file.
        with_metadata: also return the ``__metadata__`` dict (``{}`` if there is none).

    Returns:
        ``{name: ndarray}`` in the file's header order (or the nested state), or
        ``(state, metadata)``.

    Raises:
        ValueError: one line naming the file and the problem, for a truncated, corrupted or
            foreign file (a pickle, .npy, .npz), an unsupported dtype, or bad offsets.

    Examples:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "s.safetensors")
        >>> save({"b": np.arange(3)}, path, metadata={"config": "{}"})
        >>> arrays, meta = load(path, with_metadata=True)
        >>> arrays["b"], meta
        (array([0, 1, 2]), {'config': '{}'})
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        header, metadata, start = _read_header(f, path)
        data_size = os.fstat(f.fileno()).st_size - start
        entries = _check_entries(header, data_size, path)
        arrays = {}
        for key, dtype, shape, begin, end in entries:
            array = np.empty(shape, dtype.newbyteorder("="))
            f.seek(start + begin)
            if array.size and f.readinto(array.reshape(-1).view(np.uint8).data) != end - begin:
                raise ValueError(f"load: {path}: truncated while reading tensor {key!r}")
            if dtype.byteorder == "<" and not np.little_endian:
                array.byteswap(inplace=True)
            if dtype.kind == "b" and array.view(np.uint8).max(initial=0) > 1:
                raise ValueError(f"load: {path}: BOOL tensor {key!r} holds bytes other than 0, 1")
            arrays[key] = array
    if TREE_KEY in metadata:
        skeleton = metadata.pop(TREE_KEY)
        arrays = unflatten(arrays, skeleton, path)
    return (arrays, metadata) if with_metadata else arrays


def load_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """Read only the ``__metadata__`` of a safetensors file (the whole header is checked).

    Examples:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "m.safetensors")
        >>> save({}, path, metadata={"epoch": "2"})
        >>> load_metadata(path)
        {'epoch': '2'}
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        header, metadata, start = _read_header(f, path)
        _check_entries(header, os.fstat(f.fileno()).st_size - start, path)
    metadata.pop(TREE_KEY, None)
    return metadata
