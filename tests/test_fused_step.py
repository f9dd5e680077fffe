"""The lean training step (MLP's fused Linear+ReLU nodes, the first-order VJPs on arrays, the
flat optimizer) gives bit-identical parameters to the general path after 100 steps: a forward
written with the plain ops (matmul, broadcast add, relu), its backward recorded in mlplab ops,
and the optimizer tensor by tensor."""

from __future__ import annotations

import numpy as np
import pytest

import mlplab
from mlplab import functional as F
from mlplab import nn, ops
from mlplab.ops.fused import AffineReLU, affine_relu
from mlplab.optim import SGD, Adam

WIDTHS = [16] * 9  # 10 Linear layers, 9 relus


def _batches(steps: int) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    return [
        (rng.standard_normal((8, 12)).astype(np.float32), rng.integers(0, 5, 8))
        for _ in range(steps)
    ]


def _optimizer(opt: str, params: list, flat: bool):
    if opt == "sgd":
        return SGD(params, lr=0.05, momentum=0.9, flat=flat)
    return Adam(params, lr=1e-2, flat=flat)


def _train_fast(opt: str, steps: int = 100) -> list[np.ndarray]:
    model = nn.MLP(12, 5, width=WIDTHS, depth=10, rng=0)
    optimizer = _optimizer(opt, list(model.parameters()), flat=True)
    loss_fn = nn.CrossEntropyLoss()
    for x, y in _batches(steps):
        optimizer.zero_grad()
        loss = loss_fn(model(mlplab.Tensor(x)), y)
        loss.backward()
        optimizer.step()
    return [p.data.copy() for p in model.parameters()]


def _train_general(opt: str, steps: int = 100) -> list[np.ndarray]:
    model = nn.MLP(12, 5, width=WIDTHS, depth=10, rng=0)  # only for the same initial weights
    params = list(model.parameters())
    weights, biases = params[0::2], params[1::2]
    optimizer = _optimizer(opt, params, flat=False)
    for x, y in _batches(steps):
        optimizer.zero_grad()
        z = mlplab.Tensor(x)
        for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
            h = ops.add(ops.matmul(z, w), b)  # a broadcast node, an add node
            z = h if i == len(weights) - 1 else ops.relu(h)
        loss = F.cross_entropy(z, y)
        loss.backward(create_graph=True)  # the VJPs recorded in mlplab ops
        for p in params:
            p.grad = mlplab.Tensor(p.grad.data)  # drop the recorded graph
        optimizer.step()
    return [p.data.copy() for p in params]


@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_fast_step_equals_general_path_bit_for_bit_after_100_steps(opt: str) -> None:
    fast, general = _train_fast(opt), _train_general(opt)
    for a, b in zip(fast, general, strict=True):
        assert np.array_equal(a, b)
    assert not np.array_equal(fast[0], _train_fast(opt, steps=99)[0])  # the steps did move it


def test_mlp_uses_the_fused_node_and_falls_back_with_a_hook() -> None:
    model = nn.MLP(3, 2, width=4, depth=3, rng=0)
    x = mlplab.tensor(np.ones((2, 3), np.float32))
    out = model(x)
    hidden = out.inputs[0]  # the last Linear's input: the second hidden layer
    assert isinstance(hidden.op, AffineReLU)
    seen = []
    handle = model.activation.register_forward_hook(lambda m, i, o: seen.append(o.shape))
    hooked = model(x)
    assert seen == [(2, 4), (2, 4)] and not isinstance(hooked.inputs[0].op, AffineReLU)
    assert np.array_equal(hooked.data, out.data)
    handle.remove()
    handle = model.layers[1].register_forward_hook(lambda m, i, o: seen.append("linear"))
    assert np.array_equal(model(x).data, out.data) and seen[-1] == "linear"
    handle.remove()


def test_affine_relu_gradients_match_finite_differences_float64() -> None:
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal(s) for s in ((5, 4), (4, 3), (3,))]
    tensors = [mlplab.tensor(a, requires_grad=True) for a in arrays]
    g = rng.standard_normal((5, 3))
    (affine_relu(*tensors) * mlplab.Tensor(g)).sum().backward()
    for t, a in zip(tensors, arrays, strict=True):
        want = np.zeros_like(a)
        for i in np.ndindex(a.shape):
            old = a[i]
            a[i] = old + 1e-6
            up = (np.maximum(arrays[0] @ arrays[1] + arrays[2], 0) * g).sum()
            a[i] = old - 1e-6
            down = (np.maximum(arrays[0] @ arrays[1] + arrays[2], 0) * g).sum()
            a[i] = old
            want[i] = (up - down) / 2e-6
        np.testing.assert_allclose(t.grad.data, want, rtol=1e-6, atol=1e-8)


def test_affine_relu_second_order_matches_the_composite() -> None:
    rng = np.random.default_rng(4)
    x = mlplab.tensor(rng.standard_normal((6, 4)))
    w0, b0 = rng.standard_normal((4, 3)), rng.standard_normal(3)
    v = [mlplab.tensor(rng.standard_normal((4, 3))), mlplab.tensor(rng.standard_normal(3))]
    y = mlplab.tensor(rng.standard_normal((6, 3)))

    def loss(layer):
        return lambda w, b: ((layer(x, w, b) * y) ** 2).sum()

    fused = mlplab.hvp(loss(affine_relu), [w0, b0], v)
    composite = mlplab.hvp(loss(lambda x, w, b: ops.relu(ops.add(x @ w, b))), [w0, b0], v)
    for a, b in zip(fused, composite, strict=True):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-12)
    assert np.abs(fused[0].data).max() > 0  # the squared loss has curvature


def test_affine_relu_refuses_bad_shapes() -> None:
    with pytest.raises(ValueError, match=r"affine_relu: expected x \(m, n\)"):
        affine_relu(mlplab.tensor(np.ones((2, 3))), mlplab.tensor(np.ones((2, 3))), np.ones(3))


def test_sequential_fuses_linear_relu_bit_identically_and_falls_back_with_a_hook() -> None:
    rng = np.random.default_rng(6)
    layers = [nn.Linear(6, 8, rng=0), nn.ReLU(), nn.Linear(8, 8, rng=1), nn.ReLU(), nn.Linear(8, 3)]
    net = nn.Sequential(*layers)
    x = mlplab.tensor(rng.standard_normal((5, 6)).astype(np.float32))
    y = rng.integers(0, 3, 5)
    out = net(x)
    assert isinstance(out.inputs[0].op, AffineReLU)
    F.cross_entropy(out, y).backward()
    fast = [p.grad.data.copy() for p in net.parameters()]
    net.zero_grad()
    z = x  # the general path: every module on its own, the backward recorded in mlplab ops
    for layer in layers:
        z = (
            ops.relu(z)
            if isinstance(layer, nn.ReLU)
            else ops.add(ops.matmul(z, layer.weight), layer.bias)
        )
    assert np.array_equal(z.data, out.data)
    F.cross_entropy(z, y).backward(create_graph=True)
    for g, p in zip(fast, net.parameters(), strict=True):
        assert np.array_equal(g, p.grad.data)
    seen = []
    handle = layers[3].register_forward_hook(lambda m, i, o: seen.append(o.shape))
    hooked = net(x)  # the second pair runs as a Linear node and a ReLU node the hook sees
    assert seen == [(5, 8)] and type(hooked.inputs[0].op).__name__ == "ReLU"
    assert np.array_equal(hooked.data, out.data)
    handle.remove()
