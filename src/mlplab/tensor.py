"""The Tensor: an ndarray, its gradient, and the node that made it.

A Tensor is a thin record: ``data`` (the array), ``grad`` (a Tensor or None), ``requires_grad``,
and, for results of recorded operations, ``op`` (the primitive) and ``inputs`` (its operand
Tensors). The operators (``+``, ``@``, ``sum``, ...) are attached by :mod:`mlplab.ops` and
:mod:`mlplab.functional`, and ``backward`` by :mod:`mlplab.autodiff`, so that this module can be
read knowing only NumPy.

dtype rules (as in PyTorch): an ndarray keeps its dtype; Python floats and lists of them become
float32 (the default dtype); Python ints become int64 (labels and indices, never differentiated);
Python bools become bool.
"""

from __future__ import annotations

import builtins
import itertools
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from . import backend
from .grad_mode import state as _grad_state

__all__ = ["Tensor", "tensor", "DEFAULT_DTYPE", "Size"]

DEFAULT_DTYPE = np.dtype(np.float32)

# Tensor.seq: the creation order of operation results (atomic under the GIL).
_next_seq = itertools.count().__next__


class Size(int):
    """The number of elements (NumPy's ``a.size``) that can also be called as PyTorch's
    ``a.size()``: with no argument the shape, with an axis ``d`` the length ``shape[d]``.

    Examples:
        >>> import mlplab
        >>> x = mlplab.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
        >>> x.size, x.size(), x.size(-1)
        (6, (2, 3), 3)
    """

    shape: tuple[int, ...]

    def __new__(cls, shape: tuple[int, ...]) -> Size:
        size = super().__new__(cls, math.prod(shape))
        size.shape = tuple(shape)
        return size

    def __call__(self, dim: int | None = None) -> Any:
        if dim is None:
            return self.shape
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
            raise TypeError(f"size: dim must be an int, got {dim!r}")
        if not -len(self.shape) <= dim < len(self.shape):
            raise IndexError(
                f"size: dim {dim} is out of range for a tensor with {len(self.shape)} dims"
            )
        return self.shape[dim]


def _to_array(data: Any, dtype: Any = None) -> Any:
    """Convert ``data`` to an array by the dtype rules above."""
    if isinstance(data, Tensor):
        data = data.data
    if backend.is_array(data) or isinstance(data, np.generic):
        array = data if dtype is None else data.astype(dtype, copy=False)
        return np.asarray(array) if isinstance(array, np.generic) else array
    array = np.asarray(data, dtype=dtype)
    if dtype is None and array.dtype == np.float64:
        array = array.astype(DEFAULT_DTYPE)
    return array


class Tensor:
    """An n-dimensional array that can record how it was computed.

    Args:
        data: an ndarray (wrapped without a copy, its dtype kept), a Tensor, or Python numbers
            and nested lists (converted by the dtype rules of this module).
        requires_grad: record operations on this tensor so gradients flow back to it.
        dtype: convert to this dtype.

    Examples:
        >>> import mlplab
        >>> x = mlplab.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        >>> y = (x * x).sum()
        >>> y.backward()
        >>> x.grad
        tensor([[2., 4.],
                [6., 8.]])
    """

    __slots__ = ("data", "grad", "requires_grad", "op", "inputs", "name", "seq", "__weakref__")
    # Make NumPy defer to Tensor's reflected operators: ndarray * Tensor -> Tensor.
    __array_priority__ = 1000.0
    __hash__ = object.__hash__

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        self.data = _to_array(data, dtype)
        self.grad: Tensor | None = None
        self.op: Any = None
        self.inputs: tuple[Tensor, ...] = ()
        self.name: str | None = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    if TYPE_CHECKING:
        seq: int  # recorded results only (see _make)

        # Attached at import time by mlplab.ops.methods, mlplab.functional and mlplab.autodiff;
        # declared here so that type checkers know them.
        def __add__(self, other: Any) -> Tensor: ...
        def __radd__(self, other: Any) -> Tensor: ...
        def __sub__(self, other: Any) -> Tensor: ...
        def __rsub__(self, other: Any) -> Tensor: ...
        def __mul__(self, other: Any) -> Tensor: ...
        def __rmul__(self, other: Any) -> Tensor: ...
        def __truediv__(self, other: Any) -> Tensor: ...
        def __rtruediv__(self, other: Any) -> Tensor: ...
        def __pow__(self, other: Any) -> Tensor: ...
        def __rpow__(self, other: Any) -> Tensor: ...
        def __matmul__(self, other: Any) -> Tensor: ...
        def __rmatmul__(self, other: Any) -> Tensor: ...
        def __neg__(self) -> Tensor: ...
        def __abs__(self) -> Tensor: ...
        def __getitem__(self, index: Any) -> Tensor: ...
        def __lt__(self, other: Any) -> Tensor: ...
        def __le__(self, other: Any) -> Tensor: ...
        def __gt__(self, other: Any) -> Tensor: ...
        def __ge__(self, other: Any) -> Tensor: ...
        def __eq__(self, other: Any) -> Tensor: ...  # type: ignore[override]
        def __ne__(self, other: Any) -> Tensor: ...  # type: ignore[override]
        def exp(self) -> Tensor: ...
        def log(self) -> Tensor: ...
        def tanh(self) -> Tensor: ...
        def sqrt(self) -> Tensor: ...
        def abs(self) -> Tensor: ...
        def relu(self) -> Tensor: ...
        def sigmoid(self) -> Tensor: ...
        def sum(self, axis: Any = None, keepdims: bool = False, **aliases: Any) -> Tensor: ...
        def max(self, axis: Any = None, keepdims: bool = False, **aliases: Any) -> Tensor: ...
        def min(self, axis: Any = None, keepdims: bool = False, **aliases: Any) -> Tensor: ...
        def argmax(self, axis: Any = None, keepdims: bool = False, **aliases: Any) -> Tensor: ...
        def argmin(self, axis: Any = None, keepdims: bool = False, **aliases: Any) -> Tensor: ...
        def clone(self) -> Tensor: ...
        def view(self, *shape: Any) -> Tensor: ...
        def unsqueeze(self, dim: int) -> Tensor: ...
        def squeeze(self, axis: Any = None, **aliases: Any) -> Tensor: ...
        def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor: ...
        def float(self) -> Tensor: ...
        def double(self) -> Tensor: ...
        def long(self) -> Tensor: ...
        def to(self, *args: Any, **kwargs: Any) -> Tensor: ...
        def mean(self, axis: Any = None, keepdims: bool = False) -> Tensor: ...
        def var(self, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Tensor: ...
        def softmax(self, axis: int = -1) -> Tensor: ...
        def log_softmax(self, axis: int = -1) -> Tensor: ...
        def logsumexp(self, axis: Any = -1, keepdims: bool = False) -> Tensor: ...
        def reshape(self, *shape: Any) -> Tensor: ...
        def transpose(self, *axes: Any) -> Tensor: ...
        def permute(self, *axes: Any) -> Tensor: ...
        def broadcast_to(self, shape: Any) -> Tensor: ...
        def astype(self, dtype: Any) -> Tensor: ...
        @property
        def T(self) -> Tensor: ...
        def backward(
            self, grad: Any = None, retain_graph: bool = False, create_graph: bool = False
        ) -> None: ...

    @classmethod
    def _make(cls, data: Any, op: Any = None, inputs: tuple[Tensor, ...] = ()) -> Tensor:
        """Wrap an array fast: the constructor used by every operation.

        ``seq`` numbers the recorded results in the order they are made: a node's inputs always
        have smaller numbers than the node, so a backward pass can take the nodes in decreasing
        ``seq`` (each after every node that uses it) without a graph search. Leaves have none.
        """
        t = object.__new__(cls)
        t.data = data
        t.grad = None
        t.name = None
        t.op = op
        t.inputs = inputs
        if op is None:
            t.requires_grad = False
        else:
            t.requires_grad = True
            t.seq = _next_seq()
        return t

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place and return self.

        Raises:
            TypeError: when asked of a tensor whose dtype is not floating point.
            RuntimeError: when asked to stop tracking a non-leaf tensor.
        """
        if requires_grad and self.data.dtype.kind not in "fc":
            raise TypeError(
                f"requires_grad: only floating-point tensors can require gradients, "
                f"got dtype {self.data.dtype}"
            )
        if not requires_grad and self.op is not None:
            raise RuntimeError(
                "requires_grad_: a non-leaf tensor always requires grad; use .detach() instead"
            )
        self.requires_grad = bool(requires_grad)
        return self

    @property
    def is_leaf(self) -> bool:
        """True for tensors created by the user, False for results of recorded operations."""
        return self.op is None

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape  # type: ignore[no-any-return]

    @property
    def ndim(self) -> int:
        return self.data.ndim  # type: ignore[no-any-return]

    @property
    def size(self) -> Size:
        """The number of elements, an int; called, PyTorch's ``size()``: ``x.size()`` is the
        shape, ``x.size(d)`` is ``shape[d]`` (see :class:`Size`)."""
        return Size(self.data.shape)

    def numel(self) -> int:
        """Return the number of elements (NumPy's ``size``)."""
        return int(self.data.size)

    def dim(self) -> int:
        """Return the number of dimensions (NumPy's ``ndim``)."""
        return int(self.data.ndim)

    @property
    def device(self) -> str:
        """Where the data lives: always ``"cpu"`` (NumPy)."""
        return "cpu"

    def cpu(self) -> Tensor:
        """Return self: the data is already on the CPU (PyTorch's ``.cpu().numpy()`` habit)."""
        return self

    @property
    def dtype(self) -> np.dtype[Any]:
        return self.data.dtype  # type: ignore[no-any-return]

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def detach(self) -> Tensor:
        """Return a tensor sharing this one's data, cut from the graph."""
        return Tensor._make(self.data)

    def numpy(self) -> Any:
        """Return the underlying array (shared, not copied)."""
        return self.data

    def zero_(self) -> Tensor:
        """Set every element to 0 in place and return self, as PyTorch's ``zero_``.

        Raises:
            RuntimeError: for a tensor that requires grad while the graph is being recorded
                (a leaf's value would change under the optimizer's feet, a non-leaf's under the
                backward pass's); use ``with mlplab.no_grad():`` for a deliberate reset.
            ValueError: for read-only data (a broadcast view).

        Examples:
            >>> import mlplab
            >>> mlplab.tensor([1.0, 2.0]).zero_()
            tensor([0., 0.])
        """
        if self.requires_grad and _grad_state.enabled:
            kind = "a leaf tensor" if self.op is None else "a tensor in a recorded graph"
            raise RuntimeError(
                f"zero_: {kind} that requires grad cannot be changed in place; "
                "wrap it in `with mlplab.no_grad():`"
            )
        if not self.data.flags.writeable:
            raise ValueError("zero_: the tensor's data is read-only (a broadcast view?)")
        self.data[...] = 0
        return self

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> Any:
        array = self.data if dtype is None else self.data.astype(dtype, copy=False)
        return array.copy() if copy else array

    def item(self) -> Any:
        """Return the single element as a Python number.

        Raises:
            ValueError: if the tensor has more than one element.
        """
        if self.data.size != 1:
            raise ValueError(f"item: the tensor has {self.data.size} elements, expected 1")
        return self.data.item()

    def tolist(self) -> Any:
        return self.data.tolist()

    def __float__(self) -> builtins.float:  # ``float`` in this class is the method
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        return bool(self.data)

    def __repr__(self) -> str:
        body = np.array2string(
            np.asarray(self.data), separator=", ", prefix="tensor(", floatmode="maxprec"
        )
        extras = []
        if self.data.dtype != DEFAULT_DTYPE and self.data.dtype not in (np.int64, np.bool_):
            extras.append(f"dtype={self.data.dtype}")
        if self.op is not None and not type(self.op).__name__.startswith("_"):
            extras.append(f"op={type(self.op).__name__}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """Create a leaf tensor holding a copy of ``data``.

    Args:
        data: array-like. An ndarray keeps its dtype; Python floats become float32,
            Python ints int64, Python bools bool.
        requires_grad: let gradients flow to this tensor (floating-point dtypes only).
        dtype: convert to this dtype.

    Returns:
        A new leaf Tensor that owns its memory (unlike ``Tensor(ndarray)``, which wraps).

    Examples:
        >>> tensor([1.0, 2.0]).dtype
        dtype('float32')
        >>> tensor([1, 2]).dtype
        dtype('int64')
    """
    source = data.data if isinstance(data, Tensor) else data
    array = _to_array(source, dtype)
    if array is source or (isinstance(source, np.ndarray) and np.shares_memory(array, source)):
        array = array.copy()
    return Tensor(array, requires_grad=requires_grad)
