"""Batch and layer normalization: standardize a hidden layer, then scale and shift it.

For a batch Z ∈ R^{m×n} both compute ẑ = (z − μ)/√(σ² + ε) and y = γ ∘ ẑ + β, with the *biased*
variance σ² (divided by the count, not count − 1); they differ in what they average over:

- BatchNorm: μ_B, σ²_B per feature over the m rows of the batch. In training mode the running
  statistics follow running ← (1 − momentum)·running + momentum·batch, the running variance from
  the *unbiased* batch variance σ²_B·m/(m − 1); ``momentum=None`` gives the cumulative average
  (momentum 1/t at the t-th batch). In eval mode the running statistics replace the batch ones.
- LayerNorm: μ, σ² per row over its trailing features; no running statistics.

Both run as one fused node (:class:`mlplab.ops.normalization.Normalize`: the forward keeps μ and
1/√(σ² + ε), a first-order backward works on arrays) whose recorded VJP is written in mlplab
ops, so second derivatives work: ``hvp`` and Newton's method work on normalized networks. An
input whose dtype differs from γ's, or is not floating, takes the composite of mean, var and
power (:func:`_standardize_composite`, also the reference the fused node is tested against).
The semantics are PyTorch's (``torch.nn.BatchNorm1d``, ``torch.nn.LayerNorm``).

References:
    Ioffe & Szegedy, Batch Normalization (2015); Ba, Kiros & Hinton, Layer Normalization (2016).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..functional import mean, var
from ..ops import add, apply, as_tensor, multiply, power, reshape, subtract
from ..ops.normalization import Normalize
from ..tensor import DEFAULT_DTYPE, Tensor
from .module import Module
from .parameter import Parameter

__all__ = ["BatchNorm1d", "LayerNorm", "batch_norm", "layer_norm"]


def _feature_axes(x: Tensor, where: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """BatchNorm1d's (N, C) or (N, C, L): the axes averaged over and the shape γ, β broadcast to."""
    if x.ndim == 2:
        return (0,), (x.shape[1],)
    if x.ndim == 3:
        return (0, 2), (x.shape[1], 1)
    raise ValueError(f"{where}: expected a 2-D (N, C) or 3-D (N, C, L) input, got shape {x.shape}")


def _constant(value: Any, like: Tensor) -> Tensor:
    array = np.asarray(value.data if isinstance(value, Tensor) else value)
    return Tensor._make(array.astype(like.dtype, copy=False))


def _scale_shift(z: Tensor, weight: Any, bias: Any, shape: tuple[int, ...]) -> Tensor:
    if weight is not None:
        z = multiply(z, reshape(as_tensor(weight, like=z), shape))
    if bias is not None:
        z = add(z, reshape(as_tensor(bias, like=z), shape))
    return z


def _standardize_composite(
    x: Tensor,
    mu: Tensor,
    sigma2: Tensor,
    weight: Any,
    bias: Any,
    shape: tuple[int, ...],
    eps: float,
) -> Tensor:
    """γ ∘ (x − μ)·(σ² + ε)^(−½) + β as a composite of primitives (the unfused reference)."""
    z = multiply(subtract(x, mu), power(add(sigma2, eps), -0.5))
    return _scale_shift(z, weight, bias, shape)


def _shape(value: Any) -> tuple[int, ...]:
    return value.shape if isinstance(value, (Tensor, np.ndarray)) else np.shape(value)


def _fusable(x: Tensor, weight: Any, bias: Any) -> bool:
    """The fused node takes one floating dtype for x, γ and β (else the composite promotes)."""
    dtype = x.data.dtype
    return dtype.kind == "f" and all(
        p is None or (p.data if isinstance(p, Tensor) else np.asarray(p)).dtype == dtype
        for p in (weight, bias)
    )


def _standardize(
    x: Tensor,
    axes: tuple[int, ...],
    weight: Any,
    bias: Any,
    shape: tuple[int, ...],
    eps: float,
    stats: tuple[Any, Any] | None = None,
) -> tuple[Tensor, Normalize]:
    """The fused node over ``axes``; returns it with its op, whose ``mean``/``var`` were used."""
    params = [as_tensor(p) for p in (weight, bias) if p is not None]
    op = Normalize(axes, shape, float(eps), weight is not None, bias is not None, stats)
    return apply(op, x, *params), op


def batch_norm(
    x: Any,
    running_mean: Any,
    running_var: Any,
    weight: Any = None,
    bias: Any = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Return γ ∘ (x − μ)/√(σ² + ε) + β per feature (channel C of an (N, C) or (N, C, L) input).

    In training mode (or without running statistics) μ, σ² are the batch's, biased, over every
    axis but C, and the running arrays (if given) are updated *in place*:
    running_mean ← (1 − momentum)·running_mean + momentum·μ_B,
    running_var ← (1 − momentum)·running_var + momentum·σ²_B·m/(m − 1) (unbiased).
    In eval mode μ, σ² are ``running_mean``, ``running_var``. As
    ``torch.nn.functional.batch_norm``.

    Args:
        x: (N, C) or (N, C, L).
        running_mean, running_var: (C,) arrays or Tensors, or None (then batch statistics are
            used in both modes).
        weight, bias: γ, β of shape (C,), or None.
        training: use (and update) batch statistics.
        momentum: the running average's factor, in [0, 1].
        eps: ε added to the variance.

    Raises:
        ValueError: for a training batch with one value per channel, or bad shapes.

    Examples:
        >>> import numpy as np, mlplab
        >>> x = mlplab.tensor([[1.0, 2.0], [3.0, 6.0]])
        >>> mean, var = np.zeros(2, np.float32), np.ones(2, np.float32)
        >>> batch_norm(x, mean, var, training=True, eps=0.0).numpy()
        array([[-1., -1.],
               [ 1.,  1.]], dtype=float32)
        >>> mean, var  # 0.9·0 + 0.1·(2, 4); 0.9·1 + 0.1·(2, 8)
        (array([0.2, 0.4], dtype=float32), array([1.1, 1.7], dtype=float32))
    """
    x = as_tensor(x)
    axes, shape = _feature_axes(x, "batch_norm")
    channels = x.shape[1]
    for name, value in (("running_mean", running_mean), ("running_var", running_var),
                        ("weight", weight), ("bias", bias)):  # fmt: skip
        if value is not None and _shape(value) != (channels,):
            raise ValueError(
                f"batch_norm: {name} must have shape ({channels},), got {_shape(value)}"
            )
    use_batch = training or running_mean is None or running_var is None
    if use_batch:
        count = math.prod(x.shape[i] for i in axes)
        if training and count <= 1:
            raise ValueError(
                f"batch_norm: expected more than 1 value per channel when training, got input "
                f"of shape {x.shape} (a batch of one row has no variance; use eval mode)"
            )
        if _fusable(x, weight, bias):
            y, op = _standardize(x, axes, weight, bias, shape, eps)
            mu_b, sigma2_b = op.mean, op.var
        else:
            mu, sigma2 = mean(x, axis=axes, keepdims=True), var(x, axis=axes, keepdims=True)
            y = _standardize_composite(x, mu, sigma2, weight, bias, shape, eps)
            mu_b, sigma2_b = mu.data, sigma2.data
        if training and running_mean is not None and running_var is not None:
            _update_running(running_mean, running_var, mu_b, sigma2_b, count, momentum)
        return y
    mu = reshape(_constant(running_mean, x), shape)
    sigma2 = reshape(_constant(running_var, x), shape)
    if _fusable(x, weight, bias):
        return _standardize(x, axes, weight, bias, shape, eps, (mu.data, sigma2.data))[0]
    return _standardize_composite(x, mu, sigma2, weight, bias, shape, eps)


def _update_running(
    running_mean: Any, running_var: Any, mu: Any, sigma2: Any, count: int, momentum: float
) -> None:
    """running ← (1 − momentum)·running + momentum·batch, in place; the variance unbiased.

    The factors are 0-d arrays of the batch's dtype (the same rounding as Python floats, and
    NumPy's ufuncs take them several times faster on these small arrays); with the running
    arrays in that dtype too the update is written in place, the same sum in the other order.
    """
    dtype = mu.dtype
    stats = [
        (running_mean, mu.reshape(-1)),
        (running_var, sigma2.reshape(-1) * np.asarray(count / (count - 1), dtype)),
    ]
    m, keep = np.asarray(momentum, dtype), np.asarray(1.0 - momentum, dtype)
    for running, batch in stats:
        array = running.data if isinstance(running, Tensor) else running
        if array.dtype == dtype:
            update = m * batch
            array *= keep
            array += update
        else:
            array[...] = momentum * batch + (1.0 - momentum) * array


def layer_norm(
    x: Any,
    normalized_shape: int | Sequence[int],
    weight: Any = None,
    bias: Any = None,
    eps: float = 1e-5,
) -> Tensor:
    """Return γ ∘ (x − μ)/√(σ² + ε) + β with μ, σ² (biased) over the trailing ``normalized_shape``.

    As ``torch.nn.functional.layer_norm``: each row of an (m, n) batch is standardized over its
    own n features, so the output does not depend on the other rows (same in train and eval).

    Args:
        x: ``(..., *normalized_shape)``.
        normalized_shape: the trailing shape normalized over (an int for the last axis).
        weight, bias: γ, β of shape ``normalized_shape``, or None.
        eps: ε added to the variance.

    Raises:
        ValueError: if the trailing shape of ``x`` is not ``normalized_shape``.

    Examples:
        >>> import mlplab
        >>> layer_norm(mlplab.tensor([[1.0, 3.0], [0.0, 10.0]]), 2, eps=0.0).numpy()
        array([[-1.,  1.],
               [-1.,  1.]], dtype=float32)
    """
    x = as_tensor(x)
    shape = _as_shape(normalized_shape, "layer_norm")
    k = len(shape)
    if x.shape[x.ndim - k :] != shape or x.ndim < k:
        raise ValueError(
            f"layer_norm: input of shape {x.shape} does not end in normalized_shape {shape}"
        )
    axes = tuple(range(x.ndim - k, x.ndim))
    for name, value in (("weight", weight), ("bias", bias)):
        if value is not None and math.prod(_shape(value)) != math.prod(shape):
            raise ValueError(f"layer_norm: {name} must have shape {shape}, got {_shape(value)}")
    if _fusable(x, weight, bias):
        return _standardize(x, axes, weight, bias, shape, eps)[0]
    mu, sigma2 = mean(x, axis=axes, keepdims=True), var(x, axis=axes, keepdims=True)
    return _standardize_composite(x, mu, sigma2, weight, bias, shape, eps)


def _as_shape(value: Any, where: str) -> tuple[int, ...]:
    items = (value,) if isinstance(value, (int, np.integer)) else tuple(value)
    if not items or any(
        isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1 for n in items
    ):
        raise ValueError(f"{where}: normalized_shape must be positive ints, got {value!r}")
    return tuple(int(n) for n in items)


def _check_eps(eps: Any, where: str) -> float:
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not eps >= 0:
        raise ValueError(f"{where}: eps must be a number >= 0, got {eps!r}")
    return float(eps)


class BatchNorm1d(Module):
    """Batch normalization of (N, C) or (N, C, L) inputs, with PyTorch's semantics.

    y = γ ∘ (z − μ_B)/√(σ²_B + ε) + β per feature, batch statistics in training mode (updating
    ``running_mean``, ``running_var`` and ``num_batches_tracked``, which are buffers), running
    statistics in eval mode; see :func:`batch_norm`.

    Args:
        num_features: C.
        eps: ε.
        momentum: the running average's factor in [0, 1], or None for the cumulative average
            (factor 1/``num_batches_tracked``).
        affine: learn γ (ones) and β (zeros).
        track_running_stats: keep running statistics; without them batch statistics are used
            in eval mode too.
        dtype: floating dtype of γ, β and the running statistics (float32 by default).

    Examples:
        >>> import numpy as np, mlplab
        >>> bn = BatchNorm1d(2)
        >>> y = bn(mlplab.tensor([[1.0, 2.0], [3.0, 6.0]]))
        >>> bn.running_mean.numpy(), int(bn.num_batches_tracked.item())
        (array([0.2, 0.4], dtype=float32), 1)
        >>> sorted(bn.state_dict())
        ['bias', 'num_batches_tracked', 'running_mean', 'running_var', 'weight']
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if (
            isinstance(num_features, bool)
            or not isinstance(num_features, (int, np.integer))
            or num_features < 1
        ):
            raise ValueError(
                f"BatchNorm1d: num_features must be a positive int, got {num_features!r}"
            )
        if momentum is not None and (
            isinstance(momentum, bool)
            or not isinstance(momentum, (int, float))
            or not 0 <= momentum <= 1
        ):
            raise ValueError(f"BatchNorm1d: momentum must be in [0, 1] or None, got {momentum!r}")
        self.num_features = int(num_features)
        self.eps = _check_eps(eps, "BatchNorm1d")
        self.momentum = None if momentum is None else float(momentum)
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        dtype = np.dtype(DEFAULT_DTYPE if dtype is None else dtype)
        self.weight: Parameter | None = None
        self.bias: Parameter | None = None
        if self.affine:
            self.weight = Parameter(np.ones(self.num_features, dtype))
            self.bias = Parameter(np.zeros(self.num_features, dtype))
        if self.track_running_stats:
            self.register_buffer("running_mean", np.zeros(self.num_features, dtype))
            self.register_buffer("running_var", np.ones(self.num_features, dtype))
            self.register_buffer("num_batches_tracked", np.array(0, np.int64))

    def forward(self, x: Any) -> Tensor:
        x = as_tensor(x)
        if x.ndim in (2, 3) and x.shape[1] != self.num_features:
            raise ValueError(
                f"BatchNorm1d: expected {self.num_features} features, got input of shape {x.shape}"
            )
        momentum = 0.0 if self.momentum is None else self.momentum
        values_per_channel = x.shape[0] * (x.shape[2] if x.ndim == 3 else 1)
        # a batch that batch_norm refuses (one value per channel) must not count as tracked
        if self.training and self.track_running_stats and values_per_channel > 1:
            batches = self.num_batches_tracked.data
            batches[()] = int(batches) + 1  # a 0-d array's += costs ~20 times this
            if self.momentum is None:
                momentum = 1.0 / float(batches)
        tracked = self.track_running_stats
        return batch_norm(
            x,
            self.running_mean if tracked else None,
            self.running_var if tracked else None,
            self.weight,
            self.bias,
            training=self.training or not self.track_running_stats,
            momentum=momentum,
            eps=self.eps,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, track_running_stats={self.track_running_stats}"
        )


class LayerNorm(Module):
    """Layer normalization over the trailing ``normalized_shape``, with PyTorch's semantics.

    y = γ ∘ (z − μ)/√(σ² + ε) + β, μ and the biased σ² of each row over its features; the same
    in training and eval mode; see :func:`layer_norm`.

    Args:
        normalized_shape: the trailing shape (an int: the last axis).
        eps: ε.
        elementwise_affine: learn γ (ones) and, with ``bias``, β (zeros).
        bias: learn β (only with ``elementwise_affine``).
        dtype: floating dtype of γ, β (float32 by default).

    Examples:
        >>> import mlplab
        >>> ln = LayerNorm(2, eps=0.0)
        >>> ln(mlplab.tensor([[1.0, 3.0]])).numpy()
        array([[-1.,  1.]], dtype=float32)
        >>> [name for name, _ in ln.named_parameters()]
        ['weight', 'bias']
    """

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.normalized_shape = _as_shape(normalized_shape, "LayerNorm")
        self.eps = _check_eps(eps, "LayerNorm")
        self.elementwise_affine = bool(elementwise_affine)
        dtype = np.dtype(DEFAULT_DTYPE if dtype is None else dtype)
        if self.elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dtype))
            if bias:
                self.bias = Parameter(np.zeros(self.normalized_shape, dtype))

    def forward(self, x: Any) -> Tensor:
        weight = self._parameters.get("weight")
        bias = self._parameters.get("bias")
        return layer_norm(x, self.normalized_shape, weight, bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
        )
