"""MLP: the lecture's L-layer fully connected network.

    Z₁ = X,   Zᵢ₊₁ = σ(Zᵢ Wᵢ + 1 bᵢᵀ)  for i = 1 … L−1,   h_θ(X) = Z_L W_L + 1 b_Lᵀ

with ``Wᵢ ∈ R^{nᵢ×nᵢ₊₁}`` stored (in, out). ``depth`` is L, the number of Linear layers: depth 1
is softmax regression, the lecture's deep network is depth 50 with width 100.

The tools of the lecture's fourth question (keeping a deep network trainable) fit inside each
hidden layer, in this order (Linear keeping its bias → norm → activation → dropout):

    Hᵢ = D(σ(N(Zᵢ Wᵢ + 1 bᵢᵀ))),   Zᵢ₊₁ = Hᵢ + Zᵢ  (residual, where nᵢ = nᵢ₊₁)  or  Zᵢ₊₁ = Hᵢ

with N a BatchNorm1d or LayerNorm of the layer's width (or nothing) and D dropout (or nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..ops import add
from ..tensor import Tensor
from .activation import ReLU, get_activation
from .container import ModuleList, _bare
from .dropout import Dropout
from .linear import InitSpec, Linear, as_generator
from .module import Module
from .norm import BatchNorm1d, LayerNorm

#: ``norm=`` name -> the module class normalizing a hidden layer of width n.
NORMS = {"batch": BatchNorm1d, "layer": LayerNorm}

__all__ = ["MLP"]


def _positive_int(value: Any, where: str) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{where} must be a positive int, got {value!r}")
    return int(value)


def hidden_sizes(width: int | Sequence[int] | None, depth: int | None) -> list[int]:
    """Return the L − 1 hidden sizes n₂ … n_L from ``width`` and ``depth``.

    Examples:
        >>> hidden_sizes(100, 3), hidden_sizes([64, 32], None), hidden_sizes(None, 1)
        ([100, 100], [64, 32], [])
    """
    if isinstance(width, (list, tuple)):
        sizes = [_positive_int(w, f"MLP: width[{i}]") for i, w in enumerate(width)]
        if depth is not None and depth != len(sizes) + 1:
            raise ValueError(
                f"MLP: width lists {len(sizes)} hidden sizes, so depth must be {len(sizes) + 1} "
                f"(or omitted), got {depth!r}"
            )
        return sizes
    if depth is None:
        raise ValueError("MLP: depth (the number of Linear layers) is required with an int width")
    depth = _positive_int(depth, "MLP: depth")
    if depth == 1:
        return []
    if width is None:
        raise ValueError(f"MLP: depth {depth} needs a width (an int or a list of hidden sizes)")
    return [_positive_int(width, "MLP: width")] * (depth - 1)


class MLP(Module):
    """A fully connected network of ``depth`` Linear layers with an activation between them.

    Args:
        in_features: n₁, the input size (784 for MNIST).
        out_features: the output size (10 logits for MNIST).
        width: the hidden size, an int (every hidden layer) or a list of hidden sizes
            (then ``depth`` must be ``len(width) + 1`` or omitted). Not needed for depth 1.
        depth: L, the number of Linear layers (1 = softmax regression).
        activation: σ between layers: ``"relu"`` (default), ``"leaky_relu"``, ``"tanh"``,
            ``"sigmoid"``, ``"gelu"``, ``"identity"``, or a Module.
        output_activation: applied after the last layer; None (default) gives logits.
        init: weight initializer for every layer: a name for ``mlplab.init.from_name``
            (``"kaiming_normal"``, the default: N(0, 2/n), the lecture's choice for ReLU;
            ``"kaiming_uniform"``, ``"xavier_normal"``, ``"xavier_uniform"``, ``"zeros"``,
            ``"normal:2/n"`` ...), a callable ``fn(shape, rng, dtype=...)``, or None for
            PyTorch's Linear default (weights and biases U(−1/√n, 1/√n)).
        bias_init: bias initializer; None (default) means zeros when ``init`` is given,
            PyTorch's default when ``init`` is None.
        bias: give every layer a bias.
        rng: a ``numpy.random.Generator``, an int seed, or None for the library's default
            generator (reproducible after ``mlplab.manual_seed``).
            Layers draw from it in order (W₁, b₁, W₂, …), so a seed reproduces the network.
        dtype: floating dtype of the parameters; None means float32.
        norm: None, ``"batch"`` (BatchNorm1d) or ``"layer"`` (LayerNorm) after every hidden
            Linear layer, before the activation.
        dropout: p of the dropout after every hidden activation (0 = none). Its generator is
            drawn from ``rng`` after the weights (so a seed reproduces the masks too); with
            ``rng=None`` the masks come from the library's generator.
        residual: add each hidden layer's input to its output where the widths are equal
            (nᵢ = nᵢ₊₁): Zᵢ₊₁ = Hᵢ + Zᵢ. The first layer (784 → width) and the output layer
            never are.

    Attributes:
        layers: the ModuleList of Linear layers, first to last (for diagnostics to walk).
        norms: the ModuleList of the L − 1 norm layers (only with ``norm``).

    Examples:
        >>> import numpy as np, mlplab
        >>> model = MLP(784, 10, width=100, depth=3, rng=0)
        >>> [layer.weight.shape for layer in model.layers]
        [(784, 100), (100, 100), (100, 10)]
        >>> model(mlplab.tensor(np.zeros((2, 784), np.float32))).shape
        (2, 10)
        >>> deep = MLP(784, 10, width=100, depth=4, norm="batch", dropout=0.1, residual=True, rng=0)
        >>> len(deep.norms), deep.dropout
        (3, Dropout(p=0.1))
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        width: int | Sequence[int] | None = None,
        depth: int | None = None,
        activation: str | Module | None = "relu",
        output_activation: str | Module | None = None,
        init: InitSpec | None = "kaiming_normal",
        bias_init: InitSpec | None = None,
        bias: bool = True,
        rng: Any = None,
        dtype: Any = None,
        norm: str | None = None,
        dropout: float = 0.0,
        residual: bool = False,
    ) -> None:
        super().__init__()
        if norm is not None and norm not in NORMS:
            raise ValueError(f"MLP: norm must be None, 'batch' or 'layer', got {norm!r}")
        if not isinstance(residual, bool):
            raise TypeError(f"MLP: residual must be a bool, got {residual!r}")
        sizes = [
            _positive_int(in_features, "MLP: in_features"),
            *hidden_sizes(width, depth),
            _positive_int(out_features, "MLP: out_features"),
        ]
        generator = as_generator(rng, "MLP")
        self.layers = ModuleList(
            Linear(n_in, n_out, bias, init, bias_init, generator, dtype)
            for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)
        )
        self.activation = get_activation(activation, "MLP")
        self.output_activation = get_activation(output_activation, "MLP")
        self.norm, self.residual = norm, residual
        if norm is not None:
            self.norms = ModuleList(NORMS[norm](n, dtype=dtype) for n in sizes[1:-1])
        dropout_rng = None if rng is None else np.random.default_rng(generator.integers(2**63))
        self.dropout = Dropout(dropout, dropout_rng) if dropout else None
        self._residual = [residual and a == b for a, b in zip(sizes[:-2], sizes[1:-1], strict=True)]

    @property
    def sizes(self) -> list[int]:
        """[n₁, n₂, …, n_{L+1}]: the input size, the hidden sizes and the output size."""
        layers = list(self.layers)
        return [layers[0].in_features] + [layer.out_features for layer in layers]

    @property
    def depth(self) -> int:
        """L, the number of Linear layers."""
        return len(self.layers)

    def forward(self, x: Any) -> Tensor:
        """Return h_θ(x): Zᵢ₊₁ = D(σ(N(Zᵢ Wᵢ + 1 bᵢᵀ))) (+ Zᵢ) through every layer.

        Shapes:
            x (m, in_features) → (m, out_features).
        """
        z = x
        modules = self._modules  # the registry, not __getattr__: read once per layer otherwise
        layers, activation = modules["layers"], modules["activation"]
        last = len(layers) - 1  # type: ignore[arg-type]
        fuse = self.norm is None and _bare(activation, ReLU)  # type: ignore[arg-type]
        for i, layer in enumerate(layers):  # type: ignore[arg-type, var-annotated]
            if i == last:
                return modules["output_activation"](layer(z))  # type: ignore[misc, no-any-return]
            if fuse and _bare(layer, Linear):
                # Linear + ReLU as one node, bit-identical to the two (no hooks to see between)
                h = layer.forward_relu(z)
            else:
                h = layer(z)
                if self.norm is not None:
                    h = self.norms[i](h)
                h = activation(h)  # type: ignore[misc]
            if self.dropout is not None:
                h = self.dropout(h)
            z = add(h, z) if self._residual[i] else h
        raise AssertionError("an MLP has at least one layer")
