"""The primitives: a forward on arrays beside a vector-Jacobian product in mlplab ops.

Every differentiable computation in mlplab reduces to these few operations. Each one is a small
class with ``forward(*arrays) -> array`` and ``vjp(g, out, *inputs) -> tuple`` that returns, for
every input, the Tensor ``gᵀ ∂out/∂input`` (or None where no gradient is needed). The VJPs are
written with the same ops, so the backward pass is itself a graph and its derivative is free:
that is how Hessian-vector products and Newton's method work.

Broadcasting follows NumPy. When a graph is being recorded, binary ops make it explicit at the
front door with :func:`broadcast_to` (a view, no copy), whose VJP sums back to the input shape;
so every gradient has exactly its input's shape, at every order. Without a graph, NumPy
broadcasts natively and nothing is recorded.

This module also attaches the arithmetic operators to :class:`~mlplab.tensor.Tensor`.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import backend
from .grad_mode import state as _grad_state
from .tensor import DEFAULT_DTYPE, Tensor

__all__ = [
    "apply", "as_tensor", "add", "subtract", "multiply", "divide", "negative", "power",
    "exp", "log", "log1p", "tanh", "erf", "where", "matmul", "sum", "max", "reshape", "transpose",
    "broadcast_to", "sum_to", "getitem", "concatenate", "stack", "astype", "affine", "relu",
    "softmax_cross_entropy",
]  # fmt: skip


class Op:
    """A primitive: ``forward`` on arrays, ``vjp`` in mlplab ops."""

    __slots__ = ()

    def forward(self, *arrays: Any) -> Any:
        raise NotImplementedError

    def vjp(self, g: Tensor, out: Tensor, *inputs: Tensor) -> tuple[Tensor | None, ...]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return type(self).__name__


def apply(op: Op, *inputs: Tensor) -> Tensor:
    """Run ``op`` on the inputs' arrays; record the node when a gradient may be needed."""
    out = op.forward(*[t.data for t in inputs])
    if isinstance(out, np.generic):
        out = np.asarray(out)
    if _grad_state.enabled:
        for t in inputs:
            if t.requires_grad:
                return Tensor._make(out, op, inputs)
    return Tensor._make(out)


# ---------------------------------------------------------------------------------------------
# Operands: Python scalars become constants of the tensor's dtype; integer tensors never upcast
# a floating one; broadcasting is made explicit when a graph is recorded.


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


def _promote(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """Cast an integer operand to the floating operand's dtype (float32 * int64 -> float32);
    between two floating dtypes cast to the wider one explicitly, so that the gradient of the
    narrower operand comes back in its own dtype (through ``astype``'s VJP)."""
    ka, kb = a.data.dtype.kind, b.data.dtype.kind
    if ka in "fc" and kb not in "fc":
        return a, astype(b, a.data.dtype)
    if kb in "fc" and ka not in "fc":
        return astype(a, b.data.dtype), b
    if ka in "fc" and kb in "fc":
        dtype = np.result_type(a.data.dtype, b.data.dtype)
        return astype(a, dtype), astype(b, dtype)
    return a, b


def _operands(name: str, a: Any, b: Any) -> tuple[Tensor, Tensor]:
    """Prepare the two operands of a binary op: lift, promote, broadcast explicitly."""
    if not isinstance(a, Tensor):
        a = as_tensor(a, like=b if isinstance(b, Tensor) else None)
    if not isinstance(b, Tensor):
        b = as_tensor(b, like=a)
    if a.data.dtype != b.data.dtype:
        a, b = _promote(a, b)
    sa, sb = a.data.shape, b.data.shape
    if sa != sb:
        # The common case (a bias row against a batch) needs no call to np.broadcast_shapes.
        if len(sb) <= len(sa) and sa[len(sa) - len(sb) :] == sb:
            shape = sa
        elif len(sa) < len(sb) and sb[len(sb) - len(sa) :] == sa:
            shape = sb
        else:
            shape = broadcast_shape(name, sa, sb)
        if _grad_state.enabled:
            # Only operands that need a gradient get an explicit broadcast node.
            if a.requires_grad and a.data.shape != shape:
                a = broadcast_to(a, shape)
            if b.requires_grad and b.data.shape != shape:
                b = broadcast_to(b, shape)
    return a, b


def broadcast_shape(name: str, *shapes: tuple[int, ...]) -> tuple[int, ...]:
    """Return NumPy's broadcast of ``shapes``; a ValueError names the op and every shape."""
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        listed = " and ".join(str(tuple(s)) for s in shapes)
        raise ValueError(f"{name}: shapes {listed} cannot be broadcast together") from None


# ---------------------------------------------------------------------------------------------
# Elementwise arithmetic


class Add(Op):
    __slots__ = ()

    def forward(self, a: Any, b: Any) -> Any:
        return a + b

    def vjp(self, g: Tensor, out: Tensor, a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
        return g, g


class Subtract(Op):
    __slots__ = ()

    def forward(self, a: Any, b: Any) -> Any:
        return a - b

    def vjp(self, g: Tensor, out: Tensor, a: Tensor, b: Tensor) -> tuple[Tensor, Tensor | None]:
        return g, (negative(g) if b.requires_grad else None)


class Multiply(Op):
    __slots__ = ()

    def forward(self, a: Any, b: Any) -> Any:
        return a * b

    def vjp(self, g: Tensor, out: Tensor, a: Tensor, b: Tensor) -> tuple[Tensor | None, ...]:
        return (
            multiply(g, b) if a.requires_grad else None,
            multiply(g, a) if b.requires_grad else None,
        )


class Divide(Op):
    """a / b;  ∂/∂a = 1/b,  ∂/∂b = −a/b² = −out/b."""

    __slots__ = ()

    def forward(self, a: Any, b: Any) -> Any:
        return a / b

    def vjp(self, g: Tensor, out: Tensor, a: Tensor, b: Tensor) -> tuple[Tensor | None, ...]:
        ga = divide(g, b) if a.requires_grad else None
        gb = negative(divide(multiply(g, out), b)) if b.requires_grad else None
        return ga, gb


class Negative(Op):
    __slots__ = ()

    def forward(self, a: Any) -> Any:
        return -a

    def vjp(self, g: Tensor, out: Tensor, a: Tensor) -> tuple[Tensor]:
        return (negative(g),)


class Power(Op):
    """a ** b;  ∂/∂a = b·a^(b−1),  ∂/∂b = out·log a (only computed when b needs it)."""

    __slots__ = ()

    def forward(self, a: Any, b: Any) -> Any:
        return a**b

    def vjp(self, g: Tensor, out: Tensor, a: Tensor, b: Tensor) -> tuple[Tensor | None, ...]:
        ga = multiply(g, multiply(b, power(a, subtract(b, 1)))) if a.requires_grad else None
        gb = None
        if b.requires_grad:
            # At a = 0, out·log a is 0·(−∞); the limit (b > 0) is 0, as PyTorch gives.
            zero_base = a.data == 0
            safe_a = where(zero_base, as_tensor(1, like=a), a) if zero_base.any() else a
            gb = multiply(g, multiply(out, log(safe_a)))
        return ga, gb


class Exp(Op):
    """exp a;  ∂/∂a = out."""

    __slots__ = ()

    def forward(self, a: Any) -> Any:
        return backend.namespace(a).exp(a)

    def vjp(self, g: Tensor, out: Tensor, a: Tensor) -> tuple[Tensor]:
        return (multiply(g, out),)


class Log(Op):
    """log a;  ∂/∂a = 1/a."""

    __slots__ = ()

    def forward(self, a: Any) -> Any:
        return backend.namespace(a).log(a)

    def vjp(self, g: Tensor, out: Tensor, a: Tensor) -> tuple[Tensor]:
        return (divide(g, a),)


class Log1p(Op):
    """log(1 + a), accurate for tiny a (softplus far left);  ∂/∂a = 1/(1 + a)."""

    __slots__ = ()

    def forward(self, a: Any) -> Any:
        return backend.namespace(a).log1p(a)

    def vjp(self, g: Tensor, out: Tensor, a: Tensor) -> tuple[Tensor]:
        return (divide(g, add(a, 1)),)


class Tanh(Op):
    """tanh a;  ∂/∂a = 1 − out²."""

    __slots__ = ()

    def forward(self, a: Any) -> Any:
        return backend.namespace(a).tanh(a)

    def vjp(self, g: Tensor, out: Tensor, a: Tensor) -> tuple[Tensor]:
        return (multiply(g, subtract(1, multiply(out, out))),)


class Erf(Op):
    """erf a = (2/√π) ∫₀ᵃ e^(−t²) dt;  ∂/∂a = (2/√π) e^(−a²)."""

    __slots__ = ()

    def forward(self, a: Any) -> Any:
        try:
            from scipy.special import erf as erf_array
        except ImportError:  # scipy is optional: fall back to the standard library, elementwise
            erf_array = np.vectorize(math.erf, otypes=[a.dtype])
        return erf_array(a).astype(a.dtype, copy=False)

    def vjp(self, g: Tensor, out: Tensor, a: Tensor) -> tuple[Tensor]:
        slope = multiply(2.0 / math.sqrt(math.pi), exp(negative(multiply(a, a))))
        return (multiply(g, slope),)


class Where(Op):
    """where(cond, a, b) with a constant boolean ``cond``; the gradient follows the choice."""

    __slots__ = ("cond",)

    def __init__(self, cond: Any) -> None:
        self.cond = cond

    def forward(self, a: Any, b: Any) -> Any:
        return backend.namespace(a).where(self.cond, a, b)

    def vjp(self, g: Tensor, out: Tensor, a: Tensor, b: Tensor) -> tuple[Tensor | None, ...]:
        zero = as_tensor(0, like=g)
        return (
            where(self.cond, g, zero) if a.requires_grad else None,
            where(self.cond, zero, g) if b.requires_grad else None,
        )


class AsType(Op):
    """Cast to another dtype; the gradient is cast back."""

    __slots__ = ("dtype",)

    def __init__(self, dtype: Any) -> None:
        self.dtype = dtype

    def forward(self, a: Any) -> Any:
        return a.astype(self.dtype)

    def vjp(self, g: Tensor, out: Tensor, a: Tensor) -> tuple[Tensor]:
        return (astype(g, a.data.dtype),)


_ADD, _SUB, _MUL, _DIV, _NEG, _POW = Add(), Subtract(), Multiply(), Divide(), Negative(), Power()
_EXP, _LOG, _LOG1P, _TANH, _ERF = Exp(), Log(), Log1p(), Tanh(), Erf()


def add(a: Any, b: Any) -> Tensor:
    """Return a + b, broadcasting by NumPy's rules."""
    a, b = _operands("add", a, b)
    return apply(_ADD, a, b)


def subtract(a: Any, b: Any) -> Tensor:
    """Return a − b, broadcasting by NumPy's rules."""
    a, b = _operands("subtract", a, b)
    return apply(_SUB, a, b)


def multiply(a: Any, b: Any) -> Tensor:
    """Return a · b elementwise, broadcasting by NumPy's rules."""
    a, b = _operands("multiply", a, b)
    return apply(_MUL, a, b)


def divide(a: Any, b: Any) -> Tensor:
    """Return a / b elementwise, broadcasting by NumPy's rules."""
    a, b = _operands("divide", a, b)
    return apply(_DIV, a, b)


def power(a: Any, b: Any) -> Tensor:
    """Return a ** b elementwise; ``b`` may be a scalar or a tensor."""
    a, b = _operands("power", a, b)
    return apply(_POW, a, b)


def negative(a: Tensor) -> Tensor:
    """Return −a."""
    return apply(_NEG, a)


def exp(a: Tensor) -> Tensor:
    """Return eᵃ elementwise."""
    return apply(_EXP, as_tensor(a))


def log(a: Tensor) -> Tensor:
    """Return the natural logarithm elementwise."""
    return apply(_LOG, as_tensor(a))


def log1p(a: Tensor) -> Tensor:
    """Return log(1 + a) elementwise, without the rounding of 1 + a for small a."""
    return apply(_LOG1P, as_tensor(a))


def tanh(a: Tensor) -> Tensor:
    """Return tanh a elementwise."""
    return apply(_TANH, as_tensor(a))


def erf(a: Tensor) -> Tensor:
    """Return the error function elementwise (for the exact GELU)."""
    return apply(_ERF, as_tensor(a))


def where(cond: Any, a: Any, b: Any) -> Tensor:
    """Return ``a`` where ``cond`` is true, else ``b`` (``cond`` is never differentiated).

    Examples:
        >>> import mlplab
        >>> where(mlplab.tensor([True, False]), mlplab.tensor([1.0, 2.0]), 0.0)
        tensor([1., 0.])
    """
    cond = cond.data if isinstance(cond, Tensor) else np.asarray(cond)
    a, b = _operands("where", a, b)
    shape = broadcast_shape("where", cond.shape, a.data.shape, b.data.shape)
    if _grad_state.enabled and shape != a.data.shape:
        if a.requires_grad:
            a = broadcast_to(a, shape)
        if b.requires_grad:
            b = broadcast_to(b, shape)
    return apply(Where(cond), a, b)


def astype(a: Tensor, dtype: Any) -> Tensor:
    """Return ``a`` converted to ``dtype`` (differentiable between floating dtypes)."""
    dtype = np.dtype(dtype)
    if a.data.dtype == dtype:
        return a
    return apply(AsType(dtype), a)


# ---------------------------------------------------------------------------------------------
# Matrix product


class MatMul(Op):
    """a @ b with NumPy semantics: 1-D operands and broadcast batch dimensions.

    With ``A = a`` (…, n, k) and ``B = b`` (…, k, m):  ∂/∂A = G Bᵀ,  ∂/∂B = Aᵀ G, each summed
    over the batch dimensions its input was broadcast along. A 1-D ``a`` is a row (1, k) and a
    1-D ``b`` a column (k, 1) during the computation, as in NumPy.
    """

    __slots__ = ()

    def forward(self, a: Any, b: Any) -> Any:
        return a @ b

    def vjp(self, g: Tensor, out: Tensor, a: Tensor, b: Tensor) -> tuple[Tensor | None, ...]:
        if a.data.ndim == 2 and b.data.ndim == 2:
            # The MLP case: G Bᵀ and Aᵀ G; the shapes are known to agree, so the primitives are
            # applied directly, without the general path's reshapes, sum_to and validation.
            return (
                apply(_MATMUL, g, apply(_TRANSPOSE_2D, b)) if a.requires_grad else None,
                apply(_MATMUL, apply(_TRANSPOSE_2D, a), g) if b.requires_grad else None,
            )
        a2 = a if a.ndim > 1 else reshape(a, (1, a.shape[0]))
        b2 = b if b.ndim > 1 else reshape(b, (b.shape[0], 1))
        g_shape = out.shape
        if a.ndim == 1:
            g_shape = g_shape[:-1] + (1,) + g_shape[-1:] if b.ndim > 1 else g_shape + (1,)
        if b.ndim == 1:
            g_shape = g_shape + (1,)
        g2 = reshape(g, g_shape) if g_shape != g.shape else g
        ga = gb = None
        if a.requires_grad:
            ga = reshape(sum_to(matmul(g2, swap_last(b2)), a2.shape), a.shape)
        if b.requires_grad:
            gb = reshape(sum_to(matmul(swap_last(a2), g2), b2.shape), b.shape)
        return ga, gb


_MATMUL = MatMul()


class Affine(Op):
    """x W + b for a batch x (m, n), W (n, k), b (k,): the Linear layer as one primitive.

    The bias is added in place into the fresh product (no broadcast node, no second array).
    ∂/∂x = G Wᵀ,  ∂/∂W = xᵀ G,  ∂/∂b = Σ_rows G.
    """

    __slots__ = ()

    def forward(self, x: Any, w: Any, b: Any) -> Any:
        out = x @ w
        out += b
        return out

    def vjp(
        self, g: Tensor, out: Tensor, x: Tensor, w: Tensor, b: Tensor
    ) -> tuple[Tensor | None, ...]:
        return (
            apply(_MATMUL, g, apply(_TRANSPOSE_2D, w)) if x.requires_grad else None,
            apply(_MATMUL, apply(_TRANSPOSE_2D, x), g) if w.requires_grad else None,
            apply(_SUM_ROWS, g) if b.requires_grad else None,
        )


_AFFINE = Affine()


def affine(x: Tensor, w: Tensor, b: Tensor) -> Tensor:
    """Return x W + b for x (m, n), W (n, k), b (k,) as one node (see :class:`Affine`).

    Raises:
        ValueError: when the shapes do not fit, naming all three.

    Examples:
        >>> import mlplab
        >>> affine(mlplab.tensor([[1.0, 2.0]]), mlplab.tensor([[1.0], [1.0]]), mlplab.tensor([0.5]))
        tensor([[3.5]])
    """
    x, w, b = as_tensor(x), as_tensor(w), as_tensor(b)
    xs, ws, bs = x.data.shape, w.data.shape, b.data.shape
    if len(xs) != 2 or len(ws) != 2 or bs != ws[1:] or xs[1] != ws[0]:
        raise ValueError(f"affine: expected x (m, n), W (n, k), b (k,), got {xs}, {ws}, {bs}")
    if not (x.data.dtype == w.data.dtype == b.data.dtype):
        return add(matmul(x, w), b)
    return apply(_AFFINE, x, w, b)


class ReLU(Op):
    """max(a, 0);  ∂/∂a = 1 where a > 0 (and where a is NaN, letting it through as PyTorch
    does), else 0. The 0/1 mask is a constant, so the second derivative is 0, as it should be.

    ``np.maximum`` is about 10× faster than ``np.where`` with a random mask (no branches).
    """

    __slots__ = ()

    def forward(self, a: Any) -> Any:
        return backend.namespace(a).maximum(a, 0)

    def vjp(self, g: Tensor, out: Tensor, a: Tensor) -> tuple[Tensor]:
        mask = backend.namespace(a.data).logical_not(a.data <= 0).astype(a.data.dtype)
        return (multiply(g, Tensor._make(mask)),)


_RELU = ReLU()


def relu(a: Tensor) -> Tensor:
    """Return max(a, 0) elementwise (the derivative at 0 is 0, as in PyTorch)."""
    return apply(_RELU, as_tensor(a))


class SoftmaxCrossEntropy(Op):
    """Σᵢ scale·(logsumexp(hᵢ) − hᵢ,yᵢ) over the rows of h (m, k), for integer labels y.

    One node instead of the dozen of the composite; the VJP, g·scale·(softmax(h) − onehot(y)),
    is written in mlplab ops (softmax as exp(h − max) / Σ exp(h − max), with the max a constant),
    so second derivatives still work.
    """

    __slots__ = ("labels", "scale")

    def __init__(self, labels: Any, scale: float) -> None:
        self.labels, self.scale = labels, scale

    def forward(self, h: Any) -> Any:
        xp = backend.namespace(h)
        rows = xp.arange(h.shape[0])
        z = h - h.max(axis=1, keepdims=True)
        picked = z[rows, self.labels]
        xp.exp(z, out=z)
        losses = xp.log(z.sum(axis=1)) - picked
        return xp.asarray(losses.sum() * self.scale, dtype=h.dtype)

    def vjp(self, g: Tensor, out: Tensor, h: Tensor) -> tuple[Tensor]:
        xp = backend.namespace(h.data)
        shift = Tensor._make(h.data.max(axis=1, keepdims=True))
        e = exp(subtract(h, shift))
        p = divide(e, sum(e, axis=1, keepdims=True))
        onehot = xp.zeros(h.shape, dtype=h.data.dtype)
        onehot[xp.arange(h.shape[0]), self.labels] = 1
        return (multiply(subtract(p, Tensor._make(onehot)), multiply(g, self.scale)),)


def softmax_cross_entropy(logits: Tensor, labels: Any, scale: float) -> Tensor:
    """Return scale · Σᵢ −log softmax(logitsᵢ)[labelsᵢ] for logits (m, k) and integer labels (m,)
    that the caller has validated (``functional.cross_entropy`` does)."""
    return apply(SoftmaxCrossEntropy(labels, scale), as_tensor(logits))


def matmul(a: Tensor, b: Tensor) -> Tensor:
    """Return the matrix product a @ b (NumPy semantics).

    Raises:
        ValueError: when the inner dimensions differ, naming both shapes.

    Examples:
        >>> import mlplab
        >>> matmul(mlplab.tensor([[1.0, 2.0]]), mlplab.tensor([[3.0], [4.0]]))
        tensor([[11.]])
    """
    a, b = as_tensor(a), as_tensor(b)
    if a.data.ndim == 0 or b.data.ndim == 0:
        raise ValueError(f"matmul: operands must be at least 1-D, got {a.shape} @ {b.shape}")
    k_b = b.data.shape[0] if b.data.ndim == 1 else b.data.shape[-2]
    if a.data.shape[-1] != k_b:
        raise ValueError(f"matmul: inner dimensions differ: {a.shape} @ {b.shape}")
    if a.data.dtype != b.data.dtype:
        a, b = _promote(a, b)
    if a.data.ndim > 2 or b.data.ndim > 2:
        try:
            np.broadcast_shapes(a.data.shape[:-2], b.data.shape[:-2])
        except ValueError:
            raise ValueError(
                f"matmul: batch dimensions cannot be broadcast together: {a.shape} @ {b.shape}"
            ) from None
    return apply(_MATMUL, a, b)


def swap_last(a: Tensor) -> Tensor:
    """Swap the last two axes (the matrix transpose of a batch of matrices)."""
    axes = list(range(a.ndim))
    axes[-2], axes[-1] = axes[-1], axes[-2]
    return transpose(a, tuple(axes))


# ---------------------------------------------------------------------------------------------
# Reductions


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


class Sum(Op):
    """Sum over ``axes``; the VJP broadcasts the gradient back (and a broadcast's VJP sums)."""

    __slots__ = ("axes", "keepdims")

    def __init__(self, axes: tuple[int, ...], keepdims: bool) -> None:
        self.axes, self.keepdims = axes, keepdims

    def forward(self, a: Any) -> Any:
        return a.sum(axis=self.axes, keepdims=self.keepdims)

    def vjp(self, g: Tensor, out: Tensor, a: Tensor) -> tuple[Tensor]:
        if not self.keepdims:
            g = reshape(g, _kept_shape(a.shape, self.axes))
        return (broadcast_to(g, a.shape),)


class Max(Op):
    """Maximum over ``axes``; the gradient is shared equally among tied maxima."""

    __slots__ = ("axes", "keepdims")

    def __init__(self, axes: tuple[int, ...], keepdims: bool) -> None:
        self.axes, self.keepdims = axes, keepdims

    def forward(self, a: Any) -> Any:
        return a.max(axis=self.axes, keepdims=self.keepdims)

    def vjp(self, g: Tensor, out: Tensor, a: Tensor) -> tuple[Tensor]:
        kept = _kept_shape(a.shape, self.axes)
        is_max = a.data == out.data.reshape(kept)
        share = is_max / is_max.sum(axis=self.axes, keepdims=True)
        share = Tensor._make(share.astype(a.data.dtype, copy=False))
        return (multiply(broadcast_to(reshape(g, kept), a.shape), share),)


def sum(a: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Sum the elements over ``axis`` (all by default), NumPy's ``keepdims``.

    Examples:
        >>> import mlplab
        >>> mlplab.tensor([[1.0, 2.0], [3.0, 4.0]]).sum(axis=0)
        tensor([4., 6.])
    """
    a = as_tensor(a)
    axes = _normalize_axes("sum", axis, a.data.ndim)
    return apply(Sum(axes, bool(keepdims)), a)


def max(a: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Return the maximum over ``axis`` (all by default), NumPy's ``keepdims``."""
    a = as_tensor(a)
    if a.data.size == 0:
        raise ValueError(f"max: the tensor of shape {a.shape} is empty")
    axes = _normalize_axes("max", axis, a.data.ndim)
    return apply(Max(axes, bool(keepdims)), a)


# ---------------------------------------------------------------------------------------------
# Shape: reshape, transpose, broadcast, indexing, joining


class Reshape(Op):
    __slots__ = ("shape",)

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape

    def forward(self, a: Any) -> Any:
        return a.reshape(self.shape)

    def vjp(self, g: Tensor, out: Tensor, a: Tensor) -> tuple[Tensor]:
        return (reshape(g, a.shape),)


class Transpose(Op):
    __slots__ = ("axes",)

    def __init__(self, axes: tuple[int, ...]) -> None:
        self.axes = axes

    def forward(self, a: Any) -> Any:
        return a.transpose(self.axes)

    def vjp(self, g: Tensor, out: Tensor, a: Tensor) -> tuple[Tensor]:
        return (transpose(g, tuple(int(i) for i in np.argsort(self.axes))),)


class BroadcastTo(Op):
    """A read-only view with stride 0 along the new axes; the VJP sums back to the input shape."""

    __slots__ = ("shape",)

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape

    def forward(self, a: Any) -> Any:
        return backend.namespace(a).broadcast_to(a, self.shape)

    def vjp(self, g: Tensor, out: Tensor, a: Tensor) -> tuple[Tensor]:
        return (sum_to(g, a.shape),)


class GetItem(Op):
    """a[index]; the VJP scatters the gradient back into zeros of the input's shape."""

    __slots__ = ("index",)

    def __init__(self, index: Any) -> None:
        self.index = index

    def forward(self, a: Any) -> Any:
        return a[self.index]

    def vjp(self, g: Tensor, out: Tensor, a: Tensor) -> tuple[Tensor]:
        return (apply(ScatterAdd(self.index, a.shape), g),)


class ScatterAdd(Op):
    """zeros(shape) with ``g`` added at ``index`` (repeated indices add up); the VJP is a[index]."""

    __slots__ = ("index", "shape")

    def __init__(self, index: Any, shape: tuple[int, ...]) -> None:
        self.index, self.shape = index, shape

    def forward(self, g: Any) -> Any:
        xp = backend.namespace(g)
        out = xp.zeros(self.shape, dtype=g.dtype)
        if _is_basic_index(self.index):
            out[self.index] = g
        else:
            xp.add.at(out, self.index, g)
        return out

    def vjp(self, g: Tensor, out: Tensor, a: Tensor) -> tuple[Tensor]:
        return (apply(GetItem(self.index), g),)


class Concatenate(Op):
    __slots__ = ("axis",)

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def forward(self, *arrays: Any) -> Any:
        return backend.namespace(arrays[0]).concatenate(arrays, axis=self.axis)

    def vjp(self, g: Tensor, out: Tensor, *inputs: Tensor) -> tuple[Tensor | None, ...]:
        grads: list[Tensor | None] = []
        start = 0
        for t in inputs:
            stop = start + t.shape[self.axis]
            if t.requires_grad:
                index = (slice(None),) * self.axis + (slice(start, stop),)
                grads.append(getitem(g, index))
            else:
                grads.append(None)
            start = stop
        return tuple(grads)


_TRANSPOSE_2D = Transpose((1, 0))
_SUM_ROWS = Sum((0,), False)


def reshape(a: Tensor, *shape: Any) -> Tensor:
    """Return ``a`` with a new shape (one entry may be −1), sharing data where NumPy can."""
    a = as_tensor(a)
    if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
        shape = tuple(shape[0])
    try:
        new_shape = _resolve_shape(a.shape, shape)
    except ValueError as error:
        raise ValueError(
            f"reshape: cannot reshape {a.shape} into {tuple(shape)}: {error}"
        ) from None
    if new_shape == a.data.shape:
        return a
    return apply(Reshape(new_shape), a)


def _resolve_shape(old: tuple[int, ...], shape: tuple[int, ...]) -> tuple[int, ...]:
    size = math.prod(old)
    known = math.prod(s for s in shape if s != -1)
    if list(shape).count(-1) > 1:
        raise ValueError("only one dimension can be -1")
    if -1 in shape:
        if known == 0 or size % known:
            raise ValueError("sizes do not match")
        shape = tuple(size // known if s == -1 else int(s) for s in shape)
    if math.prod(shape) != size:
        raise ValueError("sizes do not match")
    return tuple(int(s) for s in shape)


def transpose(a: Tensor, axes: Any = None) -> Tensor:
    """Permute the axes of ``a`` (reverse them by default), as ``numpy.transpose``."""
    a = as_tensor(a)
    if axes is None:
        axes = tuple(reversed(range(a.data.ndim)))
    axes = tuple(int(i) % builtins.max(a.data.ndim, 1) for i in axes)
    if sorted(axes) != list(range(a.data.ndim)):
        raise ValueError(f"transpose: axes {axes} are not a permutation for shape {a.shape}")
    if axes == tuple(range(a.data.ndim)):
        return a
    return apply(Transpose(axes), a)


def broadcast_to(a: Tensor, shape: Any) -> Tensor:
    """Broadcast ``a`` to ``shape`` by NumPy's rules: a view that copies no data.

    Raises:
        ValueError: naming both shapes when ``a`` cannot be broadcast to ``shape``.

    Examples:
        >>> import mlplab, numpy as np
        >>> b = mlplab.tensor([1.0, 2.0])
        >>> B = broadcast_to(b, (3, 2))
        >>> B.shape, np.shares_memory(B.data, b.data)
        ((3, 2), True)
    """
    a = as_tensor(a)
    shape = tuple(int(s) for s in shape)
    if shape == a.data.shape:
        return a
    if broadcast_shape("broadcast_to", a.data.shape, shape) != shape:
        raise ValueError(f"broadcast_to: cannot broadcast shape {a.shape} to {shape}")
    return apply(BroadcastTo(shape), a)


def sum_to(a: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Sum ``a`` down to ``shape`` — the reverse of broadcasting ``shape`` up to ``a.shape``."""
    if a.shape == tuple(shape):
        return a
    lead = a.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and a.shape[lead + i] != 1
    )
    return reshape(sum(a, axis=axes, keepdims=True), tuple(shape))


def _is_basic_index(index: Any) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (int, np.integer, slice)) or i is None or i is Ellipsis for i in items)


def _array_index(index: Any) -> Any:
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(_array_index(i) for i in index)
    if isinstance(index, list):
        return np.asarray(index)
    return index


def getitem(a: Tensor, index: Any) -> Tensor:
    """Return ``a[index]`` (basic or advanced indexing); the gradient scatters back."""
    index = _array_index(index)
    try:
        return apply(GetItem(index), a)
    except IndexError as error:
        raise IndexError(f"getitem: {error} (tensor of shape {a.shape})") from None


def concatenate(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis."""
    tensors = [as_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("concatenate: need at least one tensor")
    ndim = tensors[0].ndim
    axis = _normalize_axes("concatenate", axis, ndim)[0]
    for t in tensors:
        if t.ndim != ndim or t.shape[:axis] + t.shape[axis + 1 :] != (
            tensors[0].shape[:axis] + tensors[0].shape[axis + 1 :]
        ):
            shapes = ", ".join(str(u.shape) for u in tensors)
            raise ValueError(f"concatenate: shapes {shapes} differ off axis {axis}")
    # Join in one dtype explicitly, so each gradient comes back in its input's dtype.
    dtype = np.result_type(*(t.data.dtype for t in tensors))
    tensors = [astype(t, dtype) for t in tensors]
    return apply(Concatenate(axis), *tensors)


def stack(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Join tensors of one shape along a new axis."""
    tensors = [as_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("stack: need at least one tensor")
    shape = tensors[0].shape
    if any(t.shape != shape for t in tensors):
        raise ValueError(f"stack: shapes differ: {', '.join(str(t.shape) for t in tensors)}")
    if not -len(shape) - 1 <= axis <= len(shape):
        raise ValueError(f"stack: axis {axis} is out of range for {len(shape) + 1} dims")
    axis = axis % (len(shape) + 1)
    new = shape[:axis] + (1,) + shape[axis:]
    return concatenate([reshape(t, new) for t in tensors], axis=axis)


# ---------------------------------------------------------------------------------------------
# Tensor operators and methods


def _compare(fn: Any) -> Any:
    def method(self: Tensor, other: Any) -> Tensor:
        other_data = other.data if isinstance(other, Tensor) else other
        return Tensor._make(np.asarray(fn(self.data, other_data)))

    return method


def _getitem_method(self: Tensor, index: Any) -> Tensor:
    return getitem(self, index)


def _transpose_method(self: Tensor, *axes: Any) -> Tensor:
    if len(axes) == 1 and not isinstance(axes[0], (int, np.integer)):
        axes = tuple(axes[0]) if axes[0] is not None else ()
    return transpose(self, axes or None)


Tensor.__add__ = add  # type: ignore[assignment]
Tensor.__radd__ = lambda self, other: add(other, self)  # type: ignore[attr-defined]
Tensor.__sub__ = subtract  # type: ignore[attr-defined]
Tensor.__rsub__ = lambda self, other: subtract(other, self)  # type: ignore[attr-defined]
Tensor.__mul__ = multiply  # type: ignore[attr-defined]
Tensor.__rmul__ = lambda self, other: multiply(other, self)  # type: ignore[attr-defined]
Tensor.__truediv__ = divide  # type: ignore[attr-defined]
Tensor.__rtruediv__ = lambda self, other: divide(other, self)  # type: ignore[attr-defined]
Tensor.__pow__ = power  # type: ignore[attr-defined]
Tensor.__rpow__ = lambda self, other: power(other, self)  # type: ignore[attr-defined]
Tensor.__matmul__ = matmul  # type: ignore[attr-defined]
Tensor.__rmatmul__ = lambda self, other: matmul(other, self)  # type: ignore[attr-defined]
Tensor.__neg__ = negative  # type: ignore[attr-defined]
Tensor.__getitem__ = _getitem_method  # type: ignore[attr-defined]
Tensor.__lt__ = _compare(np.less)  # type: ignore[assignment]
Tensor.__le__ = _compare(np.less_equal)  # type: ignore[assignment]
Tensor.__gt__ = _compare(np.greater)  # type: ignore[assignment]
Tensor.__ge__ = _compare(np.greater_equal)  # type: ignore[assignment]
Tensor.__eq__ = _compare(np.equal)  # type: ignore[assignment]
Tensor.__ne__ = _compare(np.not_equal)  # type: ignore[assignment]
Tensor.exp = exp  # type: ignore[attr-defined]
Tensor.log = log  # type: ignore[attr-defined]
Tensor.tanh = tanh  # type: ignore[attr-defined]
Tensor.sum = sum  # type: ignore[attr-defined]
Tensor.max = max  # type: ignore[attr-defined]
Tensor.reshape = reshape  # type: ignore[attr-defined]
Tensor.transpose = _transpose_method  # type: ignore[attr-defined]
Tensor.permute = _transpose_method  # type: ignore[attr-defined]
Tensor.broadcast_to = broadcast_to  # type: ignore[attr-defined]
Tensor.astype = astype  # type: ignore[attr-defined]
Tensor.T = property(lambda self: transpose(self))  # type: ignore[attr-defined]
