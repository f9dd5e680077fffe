"""Tests for mlplab.init: moments against the formulas, bounds, fans, gains, seeds, torch."""

from __future__ import annotations

import math

import numpy as np
import pytest

import mlplab
from mlplab import init

SHAPE = (2000, 500)  # 1e6 draws; fan_in != fan_out so a swapped mode shows as a factor 4
FAN_IN, FAN_OUT = SHAPE


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def check_moments(w: np.ndarray, mean: float, var: float, kurtosis: float | None = None) -> None:
    """Sample mean and variance within 5 standard errors of the formula.

    SE(mean) = σ/√N; SE(s²) = √((μ₄ − σ⁴)/N), μ₄ estimated from the sample itself. The excess
    kurtosis μ₄/σ⁴ − 3 (0 for a normal, −1.2 for a uniform) has SE ≈ √(24/N) = 0.005 at N = 1e6.
    """
    x = w.astype(np.float64).ravel()
    n = x.size
    m = x.mean()
    d2 = (x - m) ** 2
    s2 = d2.mean()
    mu4 = (d2 * d2).mean()
    assert abs(m - mean) <= 5 * math.sqrt(var / n), (m, mean)
    assert abs(s2 - var) <= 5 * math.sqrt((mu4 - s2**2) / n), (s2, var)
    if kurtosis is not None:
        assert mu4 / s2**2 - 3 == pytest.approx(kurtosis, abs=0.03)


def trunc_normal_moments(mean, std, a, b):
    phi = lambda t: math.exp(-t * t / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda t: 0.5 * (1 + math.erf(t / math.sqrt(2)))  # noqa: E731
    al, be = (a - mean) / std, (b - mean) / std
    z = cdf(be) - cdf(al)
    d = (phi(al) - phi(be)) / z
    var = std**2 * (1 + (al * phi(al) - be * phi(be)) / z - d**2)
    return mean + std * d, var


# --- gains and fans ---------------------------------------------------------------------------


def test_calculate_gain_values():
    assert init.calculate_gain("linear") == 1.0
    assert init.calculate_gain("identity") == 1.0
    assert init.calculate_gain("sigmoid") == 1.0
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("selu") == pytest.approx(0.75)
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01**2)))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert init.calculate_gain("leaky_relu", 0) == pytest.approx(math.sqrt(2))


def test_calculate_gain_errors():
    with pytest.raises(ValueError, match=r"unknown nonlinearity 'swish'.*relu"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="leaky_relu slope"):
        init.calculate_gain("leaky_relu", "big")


def test_fans():
    assert init.fans((784, 100)) == (784, 100)
    assert init.fans(7) == (7, 7)
    assert init.fans((3, 4, 5, 6)) == (60, 72)
    with pytest.raises(ValueError, match="0-d"):
        init.fans(())
    with pytest.raises(ValueError, match="non-negative ints"):
        init.fans((3, -1))


# --- moments of every initializer -------------------------------------------------------------

G_TANH, G_LEAKY = 5 / 3, math.sqrt(2 / 1.04)
CASES = {
    # name: (draw, mean, variance, excess kurtosis (0 normal, -1.2 uniform), |w| bound or None)
    "normal": (lambda r: init.normal(SHAPE, r, 0.5, 0.2), 0.5, 0.04, 0.0, None),
    "uniform": (lambda r: init.uniform(SHAPE, r, -0.3, 0.7), 0.2, 1 / 12, -1.2, None),
    "xavier_normal": (lambda r: init.xavier_normal(SHAPE, r), 0, 2 / 2500, 0.0, None),
    "xavier_normal_gain": (
        lambda r: init.xavier_normal(SHAPE, r, gain=G_TANH), 0, G_TANH**2 * 2 / 2500, 0.0, None
    ),
    "xavier_uniform": (
        lambda r: init.xavier_uniform(SHAPE, r, gain=2.0), 0, 4 * 2 / 2500, -1.2,
        2.0 * math.sqrt(6 / 2500),
    ),
    "kaiming_normal": (lambda r: init.kaiming_normal(SHAPE, r), 0, 2 / FAN_IN, 0.0, None),
    "kaiming_normal_fan_out": (
        lambda r: init.kaiming_normal(SHAPE, r, mode="fan_out"), 0, 2 / FAN_OUT, 0.0, None
    ),
    "kaiming_normal_tanh": (
        lambda r: init.kaiming_normal(SHAPE, r, nonlinearity="tanh"), 0, G_TANH**2 / FAN_IN,
        0.0, None,
    ),
    "kaiming_uniform": (
        lambda r: init.kaiming_uniform(SHAPE, r), 0, 2 / FAN_IN, -1.2, math.sqrt(6 / FAN_IN)
    ),
    "kaiming_uniform_leaky_fan_out": (
        lambda r: init.kaiming_uniform(SHAPE, r, a=0.2, mode="fan_out"), 0,
        G_LEAKY**2 / FAN_OUT, -1.2, G_LEAKY * math.sqrt(3 / FAN_OUT),
    ),
    "variance_scaling_trunc": (
        lambda r: init.variance_scaling(SHAPE, r, 3.0, "fan_avg", "truncated_normal"), 0,
        3 / 1250, None, 2 * math.sqrt(3 / 1250) / 0.8796256610342398,
    ),
    "from_name_1/n": (lambda r: init.from_name("normal:1/n")(SHAPE, r), 0, 1 / FAN_IN, 0, None),
    "from_name_2/n": (lambda r: init.from_name("normal:2/n")(SHAPE, r), 0, 2 / FAN_IN, 0, None),
    "from_name_3/n": (lambda r: init.from_name("normal:3/n")(SHAPE, r), 0, 3 / FAN_IN, 0, None),
    "from_name_.5/n": (lambda r: init.from_name("normal:.5/n")(SHAPE, r), 0, 0.5 / FAN_IN, 0, None),
    "from_name_abs": (lambda r: init.from_name("normal:0.01")(SHAPE, r), 0, 0.01, 0.0, None),
    "from_name_kaiming": (
        lambda r: init.from_name("kaiming_normal")(SHAPE, r), 0, 2 / FAN_IN, 0, None
    ),
    "from_name_xavier_u": (
        lambda r: init.from_name("xavier_uniform")(SHAPE, r), 0, 2 / 2500, -1.2, math.sqrt(6 / 2500)
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", list(CASES))
def test_moments_match_formula(name):
    draw, mean, var, kurt, bound = CASES[name]
    w = draw(rng(1))
    assert w.shape == SHAPE and w.dtype == np.float32
    check_moments(w, mean, var, kurt)
    if bound is not None:
        assert np.abs(w).max() <= bound * (1 + 1e-6)
        assert np.abs(w).max() >= bound * 0.999  # the bound is actually reached


def test_uniform_bounds_respected():
    w = init.uniform(SHAPE, rng(), -0.3, 0.7)
    assert w.min() >= -0.3 and w.max() <= 0.7


@pytest.mark.parametrize("mean,std,a,b", [(0.0, 1.0, -2.0, 2.0), (0.5, 1.0, -0.5, 2.5)])
def test_trunc_normal_bounds_and_truncated_moments(mean, std, a, b):
    w = init.trunc_normal(SHAPE, rng(2), mean, std, a, b)
    assert w.min() >= a and w.max() <= b
    m, v = trunc_normal_moments(mean, std, a, b)
    check_moments(w, m, v)


def test_trunc_normal_errors():
    with pytest.raises(ValueError, match="a < b"):
        init.trunc_normal((3,), rng(), a=1.0, b=1.0)
    with pytest.raises(ValueError, match="holds only"):
        init.trunc_normal((3,), rng(), a=50.0, b=51.0)


@pytest.mark.parametrize("gain", [1.0, 2.0])
@pytest.mark.parametrize("shape", [(300, 100), (100, 300), (5, 4, 10), (64, 64)])
def test_orthogonal(shape, gain):
    w = init.orthogonal(shape, rng(3), gain=gain, dtype=np.float64)
    m = w.reshape(-1, shape[-1])
    gram = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
    np.testing.assert_allclose(gram, gain**2 * np.eye(len(gram)), atol=1e-12)


def test_orthogonal_needs_two_dims():
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.orthogonal((5,), rng())


def test_constants():
    assert not init.zeros((3, 4)).any() and init.zeros((3, 4)).dtype == np.float32
    np.testing.assert_array_equal(init.ones((2,)), [1, 1])
    np.testing.assert_array_equal(init.constant((2, 2), 0.25, dtype=np.float64), 0.25)


def test_empty_shapes():
    assert init.kaiming_normal((0, 5), rng()).shape == (0, 5)
    assert init.orthogonal((0, 5), rng()).shape == (0, 5)


# --- seeds, generators and dtypes -------------------------------------------------------------

RANDOM = {
    "normal": init.normal,
    "uniform": init.uniform,
    "trunc_normal": init.trunc_normal,
    "xavier_uniform": init.xavier_uniform,
    "xavier_normal": init.xavier_normal,
    "kaiming_uniform": init.kaiming_uniform,
    "kaiming_normal": init.kaiming_normal,
    "orthogonal": init.orthogonal,
    "normal:2/n": init.from_name("normal:2/n"),
}


@pytest.mark.parametrize("name", list(RANDOM))
def test_same_seed_same_weights(name):
    f = RANDOM[name]
    a, b, c = f((30, 20), rng(7)), f((30, 20), rng(7)), f((30, 20), rng(8))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(f((30, 20), 7), a)  # an int is a seed
    # drawn in float64, rounded to the dtype
    np.testing.assert_array_equal(f((30, 20), rng(7), dtype=np.float64).astype(np.float32), a)


# None is not here: it means the library's default generator (tests/test_random.py).
@pytest.mark.parametrize("bad", [1.5, True, np.random.RandomState(0), -1])
def test_rng_must_be_a_generator(bad):
    with pytest.raises(TypeError, match="kaiming_normal.*rng must be a numpy.random.Generator"):
        init.kaiming_normal((3, 3), bad)


def test_dtype_must_be_float():
    with pytest.raises(TypeError, match="dtype must be a floating-point dtype, got int64"):
        init.normal((2,), rng(), dtype=np.int64)


def test_bad_mode_and_distribution():
    with pytest.raises(ValueError, match="mode must be .* got 'fan'"):
        init.kaiming_normal((3, 3), rng(), mode="fan")
    with pytest.raises(ValueError, match="distribution must be"):
        init.variance_scaling((3, 3), rng(), distribution="cauchy")
    with pytest.raises(ValueError, match="std must be finite and >= 0, got -1"):
        init.normal((3,), rng(), std=-1)


# --- in-place variants ------------------------------------------------------------------------


def test_in_place_fills_the_tensor_and_returns_it():
    t = mlplab.Tensor(np.zeros((40, 30), np.float64))
    data = t.data
    assert init.kaiming_normal_(t, rng(5), mode="fan_out") is t
    assert t.data is data  # filled in place, not replaced
    np.testing.assert_array_equal(
        data, init.kaiming_normal((40, 30), rng(5), mode="fan_out", dtype=np.float64)
    )
    init.constant_(t, 3.0)
    assert (t.data == 3.0).all()
    init.zeros_(t)
    assert not t.data.any()
    assert init.orthogonal_.__name__ == "orthogonal_" and "orthogonal" in init.orthogonal_.__doc__


def test_in_place_errors():
    ro = np.zeros(3)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        init.normal_(ro, rng())
    with pytest.raises(TypeError, match="expected a Tensor or ndarray"):
        init.normal_([1.0, 2.0], rng())


# --- from_name --------------------------------------------------------------------------------


def test_from_name_known_and_passthrough():
    for name in ["kaiming_normal", "kaiming_uniform", "xavier_normal", "xavier_uniform",
                 "orthogonal", "zeros", "ones"]:  # fmt: skip
        w = init.from_name(name)((6, 4), rng(), np.float64)
        assert w.shape == (6, 4) and w.dtype == np.float64
    assert not init.from_name("zeros")((3, 3), rng()).any()
    f = init.from_name("normal:2/n")
    assert f.__name__ == "normal:2/n"
    assert init.from_name(f) is f
    np.testing.assert_array_equal(
        init.from_name("kaiming_uniform")((10, 3), rng(4)), init.kaiming_uniform((10, 3), rng(4))
    )


@pytest.mark.parametrize(
    "spec", ["normal", "normal:", "normal:-1/n", "normal:abc", "normal:2/m", "kaiming", "he"]
)
def test_from_name_bad_spec(spec):
    with pytest.raises(ValueError, match=rf"unknown initializer '{spec}'.*normal:<k>/n"):
        init.from_name(spec)


def test_from_name_bad_type():
    with pytest.raises(TypeError, match="string or callable"):
        init.from_name(3)


# --- PyTorch as an oracle ---------------------------------------------------------------------


def test_calculate_gain_matches_torch():
    torch = pytest.importorskip("torch")
    names = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
             "conv_transpose3d", "sigmoid", "tanh", "relu", "selu"]  # fmt: skip
    for name in names:
        assert init.calculate_gain(name) == pytest.approx(torch.nn.init.calculate_gain(name))
    for a in [None, 0, 0.01, 0.2, 1.0, 3]:
        expected = torch.nn.init.calculate_gain("leaky_relu", a)
        assert init.calculate_gain("leaky_relu", a) == pytest.approx(expected)


def test_fans_are_torchs_on_the_reversed_shape():
    torch = pytest.importorskip("torch")
    for shape in [(784, 100), (3, 4, 5), (2, 3, 4, 5)]:
        expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape[::-1]))
        assert init.fans(shape) == expected


TORCH_PAIRS = [
    ("kaiming_normal", {}),
    ("kaiming_normal", {"mode": "fan_out", "nonlinearity": "tanh"}),
    ("kaiming_uniform", {"a": 0.2}),
    ("kaiming_uniform", {"mode": "fan_out", "nonlinearity": "relu"}),
    ("xavier_normal", {"gain": 2.0}),
    ("xavier_uniform", {}),
]


@pytest.mark.parametrize("name,kwargs", TORCH_PAIRS)
def test_variance_matches_torch_on_the_transposed_shape(name, kwargs):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    theirs = getattr(torch.nn.init, name + "_")(torch.empty(SHAPE[::-1]), **kwargs).numpy()
    ours = getattr(init, name)(SHAPE, rng(0), **kwargs)
    n = ours.size
    v_ours, v_theirs = ours.astype(np.float64).var(), theirs.astype(np.float64).var()
    # both estimate the same variance; their difference has SE ≈ √2 · v · √(2/N)
    assert abs(v_ours - v_theirs) <= 5 * math.sqrt(2) * v_theirs * math.sqrt(2 / n)
    if "uniform" in name:  # the same support
        assert np.abs(ours).max() == pytest.approx(np.abs(theirs).max(), rel=1e-3)


def test_orthogonal_is_the_q_of_a_positive_diagonal_qr():
    # the sign fix makes Q unique: R = Qᵀ A has a positive diagonal (what makes Q Haar-distributed)
    a = rng(9).normal(0.0, 1.0, (50, 20))
    w = init.orthogonal((50, 20), rng(9), dtype=np.float64)
    r = w.T @ a
    assert (np.diag(r) > 0).all()
    np.testing.assert_allclose(np.tril(r, -1), 0, atol=1e-12)
