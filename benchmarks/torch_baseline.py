"""The PyTorch (CPU) baseline: the same ReLU MLP, loss and optimizers, as PyTorch users write them.

``torch.nn.Linear`` stores its weight (out, in), the transpose of mlplab's (in, out); the weights
are copied in transposed so all libraries start from the same numbers. The optimizers are
``torch.optim.SGD(momentum=μ)`` and ``torch.optim.Adam`` with their defaults otherwise (on the
CPU that is the single-tensor loop, PyTorch's default there), and the step is the usual
``zero_grad(); loss = F.cross_entropy(model(x), y); loss.backward(); step()``.

Importing this module imports torch: callers check for it first (it is optional).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

__all__ = ["make_torch_step", "torch_mlp"]


def torch_mlp(
    weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], bn: bool = False
) -> torch.nn.Sequential:
    """Build ``Linear, ReLU, …, Linear`` with the given (in, out) weights and biases
    (``Linear, BatchNorm1d, ReLU, …`` with ``bn``)."""
    layers: list[torch.nn.Module] = []
    for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
        linear = torch.nn.Linear(w.shape[0], w.shape[1])
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(w.T)))
            linear.bias.copy_(torch.from_numpy(b))
        layers.append(linear)
        if i < len(weights) - 1:
            if bn:
                layers.append(torch.nn.BatchNorm1d(w.shape[1]))
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def make_torch_step(
    weights: Sequence[np.ndarray],
    biases: Sequence[np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    optimizer: str,
    lr: float,
    momentum: float = 0.9,
    bn: bool = False,
) -> tuple[Callable[[], float], torch.nn.Sequential]:
    """Return ``step() -> loss`` (one training step on the fixed batch) and the model."""
    model = torch_mlp(weights, biases, bn)
    if optimizer == "sgd":
        opt: torch.optim.Optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=lr)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    cross_entropy = torch.nn.functional.cross_entropy

    def step() -> float:
        opt.zero_grad()
        loss = cross_entropy(model(tx), ty)
        loss.backward()
        opt.step()
        return float(loss.detach())

    return step, model
