"""Loss modules: cross-entropy on integer labels (classification) and squared error.

Both delegate to :mod:`mlplab.functional`, whose cross-entropy is computed as
``logsumexp(h) − h_y`` (shifted by the row maximum), so it stays finite for logits of ±1e4.
"""

from __future__ import annotations

from typing import Any

import numpy as np

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

    With PyTorch's options (see :func:`mlplab.functional.cross_entropy` for the formula):
    class weights w, label smoothing ε (the target becomes (1 − ε)·onehot(y) + ε/k), and an
    ``ignore_index`` whose rows count for nothing; "mean" divides by Σₙ w_{yₙ}.

    Args:
        reduction: "mean" over the batch (default), "sum", or "none" for the (m,) losses.
        weight: (k,) class weights (a constant); None: all 1.
        ignore_index: a label value whose rows are left out (default −100, as in PyTorch).
        label_smoothing: ε in [0, 1] (default 0).

    Shapes:
        logits (m, k) or (k,); labels (m,) or () integers in [0, k).

    Raises:
        ValueError: for an unknown reduction, ε outside [0, 1] or a weight that is not 1-D
            (here); for labels that are not integers, have the wrong shape, or lie outside
            [0, k) (in the forward pass; the message names the shapes or the label).

    Examples:
        >>> import numpy as np, mlplab
        >>> loss = CrossEntropyLoss()(mlplab.tensor([[0.0, 0.0], [1e4, -1e4]]), np.array([1, 0]))
        >>> round(loss.item(), 6)
        0.346574
        >>> CrossEntropyLoss(label_smoothing=0.1, weight=[1.0, 2.0])
        CrossEntropyLoss(reduction='mean', weight=[1.0, 2.0], label_smoothing=0.1)
    """

    def __init__(
        self,
        reduction: str = "mean",
        *,
        weight: Any = None,
        ignore_index: int = -100,
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__()
        if not isinstance(reduction, str):
            raise ValueError(
                "CrossEntropyLoss: reduction must be 'mean', 'sum' or 'none', got "
                f"{type(reduction).__name__}; pass class weights as weight=..."
            )
        self.reduction = _check_reduction("CrossEntropyLoss", reduction)
        if isinstance(label_smoothing, bool) or not (
            isinstance(label_smoothing, (int, float, np.floating)) and 0 <= label_smoothing <= 1
        ):
            raise ValueError(
                f"CrossEntropyLoss: label_smoothing must be in [0, 1], got {label_smoothing!r}"
            )
        if isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer)):
            raise TypeError(f"CrossEntropyLoss: ignore_index must be an int, got {ignore_index!r}")
        self.weight = None
        if weight is not None:
            w = np.array(weight.data if isinstance(weight, Tensor) else weight, dtype=np.float64)
            if w.ndim != 1 or not np.isfinite(w).all():
                raise ValueError(
                    f"CrossEntropyLoss: weight must be a 1-D array of finite numbers, got {w!r}"
                )
            self.weight = w
        self.ignore_index = int(ignore_index)
        self.label_smoothing = float(label_smoothing)

    def forward(self, logits: Tensor, labels: Any) -> Tensor:
        return F.cross_entropy(
            logits,
            labels,
            reduction=self.reduction,
            weight=self.weight,
            ignore_index=self.ignore_index,
            label_smoothing=self.label_smoothing,
        )

    def extra_repr(self) -> str:
        parts = [f"reduction={self.reduction!r}"]
        if self.weight is not None:
            parts.append(f"weight={self.weight.tolist()}")
        if self.ignore_index != -100:
            parts.append(f"ignore_index={self.ignore_index}")
        if self.label_smoothing:
            parts.append(f"label_smoothing={self.label_smoothing}")
        return ", ".join(parts)


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
