"""Fused normalization: x̂ = (x − μ)/√(σ² + ε), y = γ ∘ x̂ + β as one node.

BatchNorm and LayerNorm are this one map with μ, σ² taken over different axes (the batch axes
per feature, or each row's trailing features). As a composite of mean, var and power it is
about 50 nodes a layer; here it is one. The forward is the composite's own sequence of array
operations regrouped for speed (values agree with it to rounding), and keeps μ and
1/√(σ² + ε); the backward rebuilds x̂ from x, as PyTorch does (one array less held per layer:
measured, keeping x̂ cost a deep50-bn step about 1,200 fresh pages). With batch statistics over
the n values of each group the VJP is

    ∂/∂x = (1/√(σ² + ε)) ∘ (ĝ − mean(ĝ) − x̂ ∘ mean(ĝ ∘ x̂)),   ĝ = γ ∘ g,
    ∂/∂γ = Σ g ∘ x̂,   ∂/∂β = Σ g   (Σ over the axes γ is broadcast along),

and with given statistics (BatchNorm's running ones in eval mode) μ, σ² are constants, so
∂/∂x = γ ∘ g/√(σ² + ε). A first-order backward evaluates these on the arrays and records
nothing; when the backward is itself recorded (``create_graph``) x̂ is rebuilt from x and the
same formulas are written in mlplab ops, so Hessian-vector products work through the layer.

References:
    Ioffe & Szegedy, Batch Normalization (2015), section 3 (the backward);
    Ba, Kiros & Hinton, Layer Normalization (2016).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..grad_mode import state as _grad_state
from ..tensor import Tensor
from .core import Op, _normalize_axes, apply, as_tensor
from .elementwise import add, divide, multiply, power, subtract
from .shape import reshape, sum

__all__ = ["Normalize", "normalize"]

_BLAS_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class Normalize(Op):
    """γ ∘ (x − μ)/√(σ² + ε) + β with μ, σ² (biased) over ``axes``, or given as ``stats``.

    Inputs are x, then γ if ``weight``, then β if ``bias``; γ and β broadcast against x as
    ``view``. After the forward, ``mean``, ``var`` and ``inv_std`` = 1/√(σ² + ε) hold the
    statistics used (kept-dims shape), e.g. for a running average.
    """

    __slots__ = (
        "axes", "view", "eps", "weight", "bias", "stats", "param_axes", "mean", "var", "inv_std",
        "ones",
    )  # fmt: skip

    def __init__(
        self,
        axes: tuple[int, ...],
        view: tuple[int, ...],
        eps: float,
        weight: bool,
        bias: bool,
        stats: tuple[Any, Any] | None = None,
    ) -> None:
        self.axes, self.view, self.eps = axes, view, eps
        self.weight, self.bias, self.stats = weight, bias, stats

    def forward(self, x: Any, *params: Any) -> Any:
        dtype = x.dtype
        # The axes γ and β are broadcast along: those where the right-aligned view has no extent.
        lead = x.ndim - len(self.view)
        self.param_axes = tuple(range(lead)) + tuple(
            lead + i for i, n in enumerate(self.view) if n == 1 and x.shape[lead + i] != 1
        )
        self.ones: dict[Any, Any] = {}
        if self.stats is None:
            count = np.asarray(math.prod(x.shape[i] for i in self.axes), dtype)
            mu = self._sum(x, self.axes) / count
            out = x - mu
            sigma2 = self._sum(out * out, self.axes) / count
        else:
            mu, sigma2 = self.stats
            out = x - mu
        inv_std = (sigma2 + np.asarray(self.eps, dtype)) ** np.asarray(-0.5, dtype)
        self.mean, self.var, self.inv_std = mu, sigma2, inv_std
        # In place, γ/√(σ² + ε) as one factor: a broadcast pass costs ~2.5 same-shape ones.
        out *= inv_std * params[0].reshape(self.view) if self.weight else inv_std
        if self.bias:
            out += params[-1].reshape(self.view)
        return out

    def _sum(self, a: Any, axes: tuple[int, ...]) -> Any:
        """Σ over ``axes``, dims kept; over the rows or columns of a matrix as a product with
        ones, which BLAS does ~2.5 times faster than NumPy's reduction (128 × 100 float32)."""
        if a.ndim != 2 or a.dtype not in _BLAS_DTYPES or axes not in ((0,), (1,)):
            return a.sum(axis=axes, keepdims=True)
        key = (axes, a.shape, a.dtype)
        ones = self.ones.get(key)
        if ones is None:
            shape = (1, a.shape[0]) if axes == (0,) else (a.shape[1], 1)
            ones = self.ones[key] = np.ones(shape, a.dtype)
        return ones @ a if axes == (0,) else a @ ones

    def vjp(self, g: Tensor, out: Tensor, x: Tensor, *params: Tensor) -> tuple[Tensor | None, ...]:
        if _grad_state.enabled:
            return self._recorded_vjp(g, x, *params)
        gd, axes, param_axes, inv_std = g.data, self.axes, self.param_axes, self.inv_std
        batch, wants_dx = self.stats is None, x.requires_grad
        grouped = param_axes == axes  # γ, β, μ, σ² all per group: BatchNorm
        gamma = params[0].data.reshape(self.view) if self.weight else None
        scale = inv_std if gamma is None else inv_std * gamma  # γ/√(σ² + ε)
        sums = batch and grouped and wants_dx
        # x̂ = (x − μ)/√(σ² + ε) is rebuilt from x: keeping μ and 1/√(σ² + ε) instead (as
        # PyTorch does) holds one array less per layer between forward and backward. Grouped,
        # the factor 1/√(σ² + ε) stays outside the sums and c is x − μ; else c is x̂.
        c: Any = x.data - self.mean if self.weight or (batch and wants_dx) else None
        if c is not None and not grouped:
            c *= inv_std
        sum_g: Any = self._sum(gd, param_axes) if self.bias or sums else None  # ∂/∂β
        sum_gc: Any = self._sum(gd * c, param_axes) if self.weight or sums else None
        dx = None
        if wants_dx and not batch:
            dx = gd * scale
        elif wants_dx:
            n = np.asarray(math.prod(gd.shape[i] for i in axes), gd.dtype)
            if grouped:
                # mean(ĝ) = γ Σg/n and mean(ĝ x̂) = γ Σ g x̂/n, so with x̂ = c/√(σ² + ε):
                # ∂/∂x = g∘scale − c∘(scale·Σ g c/((σ² + ε)·n)) − scale·Σg/n
                dx = gd * scale
                c *= scale * inv_std * inv_std * (sum_gc / n)
                dx -= c
                dx -= scale * (sum_g / n)
            else:
                g_hat = gd if gamma is None else gd * gamma
                dx = g_hat - self._sum(g_hat, axes) / n
                dx -= c * (self._sum(g_hat * c, axes) / n)
                dx *= inv_std
        grads: list[Tensor | None] = [None if dx is None else Tensor._make(dx)]
        if self.weight:  # ∂/∂γ = Σ g x̂
            d_gamma = sum_gc * inv_std if grouped else sum_gc
            grads.append(Tensor._make(d_gamma.reshape(params[0].shape)))
        if self.bias:
            grads.append(Tensor._make(sum_g.reshape(params[-1].shape)))
        return tuple(grads)

    def _recorded_vjp(self, g: Tensor, x: Tensor, *params: Tensor) -> tuple[Tensor | None, ...]:
        """The same VJP in mlplab ops, x̂ rebuilt from x, so that it can be differentiated."""
        axes = self.axes
        if self.stats is None:
            n = math.prod(x.shape[i] for i in axes)
            centered = subtract(x, divide(sum(x, axis=axes, keepdims=True), n))
            sigma2 = divide(sum(multiply(centered, centered), axis=axes, keepdims=True), n)
            inv_std = power(add(sigma2, self.eps), -0.5)
        else:
            centered = subtract(x, Tensor._make(self.stats[0]))
            inv_std = Tensor._make(self.inv_std)
        x_hat = multiply(centered, inv_std)
        gamma = reshape(params[0], self.view) if self.weight else None
        dx = None
        if x.requires_grad:
            g_hat = g if gamma is None else multiply(g, gamma)
            if self.stats is None:
                mean_g = divide(sum(g_hat, axis=axes, keepdims=True), n)
                mean_gx = divide(sum(multiply(g_hat, x_hat), axis=axes, keepdims=True), n)
                g_hat = subtract(subtract(g_hat, mean_g), multiply(x_hat, mean_gx))
            dx = multiply(g_hat, inv_std)
        grads = [dx]
        if self.weight:
            d_gamma = sum(multiply(g, x_hat), axis=self.param_axes)
            grads.append(reshape(d_gamma, params[0].shape) if params[0].requires_grad else None)
        if self.bias:
            d_beta = sum(g, axis=self.param_axes)
            grads.append(reshape(d_beta, params[-1].shape) if params[-1].requires_grad else None)
        return tuple(grads)


def normalize(
    x: Any,
    axes: tuple[int, ...],
    weight: Any = None,
    bias: Any = None,
    eps: float = 1e-5,
    view: tuple[int, ...] | None = None,
    stats: tuple[Any, Any] | None = None,
) -> Tensor:
    """Return γ ∘ (x − μ)/√(σ² + ε) + β as one node, μ and the biased σ² over ``axes``.

    :func:`mlplab.nn.batch_norm` and :func:`mlplab.nn.layer_norm` call it after their own
    checks (and take the composite for mixed dtypes); x, γ and β share one floating dtype.

    Args:
        x: the input.
        axes: the axes averaged over, sorted (``(0,)`` for BatchNorm on (N, C)).
        weight, bias: γ, β, or None.
        eps: ε added to the variance.
        view: the shape γ and β broadcast against x as (their own shape by default; (C, 1)
            for BatchNorm on (N, C, L)).
        stats: given (μ, σ²) arrays in a shape that broadcasts against x, instead of the
            batch's; they are constants for the derivatives.

    Raises:
        ValueError: for a non-floating x, γ or β of another dtype, bad axes, or a ``view``
            that does not broadcast against x.

    Examples:
        >>> import mlplab
        >>> x = mlplab.tensor([[1.0, 2.0], [3.0, 6.0]])
        >>> gamma = mlplab.tensor([2.0, 1.0], requires_grad=True)
        >>> beta = mlplab.tensor([0.0, 1.0], requires_grad=True)
        >>> y = normalize(x, (0,), gamma, beta, eps=0.0)  # BatchNorm: over the batch axis
        >>> y
        tensor([[-2.,  0.],
                [ 2.,  2.]], op=Normalize)
        >>> (y * mlplab.tensor([[1.0, 0.0], [3.0, 1.0]])).sum().backward()
        >>> gamma.grad, beta.grad  # Σ g x̂, Σ g
        (tensor([2., 1.]), tensor([4., 1.]))
    """
    x = as_tensor(x)
    params = [as_tensor(p) for p in (weight, bias) if p is not None]
    dtypes = [t.data.dtype for t in (x, *params)]
    if dtypes[0].kind != "f" or any(d != dtypes[0] for d in dtypes):
        raise ValueError(
            f"normalize: x, weight and bias must share one floating dtype, got {dtypes}"
        )
    axes = _normalize_axes("normalize", axes, x.ndim)
    if view is None:
        view = params[0].shape if params else ()
    if len(view) > x.ndim or any(
        n not in (1, m) for n, m in zip(view[::-1], x.shape[::-1], strict=False)
    ):
        raise ValueError(f"normalize: view {tuple(view)} does not broadcast against x {x.shape}")
    op = Normalize(
        tuple(axes), tuple(view), float(eps), weight is not None, bias is not None, stats
    )
    return apply(op, x, *params)
