"""Diagnostics: look inside a fully connected network without steering it.

For an L-layer network ``Zᵢ₊₁ = σ(Zᵢ Wᵢ + 1 bᵢᵀ)`` (Z₁ = X) the lecture watches three things:

- the forward signal: the norm ‖Zᵢ₊₁‖ of each layer's output after its activation;
- the backward signal: the norm of each weight gradient ∇_{Wᵢ} ℓ = Zᵢᵀ Gᵢ₊₁ (Gᵢ₊₁ the gradient of
  the loss with respect to the layer's pre-activation);
- how far training moved each weight from its start: ‖W_t − W₀‖ / ‖W₀‖.

All norms are Frobenius norms of whole matrices (a batch of m rows for activations). The layers
are found by walking the model for :class:`~mlplab.nn.Linear` modules in order (``model.layers``
for an MLP); the activations are observed with forward hooks: the input of Linear i+1 is the
output of layer i after its activation, and the model's output is the last one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .functional import cross_entropy
from .grad_mode import no_grad
from .nn import Linear, Module
from .tensor import Tensor
from .train import Callback, TrainState

__all__ = [
    "linear_layers",
    "activation_norms",
    "gradient_norms",
    "probe",
    "Probe",
    "WeightTracker",
    "DiagnosticsRecorder",
]


def linear_layers(model: Module) -> list[Linear]:
    """Return the Linear layers of ``model`` in forward order (``model.layers`` when it has one).

    Raises:
        ValueError: if the model has no Linear layer.

    Examples:
        >>> from mlplab.nn import MLP
        >>> [layer.weight.shape for layer in linear_layers(MLP(4, 2, width=3, depth=2, rng=0))]
        [(4, 3), (3, 2)]
    """
    layers = getattr(model, "layers", None)
    found = [m for m in layers if isinstance(m, Linear)] if layers is not None else []
    if not found:
        found = [m for m in model.modules() if isinstance(m, Linear)]
    if not found:
        raise ValueError(f"diagnostics: {type(model).__name__} has no Linear layer to observe")
    return found


def _norm(array: Any) -> float:
    return float(np.linalg.norm(np.asarray(array, dtype=np.float64)))


def activation_norms(model: Module, x: Any) -> list[float]:
    """Return ‖Zᵢ₊₁‖ for every layer i = 1 … L: the norm of its output after its activation.

    Runs one forward pass under ``no_grad``; the norms of layers 1 … L−1 are read as the inputs
    of the next Linear layer (hooks), the last one is the model's output.

    Args:
        model: a network built from Linear layers (an MLP).
        x: a batch (m, n₁).

    Returns:
        L floats, entry i the Frobenius norm of the (m, nᵢ₊₁) output of layer i + 1.

    Examples:
        >>> import numpy as np
        >>> from mlplab.nn import MLP
        >>> model = MLP(4, 2, width=3, depth=3, init="ones", activation="identity", rng=0)
        >>> norms = activation_norms(model, np.ones((1, 4), np.float32))
        >>> [round(v**2) for v in norms]  # ‖(4, 4, 4)‖², ‖(12, 12, 12)‖², ‖(36, 36)‖²
        [48, 432, 2592]
    """
    layers = linear_layers(model)
    seen: list[float] = []
    handles = [
        layer.register_forward_hook(lambda m, inputs, out: seen.append(_norm(inputs[0].data)))
        for layer in layers[1:]
    ]
    try:
        with no_grad():
            out = model(x if isinstance(x, Tensor) else Tensor(np.asarray(x)))
    finally:
        for handle in handles:
            handle.remove()
    return [*seen, _norm(out.data)]


def gradient_norms(model: Module) -> list[float]:
    """Return ‖∇_{Wᵢ} ℓ‖ for every layer (after ``backward``); 0.0 where a gradient is missing.

    Examples:
        >>> import numpy as np
        >>> from mlplab.nn import MLP
        >>> model = MLP(4, 2, width=3, depth=2, rng=0)
        >>> gradient_norms(model)  # no backward yet
        [0.0, 0.0]
        >>> model(np.ones((5, 4), np.float32)).sum().backward()
        >>> all(g > 0 for g in gradient_norms(model))
        True
    """
    return [
        0.0 if layer.weight.grad is None else _norm(layer.weight.grad.data)
        for layer in linear_layers(model)
    ]


@dataclass
class Probe:
    """One look at a network on one batch: the loss, the forward and the backward norms.

    Examples:
        >>> p = Probe(loss=2.3, activation_norm=[1.0, 0.5], gradient_norm=[0.1, 0.2])
        >>> len(p.activation_norm) == len(p.gradient_norm)  # one entry per Linear layer
        True
    """

    loss: float
    activation_norm: list[float]
    gradient_norm: list[float]


def probe(
    model: Module,
    x: Any,
    y: Any,
    loss: Callable[[Tensor, Tensor], Tensor] = cross_entropy,
) -> Probe:
    """Measure activation norms and weight-gradient norms of ``model`` on the batch (x, y).

    The model's gradients are zeroed, filled by one backward pass, and left in ``.grad``
    (zero them before training on). No parameter changes.

    Args:
        model: a network of Linear layers.
        x: inputs (m, n₁).
        y: targets (integer labels for the default cross-entropy).
        loss: ``loss(output, y)`` with mean reduction.

    Examples:
        >>> import numpy as np
        >>> from mlplab.nn import MLP
        >>> model = MLP(6, 3, width=5, depth=4, rng=0)
        >>> p = probe(model, np.ones((2, 6), np.float32), np.array([0, 2]))
        >>> len(p.activation_norm), len(p.gradient_norm)
        (4, 4)
    """
    x = x if isinstance(x, Tensor) else Tensor(np.asarray(x))
    y = y if isinstance(y, Tensor) else Tensor(np.asarray(y))
    forward = activation_norms(model, x)
    model.zero_grad()
    value = loss(model(x), y)
    value.backward()
    return Probe(float(value.item()), forward, gradient_norms(model))


class WeightTracker:
    """Remember every layer's W₀ and measure ‖W − W₀‖ / ‖W₀‖ per layer later.

    Where W₀ = 0 (zero initialization) the ratio is 0.0 if W never moved and ``inf`` otherwise.

    Examples:
        >>> from mlplab.nn import MLP
        >>> model = MLP(3, 2, width=4, depth=2, rng=0)
        >>> tracker = WeightTracker(model)
        >>> model.layers[0].weight.data *= 1.5
        >>> [round(r, 6) for r in tracker.relative_change()]
        [0.5, 0.0]
    """

    def __init__(self, model: Module) -> None:
        self.layers = linear_layers(model)
        self.initial = [layer.weight.data.copy() for layer in self.layers]

    def relative_change(self) -> list[float]:
        """Return ‖Wᵢ − Wᵢ,₀‖ / ‖Wᵢ,₀‖ for every layer, first to last.

        Examples:
            >>> from mlplab.nn import MLP
            >>> model = MLP(2, 2, width=3, depth=3, init="zeros")
            >>> tracker = WeightTracker(model)
            >>> model.layers[0].weight.data += 0.1  # W₀ = 0: any move is infinitely far
            >>> tracker.relative_change()
            [inf, 0.0, 0.0]
        """
        out = []
        for layer, w0 in zip(self.layers, self.initial, strict=True):
            moved, start = _norm(layer.weight.data - w0), _norm(w0)
            out.append(moved / start if start > 0 else (0.0 if moved == 0 else float("inf")))
        return out


class DiagnosticsRecorder(Callback):
    """A ``fit`` callback that records the weight-gradient norms and the distance from W₀.

    After each ``every``-th optimizer step it appends ``[step, gradient norms per layer]`` to
    :attr:`gradient_norms` (the gradients of that step's minibatch); after each epoch it appends
    ``[epoch, relative change per layer]`` to :attr:`weight_change`, and, when given a probe batch,
    ``[epoch, activation norms per layer]`` to :attr:`activation_norms`.

    Args:
        every: record gradients every this many steps (1 = every step).
        probe_x: optional fixed batch for the activation norms at the end of each epoch.

    Examples:
        >>> import numpy as np
        >>> from mlplab.nn import MLP
        >>> from mlplab.optim import GD
        >>> from mlplab.train import fit
        >>> from mlplab.data import ArrayDataset, DataLoader
        >>> data = ArrayDataset(np.eye(4, dtype=np.float32), np.array([0, 1, 0, 1]))
        >>> model = MLP(4, 2, width=3, depth=3, rng=0)
        >>> rec = DiagnosticsRecorder()
        >>> _ = fit(model, GD(model.parameters(), lr=0.1), DataLoader(data, 2), 2, callbacks=[rec])
        >>> len(rec.gradient_norms), len(rec.weight_change), len(rec.weight_change[-1][1])
        (4, 2, 3)
    """

    def __init__(self, every: int = 1, probe_x: Any = None) -> None:
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"DiagnosticsRecorder: every must be an int >= 1, got {every!r}")
        self.every = every
        self.probe_x = probe_x
        self.tracker: WeightTracker | None = None
        self.gradient_norms: list[list[Any]] = []
        self.weight_change: list[list[Any]] = []
        self.activation_norms: list[list[Any]] = []

    def on_train_begin(self, state: TrainState) -> None:
        """Remember W₀ of every layer; with a probe batch, record the norms at epoch 0.

        Examples:
            >>> import numpy as np
            >>> from mlplab.nn import MLP
            >>> from mlplab.train import History, TrainState
            >>> rec = DiagnosticsRecorder(probe_x=np.ones((2, 4), np.float32))
            >>> rec.on_train_begin(TrainState(MLP(4, 2, width=3, depth=3, rng=0), None, History()))
            >>> rec.activation_norms[0][0], len(rec.activation_norms[0][1])  # epoch 0, 3 layers
            (0, 3)
        """
        self.tracker = WeightTracker(state.model)
        if self.probe_x is not None:
            self.activation_norms.append([0, activation_norms(state.model, self.probe_x)])

    def on_step_end(self, state: TrainState) -> None:
        """Record ``[step, ‖∇Wᵢ‖ per layer]`` at steps 1, 1 + every, 1 + 2·every, …

        Examples:
            >>> import numpy as np
            >>> from mlplab.nn import MLP
            >>> from mlplab.train import History, TrainState
            >>> model = MLP(4, 2, width=3, depth=3, rng=0)
            >>> model(np.ones((2, 4), np.float32)).sum().backward()
            >>> rec, state = DiagnosticsRecorder(every=2), TrainState(model, None, History())
            >>> for state.step in range(1, 6):
            ...     rec.on_step_end(state)
            >>> [step for step, norms in rec.gradient_norms], len(rec.gradient_norms[0][1])
            ([1, 3, 5], 3)
        """
        if (state.step - 1) % self.every == 0:
            self.gradient_norms.append([state.step, gradient_norms(state.model)])

    def on_epoch_end(self, state: TrainState) -> None:
        """Record ``[epoch, ‖Wᵢ − Wᵢ,₀‖/‖Wᵢ,₀‖ per layer]`` (and the activation norms).

        Examples:
            >>> from mlplab.nn import MLP
            >>> from mlplab.train import History, TrainState
            >>> model = MLP(4, 2, width=3, depth=3, rng=0)
            >>> rec, state = DiagnosticsRecorder(), TrainState(model, None, History(), epoch=1)
            >>> rec.on_train_begin(state)
            >>> model.layers[-1].weight.data *= 1.25
            >>> rec.on_epoch_end(state)
            >>> [round(r, 6) for r in rec.weight_change[0][1]]
            [0.0, 0.0, 0.25]
        """
        assert self.tracker is not None, "on_train_begin runs first"
        self.weight_change.append([state.epoch, self.tracker.relative_change()])
        if self.probe_x is not None:
            self.activation_norms.append([state.epoch, activation_norms(state.model, self.probe_x)])
