"""Backward hands a fresh VJP result to a leaf as its ``.grad`` without a copy; never an array
that someone else can see (a seed, another leaf's gradient, a view, a forward value)."""

from __future__ import annotations

import numpy as np

import mlplab


def _leaves(*values: list[float]) -> list[mlplab.Tensor]:
    return [mlplab.tensor(np.array(v), requires_grad=True) for v in values]


def _disjoint(*arrays: np.ndarray) -> bool:
    return not any(np.shares_memory(a, b) for i, a in enumerate(arrays) for b in arrays[i + 1 :])


def test_add_gives_each_leaf_its_own_gradient_array() -> None:
    x, y = _leaves([1.0, 2.0], [3.0, 4.0])
    z = x + y  # Add's VJP passes one g to both inputs
    seed = np.array([0.5, -1.0])
    z.backward(seed, retain_graph=True)
    assert _disjoint(x.grad.data, y.grad.data, seed)
    z.backward(seed)  # in-place accumulation into one shared array would double-count
    np.testing.assert_array_equal(x.grad.numpy(), 2 * seed)
    np.testing.assert_array_equal(y.grad.numpy(), 2 * seed)
    np.testing.assert_array_equal(seed, [0.5, -1.0])


def test_a_fresh_gradient_shared_by_two_leaves_is_handed_to_one_only() -> None:
    x, y, w = _leaves([1.0, 2.0], [3.0, 4.0], [5.0, 7.0])
    s = x * w  # the g reaching the add below is a fresh product, given to x + y's inputs
    (s + (x + y)).sum().backward(retain_graph=False)
    assert _disjoint(x.grad.data, y.grad.data, w.grad.data, x.data, y.data, w.data)
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 8.0])
    np.testing.assert_array_equal(y.grad.numpy(), [1.0, 1.0])


def test_a_user_seed_is_never_taken_over() -> None:
    (x,) = _leaves([1.0, 2.0])
    seed = mlplab.tensor(np.array([2.0, 3.0]))
    x.backward(seed)  # the leaf's gradient is the seed itself
    assert not np.shares_memory(x.grad.data, seed.data)
    x.backward(seed)
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 6.0])
    np.testing.assert_array_equal(seed.numpy(), [2.0, 3.0])
    (y,) = _leaves([1.0, 2.0])
    as_array = np.array([1.0, 1.0])
    (y * 1.0 + 0.0).backward(as_array)
    (y + 0.0).backward(as_array)
    np.testing.assert_array_equal(as_array, [1.0, 1.0])
    np.testing.assert_array_equal(y.grad.numpy(), [2.0, 2.0])


def test_grads_held_from_one_backward_stay_separate_in_the_next() -> None:
    x, y = _leaves([1.0, 2.0], [3.0, 4.0])
    ((x + y) * 2.0).sum().backward()
    held_x, held_y = x.grad, y.grad
    ((x + y) * 3.0).sum().backward()
    # Accumulation is in place (as in PyTorch), each into its own array.
    assert x.grad is held_x and y.grad is held_y
    np.testing.assert_array_equal(held_x.numpy(), [5.0, 5.0])
    np.testing.assert_array_equal(held_y.numpy(), [5.0, 5.0])


def test_views_and_broadcasts_are_copied_into_a_gradient_of_its_own() -> None:
    x, b = _leaves([[1.0, 2.0], [3.0, 4.0]], [0.5, 0.25])
    (x.reshape(4).sum() + (x + b).sum()).backward()
    assert x.grad.data.flags.writeable and b.grad.data.flags.writeable
    assert _disjoint(x.grad.data, b.grad.data, x.data, b.data)
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 2), 2.0))
    np.testing.assert_array_equal(b.grad.numpy(), [2.0, 2.0])
    x.grad.data += 1  # writeable and private: nothing else changes
    np.testing.assert_array_equal(b.grad.numpy(), [2.0, 2.0])
    u, v = _leaves([[1.0, 2.0], [3.0, 4.0]], [[0.0, 0.0], [0.0, 0.0]])
    seed = np.array([[1.0, 2.0], [3.0, 4.0]])
    ((u.T + v) * 1.0).backward(seed)  # u's gradient is a writeable view of v's
    assert _disjoint(u.grad.data, v.grad.data)
    ((u.T + v) * 1.0).backward(seed)
    np.testing.assert_array_equal(u.grad.numpy(), 2 * seed.T)
    np.testing.assert_array_equal(v.grad.numpy(), 2 * seed)


def test_grad_results_do_not_alias_leaf_grads() -> None:
    x, y = _leaves([1.0, 2.0], [3.0, 4.0])
    z = (x * y).sum()
    z.backward(retain_graph=True)
    gx, gy = mlplab.grad(z, [x, y])
    assert _disjoint(gx.data, gy.data, x.grad.data, y.grad.data)
    z2 = (x * y).sum()
    z2.backward()
    np.testing.assert_array_equal(gx.numpy(), [3.0, 4.0])
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 8.0])


def test_mlp_gradients_are_private_and_accumulate() -> None:
    model = mlplab.nn.MLP(4, 3, width=5, depth=3, rng=0)
    x = mlplab.tensor(np.random.default_rng(0).standard_normal((6, 4), dtype=np.float32))
    y = np.array([0, 1, 2, 0, 1, 2])
    loss_fn = mlplab.nn.CrossEntropyLoss()
    loss_fn(model(x), y).backward()
    first = [p.grad.numpy().copy() for p in model.parameters()]
    grads = [p.grad.data for p in model.parameters()]
    assert _disjoint(*grads, *(p.data for p in model.parameters()))
    loss_fn(model(x), y).backward()
    for p, g in zip(model.parameters(), first, strict=True):
        np.testing.assert_allclose(p.grad.numpy(), 2 * g, rtol=1e-6)
