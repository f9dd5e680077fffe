"""Nested states (what ``state_dict()``s hold) as named arrays plus a JSON skeleton, and back.

:func:`mlplab.save` stores a nested state in a safetensors file: every array (and every NumPy
scalar) becomes a tensor named by its path, ``model/layers.0.weight`` or
``optimizer/state/0/exp_avg``, so any safetensors reader sees the weights; the structure around
them is one JSON string in the file's metadata, under :data:`TREE_KEY`. In that skeleton every
JSON object is a tag, so nothing is ambiguous:

- ``{"dict": [[key, node], ...]}`` a dict (keys str or int, in order),
- ``{"list": [node, ...]}``, ``{"tuple": [node, ...]}``,
- ``{"tensor": name}`` an ndarray (a Tensor is saved as its ``.data``), ``{"scalar": name}`` a
  NumPy scalar (``np.float32(1.5)``: its dtype is kept),
- ``{"nan": "7ff8000000000000"}`` a float NaN (its bits, sign and payload kept),
- JSON's own ``int``, ``float`` (±inf included), ``true``/``false``, ``null``, strings.

So ints stay ints, floats stay floats bit for bit, and dtypes are kept. Decoding treats the
skeleton as hostile: a malformed one is one ``ValueError`` line, and every tensor of the file must
be named exactly once.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from typing import Any

import numpy as np

from .tensor import Tensor

__all__ = ["TREE_KEY", "is_flat", "flatten", "unflatten"]

#: The metadata key that holds the skeleton of a nested state.
TREE_KEY = "mlplab.tree"


def is_flat(state: Mapping[Any, Any]) -> bool:
    """True for a mapping of str to arrays/Tensors/NumPy scalars: the plain safetensors layout.

    Examples:
        >>> is_flat({"w": np.zeros(2)}), is_flat({"w": np.zeros(2), "step": 3})
        (True, False)
    """
    return all(
        isinstance(k, str) and isinstance(v, (np.ndarray, np.generic, Tensor))
        for k, v in state.items()
    )


def _where(path: tuple[Any, ...]) -> str:
    return "state" + "".join(f"[{k!r}]" for k in path)


def flatten(state: Mapping[Any, Any]) -> tuple[dict[str, Any], str]:
    """Split a nested state into ``{name: array or NumPy scalar}`` and its JSON skeleton.

    Raises:
        TypeError: for a key that is not str or int, or a value of another type (naming where).
        ValueError: for a float dict key or a container that contains itself.

    Examples:
        >>> arrays, skeleton = flatten({"w": np.ones(2), "step": 3})
        >>> list(arrays), skeleton
        (['w'], '{"dict": [["w", {"tensor": "w"}], ["step", 3]]}')
    """
    arrays: dict[str, Any] = {}
    active: set[int] = set()

    def name_for(path: tuple[Any, ...]) -> str:
        base = "/".join(str(k) for k in path) or "_"
        name, n = base, 1
        while name in arrays or name == "__metadata__":
            n += 1
            name = f"{base}#{n}"
        return name

    def encode(value: Any, path: tuple[Any, ...]) -> Any:
        if isinstance(value, Tensor):
            value = value.data
        if isinstance(value, np.ndarray | np.generic):
            name = name_for(path)
            arrays[name] = value
            return {"scalar" if isinstance(value, np.generic) else "tensor": name}
        if isinstance(value, float) and value != value:  # NaN: its sign and payload bits
            return {"nan": struct.pack(">d", value).hex()}
        if value is None or isinstance(value, bool | int | float | str):
            return value
        if not isinstance(value, Mapping | list | tuple):
            raise TypeError(
                f"save: {_where(path)} is a {type(value).__name__}; a state holds dicts, lists, "
                "tuples, arrays, Tensors, numbers, bools, None and strings"
            )
        if id(value) in active:
            raise ValueError(f"save: {_where(path)} contains itself")
        active.add(id(value))
        if isinstance(value, Mapping):
            items = []
            for k, v in value.items():
                if isinstance(k, bool) or not isinstance(k, str | int):
                    raise TypeError(f"save: keys must be str or int, got {k!r} in {_where(path)}")
                items.append([k, encode(v, (*path, k))])
            node: Any = {"dict": items}
        else:
            kind = "list" if isinstance(value, list) else "tuple"
            node = {kind: [encode(v, (*path, i)) for i, v in enumerate(value)]}
        active.discard(id(value))
        return node

    skeleton = encode(state, ())
    return arrays, json.dumps(skeleton, allow_nan=True)


def unflatten(arrays: dict[str, np.ndarray], skeleton: str, where: str) -> Any:
    """Rebuild the nested state from the file's arrays and its skeleton.

    Raises:
        ValueError: ``"load: WHERE: ..."`` for a malformed skeleton, a tensor named twice or
            not at all, or one that names no tensor of the file.

    Examples:
        >>> arrays, skeleton = flatten({"opt": {"state": {0: {"step": 2}}, "betas": (0.9, 0.99)}})
        >>> unflatten(arrays, skeleton, "f")
        {'opt': {'state': {0: {'step': 2}}, 'betas': (0.9, 0.99)}}
    """

    def bad(what: str) -> ValueError:
        return ValueError(f"load: {where}: corrupted {TREE_KEY} metadata: {what}")

    used: set[str] = set()

    def take(name: Any) -> np.ndarray:
        if not isinstance(name, str) or name not in arrays:
            raise bad(f"names no tensor of the file: {str(name)[:80]!r}")
        if name in used:
            raise bad(f"tensor {name[:80]!r} is named twice")
        used.add(name)
        return arrays[name]

    def decode(node: Any) -> Any:
        if node is None or isinstance(node, bool | int | float | str):
            return node
        if not isinstance(node, dict) or len(node) != 1:
            raise bad(f"expected a tagged object, got {str(node)[:80]}")
        ((tag, body),) = node.items()
        if tag == "tensor":
            return take(body)
        if tag == "nan":
            try:
                (value,) = struct.unpack(">d", bytes.fromhex(body))
            except (TypeError, ValueError, struct.error):
                raise bad(f"a NaN is 16 hex digits, got {str(body)[:80]!r}") from None
            return value
        if tag == "scalar":
            array = take(body)
            if array.ndim:
                raise bad(f"scalar {body[:80]!r} has shape {array.shape}")
            return array[()]
        if tag in ("list", "tuple") and isinstance(body, list):
            items = [decode(v) for v in body]
            return items if tag == "list" else tuple(items)
        if tag == "dict" and isinstance(body, list):
            out: dict[Any, Any] = {}
            for pair in body:
                if not (isinstance(pair, list) and len(pair) == 2):
                    raise bad(f"a dict item must be [key, value], got {str(pair)[:80]}")
                key, value = pair
                if isinstance(key, bool) or not isinstance(key, str | int) or key in out:
                    raise bad(f"bad or repeated dict key {str(key)[:80]!r}")
                out[key] = decode(value)
            return out
        raise bad(f"unknown tag {str(tag)[:80]!r}")

    try:
        tree = json.loads(skeleton)
        state = decode(tree)
    except RecursionError:
        raise bad("nested too deep") from None
    except json.JSONDecodeError as err:
        raise bad(str(err)) from None
    if not isinstance(state, dict):
        raise bad(f"the top level must be a dict, got {type(state).__name__}")
    unnamed = [name for name in arrays if name not in used]
    if unnamed:
        raise bad(f"tensor {unnamed[0][:80]!r} is in the file but not in the state")
    return state
