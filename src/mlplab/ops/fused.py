"""Fused primitives: a composite computed as one node, for speed.

Each equals its composite exactly in value and derivatives (the gradient checks test both), and
its VJP is still written in mlplab ops, so second derivatives work: ``affine`` is the Linear
layer ``x W + 1 bᵀ``, ``affine_relu`` a hidden layer with its ReLU, ``max(x W + 1 bᵀ, 0)``, and
``softmax_cross_entropy`` the training loss.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend, parallel
from ..grad_mode import state as _grad_state
from ..tensor import Tensor
from .core import Op, apply, as_tensor
from .elementwise import _MUL, add, divide, exp, multiply, relu, subtract
from .linalg import _MATMUL, matmul
from .shape import _SUM_ROWS, _TRANSPOSE_2D, sum, sum_rows


class Affine(Op):
    """x W + b for a batch x (m, n), W (n, k), b (k,): the Linear layer as one primitive.

    The bias is added in place into the fresh product (no broadcast node, no second array).
    ∂/∂x = G Wᵀ,  ∂/∂W = xᵀ G,  ∂/∂b = Σ_rows G = 1ᵀ G (one gemv: :func:`.shape.sum_rows`).
    """

    __slots__ = ()

    def forward(self, x: Any, w: Any, b: Any) -> Any:
        out = x @ w
        if out.ndim == 2 and parallel.worth_cutting(out.size):
            _add_bias_cut(out, b)
        else:
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

    def vjp_arrays(self, g: Any, out: Tensor, x: Tensor, w: Tensor, b: Tensor) -> tuple[Any, ...]:
        """The three array calls of :meth:`vjp` (bit-identical), without its four nodes, two
        transposes and their checks."""
        return (
            g @ w.data.T if x.requires_grad else None,
            x.data.T @ g if w.requires_grad else None,
            sum_rows(g) if b.requires_grad else None,
        )


_AFFINE = Affine()


def _add_bias_cut(out: Any, b: Any) -> None:
    """out += b (out (m, k), b (k,)) cut by rows across mlplab's threads (element-wise: exact)."""

    def add_bias(start: int, stop: int) -> None:  # rows start..stop-1
        rows = out[start:stop]
        rows += b

    parallel.parallel_for(add_bias, out.shape[0], grain=-(-parallel.GRAIN // out.shape[1]))


class AffineReLU(Op):
    """max(x W + b, 0): a hidden Linear layer and its ReLU as one primitive.

    The relu runs in place on the fresh product (one array, not two). With the 0/1 mask
    D = [out ≠ 0] (out ≠ 0 exactly where x W + b > 0 or is NaN, as :class:`ReLU`'s VJP) and
    G' = G ⊙ D:  ∂/∂x = G' Wᵀ,  ∂/∂W = xᵀ G',  ∂/∂b = Σ_rows G' — the very calls of the ReLU
    and Affine VJPs one after the other, so the numbers are bit-identical to the two nodes.

    Examples:
        >>> import numpy as np
        >>> AffineReLU().forward(np.ones((1, 2)), np.array([[1.0, -1.0], [1.0, -1.0]]), np.zeros(2))
        array([[2., 0.]])
    """

    __slots__ = ()

    def forward(self, x: Any, w: Any, b: Any) -> Any:
        out = x @ w  # Affine's forward, then the relu in place
        if parallel.worth_cutting(out.size):
            _add_bias_cut(out, b)
            return parallel.ufunc(np.maximum, out, 0, out=out)
        out += b
        return backend.namespace(out).maximum(out, 0, out=out)

    def vjp(
        self, g: Tensor, out: Tensor, x: Tensor, w: Tensor, b: Tensor
    ) -> tuple[Tensor | None, ...]:
        y = out.data
        mask = parallel.ufunc(np.not_equal, y, 0) if parallel.worth_cutting(y.size) else y != 0
        return _AFFINE.vjp(apply(_MUL, g, Tensor._make(mask)), out, x, w, b)

    def vjp_arrays(self, g: Any, out: Tensor, x: Tensor, w: Tensor, b: Tensor) -> tuple[Any, ...]:
        y = out.data
        if parallel.worth_cutting(y.size):
            g = _MUL.forward(g, parallel.ufunc(np.not_equal, y, 0))
        else:
            g = g * (y != 0)  # Multiply's uncut forward
        return _AFFINE.vjp_arrays(g, out, x, w, b)


_AFFINE_RELU = AffineReLU()


def affine_relu(x: Tensor, w: Tensor, b: Tensor) -> Tensor:
    """Return max(x W + b, 0) for x (m, n), W (n, k), b (k,) as one node (see
    :class:`AffineReLU`); equal, bit for bit, to ``relu(affine(x, w, b))``.

    Raises:
        ValueError: when the shapes do not fit, naming all three.

    Examples:
        >>> import mlplab
        >>> w = mlplab.tensor([[1.0, -1.0], [1.0, -1.0]])
        >>> affine_relu(mlplab.tensor([[1.0, 2.0]]), w, mlplab.tensor([0.5, 0.5]))
        tensor([[3.5, 0. ]])
    """
    return _affine_node(_AFFINE_RELU, "affine_relu", x, w, b)


def _affine_node(op: Op, name: str, x: Any, w: Any, b: Any) -> Tensor:
    """``apply(op, x, w, b)`` for Affine or AffineReLU, without its loops, after checking x, W,
    b to be (m, n), (n, k), (k,) (the error names ``name``); mixed dtypes take the plain ops."""
    if not isinstance(x, Tensor):  # isinstance before the call: this runs for every layer
        x = as_tensor(x)
    if not isinstance(w, Tensor):
        w = as_tensor(w)
    if not isinstance(b, Tensor):
        b = as_tensor(b)
    xd, wd, bd = x.data, w.data, b.data
    xs, ws, bs = xd.shape, wd.shape, bd.shape
    if len(xs) != 2 or len(ws) != 2 or bs != ws[1:] or xs[1] != ws[0]:
        raise ValueError(f"{name}: expected x (m, n), W (n, k), b (k,), got {xs}, {ws}, {bs}")
    if not (xd.dtype == wd.dtype == bd.dtype):  # promoted by the plain ops' rules
        out = add(matmul(x, w), b)
        return relu(out) if op is _AFFINE_RELU else out
    out = op.forward(xd, wd, bd)
    if _grad_state.enabled and (x.requires_grad or w.requires_grad or b.requires_grad):
        return Tensor._make(out, op, (x, w, b))
    return Tensor._make(out)


def affine(x: Tensor, w: Tensor, b: Tensor) -> Tensor:
    """Return x W + b for x (m, n), W (n, k), b (k,) as one node (see :class:`Affine`).

    Raises:
        ValueError: when the shapes do not fit, naming all three.

    Examples:
        >>> import mlplab
        >>> affine(mlplab.tensor([[1.0, 2.0]]), mlplab.tensor([[1.0], [1.0]]), mlplab.tensor([0.5]))
        tensor([[3.5]])
    """
    return _affine_node(_AFFINE, "affine", x, w, b)


class SoftmaxCrossEntropy(Op):
    """Σᵢ scale·(logsumexp(hᵢ) − hᵢ,yᵢ) over the rows of h (m, k), for integer labels y.

    One node instead of the dozen of the composite; the VJP is g·scale·(softmax(h) − onehot(y)).
    For a first-order backward the softmax is the forward's (exp(h − max) and its row sums are
    kept), a constant there; when the backward is itself recorded (``create_graph``) the softmax
    is rebuilt from h in mlplab ops, exp(h − max) / Σ exp(h − max) with the max a constant, so
    second derivatives work.
    """

    __slots__ = ("labels", "scale", "exp_shifted", "row_sums")

    def __init__(self, labels: Any, scale: float) -> None:
        self.labels, self.scale = labels, scale

    def forward(self, h: Any) -> Any:
        xp = backend.namespace(h)
        rows = xp.arange(h.shape[0])
        z = h - h.max(axis=1, keepdims=True)
        picked = z[rows, self.labels]
        xp.exp(z, out=z)
        sums = z.sum(axis=1, keepdims=True)
        self.exp_shifted, self.row_sums = z, sums
        losses = xp.log(sums[:, 0]) - picked
        return xp.asarray(losses.sum() * self.scale, dtype=h.dtype)

    def vjp(self, g: Tensor, out: Tensor, h: Tensor) -> tuple[Tensor]:
        xp = backend.namespace(h.data)
        shift = Tensor._make(h.data.max(axis=1, keepdims=True))
        e = exp(subtract(h, shift))
        p = divide(e, sum(e, axis=1, keepdims=True))
        onehot = xp.zeros(h.shape, dtype=h.data.dtype)
        onehot[xp.arange(h.shape[0]), self.labels] = 1
        return (multiply(subtract(p, Tensor._make(onehot)), multiply(g, self.scale)),)

    def vjp_arrays(self, g: Any, out: Tensor, h: Tensor) -> tuple[Any]:
        """g·scale·(softmax(h) − onehot(y)) from the forward's exp(h − max) and row sums."""
        xp = backend.namespace(h.data)
        p_minus_onehot = self.exp_shifted / self.row_sums
        p_minus_onehot[xp.arange(h.shape[0]), self.labels] -= 1
        if g.shape != () or g.dtype != p_minus_onehot.dtype:
            residual = Tensor._make(p_minus_onehot)
            return (multiply(residual, multiply(Tensor._make(g), self.scale)).data,)
        # multiply(residual, multiply(g, scale))'s two products, on the arrays: the second one
        # in place into the fresh residual (element-wise, the same bits)
        gs = np.asarray(_MUL.forward(g, np.asarray(self.scale, dtype=g.dtype)))
        if parallel.worth_cutting(p_minus_onehot.size):
            return (_MUL.forward(p_minus_onehot, gs),)
        np.multiply(p_minus_onehot, gs, out=p_minus_onehot)
        return (p_minus_onehot,)


def softmax_cross_entropy(logits: Tensor, labels: Any, scale: float) -> Tensor:
    """Return scale · Σᵢ −log softmax(logitsᵢ)[labelsᵢ] for logits (m, k) and integer labels (m,)
    that the caller has validated (``functional.cross_entropy`` does)."""
    return apply(SoftmaxCrossEntropy(labels, scale), as_tensor(logits))
