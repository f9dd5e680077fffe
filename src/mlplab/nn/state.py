"""Loading a state dict: check every key, shape and dtype first, then copy in place.

Copying into the existing arrays (rather than replacing them) keeps every Parameter object and
its memory, so an optimizer built before the load, or a flat buffer the parameters are views
into, keeps working.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from ..tensor import Tensor

__all__ = ["IncompatibleKeys", "load_arrays"]


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict(strict=False)`` skipped.

    Examples:
        >>> from mlplab.nn import Linear
        >>> layer = Linear(2, 1, rng=0)
        >>> state = {"weight": layer.weight.data, "extra": layer.bias.data}
        >>> layer.load_state_dict(state, strict=False)
        IncompatibleKeys(missing_keys=['bias'], unexpected_keys=['extra'])
    """

    missing_keys: list[str]
    unexpected_keys: list[str]


def load_arrays(
    where: str, own: Mapping[str, Tensor], state: Mapping[str, Any], strict: bool
) -> IncompatibleKeys:
    """Copy ``state[name]`` into ``own[name].data`` for every shared name; write nothing unless
    every check passes.

    Args:
        where: the caller's name for messages, e.g. ``"MLP.load_state_dict"``.
        own: ``{dotted_name: parameter or buffer}`` of the receiving module.
        state: ``{dotted_name: array or Tensor}``.
        strict: refuse missing and unexpected keys (shape and dtype problems are always refused).

    Returns:
        The missing and unexpected keys.

    Raises:
        TypeError: if ``state`` is not a mapping.
        RuntimeError: naming every missing and unexpected key and every shape or dtype
            mismatch, on one line.

    Examples:
        >>> from mlplab.nn import Parameter
        >>> w = Parameter(np.zeros(2))
        >>> load_arrays("demo", {"w": w}, {"w": np.ones(2), "v": np.ones(1)}, strict=False)
        IncompatibleKeys(missing_keys=[], unexpected_keys=['v'])
        >>> w.numpy()
        array([1., 1.])
    """
    if not isinstance(state, Mapping):
        raise TypeError(f"{where}: expected a mapping of names to arrays, got {type(state)}")
    missing = [key for key in own if key not in state]
    unexpected = [key for key in state if key not in own]
    problems: list[str] = []
    if strict and missing:
        problems.append(f"missing keys {missing}")
    if strict and unexpected:
        problems.append(f"unexpected keys {unexpected}")
    arrays: dict[str, np.ndarray] = {}
    for key, param in own.items():
        if key not in state:
            continue
        value = state[key]
        array = np.asarray(value.data if isinstance(value, Tensor) else value)
        if array.shape != param.shape:
            problems.append(
                f"shape mismatch for '{key}': expected {param.shape}, got {array.shape}"
            )
        elif param.dtype.kind == "f" and array.dtype.kind != "f":
            problems.append(f"'{key}' must be floating point, got dtype {array.dtype}")
        elif param.dtype.kind in "iu" and array.dtype.kind not in "iu":
            # an integer buffer (BatchNorm's num_batches_tracked) takes integers only
            problems.append(f"'{key}' must be an integer, got dtype {array.dtype}")
        else:
            arrays[key] = array
    if problems:
        raise RuntimeError(f"{where}: " + "; ".join(problems))
    for key, array in arrays.items():
        np.copyto(own[key].data, array, casting="same_kind")
    return IncompatibleKeys(missing, unexpected)
