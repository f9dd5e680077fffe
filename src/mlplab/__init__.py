"""mlplab: a deep-learning library and laboratory for fully connected networks, on NumPy.

Examples:
    >>> import mlplab
    >>> x = mlplab.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> loss = (x * x).sum()
    >>> loss.backward()
    >>> x.grad
    tensor([2., 4., 6.])
"""

import importlib
from typing import Any

from . import functional, random
from .autodiff import backward, grad, hessian, hvp
from .functional import (
    abs,
    cross_entropy,
    gelu,
    leaky_relu,
    log_softmax,
    logsumexp,
    maximum,
    mean,
    minimum,
    mse_loss,
    relu,
    sigmoid,
    softmax,
    softplus,
    sqrt,
    var,
)
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .ops import (
    add,
    argmax,
    argmin,
    astype,
    broadcast_to,
    clone,
    concatenate,
    divide,
    erf,
    exp,
    getitem,
    log,
    log1p,
    matmul,
    max,
    min,
    multiply,
    negative,
    power,
    reshape,
    stack,
    subtract,
    sum,
    tanh,
    transpose,
    where,
)
from .parallel import get_num_threads, set_num_threads
from .random import manual_seed
from .tensor import DEFAULT_DTYPE, Tensor, tensor

__version__ = "0.1.0"

# Subpackages load on first use, so `import mlplab` costs only the core.
_SUBMODULES = {
    "nn", "optim", "init", "data", "train", "diagnostics", "experiments", "serialization",
    "runs",
}  # fmt: skip
_FROM_SERIALIZATION = {"save", "load"}
_FROM_RUNS = {"load_run"}


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _FROM_SERIALIZATION:
        return getattr(importlib.import_module(".serialization", __name__), name)
    if name in _FROM_RUNS:
        return getattr(importlib.import_module(".runs", __name__), name)
    raise AttributeError(f"module 'mlplab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _SUBMODULES | _FROM_SERIALIZATION | _FROM_RUNS)


__all__ = [
    "Tensor", "tensor", "DEFAULT_DTYPE", "functional", "nn", "optim", "init", "data",
    "save", "load", "load_run", "random", "manual_seed", "set_num_threads", "get_num_threads",
    "backward", "grad", "hvp", "hessian",
    "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
    "add", "subtract", "multiply", "divide", "negative", "power",
    "exp", "log", "log1p", "tanh", "erf",
    "where", "matmul", "sum", "max", "min", "argmax", "argmin", "clone", "reshape", "transpose",
    "broadcast_to", "getitem",
    "concatenate", "stack", "astype",
    "mean", "var", "sqrt", "abs", "maximum", "minimum", "relu", "leaky_relu", "sigmoid",
    "softplus", "gelu", "logsumexp", "log_softmax", "softmax", "cross_entropy", "mse_loss",
]  # fmt: skip
