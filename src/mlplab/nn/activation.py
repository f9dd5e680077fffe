"""Activation modules σ: thin Module wrappers of the functional forms in :mod:`mlplab.functional`.

They hold no parameters; being Modules lets them sit in a ``Sequential`` and carry hooks.
"""

from __future__ import annotations

from typing import Any

from .. import functional as F
from ..tensor import Tensor
from .module import Module

__all__ = ["ReLU", "LeakyReLU", "Tanh", "Sigmoid", "GELU", "Identity", "get_activation"]


class ReLU(Module):
    """σ(x) = max(x, 0), with derivative 0 at 0 (as in PyTorch).

    Examples:
        >>> import mlplab
        >>> ReLU()(mlplab.tensor([-1.0, 2.0])).numpy()
        array([0., 2.], dtype=float32)
    """

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x)


class LeakyReLU(Module):
    """σ(x) = x for x > 0, else a·x with a = ``negative_slope``.

    Examples:
        >>> import mlplab
        >>> LeakyReLU(0.1)(mlplab.tensor([-1.0, 2.0])).numpy()
        array([-0.1,  2. ], dtype=float32)
    """

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        if not isinstance(negative_slope, (int, float)) or isinstance(negative_slope, bool):
            raise TypeError(f"LeakyReLU: negative_slope must be a number, got {negative_slope!r}")
        self.negative_slope = float(negative_slope)

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Tanh(Module):
    """σ(x) = tanh(x).

    Examples:
        >>> import mlplab
        >>> Tanh()(mlplab.tensor([0.0])).numpy()
        array([0.], dtype=float32)
    """

    def forward(self, x: Tensor) -> Tensor:
        return F.tanh(x)


class Sigmoid(Module):
    """σ(x) = 1 / (1 + e^(−x)).

    Examples:
        >>> import mlplab
        >>> Sigmoid()(mlplab.tensor([0.0])).numpy()
        array([0.5], dtype=float32)
    """

    def forward(self, x: Tensor) -> Tensor:
        return F.sigmoid(x)


class GELU(Module):
    """σ(x) = x·Φ(x) = ½x(1 + erf(x/√2)); ``approximate="tanh"`` uses
    ½x(1 + tanh(√(2/π)(x + 0.044715x³))). Both as in PyTorch.

    Examples:
        >>> import mlplab
        >>> GELU()(mlplab.tensor([0.0])).numpy()
        array([0.], dtype=float32)
    """

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(x, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Identity(Module):
    """σ(x) = x: the output layer's activation when the network returns logits.

    Examples:
        >>> Identity()(3)
        3
    """

    def forward(self, x: Any) -> Any:
        return x


_BY_NAME: dict[str, type[Module]] = {
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "tanh": Tanh,
    "sigmoid": Sigmoid,
    "gelu": GELU,
    "identity": Identity,
    "linear": Identity,
}


def get_activation(spec: str | Module | None, where: str) -> Module:
    """Return an activation Module from a name (``"relu"``, ``"tanh"``, ``"sigmoid"``,
    ``"gelu"``, ``"leaky_relu"``, ``"identity"``/``"linear"``), a Module, or None (identity).

    Examples:
        >>> get_activation("tanh", "MLP")
        Tanh()
    """
    if spec is None:
        return Identity()
    if isinstance(spec, Module):
        return spec
    if isinstance(spec, str) and spec.lower() in _BY_NAME:
        return _BY_NAME[spec.lower()]()
    raise ValueError(
        f"{where}: unknown activation {spec!r}, expected one of {sorted(_BY_NAME)}, "
        f"a Module or None"
    )
