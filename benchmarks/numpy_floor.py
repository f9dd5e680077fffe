"""A hand-written NumPy training step for a ReLU MLP: the floor that mlplab is measured against.

Forward, softmax cross-entropy, backward and the optimizer step of

    Z₁ = X,   Zᵢ₊₁ = relu(Zᵢ Wᵢ + 1 bᵢᵀ),   logits = Z_L W_L + 1 b_Lᵀ,   ℓ = mean CE(logits, y)

written for speed, the way one would write it by hand with no framework at all:

- every array is float32 and preallocated once (activations, backward signals, masks, softmax);
- every operation writes into its buffer (``out=``): no temporaries on the step's path;
- parameters and gradients are views into one flat buffer each, so the optimizer is a handful of
  vectorized in-place operations on one long vector (no Python loop over tensors);
- the matrix products call BLAS on (possibly transposed) views, never copying; the bias gradient
  is 1ᵀG, also a BLAS call.

Optimizers (PyTorch's parameterization, so all three libraries compute the same numbers):

    SGD with momentum μ:  b ← g (first step), b ← μ b + g;  θ ← θ − lr·b
    Adam:  u ← β₁u + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  θ ← θ − (lr/(1−β₁ᵗ)) · u / (√v/√(1−β₂ᵗ) + ε)

The update formulas are rearranged to need no scratch (β₁u + (1−β₁)g = g + β₁(u − g)), so they
agree with PyTorch to float32 rounding, not bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["FloorMLP"]


class FloorMLP:
    """A ReLU MLP with a fused, preallocated NumPy training step.

    Args:
        weights: the weights Wᵢ, each (in, out) (copied into the flat parameter buffer).
        biases: the biases bᵢ, each (out,).
        batch: the batch size m the buffers are allocated for.
        optimizer: ``"sgd"`` (SGD with momentum) or ``"adam"``.
        lr: the learning rate.
        momentum: μ for SGD.
        betas: (β₁, β₂) for Adam.
        eps: ε for Adam.
    """

    def __init__(
        self,
        weights: Sequence[np.ndarray],
        biases: Sequence[np.ndarray],
        batch: int,
        optimizer: str = "sgd",
        lr: float = 0.01,
        momentum: float = 0.9,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        if optimizer not in ("sgd", "adam"):
            raise ValueError(f"FloorMLP: optimizer must be 'sgd' or 'adam', got {optimizer!r}")
        dtype = np.float32
        shapes: list[tuple[int, ...]] = []
        for w, b in zip(weights, biases, strict=True):
            shapes += [w.shape, b.shape]
        sizes = [int(np.prod(s)) for s in shapes]
        offsets = np.concatenate([[0], np.cumsum(sizes)]).tolist()
        n = offsets[-1]
        self.param = np.empty(n, dtype)
        self.grad = np.zeros(n, dtype)
        self.work = np.empty(n, dtype)
        views = [(a, b, s) for a, b, s in zip(offsets[:-1], offsets[1:], shapes, strict=True)]
        pv = [self.param[a:b].reshape(s) for a, b, s in views]
        gv = [self.grad[a:b].reshape(s) for a, b, s in views]
        self.W, self.b = pv[0::2], pv[1::2]
        self.dW, self.db = gv[0::2], gv[1::2]
        for dst, src in zip(
            pv, [a for pair in zip(weights, biases, strict=True) for a in pair], strict=True
        ):
            dst[...] = src
        widths = [w.shape[1] for w in weights]
        self.batch = batch
        self.Z = [np.empty((batch, k), dtype) for k in widths]  # layer outputs (relu in place)
        self.G = [np.empty((batch, w.shape[0]), dtype) for w in weights[1:]]  # dL/dZᵢ
        self.mask = [np.empty((batch, k), np.bool_) for k in widths[:-1]]
        self.ones = np.ones(batch, dtype)
        self.row = np.empty((batch, 1), dtype)
        self.rows = np.arange(batch)
        self.optimizer = optimizer
        self.lr, self.momentum, self.betas, self.eps = lr, momentum, betas, eps
        self.t = 0
        if optimizer == "sgd":
            self.buf = np.zeros(n, dtype)
        else:
            self.exp_avg = np.zeros(n, dtype)
            self.exp_avg_sq = np.zeros(n, dtype)

    # ------------------------------------------------------------------------------ the step

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Compute the logits into the last activation buffer and return it."""
        z = x
        last = len(self.W) - 1
        for i, (w, b, out) in enumerate(zip(self.W, self.b, self.Z, strict=True)):
            np.matmul(z, w, out=out)
            out += b
            if i < last:
                np.maximum(out, 0, out=out)
            z = out
        return z

    def loss_and_seed(self, y: np.ndarray) -> float:
        """Return the mean cross-entropy and turn the logits buffer into dL/dlogits in place."""
        p = self.Z[-1]
        np.max(p, axis=1, keepdims=True, out=self.row)
        p -= self.row
        picked = p[self.rows, y]  # log-softmax numerators h_y − max (a small copy)
        np.exp(p, out=p)
        np.sum(p, axis=1, keepdims=True, out=self.row)
        loss = float(np.mean(np.log(self.row[:, 0]) - picked))
        p /= self.row  # softmax
        p[self.rows, y] -= 1.0
        p *= 1.0 / self.batch
        return loss

    def backward(self, x: np.ndarray) -> None:
        """Write every dL/dWᵢ and dL/dbᵢ into the flat gradient (the seed is in Z[-1])."""
        g = self.Z[-1]
        for i in range(len(self.W) - 1, -1, -1):
            z_in = x if i == 0 else self.Z[i - 1]
            np.matmul(z_in.T, g, out=self.dW[i])
            np.matmul(self.ones, g, out=self.db[i])
            if i > 0:
                g_in = self.G[i - 1]
                np.matmul(g, self.W[i].T, out=g_in)
                np.greater(z_in, 0, out=self.mask[i - 1])
                np.multiply(g_in, self.mask[i - 1], out=g_in)
                g = g_in

    def update(self) -> None:
        """One optimizer step on the flat vectors, in place, with one scratch vector."""
        self.t += 1
        p, g, w = self.param, self.grad, self.work
        if self.optimizer == "sgd":
            buf = self.buf
            if self.t == 1:
                buf[...] = g
            else:
                buf *= self.momentum
                buf += g
            np.multiply(buf, self.lr, out=w)
            p -= w
            return
        beta1, beta2 = self.betas
        u, v = self.exp_avg, self.exp_avg_sq
        u -= g  # u ← g + β₁(u − g) = β₁u + (1−β₁)g
        u *= beta1
        u += g
        np.multiply(g, g, out=w)  # v ← g² + β₂(v − g²)
        v -= w
        v *= beta2
        v += w
        step_size = self.lr / (1 - beta1**self.t)
        np.sqrt(v, out=w)
        w *= 1.0 / np.sqrt(1 - beta2**self.t)
        w += self.eps
        np.divide(u, w, out=w)
        w *= step_size
        p -= w

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        """One training step: forward, loss, backward, update. Returns the loss."""
        self.forward(x)
        loss = self.loss_and_seed(y)
        self.backward(x)
        self.update()
        return loss

    def parameters(self) -> list[np.ndarray]:
        """The parameter views in the order W₁, b₁, W₂, b₂, …"""
        return [a for pair in zip(self.W, self.b, strict=True) for a in pair]

    def gradients(self) -> list[np.ndarray]:
        """The gradient views in the order dW₁, db₁, dW₂, db₂, …"""
        return [a for pair in zip(self.dW, self.db, strict=True) for a in pair]
