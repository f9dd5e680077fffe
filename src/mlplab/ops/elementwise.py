"""Elementwise primitives: arithmetic, exp/log/log1p/tanh/erf, where and relu.

Binary ops share one front door, ``_operands``: Python scalars become constants of the tensor's
dtype, an integer operand never upcasts a floating one, and while a graph is recorded the
operand that needs a gradient is broadcast explicitly with ``broadcast_to``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import backend, parallel
from ..grad_mode import state as _grad_state
from ..tensor import Tensor
from .core import Op, apply, as_tensor, broadcast_shape
from .shape import astype, broadcast_to


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
        if parallel.worth_cutting(a.size):  # cut across mlplab's threads (bit-identical)
            return parallel.ufunc(np.multiply, a, b)
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


class ReLU(Op):
    """max(a, 0);  ∂/∂a = 1 where a > 0 (and where a is NaN, letting it through as PyTorch
    does), else 0. The 0/1 mask is a constant, so the second derivative is 0, as it should be.

    ``np.maximum`` is about 10× faster than ``np.where`` with a random mask (no branches).
    """

    __slots__ = ()

    def forward(self, a: Any) -> Any:
        if parallel.worth_cutting(a.size):
            return parallel.ufunc(np.maximum, a, 0)
        return backend.namespace(a).maximum(a, 0)

    def vjp(self, g: Tensor, out: Tensor, a: Tensor) -> tuple[Tensor]:
        # out ≠ 0 exactly where a > 0 or a is NaN: one comparison; NumPy multiplies a float
        # array by the boolean mask without a cast pass, in g's dtype.
        y = out.data
        mask = parallel.ufunc(np.not_equal, y, 0) if parallel.worth_cutting(y.size) else y != 0
        if not _grad_state.enabled:  # first order: Multiply's forward without the node
            return (Tensor._make(_MUL.forward(g.data, mask)),)
        return (apply(_MUL, g, Tensor._make(mask)),)


_ADD, _SUB, _MUL, _DIV, _NEG, _POW = Add(), Subtract(), Multiply(), Divide(), Negative(), Power()

_EXP, _LOG, _LOG1P, _TANH, _ERF = Exp(), Log(), Log1p(), Tanh(), Erf()

_RELU = ReLU()


def add(a: Any, b: Any) -> Tensor:
    """Return a + b, broadcasting by NumPy's rules.

    Examples:
        >>> import mlplab
        >>> mlplab.add(mlplab.tensor([[1.0], [2.0]]), mlplab.tensor([10.0, 20.0]))
        tensor([[11., 21.],
                [12., 22.]])
    """
    a, b = _operands("add", a, b)
    return apply(_ADD, a, b)


def subtract(a: Any, b: Any) -> Tensor:
    """Return a − b, broadcasting by NumPy's rules.

    Examples:
        >>> import mlplab
        >>> mlplab.subtract(mlplab.tensor([3.0, 5.0]), 1.0)
        tensor([2., 4.])
    """
    a, b = _operands("subtract", a, b)
    return apply(_SUB, a, b)


def multiply(a: Any, b: Any) -> Tensor:
    """Return a · b elementwise, broadcasting by NumPy's rules.

    Examples:
        >>> import mlplab
        >>> x = mlplab.tensor([1.0, 2.0], requires_grad=True)
        >>> mlplab.multiply(x, mlplab.tensor([3.0, 4.0])).sum().backward()
        >>> x.grad
        tensor([3., 4.])
    """
    a, b = _operands("multiply", a, b)
    return apply(_MUL, a, b)


def divide(a: Any, b: Any) -> Tensor:
    """Return a / b elementwise, broadcasting by NumPy's rules.

    Examples:
        >>> import mlplab
        >>> mlplab.divide(mlplab.tensor([1.0, 3.0]), 2.0)
        tensor([0.5, 1.5])
    """
    a, b = _operands("divide", a, b)
    return apply(_DIV, a, b)


def power(a: Any, b: Any) -> Tensor:
    """Return a ** b elementwise; ``b`` may be a scalar or a tensor.

    Examples:
        >>> import mlplab
        >>> x = mlplab.tensor([2.0, 3.0], requires_grad=True)
        >>> mlplab.power(x, 2).sum().backward()
        >>> x.grad  # 2x
        tensor([4., 6.])
    """
    a, b = _operands("power", a, b)
    return apply(_POW, a, b)


def negative(a: Tensor) -> Tensor:
    """Return −a.

    Examples:
        >>> import mlplab
        >>> mlplab.negative(mlplab.tensor([1.0, -2.0]))
        tensor([-1.,  2.])
    """
    return apply(_NEG, a)


def exp(a: Tensor) -> Tensor:
    """Return eᵃ elementwise.

    Examples:
        >>> import mlplab
        >>> mlplab.exp(mlplab.tensor([0.0, 1.0])).numpy().round(4)
        array([1.    , 2.7183], dtype=float32)
    """
    return apply(_EXP, as_tensor(a))


def log(a: Tensor) -> Tensor:
    """Return the natural logarithm elementwise.

    Examples:
        >>> import mlplab
        >>> x = mlplab.tensor([1.0, 4.0], requires_grad=True)
        >>> mlplab.log(x).sum().backward()
        >>> x.grad  # 1/x
        tensor([1.  , 0.25])
    """
    return apply(_LOG, as_tensor(a))


def log1p(a: Tensor) -> Tensor:
    """Return log(1 + a) elementwise, without the rounding of 1 + a for small a.

    Examples:
        >>> import mlplab, numpy as np
        >>> mlplab.log1p(mlplab.tensor(np.array([1e-20]))).item()
        1e-20
    """
    return apply(_LOG1P, as_tensor(a))


def tanh(a: Tensor) -> Tensor:
    """Return tanh a elementwise.

    Examples:
        >>> import mlplab
        >>> x = mlplab.tensor([0.0], requires_grad=True)
        >>> mlplab.tanh(x).sum().backward()
        >>> x.grad  # 1 − tanh²(0)
        tensor([1.])
    """
    return apply(_TANH, as_tensor(a))


def erf(a: Tensor) -> Tensor:
    """Return the error function elementwise (for the exact GELU).

    Examples:
        >>> import mlplab
        >>> mlplab.erf(mlplab.tensor([0.0, 10.0]))
        tensor([0., 1.])
    """
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


def relu(a: Tensor) -> Tensor:
    """Return max(a, 0) elementwise (the derivative at 0 is 0, as in PyTorch)."""
    return apply(_RELU, as_tensor(a))
