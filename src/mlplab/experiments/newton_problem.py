"""The small network on which Newton's method is studied: an MLP on 7×7 MNIST, one flat θ.

Newton's method acts on the whole parameter vector θ ∈ Rⁿ, so the network here is written as a
function of ONE flat float64 vector: the weights and biases of layer i are slices of θ,

    θ = (vec W₁, b₁, vec W₂, b₂, …),   Wᵢ ∈ R^{nᵢ×nᵢ₊₁} (row-major),   bᵢ ∈ R^{nᵢ₊₁},

    n = Σᵢ (nᵢ + 1)·nᵢ₊₁          (49 → 16 → 10: 50·16 + 17·10 = 970),

and the loss is the mean softmax cross-entropy of the ReLU MLP,

    f(θ) = (1/m) Σₖ ℓ(h_θ(xₖ), yₖ),   zᵢ₊₁ = relu(zᵢ Wᵢ + bᵢ), the last layer without relu.

Every step is an mlplab op with a VJP written in mlplab ops (getitem, reshape, matmul, add,
relu, logsumexp), so ``mlplab.grad``, ``mlplab.hvp`` and ``mlplab.hessian`` differentiate it
to second order. ReLU's second derivative is 0 almost everywhere, which is what the exact
Hessian of the network is (the curvature comes from the products of weights and the softmax).

The inputs are the embedded mnist-5k digits average-pooled from 28×28 to 7×7 (4×4 blocks): 49
features, so that a network of a few hundred to a few thousand parameters is a real MNIST
classifier whose n×n Hessian can still be formed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..autodiff import grad as grad_
from ..autodiff import hessian as hessian_
from ..autodiff import hvp as hvp_
from ..data import load_dataset
from ..functional import cross_entropy, relu
from ..grad_mode import no_grad
from ..ops import reshape
from ..tensor import Tensor

__all__ = ["MLPProblem", "make_problem", "pool_images", "pooled_mnist", "parameter_count"]

_POOL = 4  # 28×28 → 7×7


def pool_images(x: np.ndarray, block: int = _POOL) -> np.ndarray:
    """Average-pool flattened square images (N, s²) over block×block tiles → (N, (s/block)²).

    Examples:
        >>> x = np.arange(16.0).reshape(1, 16)        # one 4×4 image
        >>> pool_images(x, block=2)
        array([[ 2.5,  4.5, 10.5, 12.5]])
    """
    side = int(round(np.sqrt(x.shape[1])))
    if side * side != x.shape[1] or side % block:
        raise ValueError(
            f"pool_images: expected square images whose side divides by {block}, "
            f"got {x.shape[1]} pixels"
        )
    k = side // block
    tiles = np.asarray(x, dtype=np.float64).reshape(len(x), k, block, k, block)
    return tiles.mean(axis=(2, 4)).reshape(len(x), k * k)


def pooled_mnist(
    n_train: int = 1024, n_test: int = 1000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return seeded subsets of the embedded mnist-5k digits pooled to 7×7, standardized.

    The images of ``load_dataset("mnist-5k")`` are average-pooled over 4×4 blocks (28×28 →
    7×7) in float64, then standardized by ONE mean μ and ONE standard deviation σ over all
    pixels of the chosen training examples: x ← (x − μ)/σ. (A per-feature σ would divide the
    nearly always empty corner tiles by almost 0.) ``n_train`` of the 4,000 training and
    ``n_test`` of the 1,000 test digits are drawn without replacement by
    ``np.random.default_rng(seed)``.

    Args:
        n_train: training examples (1 to 4000).
        n_test: test examples (0 to 1000).
        seed: the subset's seed.

    Returns:
        ``(x_train, y_train, x_test, y_test)``: float64 (N, 49) and int64 (N,).

    Raises:
        ValueError: for a count that is not an integer or exceeds what the set holds.

    Examples:
        >>> x, y, xt, yt = pooled_mnist(n_train=64, n_test=10, seed=0)
        >>> x.shape, x.dtype, yt.shape, round(float(x.mean()), 12), round(float(x.std()), 12)
        ((64, 49), dtype('float64'), (10,), 0.0, 1.0)
    """
    train, test = load_dataset("mnist-5k", "train"), load_dataset("mnist-5k", "test")
    for name, value, low, high in (
        ("n_train", n_train, 1, len(train.x)),
        ("n_test", n_test, 0, len(test.x)),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"pooled_mnist: {name} must be an integer, got {value!r}")
        if not low <= value <= high:
            raise ValueError(
                f"pooled_mnist: {name} must be in [{low}, {high}] (mnist-5k has {high}), "
                f"got {value}"
            )
    rng = np.random.default_rng(seed)
    i_train = rng.choice(len(train.x), size=n_train, replace=False)
    i_test = rng.choice(len(test.x), size=n_test, replace=False)
    x_train, x_test = pool_images(train.x[i_train]), pool_images(test.x[i_test])
    mu, sigma = x_train.mean(), x_train.std()
    return (
        (x_train - mu) / sigma,
        train.y[i_train].astype(np.int64),
        (x_test - mu) / sigma,
        test.y[i_test].astype(np.int64),
    )


def parameter_count(sizes: tuple[int, ...]) -> int:
    """Return n = Σᵢ (nᵢ + 1)·nᵢ₊₁, the weights and biases of an MLP with layer sizes ``sizes``.

    Examples:
        >>> parameter_count((49, 16, 10)), parameter_count((49, 50, 10))
        (970, 3010)
    """
    return sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:], strict=False))


@dataclass(frozen=True, eq=False)
class MLPProblem:
    """The loss of a ReLU MLP as a function of one flat float64 parameter vector θ ∈ Rⁿ.

    θ holds, layer after layer, the weight Wᵢ (nᵢ, nᵢ₊₁) row-major and then the bias bᵢ;
    f(θ) = mean cross-entropy of the logits zᵢ₊₁ = relu(zᵢWᵢ + bᵢ) (no relu on the last).

    Attributes:
        sizes: layer widths, input first, classes last, e.g. ``(49, 16, 10)``.
        x: (m, sizes[0]) float64 inputs.
        y: (m,) int64 labels in [0, sizes[-1]).
        x_test, y_test: optional held-out data for :meth:`accuracy` (not in the loss).

    Examples:
        >>> rng = np.random.default_rng(0)
        >>> p = MLPProblem((3, 4, 2), rng.standard_normal((8, 3)), rng.integers(0, 2, 8))
        >>> theta = p.init(seed=0)
        >>> p.n, theta.shape, p.hessian(theta).shape
        (26, (26,), (26, 26))
        >>> loss, g = p.loss_grad(theta)
        >>> bool(np.allclose(p.hvp(theta, g), p.hessian(theta) @ g))
        True
    """

    sizes: tuple[int, ...]
    x: np.ndarray
    y: np.ndarray
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None

    def __post_init__(self) -> None:
        sizes = tuple(self.sizes)
        if len(sizes) < 2 or any(
            isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in sizes
        ):
            raise ValueError(f"MLPProblem: sizes must be >= 2 positive integers, got {sizes!r}")
        object.__setattr__(self, "sizes", tuple(int(s) for s in sizes))
        x, y = np.asarray(self.x, dtype=np.float64), np.asarray(self.y)
        if x.ndim != 2 or x.shape[1] != sizes[0] or y.shape != (len(x),):
            raise ValueError(
                f"MLPProblem: expected x (m, {sizes[0]}) and y (m,), got {x.shape} and {y.shape}"
            )
        if y.dtype.kind not in "iu" or (len(y) and (y.min() < 0 or y.max() >= sizes[-1])):
            raise ValueError(f"MLPProblem: y must be integer labels in [0, {sizes[-1]})")
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y.astype(np.int64))

    @property
    def n(self) -> int:
        """The number of parameters, Σᵢ (nᵢ + 1)·nᵢ₊₁."""
        return parameter_count(self.sizes)

    def _check(self, theta: np.ndarray | Tensor, where: str, name: str = "theta") -> None:
        if tuple(np.shape(theta)) != (self.n,):
            raise ValueError(
                f"MLPProblem.{where}: {name} must have shape ({self.n},), "
                f"got {tuple(np.shape(theta))}"
            )

    def logits(self, theta: Tensor, x: np.ndarray | None = None) -> Tensor:
        """Return h_θ(x) (m, classes) with the layers sliced out of θ (mlplab ops throughout).

        Examples:
            >>> p = MLPProblem((2, 2), np.eye(2), np.array([0, 1]))  # softmax regression, n = 6
            >>> p.logits(Tensor(np.array([1.0, 0, 0, 1, 0, 0]))).numpy()  # W = I, b = 0
            array([[1., 0.],
                   [0., 1.]])
        """
        self._check(theta, "logits")
        z = Tensor(self.x if x is None else np.asarray(x, dtype=np.float64))
        offset, last = 0, len(self.sizes) - 2
        for i, (a, b) in enumerate(zip(self.sizes[:-1], self.sizes[1:], strict=False)):
            w = reshape(theta[offset : offset + a * b], (a, b))
            bias = theta[offset + a * b : offset + a * b + b]
            offset += a * b + b
            z = z @ w + bias
            if i < last:
                z = relu(z)
        return z

    def loss(self, theta: Tensor) -> Tensor:
        """Return f(θ), the mean softmax cross-entropy, as a scalar Tensor with its graph.

        Examples:
            >>> p = MLPProblem((2, 2), np.eye(2), np.array([0, 1]))  # softmax regression, n = 6
            >>> round(p.loss(Tensor(np.zeros(6))).item(), 6)  # uniform softmax: log 2
            0.693147
        """
        return cross_entropy(self.logits(theta), self.y)

    def loss_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """Return (f(θ), ∇f(θ)) as a float and a float64 array (n,).

        At θ = 0 the softmax is uniform: ∂f/∂W = xᵀ(p − onehot(y))/m, ∂f/∂b = Σ(p − onehot)/m.

        Examples:
            >>> p = MLPProblem((2, 2), np.eye(2), np.array([0, 1]))  # softmax regression, n = 6
            >>> loss, g = p.loss_grad(np.zeros(6))
            >>> round(loss, 6), g.tolist()
            (0.693147, [-0.25, 0.25, 0.25, -0.25, 0.0, 0.0])
        """
        self._check(theta, "loss_grad")
        leaf = Tensor(np.asarray(theta, dtype=np.float64), requires_grad=True)
        loss = self.loss(leaf)
        (g,) = grad_(loss, [leaf])
        assert g is not None
        return float(loss.item()), np.asarray(g.data, dtype=np.float64).copy()

    def hessian(self, theta: np.ndarray) -> np.ndarray:
        """Return the dense Hessian ∇²f(θ) (n, n) via ``mlplab.hessian`` (n backward passes).

        Examples:
            >>> p = MLPProblem((2, 2), np.eye(2), np.array([0, 1]))  # softmax regression, n = 6
            >>> h = p.hessian(np.zeros(6))  # PSD (convex), singular: softmax's shift invariance
            >>> h[0, :2].tolist(), np.round(np.linalg.eigvalsh(h)[-2:], 12).tolist()
            ([0.125, -0.125], [0.25, 0.75])
        """
        self._check(theta, "hessian")
        return hessian_(self.loss, np.asarray(theta, dtype=np.float64)).numpy()

    def hvp(self, theta: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Return ∇²f(θ) v via ``mlplab.hvp`` (about two gradients; H is never formed).

        Examples:
            >>> p = MLPProblem((2, 2), np.eye(2), np.array([0, 1]))  # softmax regression, n = 6
            >>> v = np.arange(6.0)
            >>> bool(np.allclose(p.hvp(np.zeros(6), v), p.hessian(np.zeros(6)) @ v))
            True
            >>> p.hvp(np.zeros(6), np.ones(6)).tolist()  # adding 1 to every logit: flat
            [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
        """
        self._check(theta, "hvp")
        self._check(np.asarray(v), "hvp", "v")
        theta64 = np.asarray(theta, dtype=np.float64)
        return hvp_(self.loss, theta64, np.asarray(v, dtype=np.float64)).numpy()

    def init(self, seed: int) -> np.ndarray:
        """Return a Kaiming-normal θ: Wᵢ ~ N(0, 2/nᵢ) (fan_in), bᵢ = 0, from default_rng(seed).

        Examples:
            >>> p = MLPProblem((2, 2), np.eye(2), np.array([0, 1]))  # softmax regression, n = 6
            >>> theta = p.init(0)
            >>> theta[4:].tolist(), bool(np.array_equal(theta, p.init(0)))  # b = 0; seeded
            ([0.0, 0.0], True)
        """
        rng = np.random.default_rng(seed)
        pieces = []
        for a, b in zip(self.sizes[:-1], self.sizes[1:], strict=False):
            pieces += [rng.normal(0.0, np.sqrt(2.0 / a), size=a * b), np.zeros(b)]
        return np.concatenate(pieces)

    def accuracy(
        self, theta: np.ndarray, x: np.ndarray | None = None, y: np.ndarray | None = None
    ) -> float:
        """Return the fraction of argmax h_θ(x) = y (default: the training data).

        Examples:
            >>> p = MLPProblem((2, 2), np.eye(2), np.array([0, 1]))  # softmax regression, n = 6
            >>> theta = np.array([1.0, 0, 0, 1, 0, 0])  # W = I: class = argmax x
            >>> p.accuracy(theta), p.accuracy(theta, np.eye(2)[::-1], np.array([0, 1]))
            (1.0, 0.0)
        """
        if (x is None) != (y is None):
            raise ValueError("MLPProblem.accuracy: pass both x and y, or neither")
        with no_grad():
            h = self.logits(Tensor(np.asarray(theta, dtype=np.float64)), x).numpy()
        labels = self.y if y is None else np.asarray(y)
        return float(np.mean(h.argmax(axis=1) == labels))


def make_problem(hidden: tuple[int, ...] = (16,), n_train: int = 1024, seed: int = 0) -> MLPProblem:
    """Return the 7×7-MNIST problem 49 → hidden… → 10 on ``n_train`` seeded training digits.

    The 1,000 test digits (pooled and standardized with the training μ, σ) ride along as
    ``x_test``/``y_test`` for :meth:`MLPProblem.accuracy`.

    Examples:
        >>> p = make_problem(hidden=(8,), n_train=128, seed=0)
        >>> p.sizes, p.n, p.x.shape, p.x_test.shape
        ((49, 8, 10), 490, (128, 49), (1000, 49))
    """
    hidden = tuple(hidden)
    if any(isinstance(h, bool) or not isinstance(h, (int, np.integer)) or h < 1 for h in hidden):
        raise ValueError(
            "make_problem: hidden must be positive integers (() for softmax regression), "
            f"got {hidden!r}"
        )
    x, y, x_test, y_test = pooled_mnist(n_train=n_train, n_test=1000, seed=seed)
    return MLPProblem((49, *hidden, 10), x, y, x_test, y_test)
