"""Linear: the affine layer of the lecture, z ↦ zW + b, with W stored as (in, out).

For a batch Z ∈ R^{m×n} the layer computes ``Z W + 1 bᵀ`` with ``W ∈ R^{n×k}`` and ``b ∈ R^k``
(the transpose of PyTorch's ``(out, in)`` weight). The bias is added by broadcasting, which
copies no data: ``broadcast_to`` is a stride-0 view.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import ops, random
from ..ops.fused import affine_relu
from ..tensor import DEFAULT_DTYPE, Tensor
from .module import Module
from .parameter import Parameter

__all__ = ["Linear", "as_generator", "resolve_init", "InitSpec"]

#: An initializer: a name understood by ``mlplab.init.from_name`` or ``fn(shape, rng, dtype)``.
InitSpec = str | Callable[..., Any]


def as_generator(rng: Any, where: str) -> np.random.Generator:
    """Return a ``numpy.random.Generator``: ``rng`` itself, one seeded by an int, or for None
    the library's default generator (:func:`mlplab.random.generator`, reproducible after
    ``mlplab.manual_seed``).

    Examples:
        >>> int(as_generator(0, "Linear").integers(100)) == int(as_generator(0, "L").integers(100))
        True
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        return random.generator()
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(
        f"{where}: rng must be a numpy.random.Generator, an int seed or None, got {type(rng)}"
    )


def resolve_init(spec: InitSpec, where: str) -> Callable[..., Any]:
    """Turn an initializer name (``"kaiming_normal"``, ``"normal:2/n"``, ...) or callable into a
    callable ``fn(shape, rng, dtype=...) -> ndarray`` (dtype is passed by keyword)."""
    if callable(spec):
        return spec
    if isinstance(spec, str):
        from .. import init  # nn sits beside init, not below it; imported when first needed

        return init.from_name(spec)  # type: ignore[no-any-return]
    raise TypeError(f"{where}: expected an initializer name or callable, got {type(spec)}")


def _draw(
    fn: Callable[..., Any], shape: tuple[int, ...], rng: Any, dtype: Any, where: str
) -> np.ndarray:
    array = np.asarray(fn(shape, rng, dtype=dtype))
    if array.shape != shape:
        raise ValueError(f"{where}: initializer returned shape {array.shape}, expected {shape}")
    return array.astype(dtype, copy=False)


class Linear(Module):
    """Apply the affine map ``y = x W + b`` to the last dimension of ``x``.

    Args:
        in_features: n, the size of each input row.
        out_features: k, the size of each output row.
        bias: learn an additive bias b (k,).
        weight_init: initializer of W (in, out): a name for ``mlplab.init.from_name``
            (``"kaiming_normal"``, ``"xavier_uniform"``, ``"zeros"``, ``"normal:2/n"``, ...) or
            ``fn(shape, rng, dtype=...) -> ndarray`` (so ``mlplab.init.kaiming_normal`` itself
            works). None (default) draws PyTorch's default,
            W ~ U(−1/√n, 1/√n) — kaiming_uniform with a = √5 expressed for the (in, out) layout,
            so the distribution of every weight equals ``torch.nn.Linear``'s.
        bias_init: initializer of b, same forms. None (default): U(−1/√n, 1/√n) like PyTorch
            when ``weight_init`` is None too, else zeros (the lecture's b = 0).
        rng: a ``numpy.random.Generator``, an int seed, or None for the library's default
            generator (reproducible after ``mlplab.manual_seed``). W is drawn before b.
        dtype: floating dtype of the parameters; None means float32.

    Shapes:
        input (…, in_features) → output (…, out_features).

    Examples:
        >>> import numpy as np, mlplab
        >>> layer = Linear(3, 2, weight_init=lambda shape, rng, dtype: np.ones(shape, dtype), rng=0)
        >>> layer(mlplab.tensor([[1.0, 2.0, 3.0]])).numpy()
        array([[6., 6.]], dtype=float32)
        >>> layer.weight.shape
        (3, 2)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        weight_init: InitSpec | None = None,
        bias_init: InitSpec | None = None,
        rng: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Linear: {name} must be a positive int, got {value!r}")
        dtype = np.dtype(DEFAULT_DTYPE if dtype is None else dtype)
        if dtype.kind != "f":
            raise TypeError(f"Linear: dtype must be floating point, got {dtype}")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        generator = as_generator(rng, "Linear")
        shape = (self.in_features, self.out_features)
        bound = 1.0 / math.sqrt(self.in_features)
        if weight_init is None:
            weight = generator.uniform(-bound, bound, size=shape).astype(dtype)
        else:
            weight = _draw(resolve_init(weight_init, "Linear"), shape, generator, dtype, "Linear")
        self.weight = Parameter(weight)
        if not bias:
            self.bias = None
        elif bias_init is None and weight_init is None:
            self.bias = Parameter(generator.uniform(-bound, bound, size=shape[1]).astype(dtype))
        elif bias_init is None:
            self.bias = Parameter(np.zeros(shape[1], dtype))
        else:
            fn = resolve_init(bias_init, "Linear")
            self.bias = Parameter(_draw(fn, (shape[1],), generator, dtype, "Linear bias"))

    def forward(self, x: Any) -> Tensor:
        """Return ``x W + b`` (the bias broadcast over the leading dimensions, no copy).

        Raises:
            ValueError: if the last dimension of ``x`` is not ``in_features``.
            TypeError: if the dtype of ``x`` differs from the weight's.
        """
        x = x if isinstance(x, Tensor) else Tensor(x)
        weight, bias = self._checked(x)
        if bias is not None and x.data.ndim == 2:
            return ops.affine(x, weight, bias)  # one node: x W + b, bias added in place
        out = ops.matmul(x, weight)
        return out if bias is None else ops.add(out, bias)

    def forward_relu(self, x: Any) -> Tensor:
        """Return ``relu(x W + b)``, bit-identical to ``relu(self.forward(x))``: one node
        (:func:`mlplab.ops.fused.affine_relu`) for a 2-D input with a bias, else the two.

        This layer's hooks are not called (the caller checks that there are none).

        Examples:
            >>> import numpy as np, mlplab
            >>> layer = Linear(2, 2, weight_init=lambda s, r, dtype: -np.eye(2, dtype=dtype), rng=0)
            >>> layer.forward_relu(mlplab.tensor([[1.0, -2.0]])).numpy()
            array([[0., 2.]], dtype=float32)
        """
        params = self._parameters
        weight, bias = params.get("weight"), params.get("bias")
        if isinstance(x, Tensor) and weight is not None and bias is not None:
            # an MLP's hidden layer: _checked's tests inline (this runs for every layer)
            data = x.data
            fits = data.ndim == 2 and data.shape[1] == self.in_features
            if fits and data.dtype == weight.data.dtype:
                return affine_relu(x, weight, bias)
        x = x if isinstance(x, Tensor) else Tensor(x)
        weight, bias = self._checked(x)  # raises for a wrong shape or dtype
        if bias is not None and x.data.ndim == 2:
            return affine_relu(x, weight, bias)
        return ops.relu(self.forward(x))

    def _checked(self, x: Tensor) -> tuple[Parameter, Parameter | None]:
        """The weight and bias (read from the registry, not through ``__getattr__``), after
        checking the input's last dimension and dtype."""
        params = self._parameters
        # not params.get(name, self.name): that would run the slow lookup every time
        weight = params["weight"] if "weight" in params else self.weight  # noqa: SIM401
        bias = params["bias"] if "bias" in params else self.bias  # noqa: SIM401
        data = x.data
        if data.ndim == 0 or data.shape[-1] != self.in_features:
            raise ValueError(
                f"Linear: expected input with last dimension {self.in_features}, "
                f"got shape {data.shape}"
            )
        if data.dtype != weight.data.dtype:  # type: ignore[union-attr]
            raise TypeError(
                f"Linear: input dtype {data.dtype} differs from weight dtype "
                f"{weight.data.dtype}; "  # type: ignore[union-attr]
                f"convert the input with .astype() or the model with .to()"
            )
        return weight, bias  # type: ignore[return-value]

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )
