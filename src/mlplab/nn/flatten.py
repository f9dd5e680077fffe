"""Flatten: merge dimensions, e.g. a batch of 28×28 images into rows of 784 pixels."""

from __future__ import annotations

from typing import Any

from .. import ops
from ..tensor import Tensor
from .module import Module

__all__ = ["Flatten"]


class Flatten(Module):
    """Merge the dimensions ``start_dim`` … ``end_dim`` into one (a reshape: no copy).

    Args:
        start_dim: first dimension to merge (default 1: keep the batch dimension).
        end_dim: last dimension to merge (default −1).

    Examples:
        >>> import numpy as np, mlplab
        >>> Flatten()(mlplab.tensor(np.zeros((32, 28, 28), np.float32))).shape
        (32, 784)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = int(start_dim)
        self.end_dim = int(end_dim)

    def forward(self, x: Any) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        n = x.ndim
        start = self.start_dim + n if self.start_dim < 0 else self.start_dim
        end = self.end_dim + n if self.end_dim < 0 else self.end_dim
        if not 0 <= start <= end < n:
            raise ValueError(
                f"Flatten: dims {self.start_dim}..{self.end_dim} are not valid for an input "
                f"of shape {x.shape}"
            )
        merged = 1
        for size in x.shape[start : end + 1]:
            merged *= size
        return ops.reshape(x, x.shape[:start] + (merged,) + x.shape[end + 1 :])

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
