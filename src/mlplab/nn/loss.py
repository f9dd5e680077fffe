"""Loss modules: cross-entropy on integer labels (classification) and squared error.

Both delegate to :mod:`mlplab.functional`, whose cross-entropy is computed as
``logsumexp(h) − h_y`` (shifted by the row maximum), so it stays finite for logits of ±1e4.
"""

from __future__ import annotations

from typing import Any

from .. import functional as F
from ..tensor import Tensor
from .module import Module

__all__ = ["CrossEntropyLoss", "MSELoss"]

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(where: str, reduction: str) -> str:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{where}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    return reduction


class CrossEntropyLoss(Module):
    """Softmax cross-entropy ℓ(h, y) = −log softmax(h)_y = log Σ_j exp(h_j) − h_y.

    Args:
        reduction: "mean" over the batch (default), "sum", or "none" for the (m,) losses.

    Shapes:
        logits (m, k) or (k,); labels (m,) or () integers in [0, k).

    Raises:
        ValueError: for labels that are not integers, have the wrong shape, or lie outside
            [0, k) (the message names the shapes or the range).

    Examples:
        >>> import numpy as np, mlplab
        >>> loss = CrossEntropyLoss()(mlplab.tensor([[0.0, 0.0], [1e4, -1e4]]), np.array([1, 0]))
        >>> round(loss.item(), 6)
        0.346574
    """

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = _check_reduction("CrossEntropyLoss", reduction)

    def forward(self, logits: Tensor, labels: Any) -> Tensor:
        return F.cross_entropy(logits, labels, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class MSELoss(Module):
    """Squared error (ŷ − y)², averaged ("mean", default) or summed over every element.

    Shapes:
        prediction and target must have the same shape (no silent broadcasting).

    Examples:
        >>> import mlplab
        >>> MSELoss()(mlplab.tensor([1.0, 3.0]), mlplab.tensor([0.0, 0.0])).item()
        5.0
    """

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = _check_reduction("MSELoss", reduction)

    def forward(self, prediction: Tensor, target: Any) -> Tensor:
        return F.mse_loss(prediction, target, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"
