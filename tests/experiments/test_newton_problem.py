"""The flat-θ MLP problem: loss, gradient, Hessian and HVP against finite differences and torch."""

import numpy as np
import pytest

from mlplab.experiments.newton_problem import (
    MLPProblem,
    make_problem,
    parameter_count,
    pool_images,
    pooled_mnist,
)

SIZES = [(3, 4, 2), (3, 4, 3, 2), (5, 3)]


def tiny(sizes, seed=0, m=12):
    rng = np.random.default_rng(seed)
    return MLPProblem(sizes, rng.standard_normal((m, sizes[0])), rng.integers(0, sizes[-1], m))


def random_point(p, seed=1):
    # a perturbed Kaiming point with non-zero biases, so every block of the Hessian is exercised
    rng = np.random.default_rng(seed)
    return p.init(seed) + 0.3 * rng.standard_normal(p.n)


def f(p, theta):
    return p.loss_grad(theta)[0]


@pytest.mark.parametrize("sizes", SIZES)
def test_gradient_equals_central_differences(sizes):
    p = tiny(sizes)
    theta = random_point(p)
    _, g = p.loss_grad(theta)
    eps = 1e-6
    fd = np.array(
        [(f(p, theta + eps * e) - f(p, theta - eps * e)) / (2 * eps) for e in np.eye(p.n)]
    )
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("sizes", SIZES)
def test_hessian_symmetric_and_equals_differences_of_gradient(sizes):
    p = tiny(sizes)
    theta = random_point(p)
    h = p.hessian(theta)
    assert h.shape == (p.n, p.n)
    np.testing.assert_allclose(h, h.T, rtol=0, atol=1e-12)
    eps = 1e-5
    fd = np.stack(
        [
            (p.loss_grad(theta + eps * e)[1] - p.loss_grad(theta - eps * e)[1]) / (2 * eps)
            for e in np.eye(p.n)
        ]
    )
    np.testing.assert_allclose(h, fd, rtol=1e-5, atol=1e-7)
    assert np.abs(h).max() > 1e-2  # not a vacuous zero Hessian


@pytest.mark.parametrize("sizes", SIZES)
def test_hvp_equals_hessian_times_v(sizes):
    p = tiny(sizes)
    theta = random_point(p)
    v = np.random.default_rng(7).standard_normal(p.n)
    np.testing.assert_allclose(p.hvp(theta, v), p.hessian(theta) @ v, rtol=1e-10, atol=1e-12)


def test_parameter_count_formula():
    assert parameter_count((49, 16, 10)) == 49 * 16 + 16 + 16 * 10 + 10 == 970
    assert parameter_count((49, 32, 16, 10)) == 50 * 32 + 33 * 16 + 17 * 10
    for h in (2, 4, 8, 16, 32, 50):
        assert parameter_count((49, h, 10)) == 60 * h + 10
    for sizes in SIZES:
        p = tiny(sizes)
        assert p.n == len(p.init(0)) == parameter_count(sizes)


def test_init_is_kaiming_normal_with_zero_biases():
    p = MLPProblem((400, 300, 10), np.zeros((1, 400)), np.zeros(1, dtype=np.int64))
    theta = p.init(3)
    w1, b1 = theta[: 400 * 300], theta[400 * 300 : 400 * 300 + 300]
    assert abs(w1.var() - 2 / 400) < 0.03 * 2 / 400
    assert not b1.any() and not theta[-10:].any()
    np.testing.assert_array_equal(theta, p.init(3))
    assert not np.array_equal(theta, p.init(4))


def test_layout_is_weights_row_major_then_bias():
    p = tiny((3, 2))
    theta = np.arange(8.0) / 10
    w, b = theta[:6].reshape(3, 2), theta[6:]
    expected = (p.x @ w + b).argmax(axis=1) == p.y
    assert p.accuracy(theta) == pytest.approx(expected.mean())
    z = p.x @ w + b
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    assert f(p, theta) == pytest.approx(-logp[np.arange(len(p.y)), p.y].mean(), rel=1e-12)


def test_bad_theta_and_sizes_are_one_line_errors():
    p = tiny((3, 4, 2))
    with pytest.raises(ValueError, match=r"theta must have shape \(26,\), got \(5,\)"):
        p.loss_grad(np.zeros(5))
    with pytest.raises(ValueError, match=r"hvp: v must have shape \(26,\), got \(3,\)"):
        p.hvp(np.zeros(26), np.zeros(3))
    with pytest.raises(ValueError, match="sizes"):
        MLPProblem((3,), np.zeros((1, 3)), np.zeros(1, dtype=np.int64))
    with pytest.raises(ValueError, match="labels"):
        MLPProblem((3, 2), np.zeros((1, 3)), np.array([2]))
    with pytest.raises(ValueError, match="hidden"):
        make_problem(hidden=(0,), n_train=8)


def test_pooled_mnist_shapes_standardization_and_seed():
    x, y, xt, yt = pooled_mnist(n_train=200, n_test=50, seed=1)
    assert x.shape == (200, 49) and xt.shape == (50, 49) and x.dtype == np.float64
    assert y.dtype == np.int64 and set(np.unique(y)) <= set(range(10))
    assert abs(x.mean()) < 1e-12 and abs(x.std() - 1) < 1e-12
    again = pooled_mnist(n_train=200, n_test=50, seed=1)
    for a, b in zip((x, y, xt, yt), again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(x, pooled_mnist(n_train=200, n_test=50, seed=2)[0])


def test_pooled_mnist_rejects_too_many_examples():
    with pytest.raises(ValueError, match=r"n_train must be in \[1, 4000\].*got 4001"):
        pooled_mnist(n_train=4001)
    with pytest.raises(ValueError, match=r"n_test must be in \[0, 1000\].*got 1001"):
        pooled_mnist(n_test=1001)
    with pytest.raises(ValueError, match="n_train must be an integer"):
        pooled_mnist(n_train=10.0)


def test_pool_images_is_the_block_mean():
    rng = np.random.default_rng(0)
    img = rng.standard_normal((2, 28, 28))
    pooled = pool_images(img.reshape(2, 784))
    assert pooled.shape == (2, 49)
    assert pooled[1, 7 * 2 + 3] == pytest.approx(img[1, 8:12, 12:16].mean(), rel=1e-12)


def test_make_problem_learns_something():
    p = make_problem(hidden=(8,), n_train=256, seed=0)
    theta = p.init(0)
    loss0, g = p.loss_grad(theta)
    for _ in range(30):
        theta = theta - 0.5 * p.loss_grad(theta)[1]
    assert p.loss_grad(theta)[0] < loss0
    assert p.accuracy(theta, p.x_test, p.y_test) > 0.5


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_against_torch():
    torch = pytest.importorskip("torch")
    p = tiny((3, 4, 3, 2), m=10)
    theta = random_point(p)

    def torch_loss(t):
        z, offset = torch.as_tensor(p.x), 0
        for i, (a, b) in enumerate(zip(p.sizes[:-1], p.sizes[1:], strict=False)):
            w, bias = (
                t[offset : offset + a * b].reshape(a, b),
                t[offset + a * b : offset + a * b + b],
            )
            offset += a * b + b
            z = z @ w + bias
            if i < len(p.sizes) - 2:
                z = torch.relu(z)
        return torch.nn.functional.cross_entropy(z, torch.as_tensor(p.y))

    t = torch.tensor(theta, dtype=torch.float64)
    loss, g = p.loss_grad(theta)
    assert loss == pytest.approx(torch_loss(t).item(), abs=1e-12)
    np.testing.assert_allclose(g, torch.func.grad(torch_loss)(t).numpy(), rtol=0, atol=1e-10)
    h_torch = torch.func.hessian(torch_loss)(t).numpy()
    np.testing.assert_allclose(p.hessian(theta), h_torch, rtol=0, atol=1e-10)
    v = np.random.default_rng(3).standard_normal(p.n)
    np.testing.assert_allclose(p.hvp(theta, v), h_torch @ v, rtol=0, atol=1e-10)
