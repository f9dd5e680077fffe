"""The core of every primitive: the ``Op`` protocol, ``apply``, and operand helpers.

A primitive is a small class with ``forward(*arrays) -> array`` and ``vjp(g, out, *inputs)``,
which returns for every input the Tensor ``gᵀ ∂out/∂input`` (or None where no gradient is
needed). ``apply`` runs the forward on the inputs' arrays and records the node only when a
gradient may be needed, so inference and optimizer steps build no graph.
"""

from __future__ import annotations

import builtins
import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from ..grad_mode import state as _grad_state
from ..tensor import DEFAULT_DTYPE, Tensor


class Op:
    """A primitive: ``forward`` on arrays, ``vjp`` in mlplab ops."""

    __slots__ = ()

    if TYPE_CHECKING:
        # Each primitive fixes its own arity: forward(a, b) / vjp(g, out, a, b).
        forward: Callable[..., Any]
        vjp: Callable[..., tuple[Tensor | None, ...]]
        vjp_arrays: Callable[..., tuple[Any, ...]] | None
    else:

        def forward(self, *arrays):
            raise NotImplementedError

        def vjp(self, g, out, *inputs):
            raise NotImplementedError

        # The first-order VJP on arrays, ``vjp_arrays(g, out, *inputs)`` with ``g`` an array
        # and one array or None per input: the same array calls as ``vjp``, bit for bit,
        # without the Tensors. A primitive on the hot path defines it; without it a backward
        # under ``no_grad`` calls ``vjp``.
        vjp_arrays = None

    def __repr__(self) -> str:
        return type(self).__name__


def apply(op: Op, *inputs: Tensor) -> Tensor:
    """Run ``op`` on the inputs' arrays; record the node when a gradient may be needed."""
    n = len(inputs)  # one or two inputs without building a list (most ops, every call)
    if n == 1:
        out = op.forward(inputs[0].data)
    elif n == 2:
        out = op.forward(inputs[0].data, inputs[1].data)
    else:
        out = op.forward(*[t.data for t in inputs])
    if isinstance(out, np.generic):
        out = np.asarray(out)
    if _grad_state.enabled:
        for t in inputs:
            if t.requires_grad:
                return Tensor._make(out, op, inputs)
    return Tensor._make(out)


def as_tensor(value: Any, like: Tensor | None = None) -> Tensor:
    """Return ``value`` as a Tensor; a Python scalar takes the dtype of ``like``.

    A Python float next to an integer tensor becomes float32 (the default dtype), as in PyTorch.
    """
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (bool, int, float)) and like is not None:
        dtype = like.data.dtype
        if dtype.kind in "biu" and isinstance(value, float):
            dtype = DEFAULT_DTYPE
        elif dtype.kind == "b" and not isinstance(value, bool):
            dtype = np.dtype(np.int64)
        return Tensor._make(np.asarray(value, dtype=dtype))
    return Tensor(value)


def broadcast_shape(name: str, *shapes: tuple[int, ...]) -> tuple[int, ...]:
    """Return NumPy's broadcast of ``shapes``; a ValueError names the op and every shape."""
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        listed = " and ".join(str(tuple(s)) for s in shapes)
        raise ValueError(f"{name}: shapes {listed} cannot be broadcast together") from None


def _normalize_axes(name: str, axis: Any, ndim: int) -> tuple[int, ...]:
    """Return ``axis`` as sorted non-negative axes; a 0-d tensor takes axis 0 or −1 (as in
    PyTorch) and has nothing to reduce."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    normalized = []
    for ax in axes:
        if isinstance(ax, bool) or not isinstance(ax, (int, np.integer)):
            raise TypeError(f"{name}: an axis must be an integer, got {ax!r}")
        if not -builtins.max(ndim, 1) <= ax < builtins.max(ndim, 1):
            raise ValueError(f"{name}: axis {ax} is out of range for a tensor with {ndim} dims")
        normalized.append(int(ax) % builtins.max(ndim, 1))
    if ndim == 0:
        return ()
    return tuple(sorted(set(normalized)))


def _kept_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


F = TypeVar("F", bound=Callable[..., Any])

# PyTorch's spelling -> (NumPy's spelling, its position after the tensor argument).
_ALIASES = {"dim": ("axis", 1), "keepdim": ("keepdims", 2)}


def dim_aliases(fn: F) -> F:
    """Let a reduction ``fn(x, axis, keepdims, ...)`` also take PyTorch's ``dim=`` and
    ``keepdim=``; NumPy's names stay the primary spelling, and giving both is a TypeError.

    Examples:
        >>> import mlplab
        >>> mlplab.tensor([[1.0, 2.0], [3.0, 4.0]]).sum(dim=1, keepdim=True).shape
        (2, 1)
    """

    @functools.wraps(fn)
    def with_aliases(*args: Any, **kwargs: Any) -> Any:
        if "dim" in kwargs or "keepdim" in kwargs:
            for alias, (name, position) in _ALIASES.items():
                if alias not in kwargs:
                    continue
                if name in kwargs or len(args) > position:
                    raise TypeError(
                        f"{fn.__name__}: got both {name}= and its PyTorch alias {alias}=; "
                        "pass one of them"
                    )
                kwargs[name] = kwargs.pop(alias)
        return fn(*args, **kwargs)

    signature = inspect.signature(fn)
    extra = [
        inspect.Parameter(alias, inspect.Parameter.KEYWORD_ONLY, default=None)
        for alias, (name, _) in _ALIASES.items()
        if name in signature.parameters
    ]
    with_aliases.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*signature.parameters.values(), *extra]
    )
    return with_aliases  # type: ignore[return-value]
