"""Devices: mlplab computes on the CPU with NumPy, and reads PyTorch's ``.to(...)`` arguments.

``tensor.to("cpu")``, ``model.to("cpu", dtype)``, ``to(device="cpu")`` and ``to(torch.float64)``
are accepted so PyTorch code runs unchanged; any other device (``"cuda"``, ``"mps"``, ...) is a
clear error rather than a confusing one about dtypes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .tensor import Tensor

__all__ = ["parse_to"]

_DEVICE_NAMES = ("cuda", "mps", "xpu", "hip", "meta", "xla", "vulkan", "ipu", "hpu", "mtia")


def _device(value: Any, where: str) -> None:
    name = str(value)
    if name == "cpu" or (name.startswith("cpu:") and name[4:].isdigit()):
        return
    raise ValueError(
        f"{where}: mlplab computes on the CPU with NumPy; got device {name!r}, expected 'cpu'"
    )


def _is_device(value: Any) -> bool:
    if type(value).__name__ == "device":  # torch.device, without importing torch
        return True
    return isinstance(value, str) and value.partition(":")[0] in ("cpu", *_DEVICE_NAMES)


def _dtype(value: Any, where: str) -> np.dtype[Any]:
    if isinstance(value, Tensor):
        return value.dtype
    if type(value).__module__ == "torch" and str(value).startswith("torch."):
        value = str(value)[len("torch.") :]  # torch.float64 -> "float64"
    try:
        return np.dtype(value)
    except TypeError:
        raise TypeError(
            f"{where}: expected a device ('cpu'), a dtype or a tensor, got {value!r}"
        ) from None


def parse_to(where: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> np.dtype[Any] | None:
    """Read PyTorch's ``.to(...)`` arguments: ``to(dtype)``, ``to(device)``, ``to(device,
    dtype)``, ``to(tensor)`` (its dtype), ``to(device=..., dtype=...)``; ``non_blocking`` and
    ``copy`` are accepted. Return the dtype asked for (None: keep it).

    Raises:
        ValueError: for a device other than the CPU (``"cuda"``, ``"mps"``, ...).
        TypeError: for anything that is neither a device nor a dtype, or unknown keywords.

    Examples:
        >>> parse_to("to", ("cpu", "float64"), {})
        dtype('float64')
        >>> parse_to("to", (), {"device": "cpu"}) is None
        True
    """
    extra = set(kwargs) - {"device", "dtype", "non_blocking", "copy", "memory_format"}
    if extra:
        raise TypeError(f"{where}: unexpected keyword argument {sorted(extra)[0]!r}")
    if len(args) > 2:
        raise TypeError(f"{where}: takes at most a device and a dtype, got {len(args)} arguments")
    device, dtype = kwargs.get("device"), kwargs.get("dtype")
    for arg in args:
        if _is_device(arg):
            if device is not None:
                raise TypeError(f"{where}: the device is given twice")
            device = arg
        elif dtype is not None:
            raise TypeError(f"{where}: the dtype is given twice")
        else:
            dtype = arg
    if device is not None:
        _device(device, where)
    return None if dtype is None else _dtype(dtype, where)
