"""Weight initializers for the (in_features, out_features) layout, and ``calculate_gain``.

mlplab stores a weight as ``W ∈ R^{n_in × n_out}`` (``Z W + 1 bᵀ``), the transpose of PyTorch's
``(out, in)``. So for a weight of shape ``(in, out)`` the fan-in is ``shape[0]`` and the fan-out
``shape[1]`` (see :func:`fans`); the formulas are PyTorch's, read on the transposed shape.

Every fan-based initializer is one call of :func:`variance_scaling`, which draws with variance
``scale / fan`` through the three plain distributions :func:`normal`, :func:`uniform` and
:func:`trunc_normal`. Each random initializer takes an explicit ``numpy.random.Generator`` (an
int is accepted as a seed and turned into ``np.random.default_rng(seed)``; reusing one int for
several weights gives them identical values, so pass one Generator through a whole model).
Called without ``rng`` (or with None) they draw from the library's default generator,
:func:`mlplab.random.generator`, which ``mlplab.manual_seed`` makes reproducible.
Samples are drawn in float64 and rounded to ``dtype`` (float32 by default), so a seed gives the
same weights, up to rounding, in every floating dtype.

The functions with a trailing underscore (``kaiming_normal_``, ...) fill an existing Tensor's
``.data`` in place and return the tensor, as ``torch.nn.init`` does.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from . import random
from .tensor import Tensor

__all__ = [
    "calculate_gain", "fans", "variance_scaling", "normal", "uniform", "trunc_normal",
    "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal", "orthogonal",
    "zeros", "ones", "constant", "from_name", "normal_", "uniform_", "trunc_normal_",
    "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_",
    "zeros_", "ones_", "constant_",
]  # fmt: skip

Shape = int | tuple[int, ...]
Initializer = Callable[..., np.ndarray]

_GAINS = {
    "linear": 1.0, "identity": 1.0, "conv1d": 1.0, "conv2d": 1.0, "conv3d": 1.0,
    "conv_transpose1d": 1.0, "conv_transpose2d": 1.0, "conv_transpose3d": 1.0,
    "sigmoid": 1.0, "tanh": 5.0 / 3.0, "relu": math.sqrt(2.0), "selu": 3.0 / 4.0,
}  # fmt: skip


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """Return the recommended gain for a nonlinearity (PyTorch's values).

    linear, identity, conv*: 1; sigmoid: 1; tanh: 5/3; relu: √2; selu: 3/4;
    leaky_relu with negative slope a (``param``, default 0.01): √(2 / (1 + a²)).

    Raises:
        ValueError: for an unknown nonlinearity or a non-numeric slope.

    Examples:
        >>> calculate_gain("relu") == 2**0.5, calculate_gain("tanh")
        (True, 1.6666666666666667)
        >>> round(calculate_gain("leaky_relu", 0.2), 5)
        1.38675
    """
    return _gain(nonlinearity, param, "calculate_gain")


def _gain(nonlinearity: str, param: float | None, where: str) -> float:
    if nonlinearity == "leaky_relu":
        a = 0.01 if param is None else param
        if isinstance(a, bool) or not isinstance(a, (int, float)) or not math.isfinite(a):
            raise ValueError(f"{where}: leaky_relu slope must be a number, got {a!r}")
        return math.sqrt(2.0 / (1.0 + a * a))
    if nonlinearity in _GAINS:
        return _GAINS[nonlinearity]
    known = ", ".join([*_GAINS, "leaky_relu"])
    raise ValueError(f"{where}: unknown nonlinearity {nonlinearity!r}; known: {known}")


def _as_shape(shape: Shape, where: str) -> tuple[int, ...]:
    dims = (shape,) if isinstance(shape, (int, np.integer)) else shape
    if not isinstance(dims, (tuple, list)) or not all(
        isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 0 for d in dims
    ):
        raise ValueError(f"{where}: shape must be a tuple of non-negative ints, got {shape!r}")
    return tuple(int(d) for d in dims)


def fans(shape: Shape) -> tuple[int, int]:
    """Return ``(fan_in, fan_out)`` of a weight in mlplab's ``(in, out)`` layout.

    - 1-D ``(n,)`` (a bias): fan_in = fan_out = n.
    - 2-D ``(in, out)``: fan_in = in, fan_out = out.
    - n-D ``(*receptive, in, out)``: r = prod(receptive), fan_in = in·r, fan_out = out·r.
      This is PyTorch's rule on the reversed shape: ``fans(s) == torch's fans(s[::-1])``.

    Raises:
        ValueError: for a 0-d shape or a shape that is not a tuple of non-negative ints.

    Examples:
        >>> fans((784, 100))
        (784, 100)
    """
    dims = _as_shape(shape, "fans")
    if len(dims) == 0:
        raise ValueError("fans: a 0-d shape has no fans, expected at least 1 dimension")
    if len(dims) == 1:
        return dims[0], dims[0]
    receptive = math.prod(dims[:-2])
    return dims[-2] * receptive, dims[-1] * receptive


def _as_generator(rng: Any, where: str) -> np.random.Generator:
    if rng is None:
        return random.generator()
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool) and rng >= 0:
        return np.random.default_rng(int(rng))
    raise TypeError(
        f"{where}: rng must be a numpy.random.Generator, a non-negative int seed or None, "
        f"got {type(rng).__name__} {rng!r}"
    )


def _checked(shape: Shape, rng: Any, where: str) -> tuple[tuple[int, ...], np.random.Generator]:
    return _as_shape(shape, where), _as_generator(rng, where)


def _float_dtype(dtype: Any, where: str) -> np.dtype[Any]:
    dt = np.dtype(dtype)
    if dt.kind != "f":
        raise TypeError(f"{where}: dtype must be a floating-point dtype, got {dt}")
    return dt


def _check_bounds(
    a: float, b: float, where: str, *, strict: bool = False, names: tuple[str, str] = ("a", "b")
) -> None:
    for name, value in zip(names, (a, b), strict=True):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
            raise TypeError(f"{where}: {name} must be a number, got {type(value).__name__}")
        if not math.isfinite(value):
            raise ValueError(f"{where}: {name} must be finite, got {value}")
    if not (a < b if strict else a <= b):
        raise ValueError(f"{where}: need a {'<' if strict else '<='} b, got a={a}, b={b}")


def _check_mode(mode: str, where: str) -> None:
    if mode not in ("fan_in", "fan_out", "fan_avg"):
        raise ValueError(f"{where}: mode must be 'fan_in', 'fan_out' or 'fan_avg', got {mode!r}")


def _check_number(value: float, where: str, name: str, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{where}: {name} must be a number, got {type(value).__name__}")
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"{where}: {name} must be finite and {bound}, got {value}")
    return float(value)


def normal(
    shape: Shape, rng: Any = None, mean: float = 0.0, std: float = 1.0, dtype: Any = np.float32
) -> np.ndarray:
    """Draw from N(mean, std²).

    Examples:
        >>> w = normal((3, 2), np.random.default_rng(0), std=0.1)
        >>> w.shape, w.dtype
        ((3, 2), dtype('float32'))
    """
    dims, gen = _checked(shape, rng, "normal")
    std = _check_number(std, "normal", "std")
    _check_bounds(mean, mean, "normal", names=("mean", "mean"))
    dt = _float_dtype(dtype, "normal")
    return gen.normal(mean, std, dims).astype(dt)


def uniform(
    shape: Shape, rng: Any = None, a: float = 0.0, b: float = 1.0, dtype: Any = np.float32
) -> np.ndarray:
    """Draw from U(a, b): mean (a+b)/2, variance (b−a)²/12.

    Examples:
        >>> w = uniform((1000,), np.random.default_rng(0), -1.0, 1.0)
        >>> bool(w.min() >= -1 and w.max() <= 1)
        True
    """
    dims, gen = _checked(shape, rng, "uniform")
    dt = _float_dtype(dtype, "uniform")
    _check_bounds(a, b, "uniform")
    return gen.uniform(a, b, dims).astype(dt)


def trunc_normal(
    shape: Shape,
    rng: Any = None,
    mean: float = 0.0,
    std: float = 1.0,
    a: float = -2.0,
    b: float = 2.0,
    dtype: Any = np.float32,
) -> np.ndarray:
    """Draw from N(mean, std²) conditioned on [a, b] (absolute bounds, as in PyTorch).

    The values are exact draws of the truncated distribution (rejection sampling), so with
    α = (a−mean)/std, β = (b−mean)/std and Z = Φ(β) − Φ(α) their variance is
    std²·[1 + (αφ(α) − βφ(β))/Z − ((φ(α) − φ(β))/Z)²], smaller than std².

    Raises:
        ValueError: if std <= 0, a >= b, or [a, b] holds less than 1e-6 of the probability.

    Examples:
        >>> w = trunc_normal((1000,), np.random.default_rng(0), std=1.0, a=-0.5, b=0.5)
        >>> bool(w.min() >= -0.5 and w.max() <= 0.5)
        True
    """
    dims, gen = _checked(shape, rng, "trunc_normal")
    std = _check_number(std, "trunc_normal", "std", positive=True)
    _check_bounds(mean, mean, "trunc_normal", names=("mean", "mean"))
    dt = _float_dtype(dtype, "trunc_normal")
    _check_bounds(a, b, "trunc_normal", strict=True)
    cdf = lambda x: 0.5 * (1.0 + math.erf((x - mean) / (std * math.sqrt(2.0))))  # noqa: E731
    mass = cdf(b) - cdf(a)
    if mass < 1e-6:
        raise ValueError(
            f"trunc_normal: [a, b] = [{a}, {b}] holds only {mass:.2e} of N({mean}, {std}²); "
            "expected at least 1e-6"
        )
    out = np.empty(math.prod(dims))
    filled = 0
    while filled < out.size:  # each round keeps a fraction `mass` of its draws
        need = out.size - filled
        draw = gen.normal(mean, std, int(need / mass * 1.1) + 16)
        keep = draw[(draw >= a) & (draw <= b)][:need]
        out[filled : filled + keep.size] = keep
        filled += keep.size
    return out.reshape(dims).astype(dt)


# Std of N(0, 1) truncated to [-2, 2]: dividing by it makes a ±2σ truncated draw have variance 1.
_PHI2 = math.exp(-2.0) / math.sqrt(2.0 * math.pi)
_TRUNC2_STD = math.sqrt(1.0 - 4.0 * _PHI2 / math.erf(2.0 / math.sqrt(2.0)))


def variance_scaling(
    shape: Shape,
    rng: Any = None,
    scale: float = 1.0,
    mode: str = "fan_in",
    distribution: str = "normal",
    dtype: Any = np.float32,
) -> np.ndarray:
    """Draw zero-mean weights with variance ``scale / fan``: the one rule behind Xavier and Kaiming.

    fan is fan_in, fan_out or (fan_in + fan_out)/2 (``mode``, see :func:`fans`); with
    σ² = scale/fan, "normal" is N(0, σ²), "uniform" is U(−√(3σ²), √(3σ²)), and
    "truncated_normal" is N(0, s²) cut at ±2s with s = σ/0.8796 so its variance is σ².

    Raises:
        ValueError: for an unknown mode or distribution, or a negative scale.

    Examples:
        >>> w = variance_scaling((1000, 500), np.random.default_rng(0), scale=2.0)
        >>> bool(abs(w.var() * 1000 - 2.0) < 0.02)
        True
    """
    dims, rng = _checked(shape, rng, "variance_scaling")
    scale = _check_number(scale, "variance_scaling", "scale")
    _float_dtype(dtype, "variance_scaling")
    _check_mode(mode, "variance_scaling")
    if distribution not in ("normal", "uniform", "truncated_normal"):
        raise ValueError(
            "variance_scaling: distribution must be 'normal', 'uniform' or 'truncated_normal', "
            f"got {distribution!r}"
        )
    if math.prod(dims) == 0:  # nothing to draw; fans of an empty weight may be 0
        return np.zeros(dims, _float_dtype(dtype, "variance_scaling"))
    fan_in, fan_out = fans(dims)
    fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    std = math.sqrt(scale / fan)
    if distribution == "normal":
        return normal(dims, rng, 0.0, std, dtype)
    if distribution == "uniform":
        return uniform(dims, rng, -math.sqrt(3.0) * std, math.sqrt(3.0) * std, dtype)
    if std == 0.0:
        return np.zeros(dims, _float_dtype(dtype, "variance_scaling"))
    s = std / _TRUNC2_STD
    return trunc_normal(dims, rng, 0.0, s, -2.0 * s, 2.0 * s, dtype)


def xavier_uniform(
    shape: Shape, rng: Any = None, gain: float = 1.0, dtype: Any = np.float32
) -> Any:
    """Xavier/Glorot uniform: U(−B, B) with B = gain·√(6/(fan_in + fan_out)).

    Its variance is B²/3 = gain²·2/(fan_in + fan_out), the same as :func:`xavier_normal`.

    References: Glorot & Bengio, "Understanding the difficulty of training deep feedforward
    neural networks", AISTATS 2010.

    Examples:
        >>> w = xavier_uniform((300, 100), np.random.default_rng(0))
        >>> bool(np.abs(w).max() <= (6 / 400) ** 0.5)
        True
    """
    dims, rng = _checked(shape, rng, "xavier_uniform")
    _float_dtype(dtype, "xavier_uniform")
    gain = _check_number(gain, "xavier_uniform", "gain")
    return variance_scaling(dims, rng, gain**2, "fan_avg", "uniform", dtype)


def xavier_normal(shape: Shape, rng: Any = None, gain: float = 1.0, dtype: Any = np.float32) -> Any:
    """Xavier/Glorot normal: N(0, gain²·2/(fan_in + fan_out)).

    Examples:
        >>> xavier_normal((300, 100), np.random.default_rng(0)).shape
        (300, 100)
    """
    dims, rng = _checked(shape, rng, "xavier_normal")
    _float_dtype(dtype, "xavier_normal")
    gain = _check_number(gain, "xavier_normal", "gain")
    return variance_scaling(dims, rng, gain**2, "fan_avg", "normal", dtype)


def kaiming_uniform(
    shape: Shape,
    rng: Any = None,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    dtype: Any = np.float32,
) -> Any:
    """Kaiming/He uniform: U(−B, B), B = gain·√(3/fan), variance gain²/fan.

    gain = calculate_gain(nonlinearity, a); the defaults (leaky_relu, a = 0) give √2, ReLU's.

    References: He et al., "Delving Deep into Rectifiers", ICCV 2015.

    Examples:
        >>> w = kaiming_uniform((784, 100), np.random.default_rng(0))
        >>> bool(np.abs(w).max() <= (6 / 784) ** 0.5)
        True
    """
    dims, rng = _checked(shape, rng, "kaiming_uniform")
    _float_dtype(dtype, "kaiming_uniform")
    _check_mode(mode, "kaiming_uniform")
    gain = _gain(nonlinearity, a, "kaiming_uniform")
    return variance_scaling(dims, rng, gain**2, mode, "uniform", dtype)


def kaiming_normal(
    shape: Shape,
    rng: Any = None,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    dtype: Any = np.float32,
) -> Any:
    """Kaiming/He normal: N(0, gain²/fan); with ReLU (the default) σ² = 2/n, the lecture's choice.

    Examples:
        >>> w = kaiming_normal((1000, 500), np.random.default_rng(0))
        >>> bool(abs(w.var() * 1000 - 2.0) < 0.02)
        True
    """
    dims, rng = _checked(shape, rng, "kaiming_normal")
    _float_dtype(dtype, "kaiming_normal")
    _check_mode(mode, "kaiming_normal")
    gain = _gain(nonlinearity, a, "kaiming_normal")
    return variance_scaling(dims, rng, gain**2, mode, "normal", dtype)


def orthogonal(shape: Shape, rng: Any = None, gain: float = 1.0, dtype: Any = np.float32) -> Any:
    """Draw a (semi-)orthogonal matrix times ``gain``, as PyTorch does (QR of a Gaussian).

    The weight is viewed as M of shape (m, n) = (prod(shape[:-1]), shape[-1]); Q from the QR
    of an N(0, 1) matrix, with signs fixed by diag(R) so Q is Haar-distributed. If m >= n the
    columns are orthonormal, MᵀM = gain²·I; otherwise the rows are, MMᵀ = gain²·I.

    Raises:
        ValueError: for fewer than 2 dimensions.

    Examples:
        >>> w = orthogonal((4, 3), np.random.default_rng(0), dtype=np.float64)
        >>> bool(np.allclose(w.T @ w, np.eye(3)))
        True
    """
    dims, rng = _checked(shape, rng, "orthogonal")
    if len(dims) < 2:
        raise ValueError(f"orthogonal: need at least 2 dimensions, got shape {dims}")
    dt = _float_dtype(dtype, "orthogonal")
    gain = _check_number(gain, "orthogonal", "gain")
    m, n = math.prod(dims[:-1]), dims[-1]
    if m * n == 0:
        return np.zeros(dims, dt)
    flat = normal((m, n), rng, dtype=np.float64)
    if m < n:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.where(np.diag(r) < 0, -1.0, 1.0)
    if m < n:
        q = q.T
    return (gain * q).reshape(dims).astype(dt)


def constant(shape: Shape, value: float, dtype: Any = np.float32) -> np.ndarray:
    """Fill with ``value``.

    Raises:
        TypeError: if ``value`` is not a number.

    Examples:
        >>> constant((2,), 0.5)
        array([0.5, 0.5], dtype=float32)
    """
    dims = _as_shape(shape, "constant")
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"constant: value must be a number, got {type(value).__name__}")
    return np.full(dims, value, dtype=dtype)


def zeros(shape: Shape, rng: Any = None, dtype: Any = np.float32) -> np.ndarray:
    """Fill with 0 (``rng`` is ignored, so every initializer has one signature).

    With zero weights every gradient below the last layer is exactly zero: the net cannot learn.

    Examples:
        >>> zeros((2, 2))
        array([[0., 0.],
               [0., 0.]], dtype=float32)
    """
    return constant(shape, 0.0, dtype)


def ones(shape: Shape, rng: Any = None, dtype: Any = np.float32) -> np.ndarray:
    """Fill with 1 (``rng`` is ignored).

    Examples:
        >>> ones(3, dtype=np.float64)
        array([1., 1., 1.])
    """
    return constant(shape, 1.0, dtype)


def _in_place(init: Initializer) -> Callable[..., Any]:
    """Make the PyTorch-style variant of ``init`` that fills ``tensor.data`` and returns it."""

    name = init.__name__ + "_"

    def fill_(tensor: Any, *args: Any, **kwargs: Any) -> Any:
        data = tensor.data if isinstance(tensor, Tensor) else tensor
        if not isinstance(data, np.ndarray):
            raise TypeError(f"{name}: expected a Tensor or ndarray, got {type(tensor).__name__}")
        if not data.flags.writeable:
            raise ValueError(f"{name}: the tensor's data is read-only")
        if "dtype" in kwargs:
            raise TypeError(f"{name}: takes no dtype (it is the tensor's, {data.dtype})")
        try:
            values = init(data.shape, *args, dtype=data.dtype, **kwargs)
        except (TypeError, ValueError) as error:
            # The checks inside name the out-of-place function; the user called this one.
            message, prefix = str(error), init.__name__ + ":"
            if not message.startswith(prefix):
                raise type(error)(f"{name}: {message}") from None
            raise type(error)(name + message[len(prefix) - 1 :]) from None
        data[...] = values
        return tensor

    fill_.__name__ = fill_.__qualname__ = name
    args = _EXAMPLE_ARGS.get(init.__name__, ", np.random.default_rng(0)")
    fill_.__doc__ = (
        f"Fill ``tensor.data`` in place with :func:`{init.__name__}` (same arguments after "
        "the tensor; shape and dtype are the tensor's) and return ``tensor``.\n\n"
        "Examples:\n"
        "    >>> from mlplab import Tensor\n"
        "    >>> w = Tensor(np.zeros((4, 3)))\n"
        f"    >>> {name}(w{args}) is w, w.shape, w.dtype\n"
        "    (True, (4, 3), dtype('float64'))\n"
    )
    return fill_


#: The arguments after the tensor in each in-place initializer's example.
_EXAMPLE_ARGS = {"constant": ", 0.5", "zeros": "", "ones": ""}


normal_ = _in_place(normal)
uniform_ = _in_place(uniform)
trunc_normal_ = _in_place(trunc_normal)
xavier_uniform_ = _in_place(xavier_uniform)
xavier_normal_ = _in_place(xavier_normal)
kaiming_uniform_ = _in_place(kaiming_uniform)
kaiming_normal_ = _in_place(kaiming_normal)
orthogonal_ = _in_place(orthogonal)
constant_ = _in_place(constant)
zeros_ = _in_place(zeros)
ones_ = _in_place(ones)


_BY_NAME: dict[str, Initializer] = {
    "kaiming_normal": lambda s, rng, dtype=np.float32: kaiming_normal(s, rng, dtype=dtype),
    "kaiming_uniform": lambda s, rng, dtype=np.float32: kaiming_uniform(s, rng, dtype=dtype),
    "xavier_normal": lambda s, rng, dtype=np.float32: xavier_normal(s, rng, dtype=dtype),
    "xavier_uniform": lambda s, rng, dtype=np.float32: xavier_uniform(s, rng, dtype=dtype),
    "orthogonal": lambda s, rng, dtype=np.float32: orthogonal(s, rng, dtype=dtype),
    "zeros": zeros,
    "ones": ones,
}
_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_NORMAL_SPEC = re.compile(rf"normal:({_NUMBER})(/n)?")
_VALID_FORMS = (
    ", ".join(_BY_NAME) + ", 'normal:<k>/n' (variance k/fan_in), 'normal:<v>' (variance v)"
)


def from_name(spec: str | Initializer) -> Initializer:
    """Turn an initializer name into a function ``(shape, rng, dtype=float32) -> ndarray``.

    Names: ``kaiming_normal`` and ``kaiming_uniform`` (ReLU gain √2, fan_in: variance 2/n),
    ``xavier_normal``, ``xavier_uniform`` (gain 1), ``orthogonal`` (gain 1), ``zeros``, ``ones``;
    ``"normal:<k>/n"`` is N(0, k/n) with n = fan_in (the lecture's sweep ``normal:1/n``,
    ``normal:2/n``, ``normal:3/n``); ``"normal:<v>"`` is N(0, v), a variance, not a std.
    k and v are non-negative decimals (``0.5``, ``2``, ``1e-2``). A callable is returned as is.

    Raises:
        ValueError: for a spec of none of these forms (the message lists them).
        TypeError: for a spec that is neither a string nor callable.

    Examples:
        >>> init = from_name("normal:2/n")
        >>> w = init((1000, 500), np.random.default_rng(0))
        >>> bool(abs(w.var() * 1000 - 2.0) < 0.02)
        True
    """
    if callable(spec):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"from_name: spec must be a string or callable, got {type(spec).__name__}")
    name = spec.strip()
    if name in _BY_NAME:
        return _BY_NAME[name]
    match = _NORMAL_SPEC.fullmatch(name)
    if match is None:
        raise ValueError(f"from_name: unknown initializer {spec!r}; valid forms: {_VALID_FORMS}")
    k, per_fan_in = float(match.group(1)), match.group(2) is not None

    def init(shape: Shape, rng: Any, dtype: Any = np.float32) -> np.ndarray:
        if per_fan_in:
            return variance_scaling(shape, rng, k, "fan_in", "normal", dtype)
        return normal(shape, rng, 0.0, math.sqrt(k), dtype)

    init.__name__ = init.__qualname__ = spec
    return init
