"""The primitives: a forward on arrays beside a vector-Jacobian product in mlplab ops.

Every differentiable computation in mlplab reduces to these few operations. Each one is a small
class with ``forward(*arrays) -> array`` and ``vjp(g, out, *inputs) -> tuple`` that returns, for
every input, the Tensor ``gᵀ ∂out/∂input`` (or None where no gradient is needed). The VJPs are
written with the same ops, so the backward pass is itself a graph and its derivative is free:
that is how Hessian-vector products and Newton's method work.

Broadcasting follows NumPy. When a graph is being recorded, binary ops make it explicit at the
front door with :func:`broadcast_to` (a view, no copy), whose VJP sums back to the input shape;
so every gradient has exactly its input's shape, at every order. Without a graph, NumPy
broadcasts natively and nothing is recorded.

The modules, each importing only those before it:

- :mod:`.core`: the ``Op`` protocol, ``apply``, operand helpers;
- :mod:`.shape`: reshape, transpose, broadcast_to ↔ sum, getitem ↔ scatter-add, concatenate,
  stack, astype;
- :mod:`.elementwise`: arithmetic, exp, log, log1p, tanh, erf, where, relu;
- :mod:`.reduce`: max, min, argmax, argmin;
- :mod:`.linalg`: matmul;
- :mod:`.fused`: affine (x W + b) and softmax cross-entropy as single nodes, for speed;
- :mod:`.normalization`: batch and layer normalization, γ ∘ (x − μ)/√(σ² + ε) + β, as one node;
- :mod:`.methods`: the Tensor operators and methods.
"""

from . import methods as _methods  # noqa: F401  (attaches the Tensor operators)
from .core import Op as Op
from .core import apply, as_tensor
from .core import broadcast_shape as broadcast_shape
from .elementwise import (
    add,
    divide,
    erf,
    exp,
    log,
    log1p,
    multiply,
    negative,
    power,
    relu,
    subtract,
    tanh,
    where,
)
from .fused import affine, softmax_cross_entropy
from .linalg import MatMul as MatMul
from .linalg import matmul
from .normalization import normalize
from .reduce import argmax, argmin, max, min
from .shape import (
    astype,
    broadcast_to,
    clone,
    concatenate,
    getitem,
    reshape,
    stack,
    sum,
    sum_to,
    transpose,
)
from .shape import swap_last as swap_last

__all__ = [
    "apply", "as_tensor", "add", "subtract", "multiply", "divide", "negative", "power",
    "exp", "log", "log1p", "tanh", "erf", "where", "matmul", "sum", "max", "min", "argmax",
    "argmin", "clone", "reshape", "transpose",
    "broadcast_to", "sum_to", "getitem", "concatenate", "stack", "astype", "affine", "relu",
    "softmax_cross_entropy", "normalize",
]  # fmt: skip
