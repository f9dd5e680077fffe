"""Composite functions built from the primitives of :mod:`mlplab.ops`.

None of these has a gradient of its own: each is a short expression in primitives, so its first
and second derivatives come from theirs. Where a naive formula overflows, the stable rewrite is
still a composite (sigmoid through tanh, log-sum-exp shifted by its maximum).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .ops import (
    as_tensor,
    broadcast_shape,
    broadcast_to,
    concatenate,
    divide,
    erf,
    exp,
    log,
    log1p,
    matmul,
    multiply,
    negative,
    power,
    reshape,
    softmax_cross_entropy,
    stack,
    subtract,
    tanh,
    where,
)
from .ops import relu as ops_relu
from .ops import sum as sum_
from .ops.core import _normalize_axes, dim_aliases
from .tensor import Tensor

__all__ = [
    "mean", "var", "sqrt", "abs", "maximum", "minimum", "relu", "leaky_relu", "sigmoid",
    "softplus", "gelu", "logsumexp", "log_softmax", "softmax", "cross_entropy", "mse_loss",
    "exp", "log", "log1p", "tanh", "erf", "where", "matmul", "concatenate", "stack", "broadcast_to",
]  # fmt: skip


@dim_aliases
def mean(x: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Return the mean over ``axis``: sum / count.

    Examples:
        >>> import mlplab
        >>> mean(mlplab.tensor([1.0, 2.0, 6.0]))
        tensor(3.)
    """
    x = as_tensor(x)
    axes = _normalize_axes("mean", axis, x.ndim)
    count = math.prod(x.shape[i] for i in axes)
    return divide(sum_(x, axis=axes, keepdims=keepdims), count)


@dim_aliases
def var(x: Tensor, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
    """Return the variance Σ(x − x̄)² / (N − ddof) over ``axis`` (NumPy's ``ddof``, default 0).

    Examples:
        >>> import mlplab
        >>> x = mlplab.tensor([1.0, 2.0, 3.0, 4.0])
        >>> var(x).item(), var(x, ddof=1).item()
        (1.25, 1.6666666269302368)
    """
    x = as_tensor(x)
    axes = _normalize_axes("var", axis, x.ndim)
    count = math.prod(x.shape[i] for i in axes)
    centered = subtract(x, mean(x, axis=axes, keepdims=True))
    return divide(sum_(multiply(centered, centered), axis=axes, keepdims=keepdims), count - ddof)


def sqrt(x: Tensor) -> Tensor:
    """Return √x = x^½ elementwise.

    Examples:
        >>> import mlplab
        >>> sqrt(mlplab.tensor([4.0, 9.0]))
        tensor([2., 3.])
    """
    return power(x, 0.5)


def abs(x: Tensor) -> Tensor:  # noqa: A001
    """Return ``|x|`` elementwise (the gradient at 0 is taken as +1).

    Examples:
        >>> import mlplab
        >>> x = mlplab.tensor([-2.0, 0.0, 3.0], requires_grad=True)
        >>> abs(x).sum().backward()
        >>> x.grad
        tensor([-1.,  1.,  1.])
    """
    x = as_tensor(x)
    return where(x.data >= 0, x, negative(x))


def maximum(a: Any, b: Any) -> Tensor:
    """Return the elementwise maximum; at a tie the gradient goes to ``a``.

    Examples:
        >>> import mlplab
        >>> a = mlplab.tensor([1.0, 5.0], requires_grad=True)
        >>> maximum(a, mlplab.tensor([3.0, 3.0])).sum().backward()
        >>> a.grad
        tensor([0., 1.])
    """
    a, b = _pair("maximum", a, b)
    # A NaN in ``a`` is kept (NaN >= b is False, so it needs saying), as numpy.maximum does.
    return where((a.data >= b.data) | (a.data != a.data), a, b)


def minimum(a: Any, b: Any) -> Tensor:
    """Return the elementwise minimum; at a tie the gradient goes to ``a``.

    Examples:
        >>> import mlplab
        >>> minimum(mlplab.tensor([1.0, 5.0]), mlplab.tensor([3.0, 3.0]))
        tensor([1., 3.])
    """
    a, b = _pair("minimum", a, b)
    return where((a.data <= b.data) | (a.data != a.data), a, b)


def _pair(name: str, a: Any, b: Any) -> tuple[Tensor, Tensor]:
    if not isinstance(a, Tensor):
        a = as_tensor(a, like=b if isinstance(b, Tensor) else None)
    b = as_tensor(b, like=a)
    # The mask is computed on arrays before ``where`` sees the operands: check shapes first.
    broadcast_shape(name, a.shape, b.shape)
    return a, b


def relu(x: Tensor) -> Tensor:
    """Return max(x, 0) elementwise; the derivative at 0 is 0, as in PyTorch.

    Examples:
        >>> import mlplab
        >>> relu(mlplab.tensor([-1.0, 0.0, 2.0]))
        tensor([0., 0., 2.])
    """
    # One primitive (np.maximum forward, a 0/1 mask backward): where() with a random mask is
    # about 10x slower in NumPy. NaN goes through, as in PyTorch.
    return ops_relu(x)


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """Return x where x > 0, else ``negative_slope`` · x.

    Examples:
        >>> import mlplab
        >>> leaky_relu(mlplab.tensor([-10.0, 2.0]), negative_slope=0.1)
        tensor([-1.,  2.])
    """
    x = as_tensor(x)
    return where(x.data > 0, x, multiply(x, negative_slope))


def sigmoid(x: Tensor) -> Tensor:
    """Return 1 / (1 + e^(−x)), with e = e^(−|x|) ≤ 1: 1/(1 + e) for x ≥ 0, e/(1 + e) below.

    Neither branch overflows (so neither can send a NaN through ``where``'s gradient), and
    the small values far left keep full relative precision: ½(1 + tanh(x/2)) cancels to 0 for
    x < −37 and log σ(x) becomes −inf.

    Examples:
        >>> import mlplab, numpy as np
        >>> s = sigmoid(mlplab.tensor(np.array([-50.0, 0.0, 50.0])))
        >>> float(s.numpy()[0]), s.numpy()[1:].tolist()  # e^(−50) kept, not rounded to 0
        (1.9287498479639178e-22, [0.5, 1.0])
    """
    x = as_tensor(x)
    nonneg = x.data >= 0
    e = exp(where(nonneg, negative(x), x))
    return divide(where(nonneg, 1, e), e + 1)


def softplus(x: Tensor) -> Tensor:
    """Return log(1 + eˣ), computed as max(x, 0) + log1p(e^(−|x|)), which never overflows
    and keeps full relative precision far left (where log(1 + tiny) would round to 0).

    Examples:
        >>> import mlplab, numpy as np
        >>> softplus(mlplab.tensor(np.array([-800.0, 0.0, 800.0]))).numpy().round(6).tolist()
        [0.0, 0.693147, 800.0]
    """
    x = as_tensor(x)
    # relu and −|x| must split at the same point (x > 0): with relu'(0) = 0 the −|x| branch
    # taken at 0 must be x itself, or softplus'(0) comes out −½ instead of ½.
    positive = x.data > 0
    return where(positive, x, 0) + log1p(exp(where(positive, negative(x), x)))


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """Return x·Φ(x): exactly ½x(1 + erf(x/√2)), or with ``approximate="tanh"``
    ½x(1 + tanh(√(2/π)(x + 0.044715x³))) — PyTorch's two forms.

    Examples:
        >>> import mlplab, numpy as np
        >>> x = mlplab.tensor(np.array([-1.0, 0.0, 1.0]))
        >>> gelu(x).numpy().round(4), gelu(x, approximate="tanh").numpy().round(4)
        (array([-0.1587,  0.    ,  0.8413]), array([-0.1588,  0.    ,  0.8412]))
    """
    x = as_tensor(x)
    if approximate == "none":
        return multiply(multiply(x, 0.5), erf(multiply(x, 1 / math.sqrt(2.0))) + 1)
    if approximate == "tanh":
        inner = multiply(x + multiply(power(x, 3), 0.044715), math.sqrt(2 / math.pi))
        return multiply(multiply(x, 0.5), tanh(inner) + 1)
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


@dim_aliases
def logsumexp(x: Tensor, axis: Any = -1, keepdims: bool = False) -> Tensor:
    """Return log Σ exp(x) over ``axis``, shifted by the maximum m so nothing overflows:
    m + log Σ exp(x − m). The shift is a constant: its gradient would cancel exactly.

    Examples:
        >>> import mlplab, numpy as np
        >>> x = mlplab.tensor(np.array([1000.0, 1000.0]), requires_grad=True)
        >>> y = logsumexp(x, axis=0)
        >>> y.backward()
        >>> round(y.item(), 6), x.grad.numpy().tolist()  # 1000 + log 2; the softmax
        (1000.693147, [0.5, 0.5])
    """
    x = as_tensor(x)
    axes = _normalize_axes("logsumexp", axis, x.ndim)
    m = x.data.max(axis=axes, keepdims=True)
    m = np.where(np.isfinite(m), m, 0).astype(x.dtype, copy=False)
    shift = Tensor._make(m)
    out = log(sum_(exp(subtract(x, shift)), axis=axes, keepdims=True)) + shift
    return (
        out if keepdims else reshape(out, tuple(n for i, n in enumerate(x.shape) if i not in axes))
    )


@dim_aliases
def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    """Return x − logsumexp(x) along ``axis``: log-probabilities, finite for any finite x.

    Examples:
        >>> import mlplab
        >>> log_softmax(mlplab.tensor([0.0, 1000.0])).numpy()  # no overflow
        array([-1000.,     0.], dtype=float32)
    """
    return subtract(x, logsumexp(x, axis=axis, keepdims=True))


@dim_aliases
def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """Return exp(x) / Σ exp(x) along ``axis``, as exp(log_softmax(x)).

    Examples:
        >>> import mlplab, numpy as np
        >>> softmax(mlplab.tensor(np.log([1.0, 3.0]))).numpy().round(6)
        array([0.25, 0.75])
    """
    return exp(log_softmax(x, axis=axis))


def _reduce(name: str, losses: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return mean(losses)
    if reduction == "sum":
        return sum_(losses)
    if reduction == "none":
        return losses
    raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _plain_batch(h: Any, y: Any, reduction: Any, ignore_index: int, smoothing: Any) -> bool:
    """Tell whether ``cross_entropy`` is the training case: logits (m, k) with m ≥ 1, integer
    labels (m,) all in [0, k) and none ``ignore_index``, no smoothing, mean or sum — checked
    with two reductions where the general path's checks take eight array operations."""
    if reduction not in ("mean", "sum") or smoothing != 0.0 or isinstance(smoothing, bool):
        return False
    if h.ndim != 2 or y.ndim != 1 or y.shape[0] != h.shape[0] or not y.shape[0]:
        return False
    if y.dtype.kind not in "iu":
        return False
    k = h.shape[1]
    if np.minimum.reduce(y) < 0 or np.maximum.reduce(y) >= k:
        return False
    return not (0 <= ignore_index < k and (y == ignore_index).any())


def cross_entropy(
    logits: Tensor,
    labels: Any,
    reduction: str = "mean",
    *,
    weight: Any = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
) -> Tensor:
    """Return the softmax cross-entropy ℓ(h, y) = −log softmax(h)_y = logsumexp(h) − h_y.

    With PyTorch's options, for row n with label yₙ, log-probabilities log pₙ = log_softmax(hₙ),
    class weights w (ones by default) and smoothing ε over k classes:

        ℓₙ = (1 − ε)·w_{yₙ}·(−log pₙ,yₙ) + (ε/k)·Σ_c w_c·(−log pₙ,c),

    rows whose label is ``ignore_index`` give 0 and count for nothing; "mean" divides Σₙ ℓₙ by
    Σₙ w_{yₙ} over the other rows (the number of rows without weights), exactly as
    ``torch.nn.functional.cross_entropy``.

    Args:
        logits: (m, k) scores (or (k,) for one example).
        labels: (m,) integer class indices in [0, k) (or ``ignore_index``).
        reduction: "mean" over the batch, "sum", or "none" for the (m,) losses.
        weight: (k,) class weights, a constant (not differentiated); None: all 1.
        ignore_index: a label value whose rows are left out (PyTorch's default −100).
        label_smoothing: ε in [0, 1]: the target is (1 − ε)·onehot(y) + ε/k.

    Raises:
        ValueError: for labels that are not integers, of the wrong shape or out of range, a
            weight not of shape (k,), ε outside [0, 1], or an unknown reduction.

    Examples:
        >>> import mlplab
        >>> cross_entropy(mlplab.tensor([[0.0, 0.0]]), mlplab.tensor([1]))
        tensor(0.6931472)
        >>> h, y = mlplab.tensor([[2.0, 0.0], [0.0, 2.0]]), mlplab.tensor([0, 0])
        >>> round(cross_entropy(h, y, weight=[1.0, 3.0], label_smoothing=0.1).item(), 5)
        1.23962
    """
    logits = as_tensor(logits)
    y = labels.data if isinstance(labels, Tensor) else np.asarray(labels)
    if weight is None and _plain_batch(logits.data, y, reduction, ignore_index, label_smoothing):
        # The training case as one node: a handful of array operations instead of a dozen nodes.
        return softmax_cross_entropy(logits, y, 1.0 / y.shape[0] if reduction == "mean" else 1.0)
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(
            f"cross_entropy: reduction must be 'mean', 'sum' or 'none', got {reduction!r}"
            + ("; pass class weights as weight=..." if not isinstance(reduction, str) else "")
        )
    if y.dtype.kind not in "iu":
        raise ValueError(f"cross_entropy: labels must be integers, got dtype {y.dtype}")
    if logits.ndim not in (1, 2) or y.shape != logits.shape[:-1]:
        raise ValueError(
            "cross_entropy: expected logits (m, k) and labels (m,), "
            f"got {logits.shape} and {y.shape}"
        )
    k = logits.shape[-1]
    ignored = y == ignore_index
    bad = ~ignored & ((y < 0) | (y >= k))
    if bad.any():
        counted = y[~ignored]
        raise ValueError(
            f"cross_entropy: labels must be in [0, {k}), got [{counted.min()}, {counted.max()}] "
            f"(rows labelled ignore_index={ignore_index} are left out)"
        )
    if isinstance(label_smoothing, bool) or not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    w = None
    if weight is not None:
        w = np.asarray(weight.data if isinstance(weight, Tensor) else weight, logits.dtype)
        if w.shape != (k,):
            raise ValueError(f"cross_entropy: weight must have shape ({k},), got {w.shape}")
    one_row = logits.ndim == 1
    log_p = log_softmax(reshape(logits, (1, k)) if one_row else logits, axis=-1)
    rows = np.arange(log_p.shape[0])
    target = np.where(ignored, 0, y).reshape(-1)
    kept = (~ignored).reshape(-1).astype(logits.dtype)
    # Each row's weight w_{yₙ}, 0 for an ignored row: constants, like the labels.
    w_y = kept if w is None else w[target] * kept
    losses = multiply(negative(log_p[rows, target]), Tensor._make(w_y))
    if label_smoothing:
        per_class = log_p if w is None else multiply(log_p, Tensor._make(w))
        smooth = multiply(negative(sum_(per_class, axis=1)), Tensor._make(kept))
        losses = multiply(losses, 1.0 - label_smoothing) + multiply(smooth, label_smoothing / k)
    if reduction == "sum":
        return sum_(losses)
    if reduction == "mean":
        return divide(sum_(losses), Tensor._make(np.asarray(w_y.sum(), logits.dtype)))
    return reshape(losses, ()) if one_row else losses


def mse_loss(prediction: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Return the squared error (ŷ − y)², averaged (or summed) over every element.

    Raises:
        ValueError: when the shapes differ (a silent broadcast here is a classic bug).

    Examples:
        >>> import mlplab
        >>> mse_loss(mlplab.tensor([1.0, 2.0]), mlplab.tensor([0.0, 4.0]))
        tensor(2.5)
    """
    prediction = as_tensor(prediction)
    target = as_tensor(target, like=prediction)
    if prediction.shape != target.shape:
        raise ValueError(
            f"mse_loss: prediction and target shapes differ: {prediction.shape} and {target.shape}"
        )
    error = subtract(prediction, target)
    return _reduce("mse_loss", multiply(error, error), reduction)


for _name, _method in {
    "mean": mean,
    "var": var,
    "sqrt": sqrt,
    "abs": abs,
    "__abs__": abs,
    "relu": relu,
    "sigmoid": sigmoid,
    "softmax": softmax,
    "log_softmax": log_softmax,
    "logsumexp": logsumexp,
}.items():
    setattr(Tensor, _name, _method)

# Normalization and dropout live beside their modules in mlplab.nn (one concept per file);
# they are re-exported here so the functional API is complete (F.batch_norm, F.dropout).
from .nn.dropout import dropout  # noqa: E402
from .nn.norm import batch_norm, layer_norm  # noqa: E402

__all__ += ["batch_norm", "layer_norm", "dropout"]
