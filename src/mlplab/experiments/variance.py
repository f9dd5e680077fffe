"""The variance argument behind the initialization study, shown empirically.

For independent x ~ N(0, I_n) and w ~ N(0, σ²I):  E[wᵀx] = 0 and

    Var(wᵀx) = Σᵢ Var(wᵢ)·E[xᵢ²] = σ² n E[x²],

so σ² = 1/n gives Var(wᵀx) = 1 with linear units (E[x²] = 1). After a ReLU half of the inputs are
zero: E[relu(z)²] = Var(z)/2, hence Var(wᵀx) = σ²n/2, and σ² = 2/n (Kaiming) keeps it at 1.
Through a stack of layers the second moment is multiplied by σ²n (linear) or σ²n/2 (ReLU) per
layer: flat for those choices, vanishing or exploding geometrically for any other.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..diagnostics import activation_norms
from ..nn import MLP

__all__ = ["dot_product_variance", "depth_second_moments", "run_variance"]


def dot_product_variance(
    n: int, sigma2: float, activation: str, samples: int, rng: np.random.Generator
) -> float:
    """Return the sample variance of wᵀx over ``samples`` independent draws.

    x = z (``"linear"``) or relu(z) (``"relu"``) with z ~ N(0, I_n); w ~ N(0, σ²I_n).

    Examples:
        >>> v = dot_product_variance(100, 1 / 100, "linear", 20000, np.random.default_rng(0))
        >>> bool(abs(v - 1) < 0.05)
        True
    """
    if activation not in ("linear", "relu"):
        raise ValueError(
            f"dot_product_variance: activation must be linear or relu, got {activation!r}"
        )
    z = rng.standard_normal((samples, n))
    x = np.maximum(z, 0.0) if activation == "relu" else z
    w = rng.standard_normal((samples, n)) * np.sqrt(sigma2)
    return float(np.einsum("ij,ij->i", w, x).var())


def depth_second_moments(
    width: int, depth: int, k: float, activation: str, batch: int, seed: int
) -> list[float]:
    """Mean square of each layer's output, E[z²], through an mlplab MLP with W ~ N(0, k/n).

    The network has ``depth`` bias-free Linear layers of ``width`` units, the activation after
    every one of them (so each layer multiplies E[z²] by the same factor), fed x ~ N(0, I).

    Returns:
        ``depth`` floats, entry i the mean square of the output of layer i + 1.

    Examples:
        >>> moments = depth_second_moments(100, 10, 2.0, "relu", 256, 0)  # Kaiming: σ²n/2 = 1
        >>> len(moments), bool(0.5 < moments[-1] < 2)
        (10, True)
    """
    act = "identity" if activation == "linear" else activation
    model = MLP(
        width, width, width=width, depth=depth, activation=act, output_activation=act,
        init=f"normal:{k}/n", bias=False, rng=seed, dtype=np.float64,
    )  # fmt: skip
    x = np.random.default_rng(seed + 1).standard_normal((batch, width))
    return [v**2 / (batch * width) for v in activation_norms(model, x)]


def run_variance(
    n: int = 100, samples: int = 20000, depth: int = 50, batch: int = 256, seed: int = 0
) -> dict[str, Any]:
    """Measure Var(wᵀx) for σ² ∈ {1/n, 2/n} × {linear, relu} and E[z²] through ``depth`` layers.

    Returns:
        ``{"n", "dot_product": [{"activation", "sigma2", "measured", "theory"}, ...],
        "depth": [{"activation", "sigma2", "second_moment": [per layer], "factor_theory",
        "factor_measured"}, ...]}`` with factor = the per-layer multiplier of E[z²] (the
        geometric mean over the layers for the measurement).

    Examples:
        >>> result = run_variance(n=50, samples=4000, depth=5, batch=64)
        >>> [(d["activation"], d["sigma2"], d["theory"]) for d in result["dot_product"]]
        [('linear', '1/n', 1.0), ('linear', '2/n', 2.0), ('relu', '1/n', 0.5), ('relu', '2/n', 1.0)]
    """
    rng = np.random.default_rng(seed)
    dot = []
    for activation in ("linear", "relu"):
        for k in (1.0, 2.0):
            measured = dot_product_variance(n, k / n, activation, samples, rng)
            theory = k if activation == "linear" else k / 2
            dot.append({"activation": activation, "sigma2": f"{k:g}/n", "measured": measured,
                        "theory": theory})  # fmt: skip
    deep = []
    for activation, k in (("linear", 1.0), ("relu", 1.0), ("relu", 2.0)):
        moments = depth_second_moments(n, depth, k, activation, batch, seed)
        input_moment = 1.0  # x ~ N(0, I)
        factor = (moments[-1] / input_moment) ** (1 / depth)
        deep.append({
            "activation": activation, "sigma2": f"{k:g}/n", "second_moment": moments,
            "factor_theory": k if activation == "linear" else k / 2, "factor_measured": factor,
        })  # fmt: skip
    return {"n": n, "samples": samples, "dot_product": dot, "depth": deep}
